"""Replication health read from RDS: a replica whose replication has stopped is not promoted on a
stale lag, by the failover (alarm or by hand) or by the fail back's write freeze; an idle
PostgreSQL source, whose replica's ReplicaLag grows while nothing is behind, passes the freeze by
the WAL position AWS reports (the source's OldestReplicationSlotLag)."""

from __future__ import annotations

import datetime
import json
import shlex

from conftest import fail_over_by_alarm, follow
from drill import reprotect, world
from test_failback import after_failover_and_reprotect, approval_request, one_report, start


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def lag_datapoint(session, region: str, instance: str, value: float, age_seconds: float) -> None:
    session.client("cloudwatch", region).put_metric_data(Namespace="AWS/RDS", MetricData=[{
        "MetricName": "ReplicaLag", "Unit": "Seconds", "Value": value,
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": instance}],
        "Timestamp": now() - datetime.timedelta(seconds=age_seconds),
    }])


def stop_replication(session, region: str, instance: str, seconds_ago: float) -> None:
    """RDS's view of a replica whose replication stopped `seconds_ago`: status error, -1
    datapoints for five minutes after the stop, none since."""
    answer = session.control("rds/replication", {
        "region": region, "instance": instance, "status": "error", "normal": False,
        "message": "Replication stopped: the source was unreachable", "stopped_seconds_ago": seconds_ago,
        "lag_reported_seconds": 300,
    })
    assert answer["status_infos"][0]["Status"] == "error", answer


def test_the_failover_refuses_a_replica_whose_replication_stopped_ten_minutes_ago(local_aws):
    session = local_aws()
    # The last valid lag, 40 s, is 665 s old; replication stopped 660 s ago.
    lag_datapoint(session, world.DR, world.RDS_REPLICA, 40.0, 665)
    stop_replication(session, world.DR, world.RDS_REPLICA, 660)

    run = fail_over_by_alarm(session)

    described = run["described"]
    assert described["status"] == "FAILED", described
    snapshot = session.snapshot()
    assert snapshot["database"]["replica_source"] is not None, "the replica was not promoted"
    assert {record["answers"] for record in snapshot["dns"].values()} == {"primary"}
    reports = session.reports(wait=1.0)
    text = json.dumps([r["message"] for r in reports])
    assert "read replication error" in text and "Replication stopped: the source was unreachable" in text, text
    (refused,) = [r["message"] for r in reports if r["message"].get("outcome") == "refused"]
    force_command = refused["force_command"]

    # By hand, the same: the plan says what RDS says, and how to override it.
    plan = session.invoke("promote-replica", {"action": "plan"})
    refusals = plan["refusals"]
    assert refusals and "error" in refusals[0] and "force" in refusals[0], plan
    assert plan["detail"]["replication_status"] == "error", plan["detail"]
    assert plan["detail"]["replica_lag_age_seconds"] >= 660, plan["detail"]
    arn = session.start_execution({"trigger": "manual", "dry_run": False, "reason": "by hand"})
    assert follow(session, arn, now(), timeout=60)["described"]["status"] == "FAILED"
    assert session.snapshot()["database"]["replica_source"] is not None, "still not promoted"

    # The refused report's force_command, run as printed (its region, machine and input as a shell
    # reads them): a person accepting the loss promotes, and the failover completes.
    argv = shlex.split(force_command)
    assert argv[:3] == ["aws", "stepfunctions", "start-execution"], argv
    option = {argv[i]: argv[i + 1] for i in range(3, len(argv), 2)}
    forced = json.loads(option["--input"])
    assert forced["force"] is True and forced["trigger"] == "manual", forced
    arn = session.client("stepfunctions", option["--region"]).start_execution(
        stateMachineArn=option["--state-machine-arn"], input=option["--input"])["executionArn"]
    assert follow(session, arn, now(), timeout=90)["described"]["status"] == "SUCCEEDED"
    assert session.snapshot()["database"]["replica_source"] is None, "promoted"


def test_the_fail_back_freeze_does_not_pass_on_a_twelve_minute_old_zero(local_aws):
    session = local_aws(reprotect_budget_seconds=5, database_budget_seconds=6)
    after_failover_and_reprotect(session)
    # The primary region's replica read 0 twelve minutes ago; its replication stopped since.
    lag_datapoint(session, world.PRIMARY, reprotect.REPLICA, 0.0, 720)
    stop_replication(session, world.PRIMARY, reprotect.REPLICA, 700)

    arn = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "primary region healthy again"})
    request = approval_request(session)
    assert "lag 0s" not in request["text"], request["text"]
    session.client("stepfunctions").send_task_success(
        taskToken=request["token"], output=json.dumps({"approved_by": "the test"}))
    described = session.follow(arn, timeout=120)

    assert described["status"] == "FAILED", described
    failed = one_report(session)
    assert failed["subject"] == "[dr-failover] drill: FAIL BACK FAILED at write-freeze", failed["subject"]
    assert "error" in json.dumps(failed["message"]["error"]), failed["message"]["error"]
    replica = session.client("rds", world.PRIMARY).describe_db_instances(
        DBInstanceIdentifier=reprotect.REPLICA)["DBInstances"][0]
    assert replica.get("ReadReplicaSourceDBInstanceIdentifier"), "the replica was not promoted"
    assert all(r["answers"] == "dr" for r in session.snapshot()["dns"].values()), "DNS stayed in DR"


def test_an_idle_postgresql_source_passes_the_freeze_by_its_wal_position(local_aws):
    session = local_aws(reprotect_budget_seconds=5, failback_drain_seconds=1)
    after_failover_and_reprotect(session)
    # Writes are frozen: the replica's ReplicaLag grows (240 s after four idle minutes), while
    # the source's OldestReplicationSlotLag says no WAL is behind.
    answer = session.control("rds/idle-source", {
        "region": world.PRIMARY, "instance": reprotect.REPLICA, "idle_seconds": 240})
    assert answer["source"]["instance"] == world.RDS_REPLICA, answer

    plan = session.invoke("failback-database", {"action": "plan"})
    assert plan["refusals"] == [], plan
    assert "OldestReplicationSlotLag" in plan["summary"], plan["summary"]

    arn = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "primary region healthy again"})
    session.client("stepfunctions").send_task_success(
        taskToken=approval_request(session)["token"], output=json.dumps({"approved_by": "the test"}))
    described = session.follow(arn, timeout=120)
    assert described["status"] == "SUCCEEDED", described
    writer = session.client("rds", world.PRIMARY).describe_db_instances(
        DBInstanceIdentifier=reprotect.REPLICA)["DBInstances"][0]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in writer
