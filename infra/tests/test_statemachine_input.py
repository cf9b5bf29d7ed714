"""The state machine's input validation, run for real on the stand-in's Step Functions.

Validation happens before any step, so no function is needed: the request check (CheckRequest,
whose size and reason bounds the functions' own tests and tests/e2e/test_bounded.py cover) is
replaced by a Pass that lets the request through. A refused input must fail with
`DrFailover.InvalidInput` naming the problem, and never reach a step.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "standin" / "tests"))

from conftest import start_standin  # noqa: E402  (the stand-in's own test helper)

SUBSTITUTIONS = {
    "DeploymentName": "validation-test",
    "PollSeconds": "1",
    "DatabaseBudgetSeconds": "60",
    "ComputeBudgetSeconds": "60",
    "DnsBudgetSeconds": "60",
    "AlarmFailoverApproval": "none",
    "ApprovalTimeoutSeconds": "900",
    "ApprovalExpiryAction": "proceed",
    "ReportTopicArn": "arn:aws:sns:eu-central-1:123456789012:reports",
    "ReportBucketName": "reports",
    "PromoteReplicaFunctionArn": "arn:aws:lambda:eu-central-1:123456789012:function:promote-replica",
    "ScaleAsgFunctionArn": "arn:aws:lambda:eu-central-1:123456789012:function:scale-asg",
    "FlipDnsFunctionArn": "arn:aws:lambda:eu-central-1:123456789012:function:flip-dns",
    "VerifyBackupCopyFunctionArn": "arn:aws:lambda:eu-central-1:123456789012:function:verify-backup-copy",
}


UNCHECKED: list = []


@pytest.fixture(scope="module")
def state_machine():
    server = start_standin(["--transition-seconds", "1"])
    try:
        sfn = server.client("stepfunctions", "eu-central-1")
        # The report topic a refusal is published to (SUBSTITUTIONS' ReportTopicArn).
        topic = server.client("sns", "eu-central-1").create_topic(Name="reports")["TopicArn"]
        assert topic == SUBSTITUTIONS["ReportTopicArn"]
        definition = (ROOT / "infra" / "statemachine" / "failover.asl.json").read_text()
        for name, value in SUBSTITUTIONS.items():
            definition = definition.replace("${%s}" % name, value)
        asl = json.loads(definition)
        # As written, CheckRequest invokes a function that does not exist here: the check cannot
        # run, as when verify-backup-copy fails after its retries.
        unchecked = sfn.create_state_machine(
            name="unchecked", definition=json.dumps(asl), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        asl["States"]["CheckRequest"] = {"Type": "Pass", "ResultPath": None, "Next": asl["States"]["CheckRequest"]["Next"]}
        definition = json.dumps(asl)
        arn = sfn.create_state_machine(
            name="validation", definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        UNCHECKED.append(unchecked)
        yield sfn, arn
    finally:
        server.process.kill()
        server.process.wait()


def run(state_machine, request, unchecked: bool = False) -> dict:
    sfn, arn = state_machine
    if unchecked:
        arn = UNCHECKED[0]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(request))["executionArn"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            history = sfn.get_execution_history(executionArn=execution)["events"]
            scheduled = [e for e in history if e["type"] == "TaskScheduled"]
            # Every refusal is published (one SNS task); no other task may run.
            described["tasks"] = [e for e in scheduled if e["taskScheduledEventDetails"]["resourceType"] != "sns"]
            described["published"] = [e for e in scheduled if e["taskScheduledEventDetails"]["resourceType"] == "sns"]
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


def test_an_alarm_input_from_ok_passes_validation(state_machine):
    # It goes on past ValidateRequest to the concurrency check (the run then waits on functions
    # that do not exist here, and is stopped).
    sfn, arn = state_machine
    request = {"trigger": "alarm", "dry_run": False, "alarm": {"name": "a", "previous_state": "OK"}}
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(request))["executionArn"]
    deadline = time.monotonic() + 30
    entered: list = []
    while "CheckConcurrency" not in entered:
        assert time.monotonic() < deadline, entered
        described = sfn.describe_execution(executionArn=execution)
        assert described["status"] == "RUNNING", described.get("cause")
        history = sfn.get_execution_history(executionArn=execution)["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
        time.sleep(0.2)
    sfn.stop_execution(executionArn=execution)


@pytest.mark.parametrize("request_", [None, "fail over", 7, True])
def test_an_input_that_is_not_an_object_is_refused_and_published_even_when_the_check_cannot_run(state_machine, request_):
    result = run(state_machine, request_, unchecked=True)
    assert result["status"] == "FAILED"
    assert result["error"] == "DrFailover.InvalidInput", result.get("cause")
    assert "must be a JSON object" in result["cause"]
    assert len(result["published"]) == 2, "the not-checked warning, then the refusal"
    assert [t["taskScheduledEventDetails"]["resourceType"] for t in result["tasks"]] == [], "no step ran"
