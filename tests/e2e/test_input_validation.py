"""The state machine's own input validation, run for real on the stand-in with the real finishing
step (finish-run).

Validation happens before any step: the request check (CheckRequest, whose size and reason bounds
the functions' own tests and test_bounded.py cover) is replaced by a Pass that lets the request
through. A refused input must fail with `DrFailover.InvalidInput` naming the problem, be
published, and never reach a step: the only task that runs is the finishing step.
"""

from __future__ import annotations

import json
import time

import pytest

from drill import iam, world
from drill.session import Session

MISSING_FUNCTION = f"arn:aws:lambda:{world.DR}:{world.ACCOUNT}:function:does-not-exist"


@pytest.fixture(scope="module")
def state_machine(tmp_path_factory):
    with Session(world.Options(poll_seconds=1), tmp_path_factory.mktemp("validation"), 1.0) as session:
        sfn = session.client("stepfunctions")
        asl = json.loads(world.state_machine_definition(session.world))
        # As written but for CheckRequest's function, which does not exist: the check cannot run,
        # as when verify-backup-copy fails after its retries.
        asl["States"]["CheckRequest"]["Resource"] = MISSING_FUNCTION
        unchecked = sfn.create_state_machine(
            name="unchecked", definition=json.dumps(asl), roleArn=iam.role_arn("StateMachineRole")
        )["stateMachineArn"]
        asl["States"]["CheckRequest"] = {"Type": "Pass", "ResultPath": None, "Next": asl["States"]["CheckRequest"]["Next"]}
        checked = sfn.create_state_machine(
            name="validation", definition=json.dumps(asl), roleArn=iam.role_arn("StateMachineRole")
        )["stateMachineArn"]
        session.reports(wait=0.5)  # the warm-up's, if any
        yield session, checked, unchecked


def run(state_machine, request, unchecked: bool = False) -> dict:
    session, checked, not_checked = state_machine
    sfn = session.client("stepfunctions")
    arn = not_checked if unchecked else checked
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(request))["executionArn"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            history = session.history(execution)
            scheduled = [e["taskScheduledEventDetails"] for e in history if e["type"] == "TaskScheduled"]
            finish = session.world.function_arns["finish-run"]
            # No task may run but the SNS warnings and the finishing step.
            described["tasks"] = [
                t for t in scheduled
                if t["resourceType"] != "sns" and json.loads(t["parameters"]).get("FunctionName") != finish
            ]
            described["published"] = session.reports(wait=1.0)
            return described
        time.sleep(0.2)
    raise AssertionError(f"{request} still running")


@pytest.mark.parametrize("key", ["dry-run", "dryRun", "DryRun", "forced", "databaseMode"])
def test_a_misspelt_field_is_refused_rather_than_ignored(state_machine, key):
    result = run(state_machine, {key: True, "reason": "typo"})
    assert result["status"] == "FAILED"
    assert result["error"] == "DrFailover.InvalidInput"
    assert "misspelt" in result["cause"]
    assert result["tasks"] == [], "nothing may run"
    assert len(result["published"]) == 1, "the refusal is published"
    assert result["published"][0]["subject"] == "[dr-failover] drill: refused, invalid input"


@pytest.mark.parametrize(
    "request_, field",
    [
        ({"dry_run": "yes"}, "dry_run"),
        ({"dry_run": False, "force": 1}, "force"),
        ({"dry_run": False, "database_mode": "yolo"}, "database_mode"),
        ({"dry_run": False, "trigger": "cron"}, "trigger"),
        ({"dry_run": False, "reason": 42}, "reason"),
        ({}, "dry_run is required"),
        ({"trigger": "manual", "reason": "no dry_run given"}, "dry_run is required"),
        ({"trigger": "alarm", "dry_run": False, "alarm": {"name": "a", "previous_state": "INSUFFICIENT_DATA"}},
         "alarm.previous_state"),
        ({"action": "apply", "dry_run": False}, "step request"),
        ({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "dry_run": False},
         "EventBridge event"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_naming_it(state_machine, request_, field):
    result = run(state_machine, request_)
    assert result["status"] == "FAILED"
    assert result["error"] == "DrFailover.InvalidInput"
    assert field in result["cause"]
    assert result["tasks"] == []
    [published] = result["published"]
    assert published["message"]["outcome"] == "invalid-input" and published["message"]["input"] == request_


def test_an_alarm_input_from_ok_passes_validation(state_machine):
    # It goes on past ValidateRequest to the concurrency check, and is stopped there, before any
    # step changes anything.
    session, arn, _ = state_machine
    sfn = session.client("stepfunctions")
    # The witness agrees (shared::witness): the hold reads the runs, as for any confirmed alarm,
    # instead of holding the run back at once and publishing before it is stopped.
    session.witness_sees(False)
    request = {"trigger": "alarm", "dry_run": False, "alarm": {"name": "a", "previous_state": "OK"}}
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(request))["executionArn"]
    deadline = time.monotonic() + 30
    entered: list = []
    while "CheckConcurrency" not in entered:
        assert time.monotonic() < deadline, entered
        history = session.history(execution)
        entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
        time.sleep(0.05)
    assert not any(name.startswith("Invalid") for name in entered), entered
    sfn.stop_execution(executionArn=execution)
    session.reports(wait=1.0)  # anything it published before it stopped, not the next test's


@pytest.mark.parametrize("request_", [None, "fail over", 7, True])
def test_an_input_that_is_not_an_object_is_refused_and_published_even_when_the_check_cannot_run(state_machine, request_):
    result = run(state_machine, request_, unchecked=True)
    assert result["status"] == "FAILED"
    assert result["error"] == "DrFailover.InvalidInput", result.get("cause")
    assert "must be a JSON object" in result["cause"]
    subjects = [m["subject"] for m in result["published"]]
    assert subjects == ["[dr-failover] drill: WARNING, request not checked, going on",
                        "[dr-failover] drill: refused, invalid input"], "the not-checked warning, then the refusal"
    assert result["tasks"] == [], "no step ran"
