"""Every sample event in `events/<function>/` works as shipped: invoked through the stand-in's
Lambda API on the function it is named after, it is answered as a step answers (no function
error), in the order an operator trying them by hand would use them: the read-only ones first,
then the changes in the order a failover makes them.

The state machine's samples (`events/statemachine/`) are checked against the ASL's input
validation by infra/tests/test_template_failover.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import wait_until

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTIONS = ("promote-replica", "scale-asg", "flip-dns", "verify-backup-copy")
AURORA_ONLY = {("promote-replica", "aurora-switchover")}


def invoke(session, function: str, name: str) -> dict:
    payload = json.loads((EVENTS / function / f"{name}.json").read_text())
    response = session.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    answer = json.loads(response["Payload"].read() or b"null")
    assert "FunctionError" not in response, f"events/{function}/{name}.json: {answer}"
    assert answer["step"] == function, answer
    return answer


def shipped() -> set:
    return {(path.parent.name, path.stem) for function in FUNCTIONS for path in (EVENTS / function).glob("*.json")}


def test_every_function_sample_event_works_as_shipped(local_aws):
    aws = local_aws()
    tried = []

    def run(function: str, name: str) -> dict:
        tried.append((function, name))
        return invoke(aws, function, name)

    for function in ("promote-replica", "scale-asg", "flip-dns"):
        for name in ("plan", "status", "apply-dry-run"):
            answer = run(function, name)
            assert answer["changed"] is False, answer
    for name in ("verify", "scheduled", "copy-job-completed", "copy-job-failed"):
        run("verify-backup-copy", name)

    assert run("promote-replica", "apply")["changed"] is True
    wait_until(lambda: invoke(aws, "promote-replica", "status")["ready"], timeout=30)
    assert run("promote-replica", "apply-forced")["changed"] is False, "the database is promoted once"
    assert run("scale-asg", "apply")["changed"] is True
    assert run("flip-dns", "apply")["changed"] is True
    wait_until(lambda: invoke(aws, "flip-dns", "status")["ready"], timeout=30)

    assert set(tried) == shipped() - AURORA_ONLY, "a sample event this test does not try"


def test_the_aurora_switchover_sample_works_as_shipped(local_aws):
    aws = local_aws(aurora=True)

    answer = invoke(aws, "promote-replica", "aurora-switchover")

    assert answer["changed"] is True, answer
    assert answer["detail"]["mode"] == "switchover", answer["detail"]
