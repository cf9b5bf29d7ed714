"""A failover that finishes: the conditions AWS documents as temporary are waited out within each
stage's time budget, readiness means what the application needs, and a run whose database was
promoted never ends silently with DNS on the primary.

Each test plays one kind of fault on the stand-in (see infra/standin/drstandin: rds, autoscaling,
route53) and checks the end state through the AWS APIs and the published report.
"""

from __future__ import annotations

import datetime
import json
import shlex
import time

from conftest import fail_over_by_alarm, follow, wait_until
from drill import world

DR = world.DR


def published(session, wait: float = 2.0) -> list:
    return session.reports(wait=wait)


def answers(session) -> set:
    return {record["answers"] for record in session.snapshot()["dns"].values()}


def answers_once_healthy(session) -> set:
    """What Route 53 answers with the primary's health check healthy again: failover records
    then show what the failover changed, not Route 53's own failover."""
    session.end_outage()
    return answers(session)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def test_a_replica_busy_backing_up_is_waited_out_and_dns_moves_while_rds_backs_up_after_promotion(local_aws):
    # The replica takes a backup when the alarm fires (AWS refuses to promote it then), and has
    # automated backups off, so RDS also takes one during the promotion: the instance accepts
    # writes while it is backing-up, and DNS must not wait for that backup to end.
    aws = local_aws(promotion_seconds=4)
    # Long enough to outlast the way to the promotion under a loaded machine (the alarm's run, the
    # witness's probe, the plans), short enough not to spend the database's budget.
    aws.control("rds/instance-status", {"region": DR, "instance": world.RDS_REPLICA, "status": "backing-up", "seconds": 12})

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    report = json.loads(run["described"]["output"])
    assert report["outcome"] == "failed-over"
    pending = report["database"]["apply"]["wait"]
    assert pending["polls"] >= 2, "apply waited for the backup before promoting"
    assert report["database"]["status"]["detail"]["status"] == "backing-up", report["database"]["status"]
    assert report["database"]["status"]["detail"]["writable"] is True
    warnings = report["plan"]["database"]["warnings"]
    assert any("backup during the promotion" in w for w in warnings), warnings
    assert answers(aws) == {"dr"}
    assert aws.snapshot()["database"]["replica_source"] is None


def test_when_the_database_budget_runs_out_the_failure_names_what_was_pending_and_dns_stays(local_aws):
    aws = local_aws(database_budget_seconds=6)
    aws.control("rds/instance-status", {"region": DR, "instance": world.RDS_REPLICA, "status": "backing-up", "seconds": 300})

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "FAILED"
    messages = published(aws)
    assert [m["subject"] for m in messages] == ["[dr-failover] drill: FAILOVER FAILED at database"], messages
    failed = messages[0]["message"]["state"]["failed"]
    assert failed["outcome"] == "database-timeout"
    wait = failed["database"]["apply"]["wait"]
    assert wait["exhausted"] is True and wait["elapsed_seconds"] >= 6
    assert "backing-up" in wait["pending"], wait
    assert answers_once_healthy(aws) == {"primary"}
    assert aws.snapshot()["database"]["replica_source"] is not None, "never promoted"


def test_a_rerun_while_the_first_promotion_is_still_running_joins_the_wait(local_aws):
    # The first run is stopped by hand once RDS is promoting; the re-run finds the promotion under
    # way (the replica modifying, PromoteReadReplica answering InvalidDBInstanceState), waits for
    # it within its budget, never promotes twice, and finishes the failover. (A fixed retry count
    # also joined a promotion this short; what the budget changes, a spent budget naming what was
    # pending, is the test above.)
    aws = local_aws(promotion_seconds=6)
    first = aws.start_execution({"trigger": "manual", "dry_run": False, "reason": "first run"})
    wait_until(lambda: aws.snapshot()["database"]["status"] == "modifying", timeout=30)
    aws.client("stepfunctions").stop_execution(executionArn=first, error="Operator.Stopped", cause="test")

    arn = aws.start_execution({"trigger": "manual", "dry_run": False, "reason": "re-run: finish the failover"})
    second = follow(aws, arn, now())

    assert second["described"]["status"] == "SUCCEEDED", second["described"]
    report = json.loads(second["described"]["output"])
    assert report["outcome"] == "failed-over"
    apply = report["database"]["apply"]
    assert apply["changed"] is False, "never promoted twice"
    assert answers(aws) == {"dr"}
    assert aws.snapshot()["database"]["replica_source"] is None


def test_route53_prior_request_not_complete_is_waited_out(local_aws):
    # An operator's change to the zone is still PENDING when flip-dns submits its own: Route 53
    # answers PriorRequestNotComplete until the earlier one is INSYNC. 45 s outlasts what a fixed
    # count of retries covered (the SDK's three attempts and Step Functions' 2+4+8+16 s).
    # Only the operator's change takes 45 s: each change keeps the transition set when it was
    # submitted (drstandin.route53), so flip-dns's own change then propagates in a second.
    aws = local_aws(transition_seconds=1, promotion_seconds=1, dns_budget_seconds=150)
    aws.control("settings", {"transition_seconds": 45})
    route53 = aws.client("route53", world.GLOBAL)
    route53.change_resource_record_sets(
        HostedZoneId=aws.world.zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": f"unrelated.{world.ZONE}", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"x"'}]}}]},
    )
    aws.control("settings", {"transition_seconds": 1})

    run = fail_over_by_alarm(aws, timeout=240)

    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    report = json.loads(run["described"]["output"])
    assert report["outcome"] == "failed-over"
    assert report["dns"]["apply"]["wait"]["elapsed_seconds"] >= 30, "applied only after the earlier change"
    assert answers(aws) == {"dr"}


def test_partial_capacity_moves_dns_at_the_threshold_and_reports_the_failover_degraded(local_aws):
    # The DR zone has room for 3 of web-dr's 6 instances: DNS moves at 50 %, compute is awaited
    # until its budget runs out, and the report says why capacity did not come.
    aws = local_aws(compute_budget_seconds=12)
    aws.control("autoscaling/capacity", {"region": DR, "group": "web-dr", "max_instances": 3})

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    report = json.loads(run["described"]["output"])
    assert report["outcome"] == "failed-over-degraded"
    assert report["compute_outcome"] == "compute-short"
    assert answers(aws) == {"dr"}
    web = next(g for g in report["compute"]["status"]["detail"]["groups"] if g["group"] == "web-dr")
    assert (web["in_service"], web["target"], web["dns_threshold"]) == (3, 6, 3)
    assert any("sufficient" in reason for reason in web["failed_launches"]), web
    subjects = [m["subject"] for m in published(aws)]
    assert subjects == ["[dr-failover] drill: failed over, DEGRADED: capacity below target"]


def test_capacity_below_the_threshold_publishes_incomplete_with_the_input_that_finishes_it(local_aws):
    aws = local_aws(compute_budget_seconds=8)
    aws.control("autoscaling/capacity", {"region": DR, "group": "web-dr", "max_instances": 1})

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "FAILED"
    assert run["described"]["error"] == "DrFailover.Incomplete"
    messages = published(aws)
    assert len(messages) == 1 and "FAILOVER INCOMPLETE" in messages[0]["subject"], messages
    incomplete = messages[0]["message"]
    assert incomplete["outcome"] == "incomplete" and incomplete["stopped_at"] == "capacity-short"
    assert incomplete["database"]["status"]["detail"]["writable"] is True
    assert answers_once_healthy(aws) == {"primary"}, "DNS did not move below the threshold"
    command = shlex.split(incomplete["finish_command"])
    assert command[:3] == ["aws", "stepfunctions", "start-execution"]
    assert command[command.index("--region") + 1] == DR, "the command works from a shell in any region"
    finish = json.loads(command[command.index("--input") + 1])
    assert finish == incomplete["finish_input"] and finish["accept_partial_capacity"] is True

    # The operator runs what the message says: DNS moves, the run ends degraded.
    arn = aws.start_execution(finish)
    second = follow(aws, arn, now())
    assert second["described"]["status"] == "SUCCEEDED", second["described"]
    assert json.loads(second["described"]["output"])["outcome"] == "failed-over-degraded"
    assert answers(aws) == {"dr"}


def test_a_weighted_group_with_launch_suspended_reaches_its_capacity_in_units(local_aws):
    aws = local_aws(mixed_instances=True)
    aws.client("autoscaling").suspend_processes(AutoScalingGroupName="web-dr", ScalingProcesses=["Launch"])

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    report = json.loads(run["described"]["output"])
    assert report["outcome"] == "failed-over"
    assert any("Launch" in w for w in report["plan"]["compute"]["warnings"])
    group = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["web-dr"])["AutoScalingGroups"][0]
    assert group["SuspendedProcesses"] == []
    units = sum(int(i.get("WeightedCapacity") or 1) for i in group["Instances"] if i["LifecycleState"] == "InService")
    assert units >= 6 and len(group["Instances"]) < 6, group["Instances"]


def test_an_aurora_secondary_detached_and_promoted_by_hand_counts_as_done(local_aws):
    aws = local_aws(aurora=True)
    rds = aws.client("rds", DR)
    cluster_arn = rds.describe_db_clusters(DBClusterIdentifier=world.AURORA_DR)["DBClusters"][0]["DBClusterArn"]
    rds.remove_from_global_cluster(GlobalClusterIdentifier=world.AURORA_GLOBAL, DbClusterIdentifier=cluster_arn)
    time.sleep(2)

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    report = json.loads(run["described"]["output"])
    assert report["outcome"] == "failed-over"
    assert "detached" in report["database"]["apply"]["summary"]
    assert answers(aws) == {"dr"}


def test_an_aurora_secondary_without_an_instance_is_refused_by_the_plan(local_aws):
    aws = local_aws(aurora=True, aurora_dr_without_instance=True)

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "FAILED"
    messages = published(aws)
    assert [m["subject"] for m in messages] == ["[dr-failover] drill: failover refused by a pre-flight check"]
    refusals = messages[0]["message"]["plan"]["database"]["refusals"]
    assert "no DB instance" in refusals[0]
    assert answers_once_healthy(aws) == {"primary"}

    # A dry run of the same deployment shows the refusal in its own report, and says NOT READY.
    arn = aws.start_execution({"trigger": "schedule", "dry_run": True, "reason": "weekly dry-run drill"})
    dry = follow(aws, arn, datetime.datetime.now(datetime.timezone.utc))["described"]
    assert dry["status"] == "SUCCEEDED", dry
    [message] = published(aws)
    assert message["subject"] == "[dr-failover] drill: dry run, NOT READY: a pre-flight check refuses; nothing changed"
    assert message["message"]["outcome"] == "dry-run" and message["message"]["verdict"].startswith("NOT READY")
    assert "no DB instance" in message["message"]["plan"]["database"]["refusals"][0]


def test_dns_at_dr_but_not_insync_within_its_budget_is_reported_so_and_its_finish_command_finishes(local_aws):
    # Route 53 takes 30 s to confirm a change INSYNC (GetChange PENDING until then); the DNS stage
    # has 10 s. Every record already answers DR in Route 53 when the budget ends: the report must
    # not say DNS did not move, and its finish command must wait for that change rather than
    # submit another, whose own propagation would outlast the budget again.
    aws = local_aws(transition_seconds=1, promotion_seconds=1, dns_budget_seconds=10)
    # The seeding's own change propagated in a second; flip-dns's takes 30 (drstandin.route53:
    # each change keeps the transition set when it was submitted).
    aws.control("settings", {"transition_seconds": 30})

    run = fail_over_by_alarm(aws, timeout=240)

    assert run["described"]["status"] == "FAILED" and run["described"]["error"] == "DrFailover.Incomplete", run["described"]
    (message,) = published(aws)
    assert message["subject"] == "[dr-failover] drill: FAILOVER INCOMPLETE, DNS changed but not confirmed INSYNC", message
    incomplete = message["message"]
    assert "INSYNC" in incomplete["not_done"]
    detail = incomplete["dns"]["status"]["detail"]
    assert detail["records_at_dr"] == detail["record_count"] and detail["change_status"] == "PENDING", detail
    command = shlex.split(incomplete["finish_command"])
    assert command[command.index("--region") + 1] == DR
    finish = json.loads(command[command.index("--input") + 1])
    assert finish == incomplete["finish_input"] and finish["dns_change_id"] == detail["change_id"]

    # The operator runs it once Route 53 has the change everywhere (here: the same change, INSYNC).
    route53 = aws.client("route53", world.GLOBAL)
    wait_until(lambda: route53.get_change(Id=detail["change_id"])["ChangeInfo"]["Status"] == "INSYNC", timeout=60)
    arn = aws.start_execution(finish)
    second = follow(aws, arn, now())
    assert second["described"]["status"] == "SUCCEEDED", second["described"]
    report = json.loads(second["described"]["output"])
    assert report["outcome"] in ("failed-over", "already-failed-over"), report["outcome"]
    assert report["dns"]["apply"]["detail"]["change_id"] == detail["change_id"], "no second change submitted"
    assert answers(aws) == {"dr"}


def test_an_aurora_failover_cancelled_and_rolled_back_between_two_polls_ends_the_wait_at_once(local_aws):
    # Aurora cancels the failover and both clusters are back in their roles before the next poll:
    # the loop never sees FailoverState `cancelling`, only no move under way and the DR cluster
    # still a secondary. The run must say so within a few polls, not wait out the 60 s budget.
    aws = local_aws(aurora=True, promotion_seconds=30, database_budget_seconds=60)
    rds = aws.client("rds", DR)

    def under_way() -> bool:
        (cluster,) = rds.describe_global_clusters(GlobalClusterIdentifier=world.AURORA_GLOBAL)["GlobalClusters"]
        return "FailoverState" in cluster

    known = [e["executionArn"] for e in aws.executions()]
    alarm_at = aws.trip_alarm()
    arn = aws.wait_for_execution(known)
    wait_until(under_way, timeout=60, interval=0.2)
    aws.control("rds/cancel-global-failover", {"global_cluster": world.AURORA_GLOBAL, "seconds": 0})
    cancelled_at = now()
    run = follow(aws, arn, alarm_at)

    assert run["described"]["status"] == "FAILED"
    assert (now() - cancelled_at).total_seconds() < 30, "ended on the rollback, not on the budget"
    messages = published(aws)
    assert [m["subject"] for m in messages] == ["[dr-failover] drill: FAILOVER FAILED at database"], messages
    text = json.dumps(messages[0]["message"])
    assert "Aurora cancelled the move and rolled back" in text, text[:3000]
    assert "database-timeout" not in text
    assert aws.snapshot()["database"]["writer"] == world.AURORA_PRIMARY
    assert answers_once_healthy(aws) == {"primary"}, "no DNS to a database that is not the writer"
