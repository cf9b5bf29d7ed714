"""RDS read replicas for re-protect (drstandin.rds_replication): a taken identifier is refused,
a new replica is ``creating`` for ``replica_creation_seconds``, and replication has a status."""

from __future__ import annotations

import datetime
import time

import pytest
from botocore.exceptions import ClientError
from test_rds import create_primary_db, instance

# After a failover: the promoted DR instance is the source, the former primary region gets the
# new replica.
PRIMARY, DR = "eu-west-1", "eu-central-1"


def new_writer(standin):
    """A standalone instance in the DR region, as a promoted replica is."""
    return create_primary_db(standin.client("rds", DR), "app-db-dr")


def replicate(standin, source_arn, identifier="app-db-2"):
    return standin.client("rds", PRIMARY).create_db_instance_read_replica(
        DBInstanceIdentifier=identifier, SourceDBInstanceIdentifier=source_arn, DBInstanceClass="db.r6g.large",
    )["DBInstance"]


def test_a_cross_region_replica_is_creating_then_available_and_replicating(standin):
    source = new_writer(standin)
    assert standin.control("settings", {"replica_creation_seconds": 1})[0] == 200
    primary = standin.client("rds", PRIMARY)

    created = replicate(standin, source["DBInstanceArn"])

    assert created["DBInstanceStatus"] == "creating"
    now = instance(primary, "app-db-2")
    assert now["DBInstanceStatus"] == "creating"
    assert now.get("StatusInfos", []) == []
    assert now["ReadReplicaSourceDBInstanceIdentifier"] == source["DBInstanceArn"]
    time.sleep(1.2)
    now = instance(primary, "app-db-2")
    assert now["DBInstanceStatus"] == "available"
    assert now["StatusInfos"] == [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]
    # The source is not a replica: it reports no replication of its own.
    assert instance(standin.client("rds", DR), "app-db-dr").get("StatusInfos", []) == []


def test_a_replica_backing_up_or_modifying_still_reports_replicating(standin):
    source = new_writer(standin)
    replicate(standin, source["DBInstanceArn"])
    for status in ("backing-up", "modifying"):
        code, _ = standin.control("rds/instance-status",
                                  {"region": PRIMARY, "instance": "app-db-2", "status": status, "seconds": 30})
        assert code == 200
        now = instance(standin.client("rds", PRIMARY), "app-db-2")
        assert now["DBInstanceStatus"] == status
        assert now["StatusInfos"] == [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]


def test_by_default_a_replica_is_available_at_once_as_the_seeded_world_expects(standin):
    source = new_writer(standin)
    assert replicate(standin, source["DBInstanceArn"])["DBInstanceStatus"] == "available"


def test_a_taken_identifier_is_refused_and_the_instance_is_left_as_it_was(standin):
    source = new_writer(standin)
    former_primary = create_primary_db(standin.client("rds", PRIMARY), "app-db-2")

    with pytest.raises(ClientError) as excinfo:
        replicate(standin, source["DBInstanceArn"])

    assert excinfo.value.response["Error"]["Code"] == "DBInstanceAlreadyExists"
    left = instance(standin.client("rds", PRIMARY), "app-db-2")
    assert left["DBInstanceArn"] == former_primary["DBInstanceArn"]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in left


def test_the_replication_status_can_be_set_and_cleared(standin):
    source = new_writer(standin)
    replicate(standin, source["DBInstanceArn"])
    body = {"region": PRIMARY, "instance": "app-db-2", "status": "error", "normal": False, "message": "IO error"}

    assert standin.control("rds/replication", body)[0] == 200
    assert instance(standin.client("rds", PRIMARY), "app-db-2")["StatusInfos"] == [
        {"StatusType": "read replication", "Normal": False, "Status": "error", "Message": "IO error"}
    ]
    assert standin.control("rds/replication", dict(body, status=None))[0] == 200
    assert instance(standin.client("rds", PRIMARY), "app-db-2")["StatusInfos"][0]["Status"] == "replicating"
    assert standin.control("rds/replication", dict(body, instance="nope"))[0] == 404


def test_a_taken_cluster_identifier_is_refused_as_aws_refuses_it(standin):
    rds = standin.client("rds", PRIMARY)
    rds.create_db_cluster(DBClusterIdentifier="app-primary-2", Engine="aurora-postgresql", EngineVersion="15.4",
                          MasterUsername="app", MasterUserPassword="password123")

    with pytest.raises(ClientError) as excinfo:
        rds.create_db_cluster(DBClusterIdentifier="app-primary-2", Engine="aurora-postgresql", EngineVersion="15.4",
                              MasterUsername="app", MasterUserPassword="password123")

    assert excinfo.value.response["Error"]["Code"] == "DBClusterAlreadyExistsFault"


def test_a_cross_region_replica_without_a_named_parameter_group_gets_the_engines_default(standin):
    dr = standin.client("rds", DR)
    dr.create_db_parameter_group(DBParameterGroupName="app-pg16", DBParameterGroupFamily="postgres16", Description="x")
    source = dr.create_db_instance(
        DBInstanceIdentifier="app-db-dr", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="app",
        MasterUserPassword="password123", AllocatedStorage=20, BackupRetentionPeriod=7, DBParameterGroupName="app-pg16",
    )["DBInstance"]

    replicate(standin, source["DBInstanceArn"])

    groups = instance(standin.client("rds", PRIMARY), "app-db-2")["DBParameterGroups"]
    assert len(groups) == 1 and groups[0]["DBParameterGroupName"].startswith("default.postgres"), groups


def _lag_points(standin, region, instance_id, metric="ReplicaLag", minutes=30):
    now = datetime.datetime.now(datetime.timezone.utc)
    points = standin.client("cloudwatch", region).get_metric_statistics(
        Namespace="AWS/RDS", MetricName=metric,
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": instance_id}],
        StartTime=now - datetime.timedelta(minutes=minutes), EndTime=now + datetime.timedelta(seconds=5),
        Period=60, Statistics=["Maximum"],
    )["Datapoints"]
    return sorted(((now - p["Timestamp"]).total_seconds(), p["Maximum"]) for p in points)


def test_replication_that_stops_reports_error_then_minus_one_then_no_datapoint(standin):
    source = new_writer(standin)
    replicate(standin, source["DBInstanceArn"])
    now = datetime.datetime.now(datetime.timezone.utc)
    standin.client("cloudwatch", PRIMARY).put_metric_data(Namespace="AWS/RDS", MetricData=[
        {"MetricName": "ReplicaLag", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "app-db-2"}],
         "Timestamp": now - datetime.timedelta(seconds=age), "Value": 40.0, "Unit": "Seconds"}
        for age in (900, 665, 300, 60)
    ])

    status, answer = standin.control("rds/replication", {
        "region": PRIMARY, "instance": "app-db-2", "status": "error", "normal": False,
        "message": "replication stopped", "stopped_seconds_ago": 660, "lag_reported_seconds": 300,
    })

    assert status == 200, answer
    assert instance(standin.client("rds", PRIMARY), "app-db-2")["StatusInfos"] == [
        {"StatusType": "read replication", "Normal": False, "Status": "error", "Message": "replication stopped"}
    ]
    points = _lag_points(standin, PRIMARY, "app-db-2")
    # Nothing valid after the stop; -1 each minute for 300 s after it; nothing in the last 360 s.
    valid = [(age, value) for age, value in points if value >= 0]
    # (GetMetricStatistics stamps each one-minute bucket with its start: 665 s reads as 720 s.)
    assert len(valid) == 2 and min(age for age, _ in valid) >= 660, points
    stopped = [age for age, value in points if value == -1]
    assert len(stopped) == 5 and min(stopped) > 355 and max(stopped) < 605, points
    assert min(age for age, _ in points) > 355, "no datapoint once RDS stopped reporting"


def test_an_idle_postgresql_source_grows_the_replicas_lag_while_no_wal_is_behind(standin):
    source = new_writer(standin)
    replicate(standin, source["DBInstanceArn"])

    status, answer = standin.control("rds/idle-source", {"region": PRIMARY, "instance": "app-db-2", "idle_seconds": 240})

    assert status == 200, answer
    assert answer["source"] == {"region": DR, "instance": "app-db-dr"}
    lag = _lag_points(standin, PRIMARY, "app-db-2")
    assert [value for _, value in lag] == [240.0, 180.0, 120.0, 60.0, 0.0], lag
    assert lag[0][0] < 5, "the newest datapoint is fresh"
    slot = _lag_points(standin, DR, "app-db-dr", metric="OldestReplicationSlotLag")
    assert [value for _, value in slot] == [0.0] * 5, slot
    assert standin.control("rds/idle-source", {"region": PRIMARY, "instance": "nope", "idle_seconds": 60})[0] == 404
    assert standin.control("rds/idle-source", {"region": PRIMARY, "instance": "app-db-2"})[0] == 400
