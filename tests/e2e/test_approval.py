"""The approval gate of alarm-started failovers (AlarmFailoverApproval=required): the plan is
published with the commands that approve or deny it, and the failover waits for one of them
(a Step Functions task token) up to ApprovalTimeoutSeconds, then does what ApprovalExpiryAction
says. Each answer is given here the way the published command gives it.
"""

from __future__ import annotations

import datetime
import json
import shlex
import time

from conftest import follow, task_runs
from drill import world

APPROVAL_NEEDED = "[dr-failover] drill: APPROVAL NEEDED to fail over"


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def alarm_input() -> dict:
    """What the alarm rule sends for a fresh OK -> ALARM change."""
    return {
        "trigger": "alarm", "dry_run": False, "reason": "health check alarm went to ALARM",
        "alarm": {"name": world.ALARM, "time": now().strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
                  "previous_state": "OK"},
    }


def approval_request(aws, timeout: float = 60.0) -> dict:
    """The published approval request, once it arrives."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in aws.reports(wait=1.0):
            if message["subject"] == APPROVAL_NEEDED:
                return message["message"]
            raise AssertionError(f"unexpected message before the approval request: {message['subject']}")
    raise AssertionError("no approval request published")


def task_token(command: str) -> str:
    words = shlex.split(command)
    return words[words.index("--task-token") + 1]


def answers(aws) -> set:
    return {record["answers"] for record in aws.snapshot()["dns"].values()}


def test_a_denied_failover_changes_nothing_an_approved_one_fails_over_and_an_unanswered_one_proceeds(local_aws):
    aws = local_aws(approval="required", approval_timeout_seconds=6, approval_on_expiry="proceed")
    sfn = aws.client("stepfunctions")

    # Denied: the deny command, as published (any error it names is a denial).
    arn = aws.start_execution(alarm_input())
    request = approval_request(aws)
    assert request["outcome"] == "awaiting-approval" and request["request"]["trigger"] == "alarm"
    assert request["plan"]["database"]["summary"], "the plan is what the approver reads"
    deny = shlex.split(request["deny_command"])
    assert deny[:3] == ["aws", "stepfunctions", "send-task-failure"] and deny[deny.index("--region") + 1] == world.DR
    sfn.send_task_failure(taskToken=task_token(request["deny_command"]), error="DrFailover.ApprovalDenied",
                          cause="the primary answers; a false alarm")
    run = follow(aws, arn, now(), timeout=60)
    assert run["described"]["status"] == "FAILED" and run["described"]["error"] == "DrFailover.ApprovalDenied"
    assert not task_runs(run["timeline"], "PromoteApply")
    [denied] = aws.reports(wait=1.0)
    assert denied["subject"] == "[dr-failover] drill: approval DENIED, nothing changed"
    assert denied["message"]["approval"]["Cause"] == "the primary answers; a false alarm"
    assert answers(aws) == {"primary"} and aws.snapshot()["database"]["replica_source"] is not None

    # Approved: the approve command's output, and the failover goes on.
    arn = aws.start_execution(alarm_input())
    request = approval_request(aws)
    approve = shlex.split(request["approve_command"])
    assert approve[:3] == ["aws", "stepfunctions", "send-task-success"]
    sfn.send_task_success(taskToken=task_token(request["approve_command"]), output=approve[approve.index("--task-output") + 1])
    run = follow(aws, arn, now(), timeout=120)
    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    assert json.loads(run["described"]["output"])["outcome"] == "failed-over"
    assert [m["subject"] for m in aws.reports(wait=1.0)] == ["[dr-failover] drill: failed over to the DR region"]
    assert answers(aws) == {"dr"}

    # Unanswered, with ApprovalExpiryAction proceed: told, then it goes on (here, to a failover
    # already done).
    arn = aws.start_execution(alarm_input())
    approval_request(aws)
    run = follow(aws, arn, now(), timeout=120)
    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    subjects = [m["subject"] for m in aws.reports(wait=1.0)]
    assert subjects == ["[dr-failover] drill: approval not given in time, failing over",
                        "[dr-failover] drill: already failed over; nothing changed"], subjects


def test_an_unanswered_approval_with_abort_changes_nothing_and_is_published(local_aws):
    aws = local_aws(approval="required", approval_timeout_seconds=3, approval_on_expiry="abort")

    arn = aws.start_execution(alarm_input())
    approval_request(aws)
    run = follow(aws, arn, now(), timeout=60)

    assert run["described"]["status"] == "FAILED" and run["described"]["error"] == "DrFailover.ApprovalExpired"
    [aborted] = aws.reports(wait=1.0)
    assert aborted["subject"] == "[dr-failover] drill: approval not given in time, nothing changed"
    assert aborted["message"]["approval"]["Error"] == "States.Timeout"
    assert not task_runs(run["timeline"], "PromoteApply")
    assert answers(aws) == {"primary"}


def test_the_drill_shows_the_approval_request_and_answers_it_as_told(tmp_path):
    """`./scripts/drill --approval deny`: the gate as an operator meets it, from the command line."""
    from conftest import Watched, drill_command

    out = tmp_path / "report"
    watched = Watched(drill_command("--approval", "deny", "--transition-seconds", "1", out=out), tmp_path)
    output = watched.finish()

    assert watched.process.returncode == 0, output[-4000:]
    assert "approve: aws stepfunctions send-task-success" in output and "the drill denies it" in output
    report = json.loads((out / "report.json").read_text())
    assert report["outcome"] == report["expected_outcome"] == "approval-denied" and report["ok"], report["checks"]
    assert [m["subject"] for m in report["sns_messages"]] == [
        APPROVAL_NEEDED, "[dr-failover] drill: approval DENIED, nothing changed"]
    assert report["unchanged"] is True
    assert "Approval DENIED: nothing changed" in (out / "report.html").read_text()
    assert watched.leftovers() == []
