"""One real run at a time per deployment, across failover, fail back and re-protect (shared::exclusive),
end to end on the stand-in: the issue's case, a failover started by hand while a fail back drains."""

from __future__ import annotations

import json
import time

from conftest import wait_until
from test_failback import after_failover_and_reprotect, approval_request, freeze_writes, start


def test_a_failover_started_by_hand_during_a_fail_backs_drain_is_refused_and_the_fail_back_ends(local_aws):
    session = local_aws(reprotect_budget_seconds=5, failback_drain_seconds=12)
    after_failover_and_reprotect(session)
    freeze_writes(session)
    back = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "primary region healthy again"})
    session.client("stepfunctions").send_task_success(
        taskToken=approval_request(session)["token"], output=json.dumps({"approved_by": "the drill"}))
    # DNS is back at the primary: the fail back drains the DR groups for FailbackDrainSeconds.
    wait_until(lambda: all(r["answers"] == "primary" for r in session.snapshot()["dns"].values()), timeout=90)
    assert session.describe(back)["status"] == "RUNNING"

    # A step that would change something, invoked by hand (no execution_id) or by another run, is
    # refused before it changes anything, naming the fail back and the command that ends it.
    for request in ({"action": "apply"},
                    {"action": "apply", "execution_id": back.replace("-failback:", ":") + "-other"}):
        answer = session.invoke("flip-dns", request)
        assert answer["errorType"] == "DrFailover.AlreadyRunning", answer
        assert back in answer["errorMessage"] and "aws stepfunctions stop-execution" in answer["errorMessage"], answer
    assert all(r["answers"] == "primary" for r in session.snapshot()["dns"].values())

    # The on-call starts the failover as the README says (events/statemachine/manual-failover.json).
    by_hand = start(session, "state_machine_arn",
                    {"trigger": "manual", "dry_run": False, "reason": "primary region down; the on-call"})
    described = session.follow(by_hand, timeout=60)
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.AlreadyRunning", described
    assert all(r["answers"] == "primary" for r in session.snapshot()["dns"].values()), "the refused failover moved nothing"

    described = session.follow(back, timeout=120)
    assert described["status"] == "SUCCEEDED", described
    reports = session.reports(wait=1.0)
    (refusal,) = [r for r in reports if "refused" in (r["subject"] or "")]
    assert refusal["subject"] == "[dr-failover] drill: refused, another run of this deployment is running"
    holder = refusal["message"]["concurrency"]["blocked_by"]
    assert (holder["execution_arn"], holder["machine"]) == (back, "failback"), holder
    assert f"--execution-arn {back}" in holder["stop_command"]
    assert holder["stop_command"] in refusal["message"]["next_step"]
    assert any(r["subject"] == "[dr-failover] drill: failed back to the primary region" for r in reports), \
        [r["subject"] for r in reports]
    assert all(r["answers"] == "primary" for r in session.snapshot()["dns"].values())


def test_two_failovers_started_together_while_the_listing_lags_fail_over_once(local_aws):
    # ListExecutions is eventually consistent ("may not reflect very recent updates"): here each run
    # is missing from it for 4 s. Two on-calls start the failover 0.3 s apart. A run that took a
    # listing without itself in it for current would see no other run and go on: two real runs.
    session = local_aws()
    session.control("settings", {"list_executions_lag_seconds": 4})
    first = session.start_execution({"trigger": "manual", "dry_run": False, "reason": "first on-call"})
    time.sleep(0.3)
    second = session.start_execution({"trigger": "manual", "dry_run": False, "reason": "second on-call"})

    assert session.follow(first, timeout=120)["status"] == "SUCCEEDED"
    described = session.follow(second, timeout=120)
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.AlreadyRunning", described
    entered = {e["stateEnteredEventDetails"]["name"] for e in session.history(second) if "stateEnteredEventDetails" in e}
    assert "PlanDatabase" not in entered, "the second run was refused at its start, before any plan"
    reports = session.reports(wait=1.0)
    (refusal,) = [r for r in reports if "refused" in (r["subject"] or "")]
    assert refusal["message"]["concurrency"]["blocked_by"]["execution_arn"] == first
