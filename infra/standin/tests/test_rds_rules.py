"""What RDS refuses or never finishes (drstandin.rds_rules): cross-Region read replica settings per
engine, KMS key Regions, engine versions of global cluster members, cancelled switchovers, and
statuses RDS does not leave by itself."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from test_rds import build_global, error, global_cluster, instance, writers

PRIMARY, DR = "eu-west-1", "eu-central-1"
KEY = "arn:aws:kms:{region}:123456789012:key/0a1b2c3d-0000-4000-8000-000000000001"


def writer(standin, engine="postgres", encrypted=False, **extra):
    """The DR instance after a failover: a standalone ``engine`` instance in the DR region."""
    kwargs = dict(
        DBInstanceIdentifier="app-db-dr", DBInstanceClass="db.r6g.large", Engine=engine,
        MasterUsername="app", MasterUserPassword="password123", AllocatedStorage=20,
        BackupRetentionPeriod=7, **extra,
    )
    if encrypted:
        kwargs.update(StorageEncrypted=True, KmsKeyId=KEY.format(region=DR))
    return standin.client("rds", DR).create_db_instance(**kwargs)["DBInstance"]


def replicate(standin, source_arn, **kwargs):
    return standin.client("rds", PRIMARY).create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-2", SourceDBInstanceIdentifier=source_arn,
        DBInstanceClass="db.r6g.large", **kwargs,
    )["DBInstance"]


def group(standin, family):
    standin.client("rds", PRIMARY).create_db_parameter_group(
        DBParameterGroupName="app-group", DBParameterGroupFamily=family, Description="app",
    )


def test_a_parameter_group_on_a_cross_region_postgres_replica_is_refused_and_nothing_created(standin):
    source = writer(standin)
    group(standin, "postgres16")

    with pytest.raises(ClientError) as excinfo:
        replicate(standin, source["DBInstanceArn"], DBParameterGroupName="app-group")

    assert error(excinfo)[0] == "InvalidParameterCombination"
    assert "postgres" in error(excinfo)[1]
    with pytest.raises(ClientError):
        instance(standin.client("rds", PRIMARY), "app-db-2")
    # Without the group RDS creates it, with the engine's default group of its Region.
    created = replicate(standin, source["DBInstanceArn"])
    assert created["ReadReplicaSourceDBInstanceIdentifier"] == source["DBInstanceArn"]


@pytest.mark.parametrize("engine,version", [("mariadb", "10.11.6"), ("sqlserver-se", "15.00.4345.5.v1")])
def test_other_engines_rds_refuses_a_group_for_are_refused_too(standin, engine, version):
    source = writer(standin, engine=engine, EngineVersion=version)
    group(standin, "postgres16")
    with pytest.raises(ClientError) as excinfo:
        replicate(standin, source["DBInstanceArn"], DBParameterGroupName="app-group")
    assert error(excinfo)[0] == "InvalidParameterCombination"


def test_a_mysql_replica_accepts_its_parameter_group(standin):
    source = writer(standin, engine="mysql")
    group(standin, "mysql8.0")
    created = replicate(standin, source["DBInstanceArn"], DBParameterGroupName="app-group")
    assert created["DBParameterGroups"][0]["DBParameterGroupName"] == "app-group"


def test_an_encrypted_source_needs_a_key_of_the_replicas_region(standin):
    source = writer(standin, encrypted=True)

    with pytest.raises(ClientError) as excinfo:
        replicate(standin, source["DBInstanceArn"])
    assert error(excinfo)[0] == "InvalidParameterCombination"
    with pytest.raises(ClientError) as excinfo:
        replicate(standin, source["DBInstanceArn"], KmsKeyId=KEY.format(region=DR))
    assert error(excinfo)[0] == "KMSKeyNotAccessibleFault"
    assert replicate(standin, source["DBInstanceArn"], KmsKeyId=KEY.format(region=PRIMARY))


def test_a_switchover_between_different_minor_versions_is_refused(standin):
    primary, dr, primary_arn, dr_arn, _ = build_global(standin, primary_region=PRIMARY)

    # The secondary is upgraded to another minor version first, as AWS's minor upgrades go.
    dr.modify_db_cluster(DBClusterIdentifier="app-dr", EngineVersion="15.5", ApplyImmediately=True)
    with pytest.raises(ClientError) as excinfo:
        dr.switchover_global_cluster(GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=dr_arn)
    assert error(excinfo)[0] == "InvalidDBClusterStateFault"
    assert "same engine version" in error(excinfo)[1]
    assert writers(global_cluster(dr)) == {primary_arn: True, dr_arn: False}


def test_a_cancelled_switchover_shows_cancelling_then_leaves_the_writer_where_it_was(standin):
    primary, dr, primary_arn, dr_arn, _ = build_global(standin, primary_region=PRIMARY)
    dr.switchover_global_cluster(GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=dr_arn)

    status, body = standin.control("rds/cancel-global-failover", {"global_cluster": "app-global"})

    assert status == 200, body
    assert global_cluster(dr)["FailoverState"]["Status"] == "cancelling"
    time.sleep(1.3)
    after = global_cluster(dr)
    assert "FailoverState" not in after
    assert after["Status"] == "available"
    assert writers(after) == {primary_arn: True, dr_arn: False}
    # Nothing under way any more: nothing to cancel.
    assert standin.control("rds/cancel-global-failover", {"global_cluster": "app-global"})[0] == 404


def test_a_switchover_cancelled_and_rolled_back_between_two_describes_shows_no_failover_state(standin):
    primary, dr, primary_arn, dr_arn, _ = build_global(standin, primary_region=PRIMARY)
    dr.switchover_global_cluster(GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=dr_arn)
    assert global_cluster(dr)["FailoverState"]["Status"] in ("pending", "switching-over")

    assert standin.control("rds/cancel-global-failover", {"global_cluster": "app-global", "seconds": 0})[0] == 200

    after = global_cluster(dr)
    assert "FailoverState" not in after and after["Status"] == "available"
    assert writers(after) == {primary_arn: True, dr_arn: False}
    assert standin.control("rds/cancel-global-failover", {"global_cluster": "app-global", "seconds": -1})[0] == 404


def test_a_status_rds_does_not_leave_by_itself_is_held_for_good(standin):
    writer(standin)
    body = {"region": DR, "instance": "app-db-dr", "status": "incompatible-parameters"}
    assert standin.control("rds/instance-status", body)[0] == 200
    time.sleep(1.2)
    assert instance(standin.client("rds", DR), "app-db-dr")["DBInstanceStatus"] == "incompatible-parameters"
    build_global(standin, primary_region=PRIMARY)
    cluster_body = {"region": "us-west-2", "cluster": "app-dr", "status": "inaccessible-encryption-credentials"}
    assert standin.control("rds/cluster-status", cluster_body)[0] == 200
    described = standin.client("rds", "us-west-2").describe_db_clusters(DBClusterIdentifier="app-dr")
    assert described["DBClusters"][0]["Status"] == "inaccessible-encryption-credentials"
