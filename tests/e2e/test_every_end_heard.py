"""Every end is heard: the failover state machine's ends through its one finishing step
(finish-run, the real binary), while SNS Publish, S3 or the concurrency check's ListExecutions
fail every time on the stand-in.

No step function is needed for the ends themselves: the test's copies of the ASL replace the Plan
state by a Pass holding a plan (clean, or with a refusal) and the request check (CheckRequest) by
a Pass that lets the request through, and shorten every retry wait to 1 s, keeping the number of
attempts. Everything after Plan, FinishRun included, is the ASL as deployed, and finish-run runs
under `cargo lambda watch` as in every other end-to-end test.
"""

from __future__ import annotations

import http.server
import json
import shlex
import threading
import time
from pathlib import Path

import pytest

from drill import iam, world
from drill.session import Session

ROOT = Path(__file__).resolve().parents[2]

# finish-run's store and publish retry as the SDK's standard mode does, from this first wait.
FAST_BACKOFF = {"REPORT_RETRY_INITIAL_BACKOFF_MS": "20"}


def step(name: str, refusals: list | None = None) -> dict:
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


def definition(session: Session, refused: bool, plan_wait_seconds: int = 0) -> str:
    asl = json.loads(world.state_machine_definition(session.world))
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
def session(tmp_path_factory):
    # A deployment with ChatNotifications=chatbot: every protocol but https reads the message as
    # with none (these tests read it from the report queue), so each test here checks that too.
    options = world.Options(poll_seconds=1, function_env_overrides={**FAST_BACKOFF, "CHAT_NOTIFICATIONS": "chatbot"})
    with Session(options, tmp_path_factory.mktemp("every-end"), 1.0) as started:
        yield started


@pytest.fixture
def faults(session):
    def arm(*specs: dict) -> None:
        session.control("faults", list(specs))

    yield arm
    session.control("faults", method="DELETE")


SNS_DOWN = {"service": "sns", "operation": "Publish", "count": 1000, "kind": "5xx"}
S3_DOWN = {"service": "s3", "count": 1000, "kind": "5xx"}

_machines = 0


def create(session: Session, **kwargs) -> str:
    global _machines
    _machines += 1
    return session.client("stepfunctions").create_state_machine(
        name=f"publish-{_machines}", definition=definition(session, **kwargs),
        roleArn=iam.role_arn("StateMachineRole"),
    )["stateMachineArn"]


def adopt(session: Session, **kwargs) -> str:
    """The world's own failover state machine, given this test's definition: the functions judge
    which run holds the deployment among the three state machines they are configured with
    (FAILOVER_STATE_MACHINE_ARN, ...), so a concurrency test runs on that one."""
    arn = session.world.state_machine_arn
    session.client("stepfunctions").update_state_machine(stateMachineArn=arn, definition=definition(session, **kwargs))
    return arn


def start(session: Session, arn: str, request: dict) -> str:
    return session.client("stepfunctions").start_execution(stateMachineArn=arn, input=json.dumps(request))["executionArn"]


def entered(events: list) -> list:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def wait(session: Session, execution: str, seconds: float = 90) -> dict:
    sfn = session.client("stepfunctions")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            described["events"] = session.history(execution)
            return described
        time.sleep(0.2)
    raise AssertionError(f"{execution} still running after {seconds} s")


def published(session: Session, execution: str) -> list:
    return [r for r in session.reports(wait=1.0) if isinstance(r["message"], dict) and r["message"].get("execution") == execution]


def test_a_dry_run_is_published_and_succeeds(session):
    """The control: with SNS up, the same copy of the ASL ends as it always has."""
    execution = start(session, create(session, refused=False), {"dry_run": True, "reason": "drill"})
    result = wait(session, execution)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["outcome"] == "dry-run"
    assert "FinishRun" in entered(result["events"])
    [message] = published(session, execution)
    assert message["subject"] == "[dr-failover] drill: dry run, nothing changed"


class _Received(http.server.BaseHTTPRequestHandler):
    """An https subscriber's endpoint (AWS Chatbot's, in a deployment): keeps what SNS posts."""

    posts: list = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        type(self).posts.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_chatbot_deployment_publishes_a_custom_notification_to_https_and_the_message_to_the_rest(session):
    """ChatNotifications=chatbot: finish-run publishes with MessageStructure=json (the stand-in,
    as SNS, refuses one without a default string). An https subscriber, as AWS Chatbot subscribes,
    gets the custom notification; the report queue (SQS) the first paragraph and the report."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Received)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sns = session.client("sns")
    # moto posts to the endpoint as given, so a local http:// address stands in for Chatbot's.
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/chatbot"
    subscription = sns.subscribe(TopicArn=session.world.topic_arn, Protocol="https", Endpoint=endpoint)["SubscriptionArn"]
    try:
        execution = start(session, create(session, refused=False), {"dry_run": True, "reason": "chat"})
        result = wait(session, execution)
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        server.shutdown()
    assert result["status"] == "SUCCEEDED", result
    [message] = published(session, execution)
    assert message["message"]["outcome"] == "dry-run"
    paragraph = message["text"]
    assert paragraph.startswith("drill: dry run, nothing changed. The failover run "), paragraph
    [post] = [p for p in _Received.posts if execution in p.get("Message", "")]
    assert post["Subject"] == "[dr-failover] drill: dry run, nothing changed"
    custom = json.loads(post["Message"])
    assert (custom["version"], custom["source"]) == ("1.0", "custom")
    assert custom["content"]["textType"] == "client-markdown"
    assert custom["content"]["title"] == message["subject"]
    assert custom["content"]["description"] == "\n".join(
        line for line in paragraph.split("\n") if not line.split(": ", 1)[0].endswith("_command")
    ), "the paragraph, its commands as next steps"
    assert custom["metadata"]["threadId"] == execution


def test_a_report_is_stored_in_the_bucket_and_the_output_says_where(session):
    execution = start(session, create(session, refused=False), {"dry_run": True, "reason": "stored"})
    result = wait(session, execution)
    assert result["status"] == "SUCCEEDED", result
    report = json.loads(result["output"])
    name = execution.rsplit(":", 1)[1]
    bucket = session.world.report_bucket
    assert report["report_object"] == {
        "bucket": bucket, "key": f"reports/{name}.json", "uri": f"s3://{bucket}/reports/{name}.json",
    }
    stored = session.client("s3").get_object(Bucket=bucket, Key=f"reports/{name}.json")
    assert stored["ContentType"] == "application/json"
    assert json.loads(stored["Body"].read()) == report


def test_a_report_that_cannot_be_stored_is_still_published_saying_so(session, faults):
    faults(S3_DOWN)
    execution = start(session, create(session, refused=True), {"dry_run": False, "reason": "test"})
    result = wait(session, execution)
    assert result["error"] == "DrFailover.Refused", "the run ends as the plan says"
    [armed] = session.control("faults", method="GET")["faults"]
    assert 1000 - armed["remaining"] == 7, "finish-run's 7 attempts to store"
    [message] = published(session, execution)
    assert message["subject"] == "[dr-failover] drill: failover refused by a pre-flight check"
    report = message["message"]
    assert report["report_object"]["not_stored"]["Error"].lower().startswith("s3."), report["report_object"]


def test_a_dry_run_whose_report_cannot_be_published_fails_saying_so(session, faults):
    faults(SNS_DOWN)
    result = wait(session, start(session, create(session, refused=False), {"dry_run": True, "reason": "drill"}))
    assert result["status"] == "FAILED"
    assert result["error"] == "DrFailover.ReportNotPublished"
    assert result["cause"].startswith("the dry-run report of drill could not be published"), result["cause"]
    assert "(SNS.ServiceUnavailable: " in result["cause"]
    report = json.loads(result["cause"].split("; the report: ", 1)[1])
    assert report["outcome"] == "dry-run" and report["request"]["reason"] == "drill"
    [armed] = session.control("faults", method="GET")["faults"]
    assert 1000 - armed["remaining"] == 7, "1 attempt and 6 retries"


def test_a_refusal_whose_report_cannot_be_published_fails_saying_so(session, faults):
    faults(SNS_DOWN)
    result = wait(session, start(session, create(session, refused=True), {"dry_run": False, "reason": "test"}))
    assert result["status"] == "FAILED"
    assert result["error"] == "DrFailover.ReportNotPublished"
    assert result["cause"].startswith("the refused report of drill"), result["cause"]
    report = json.loads(result["cause"].split("; the report: ", 1)[1])
    assert report["plan"]["database"]["refusals"] == ["replica lag 900 s is above 300 s"]


def test_a_refusal_of_a_second_run_that_cannot_be_published_fails_saying_so(session, faults):
    arn = adopt(session, refused=True, plan_wait_seconds=4)
    first = start(session, arn, {"dry_run": False, "reason": "first"})
    deadline = time.monotonic() + 10
    while "PlanWait" not in entered(session.history(first)):
        assert time.monotonic() < deadline, "the first run did not get past its concurrency check"
        time.sleep(0.1)
    faults(SNS_DOWN)
    second = wait(session, start(session, arn, {"dry_run": False, "reason": "second"}))
    assert "BlockedByCandidate" in entered(second["events"])
    assert second["error"] == "DrFailover.ReportNotPublished"
    assert second["cause"].startswith("the refused-already-running report of drill"), second["cause"]
    report = json.loads(second["cause"].split("; the report: ", 1)[1])
    assert report["concurrency"]["blocked_by"]["execution_arn"] == first and report["request"]["reason"] == "second"
    assert wait(session, first)["error"] == "DrFailover.ReportNotPublished"


def test_a_failed_concurrency_check_is_published_and_the_run_goes_on(session, faults):
    faults({"service": "states", "operation": "ListExecutions", "count": 1000, "kind": "5xx"})
    execution = start(session, create(session, refused=True), {"dry_run": False, "reason": "test"})
    result = wait(session, execution)
    states = entered(result["events"])
    assert states.index("CheckConcurrency") < states.index("PublishConcurrencyUnchecked") < states.index("Plan")
    assert not any(
        e["type"] == "TaskFailed" and e["taskFailedEventDetails"]["resourceType"] == "sns" for e in result["events"]
    ), "the warning was published"
    assert result["error"] == "DrFailover.Refused", "the run planned and ended as the plan says"


def test_a_failed_concurrency_check_goes_on_even_when_its_warning_is_not_published(session, faults):
    faults(
        {"service": "states", "operation": "ListExecutions", "count": 1000, "kind": "5xx"},
        SNS_DOWN,
    )
    result = wait(session, start(session, create(session, refused=True), {"dry_run": False, "reason": "test"}))
    states = entered(result["events"])
    assert states.index("PublishConcurrencyUnchecked") < states.index("Plan") < states.index("FinishRun")
    assert result["error"] == "DrFailover.ReportNotPublished"
    assert result["cause"].startswith("the refused report"), result["cause"]


def test_when_the_finishing_step_itself_fails_a_plain_message_is_published(session, faults):
    faults({"service": "lambda", "operation": "Invoke", "count": 1000, "kind": "5xx"})
    arn = create(session, refused=True)
    execution = start(session, arn, {"dry_run": False, "reason": "test"})
    result = wait(session, execution)
    states = entered(result["events"])
    assert states.index("FinishRun") < states.index("PublishPlain") < states.index("ReportNotPublished")
    assert result["error"] == "DrFailover.ReportNotPublished"
    assert result["cause"].startswith("the refused report of drill could not be made or published"), result["cause"]
    plain = [r for r in session.reports(wait=1.0) if "its report could not be made" in (r["subject"] or "")]
    assert len(plain) == 1, plain
    assert plain[0]["subject"] == "[dr-failover] drill: run ended, its report could not be made"
    text = plain[0]["message"]
    console = f"https://eu-central-1.console.aws.amazon.com/states/home?region=eu-central-1#/v2/executions/details/{execution}"
    assert isinstance(text, str) and text.startswith(f"The run {execution} (console: {console}) ended with outcome refused"), text
    assert "get-execution-history --region eu-central-1 --execution-arn" in text
    # Whatever the outcome, the message names the command that finishes an incomplete failover,
    # and it runs as printed from a checkout of the repository (its input file is the one the
    # README documents for finishing).
    command = shlex.split(text.split("from a checkout of the dr-failover repository: ", 1)[1])
    assert command[:5] == ["aws", "stepfunctions", "start-execution", "--region", "eu-central-1"], command
    assert command[command.index("--state-machine-arn") + 1] == arn
    path = command[command.index("--input") + 1].removeprefix("file://")
    finish = json.loads((ROOT / path).read_text())
    assert finish["trigger"] == "manual" and finish["dry_run"] is False and finish["accept_partial_capacity"] is True
