"""Never strand, never lose a failover: read-only context that fails, dry runs running beside a
real failover, and AWS calls that stall. Each test plays the fault on the stand-in (see
infra/standin/drstandin/faults.py) and checks the end state and the published report.
"""

from __future__ import annotations

import datetime
import json

from conftest import fail_over_by_alarm, follow, task_runs, wait_until
from drill import world

DR = world.DR


def answers(session) -> set:
    return {record["answers"] for record in session.snapshot()["dns"].values()}


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def entered(session, arn: str) -> list:
    return [
        e["stateEnteredEventDetails"]["name"] for e in session.history(arn) if "stateEnteredEventDetails" in e
    ]


def start_slow_weekly_drill(session) -> str:
    """The weekly dry run, held 6 s in its plan (its first backup vault read hangs); its ARN once
    it is in PlanBackup."""
    session.control("faults", {
        "service": "backup", "operation": "DescribeBackupVault", "region": DR, "count": 1, "kind": "hang", "seconds": 6,
    })
    drill = session.start_execution({"trigger": "schedule", "dry_run": True, "reason": "weekly dry-run drill"})
    wait_until(lambda: "PlanBackup" in entered(session, drill))
    return drill


def test_a_vault_the_backup_check_may_not_read_is_an_unknown_verdict_and_the_failover_goes_on(local_aws):
    # The vault account's access policy denies this deployment's role (the security team changed
    # it): AWS Backup answers AccessDeniedException to every read.
    aws = local_aws()
    aws.control("faults", {
        "service": "backup", "operation": "DescribeBackupVault", "region": DR, "count": 1000, "kind": "5xx",
        "status": 403, "code": "AccessDeniedException",
        "message": "User: arn:aws:sts::111122223333:assumed-role/dr-failover-backup-reader/dr-failover-backup-check "
                   "is not authorized to perform: backup:DescribeBackupVault",
    })

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    report = json.loads(run["described"]["output"])
    assert report["outcome"] == "failed-over"
    backup = report["backup"]
    assert backup["detail"]["overall"] == "unknown", backup
    assert backup["detail"]["vault_arn"] is None
    assert "AccessDeniedException" in backup["detail"]["vault_error"]
    assert all(r["verdict"] == "unknown" for r in backup["detail"]["resources"])
    assert any("could not be read" in w for w in backup["warnings"]), backup["warnings"]
    assert answers(aws) == {"dr"}
    assert aws.snapshot()["database"]["replica_source"] is None


def test_a_stalled_vault_costs_one_call_timeout_and_the_failover_goes_on(local_aws):
    # The vault's endpoint accepts connections and never answers (held 40 s, past the function's
    # 30 s timeout): each AWS call is bounded (SDK_OPERATION_TIMEOUT_SECONDS, 10 s), so the check
    # answers 'unknown' in time instead of the invocation being killed and retried for minutes.
    aws = local_aws()
    aws.control("faults", {
        "service": "backup", "operation": "ListRecoveryPointsByBackupVault", "region": DR,
        "count": 1000, "kind": "hang", "seconds": 40,
    })

    run = fail_over_by_alarm(aws, timeout=90)

    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    report = json.loads(run["described"]["output"])
    assert report["outcome"] == "failed-over"
    resources = report["backup"]["detail"]["resources"]
    assert {r["verdict"] for r in resources} == {"unknown"}
    assert "Timeout" in resources[0]["reason"], resources[0]
    assert all(r["reason"].startswith("not asked, the vault is not answering") for r in resources[1:]), resources
    (plan,) = task_runs(run["timeline"], "PlanBackup")
    assert plan.seconds < 20, "one stalled call, not one per resource"
    assert answers(aws) == {"dr"}


def test_a_dry_run_never_blocks_a_real_failover_and_runs_beside_one(local_aws):
    aws = local_aws()
    # The weekly drill (a dry run) is in its plan, its backup check slow today, when the primary
    # region fails.
    started = now()
    drill = start_slow_weekly_drill(aws)
    known = [e["executionArn"] for e in aws.executions()]
    alarm_at = aws.trip_alarm()
    real = aws.wait_for_execution(known)
    # While the real failover runs, an operator starts a rehearsal.
    wait_until(lambda: "PromoteApply" in entered(aws, real), timeout=30)
    rehearsal = aws.start_execution({"dry_run": True, "reason": "rehearsal during the failover"})

    failover = follow(aws, real, alarm_at)
    drilled = follow(aws, drill, started)
    rehearsed = follow(aws, rehearsal, started)

    assert failover["described"]["status"] == "SUCCEEDED", failover["described"]
    assert json.loads(failover["described"]["output"])["outcome"] == "failed-over"
    # The concurrency check ran while the drill ran, and a dry run holds nothing.
    assert "CheckConcurrency" in entered(aws, real) and "BlockedByCandidate" not in entered(aws, real)
    assert len(task_runs(failover["timeline"], "PromoteApply")) >= 1
    assert drilled["described"]["status"] == "SUCCEEDED", drilled["described"]
    assert json.loads(drilled["described"]["output"])["outcome"] == "dry-run"
    assert rehearsed["described"].get("error") != "DrFailover.AlreadyRunning", rehearsed["described"]
    assert "CheckConcurrency" not in entered(aws, rehearsal), "a dry run checks no concurrency"
    assert not task_runs(rehearsed["timeline"], "PromoteApply") and not task_runs(drilled["timeline"], "PromoteApply")
    subjects = [m["subject"] for m in aws.reports(wait=0.5)]
    assert "[dr-failover] drill: failed over to the DR region" in subjects, subjects
    assert not any("another run of this deployment is running" in s for s in subjects), subjects
    assert answers(aws) == {"dr"}


def test_a_real_failover_still_refuses_beside_an_older_real_one_while_a_dry_run_runs_too(local_aws):
    # Dry runs are passed over, real ones are not: an older real run between a dry run and this
    # one still refuses this one.
    aws = local_aws()
    started = now()
    drill = start_slow_weekly_drill(aws)
    first = aws.start_execution({"trigger": "manual", "dry_run": False, "reason": "operator"})
    wait_until(lambda: "Plan" in entered(aws, first))
    second = aws.start_execution({"trigger": "manual", "dry_run": False, "reason": "second operator"})

    results = {arn: follow(aws, arn, started) for arn in (drill, first, second)}

    assert results[first]["described"]["status"] == "SUCCEEDED", results[first]["described"]
    assert results[second]["described"]["error"] == "DrFailover.AlreadyRunning"
    assert results[drill]["described"]["status"] == "SUCCEEDED"
    refusal = next(m for m in aws.reports(wait=0.5) if "another run of this deployment is running" in m["subject"])
    assert refusal["message"]["concurrency"]["blocked_by"]["execution_arn"] == first


def test_a_refused_request_is_published_too(local_aws):
    # A mistyped dry run: refused by name before anything runs, and the refusal is heard.
    aws = local_aws()
    arn = aws.start_execution({"dry-run": True, "reason": "rehearsal, mistyped"})

    run = follow(aws, arn, now())

    assert run["described"]["status"] == "FAILED"
    assert run["described"]["error"] == "DrFailover.InvalidInput"
    assert "misspelt" in run["described"]["cause"]
    [message] = aws.reports(wait=1.0)
    assert message["subject"] == "[dr-failover] drill: refused, invalid input"
    assert message["message"]["outcome"] == "invalid-input"
    assert message["message"]["input"] == {"dry-run": True, "reason": "rehearsal, mistyped"}
    assert '"dry-run" is not a field' in message["message"]["error"]["Cause"], "the unknown field is named"
    assert "did you mean dry_run?" in message["message"]["error"]["Cause"]
    assert not task_runs(run["timeline"], "PlanDatabase"), "nothing ran"


def test_an_option_the_deployment_cannot_take_is_a_refusal_not_a_failed_failover(local_aws):
    # A switchover asked of an RDS read replica (it can only be promoted): refused, nothing
    # changed, and no re-run command that could only fail the same way.
    aws = local_aws()
    arn = aws.start_execution({"trigger": "manual", "dry_run": False, "database_mode": "switchover",
                               "reason": "planned move"})

    run = follow(aws, arn, now())

    assert run["described"]["error"] == "DrFailover.InvalidInput", run["described"]
    assert "database_mode switchover" in run["described"]["cause"]
    [message] = aws.reports(wait=1.0)
    assert message["subject"] == "[dr-failover] drill: refused, invalid input"
    assert "rerun_command" not in message["message"]
    assert not task_runs(run["timeline"], "PromoteApply")
    assert aws.snapshot()["database"]["replica_source"] is not None, "never promoted"
