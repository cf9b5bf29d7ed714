"""Every end is heard: the state machine run for real on the stand-in's Step Functions while SNS
Publish (or the concurrency check's ListExecutions) fails every time.

No function runs here: the test's copy of the ASL replaces the Plan state by a Pass holding a plan
(clean, or with a refusal) and the request check (CheckRequest) by a Pass that lets the request
through, and shortens every retry wait to 1 s, keeping the number of attempts. Everything after
Plan is the ASL as deployed.
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

REGION = "eu-central-1"
TOPIC = f"arn:aws:sns:{REGION}:123456789012:reports"
BUCKET = "reports"
SUBSTITUTIONS = {
    "DeploymentName": "publish-test",
    "PollSeconds": "1",
    "DatabaseBudgetSeconds": "60",
    "ComputeBudgetSeconds": "60",
    "DnsBudgetSeconds": "60",
    "AlarmFailoverApproval": "none",
    "ApprovalTimeoutSeconds": "900",
    "ApprovalExpiryAction": "proceed",
    "ReportTopicArn": TOPIC,
    "ReportBucketName": BUCKET,
    "PromoteReplicaFunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:promote-replica",
    "ScaleAsgFunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:scale-asg",
    "FlipDnsFunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:flip-dns",
    "VerifyBackupCopyFunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:verify-backup-copy",
}


def step(name: str, refusals: list[str] | None = None) -> dict:
    return {
        "step": name, "action": "plan", "changed": False, "ready": True, "refusals": refusals or [],
        "summary": f"{name}: plan", "detail": {}, "warnings": [],
    }


def plan(refused: bool) -> dict:
    return {
        "database": step("promote-replica", ["replica lag 900 s is above 300 s"] if refused else None),
        "compute": step("scale-asg"),
        "dns": step("flip-dns"),
        "backup": step("verify-backup-copy"),
    }


def definition(refused: bool, plan_wait_seconds: int = 0) -> str:
    text = (ROOT / "infra" / "statemachine" / "failover.asl.json").read_text()
    for name, value in SUBSTITUTIONS.items():
        text = text.replace("${%s}" % name, value)
    asl = json.loads(text)
    states = asl["States"]
    original = states["Plan"]
    states["Plan"] = {
        "Type": "Pass", "Result": plan(refused), "ResultPath": original["ResultPath"], "Next": original["Next"],
    }
    states["CheckRequest"] = {"Type": "Pass", "ResultPath": None, "Next": states["CheckRequest"]["Next"]}
    if plan_wait_seconds:
        states["PlanWait"] = {"Type": "Wait", "Seconds": plan_wait_seconds, "Next": "Plan"}
        for state in states.values():
            for key in ("Next", "Default"):
                if state.get(key) == "Plan" and state is not states["PlanWait"]:
                    state[key] = "PlanWait"
            for choice in state.get("Choices", []) + state.get("Catch", []):
                if choice.get("Next") == "Plan":
                    choice["Next"] = "PlanWait"
    for state in states.values():
        for retrier in state.get("Retry", []):
            if retrier.get("MaxAttempts", 3) > 0:
                retrier.update(IntervalSeconds=1, BackoffRate=1.0)
                retrier.pop("MaxDelaySeconds", None)
    return json.dumps(asl)


@pytest.fixture(scope="module")
def standin():
    server = start_standin(["--transition-seconds", "1"])
    try:
        server.client("sns", REGION).create_topic(Name="reports")
        server.client("s3", REGION).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield server
    finally:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def faults(standin):
    def arm(*specs: dict) -> None:
        status, answer = standin.control("faults", list(specs))
        assert status == 201, answer

    yield arm
    assert standin.control("faults", method="DELETE")[0] == 200


SNS_DOWN = {"service": "sns", "operation": "Publish", "count": 1000, "kind": "5xx"}
S3_DOWN = {"service": "s3", "count": 1000, "kind": "5xx"}

_machines = 0


def create(standin, **kwargs) -> str:
    global _machines
    _machines += 1
    sfn = standin.client("stepfunctions", REGION)
    return sfn.create_state_machine(
        name=f"publish-{_machines}", definition=definition(**kwargs), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]


def start(standin, arn: str, request: dict) -> str:
    sfn = standin.client("stepfunctions", REGION)
    return sfn.start_execution(stateMachineArn=arn, input=json.dumps(request))["executionArn"]


def history(standin, execution: str) -> list[dict]:
    return standin.client("stepfunctions", REGION).get_execution_history(executionArn=execution)["events"]


def entered(events: list[dict]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def wait(standin, execution: str, seconds: float = 60) -> dict:
    sfn = standin.client("stepfunctions", REGION)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            described["events"] = history(standin, execution)
            return described
        time.sleep(0.2)
    raise AssertionError(f"{execution} still running after {seconds} s")


def publish_failures(events: list[dict]) -> int:
    return sum(1 for e in events if e["type"] == "TaskFailed" and e["taskFailedEventDetails"]["resourceType"] == "sns")


def test_a_dry_run_is_published_and_succeeds(standin):
    """The control: with SNS up, the same copy of the ASL ends as it always has."""
    result = wait(standin, start(standin, create(standin, refused=False), {"dry_run": True, "reason": "drill"}))
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["outcome"] == "dry-run"
    assert "PublishDryRun" in entered(result["events"])


def test_a_report_is_stored_in_the_bucket_and_the_output_says_where(standin):
    execution = start(standin, create(standin, refused=False), {"dry_run": True, "reason": "stored"})
    result = wait(standin, execution)
    assert result["status"] == "SUCCEEDED", result
    report = json.loads(result["output"])
    name = execution.rsplit(":", 1)[1]
    assert report["report_object"] == {
        "bucket": BUCKET, "key": f"reports/{name}.json", "uri": f"s3://{BUCKET}/reports/{name}.json",
    }
    stored = standin.client("s3", REGION).get_object(Bucket=BUCKET, Key=f"reports/{name}.json")
    assert stored["ContentType"] == "application/json"
    assert json.loads(stored["Body"].read()) == report


def test_a_report_that_cannot_be_stored_is_still_published_saying_so(standin, faults):
    faults(S3_DOWN)
    result = wait(standin, start(standin, create(standin, refused=True), {"dry_run": False, "reason": "test"}))
    states = entered(result["events"])
    assert states.index("StoreRefusedReport") < states.index("PublishRefused")
    assert result["error"] == "DrFailover.Refused", "the run ends as the plan says"
    failed = [e for e in result["events"] if e["type"] == "TaskFailed" and e["taskFailedEventDetails"]["resourceType"] == "aws-sdk:s3"]
    assert len(failed) == 6, "1 attempt and 5 retries"
    assert not any(
        e["type"] == "TaskFailed" and e["taskFailedEventDetails"]["resourceType"] == "sns" for e in result["events"]
    ), "the report was published"
    [published] = [e for e in result["events"] if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "sns"]
    message = json.loads(json.loads(published["taskScheduledEventDetails"]["parameters"])["Message"])
    assert message["report_object"]["not_stored"]["Error"].lower().startswith("s3."), message["report_object"]


def test_a_dry_run_whose_report_cannot_be_published_fails_saying_so(standin, faults):
    faults(SNS_DOWN)
    result = wait(standin, start(standin, create(standin, refused=False), {"dry_run": True, "reason": "drill"}))
    assert result["status"] == "FAILED"
    assert result["error"] == "DrFailover.ReportNotPublished"
    assert result["cause"].startswith("the dry-run report of publish-test could not be published"), result["cause"]
    assert "(SNS.ServiceUnavailableException: " in result["cause"]
    report = json.loads(result["cause"].split("; the report: ", 1)[1])
    assert report["outcome"] == "dry-run" and report["request"]["reason"] == "drill"
    assert publish_failures(result["events"]) == 7, "1 attempt and 6 retries"


def test_a_refusal_whose_report_cannot_be_published_fails_saying_so(standin, faults):
    faults(SNS_DOWN)
    result = wait(standin, start(standin, create(standin, refused=True), {"dry_run": False, "reason": "test"}))
    assert result["status"] == "FAILED"
    assert result["error"] == "DrFailover.ReportNotPublished"
    assert result["cause"].startswith("the refused report of publish-test"), result["cause"]
    report = json.loads(result["cause"].split("; the report: ", 1)[1])
    assert report["plan"]["database"]["refusals"] == ["replica lag 900 s is above 300 s"]


def test_a_refusal_of_a_second_run_that_cannot_be_published_fails_saying_so(standin, faults):
    arn = create(standin, refused=True, plan_wait_seconds=4)
    first = start(standin, arn, {"dry_run": False, "reason": "first"})
    deadline = time.monotonic() + 10
    while "PlanWait" not in entered(history(standin, first)):
        assert time.monotonic() < deadline, "the first run did not get past its concurrency check"
        time.sleep(0.1)
    faults(SNS_DOWN)
    second = wait(standin, start(standin, arn, {"dry_run": False, "reason": "second"}))
    assert "PublishAlreadyRunning" in entered(second["events"])
    assert second["error"] == "DrFailover.ReportNotPublished"
    assert second["cause"].startswith("the refused-already-running report of publish-test"), second["cause"]
    report = json.loads(second["cause"].split("; the report: ", 1)[1])
    assert report["running"] == first and report["request"]["reason"] == "second"
    assert wait(standin, first)["error"] == "DrFailover.ReportNotPublished"


def test_a_failed_concurrency_check_is_published_and_the_run_goes_on(standin, faults):
    faults({"service": "states", "operation": "ListExecutions", "count": 1000, "kind": "5xx"})
    result = wait(standin, start(standin, create(standin, refused=True), {"dry_run": False, "reason": "test"}))
    states = entered(result["events"])
    assert states.index("CheckConcurrency") < states.index("PublishConcurrencyUnchecked") < states.index("Plan")
    assert not any(
        e["type"] == "TaskFailed" and e["taskFailedEventDetails"]["resourceType"] == "sns" for e in result["events"]
    ), "the warning was published"
    assert result["error"] == "DrFailover.Refused", "the run planned and ended as the plan says"


def test_a_failed_concurrency_check_goes_on_even_when_its_warning_is_not_published(standin, faults):
    faults(
        {"service": "states", "operation": "ListExecutions", "count": 1000, "kind": "5xx"},
        SNS_DOWN,
    )
    result = wait(standin, start(standin, create(standin, refused=True), {"dry_run": False, "reason": "test"}))
    states = entered(result["events"])
    assert states.index("PublishConcurrencyUnchecked") < states.index("Plan") < states.index("PublishRefused")
    assert result["error"] == "DrFailover.ReportNotPublished"
    assert result["cause"].startswith("the refused report"), result["cause"]
