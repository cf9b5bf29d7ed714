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

import pytest

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
            raise AssertionError(f"unexpected message before the approval request: {message['subject']}: {message['message']}")
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
    # A second approver denies a moment later: the task is closed (TaskTimedOut, as Step Functions
    # answers), and the run goes on as first answered.
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_failure(taskToken=task_token(request["deny_command"]), error="DrFailover.ApprovalDenied")
    run = follow(aws, arn, now(), timeout=120)
    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    assert json.loads(run["described"]["output"])["outcome"] == "failed-over"
    assert [m["subject"] for m in aws.reports(wait=1.0)] == ["[dr-failover] drill: failed over to the DR region"]
    assert answers(aws) == {"dr"}

    # Unanswered, with ApprovalExpiryAction proceed, the alarm still in ALARM: told, then it goes
    # on (here, to a failover already done).
    known = [e["executionArn"] for e in aws.executions()]
    aws.trip_alarm()
    arn = aws.wait_for_execution(known)
    approval_request(aws)
    run = follow(aws, arn, now(), timeout=120)
    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    published = aws.reports(wait=1.0)
    subjects = [m["subject"] for m in published]
    assert subjects == ["[dr-failover] drill: approval not given in time, failing over",
                        "[dr-failover] drill: already failed over; nothing changed"], subjects
    assert published[0]["message"]["alarm_state"]["detail"]["state"] == "ALARM"
    assert published[1]["message"]["alarm_state"]["detail"]["state"] == "ALARM"


def test_an_unanswered_approval_does_not_proceed_once_the_primary_has_recovered(local_aws):
    """Issue 21: the primary recovers during the approval wait (the alarm OK for a few seconds);
    with ApprovalExpiryAction proceed the run reads the alarm again, stops, changes nothing, and
    publishes what the alarm said. Before, it promoted the replica and moved DNS."""
    aws = local_aws(approval="required", approval_timeout_seconds=6, approval_on_expiry="proceed")

    known = [e["executionArn"] for e in aws.executions()]
    aws.trip_alarm()
    arn = aws.wait_for_execution(known)
    approval_request(aws)
    recovered_at = aws.end_outage()
    run = follow(aws, arn, now(), timeout=60)

    assert run["described"]["status"] == "FAILED", run["described"]
    assert run["described"]["error"] == "DrFailover.ApprovalExpired", run["described"]
    assert "health check alarm app-primary-health is OK since" in run["described"]["cause"]
    assert not task_runs(run["timeline"], "PromoteApply") and not task_runs(run["timeline"], "ScaleApply")
    [stopped] = aws.reports(wait=1.0)
    assert stopped["subject"] == "[dr-failover] drill: approval expired, primary recovered (alarm OK), nothing changed"
    report = stopped["message"]
    assert report["outcome"] == "approval-expired-primary-recovered"
    assert report["approval"]["Error"] == "States.Timeout"
    alarm = report["alarm_state"]["detail"]
    assert alarm["state"] == "OK" and alarm["recovered"] is True and alarm["region"] == "us-east-1"
    assert alarm["state_since"] == recovered_at.strftime("%Y-%m-%dT%H:%M:%S") + "Z" or \
        abs(datetime.datetime.fromisoformat(alarm["state_since"].replace("Z", "+00:00")) - recovered_at).total_seconds() < 1
    snapshot = aws.snapshot()
    assert answers(aws) == {"primary"} and snapshot["database"]["replica_source"] is not None


def test_an_unanswered_approval_proceeds_when_the_alarm_cannot_be_read_and_says_so(local_aws):
    """The alarm read is context: when it cannot be read (here the alarm is gone from us-east-1),
    the run proceeds as ApprovalExpiryAction says, and both the notice and the report say why."""
    aws = local_aws(approval="required", approval_timeout_seconds=4, approval_on_expiry="proceed")

    known = [e["executionArn"] for e in aws.executions()]
    aws.trip_alarm()
    arn = aws.wait_for_execution(known)
    approval_request(aws)
    aws.client("cloudwatch", world.GLOBAL).delete_alarms(AlarmNames=[world.ALARM])
    run = follow(aws, arn, now(), timeout=120)

    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    notice, report = aws.reports(wait=1.0)
    assert notice["subject"] == "[dr-failover] drill: approval not given in time, failing over"
    for message in (notice["message"], report["message"]):
        state = message["alarm_state"]
        assert "no alarm named app-primary-health" in state["detail"]["read_error"], state
        assert "was not read again" in state["warnings"][0]
    assert report["message"]["outcome"] == "failed-over"
    assert answers(aws) == {"dr"}


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


def test_an_approved_failover_makes_its_plan_again_and_changes_nothing_when_it_refuses_now(local_aws):
    """Issue 21: what the plan checked may change in the approval wait. Here the replica's
    replication stops while the request waits; the approval comes; the plan, made again before any
    change, refuses (read replication error): no group raised, nothing promoted, DNS unmoved. Before,
    the approved run went straight to its stages: the DR groups were raised while the database step
    refused at apply."""
    from test_replication import lag_datapoint, stop_replication

    aws = local_aws(approval="required", approval_timeout_seconds=60, approval_on_expiry="abort")
    sfn = aws.client("stepfunctions")
    before = aws.snapshot()["compute"]

    arn = aws.start_execution(alarm_input())
    request = approval_request(aws)
    assert not request["plan"]["database"]["refusals"], "the plan approved did not refuse"
    # As RDS shows it: replication stopped 660 s ago, its last valid lag 665 s old.
    lag_datapoint(aws, world.DR, world.RDS_REPLICA, 40.0, 665)
    stop_replication(aws, world.DR, world.RDS_REPLICA, 660)
    sfn.send_task_success(taskToken=task_token(request["approve_command"]), output="true")
    run = follow(aws, arn, now(), timeout=60)

    assert run["described"]["status"] == "FAILED" and run["described"]["error"] == "DrFailover.Refused", run["described"]
    assert not task_runs(run["timeline"], "ScaleApply") and not task_runs(run["timeline"], "PromoteApply")
    [refused] = aws.reports(wait=1.0)
    assert refused["subject"] == "[dr-failover] drill: failover refused by a pre-flight check"
    assert "after the approval wait" in refused["message"]["note"]
    assert "error" in refused["message"]["plan"]["database"]["refusals"][0]
    snapshot = aws.snapshot()
    assert snapshot["compute"] == before, "no DR group was raised"
    assert snapshot["database"]["replica_source"] is not None and answers(aws) == {"primary"}
