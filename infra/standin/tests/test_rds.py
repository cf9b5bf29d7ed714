"""RDS read-replica promotion and Aurora Global Database failover (drstandin.rds).

The ``standin`` fixture runs with transition_seconds = 1 (so promotion_seconds = 1).
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

PRIMARY, DR = "us-east-1", "us-west-2"
ACCOUNT = "123456789012"


def error(excinfo):
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


def control(standin, path, body):
    return standin.control(path, body)


def instance(client, identifier):
    return client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def global_cluster(client, identifier="app-global"):
    return client.describe_global_clusters(GlobalClusterIdentifier=identifier)["GlobalClusters"][0]


def create_primary_db(client, identifier="app-db"):
    return client.create_db_instance(
        DBInstanceIdentifier=identifier, DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="app", MasterUserPassword="password123", AllocatedStorage=20,
        BackupRetentionPeriod=7,
    )["DBInstance"]


def test_cross_region_read_replica_is_its_own_instance(standin):
    primary, dr = standin.client("rds", PRIMARY), standin.client("rds", DR)
    source = create_primary_db(primary)
    replica = dr.create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"],
        DBInstanceClass="db.t3.micro",
    )["DBInstance"]
    assert replica["DBInstanceArn"] == f"arn:aws:rds:{DR}:{ACCOUNT}:db:app-db-dr"
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == source["DBInstanceArn"]
    assert replica["AvailabilityZone"].startswith(DR)
    assert replica["BackupRetentionPeriod"] == 0
    assert instance(primary, "app-db")["ReadReplicaDBInstanceIdentifiers"] == [replica["DBInstanceArn"]]
    assert instance(primary, "app-db")["BackupRetentionPeriod"] == 7

    dr.delete_db_instance(DBInstanceIdentifier="app-db-dr", SkipFinalSnapshot=True)
    assert instance(primary, "app-db")["ReadReplicaDBInstanceIdentifiers"] == []


def test_promote_read_replica_goes_through_modifying(standin):
    primary, dr = standin.client("rds", PRIMARY), standin.client("rds", DR)
    source = create_primary_db(primary)
    dr.create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"]
    )

    with pytest.raises(ClientError) as e:
        primary.promote_read_replica(DBInstanceIdentifier="app-db")
    assert error(e) == ("InvalidDBInstanceState", "DB Instance is not a read replica.")
    with pytest.raises(ClientError) as e:
        dr.promote_read_replica(DBInstanceIdentifier="missing")
    assert error(e)[0] == "DBInstanceNotFound"

    promoted = dr.promote_read_replica(
        DBInstanceIdentifier="app-db-dr", BackupRetentionPeriod=7, PreferredBackupWindow="03:00-03:30"
    )["DBInstance"]
    assert promoted["DBInstanceStatus"] == "modifying"
    assert promoted["BackupRetentionPeriod"] == 7
    assert promoted["PreferredBackupWindow"] == "03:00-03:30"
    during = instance(dr, "app-db-dr")
    assert during["DBInstanceStatus"] == "modifying"
    assert during["ReadReplicaSourceDBInstanceIdentifier"] == source["DBInstanceArn"]
    with pytest.raises(ClientError) as e:
        dr.promote_read_replica(DBInstanceIdentifier="app-db-dr")
    assert error(e) == ("InvalidDBInstanceState", "Instance app-db-dr is not in available state.")

    time.sleep(1.1)
    # Standalone now; backups were off on the replica, so RDS takes one as part of the promotion.
    backing_up = instance(dr, "app-db-dr")
    assert backing_up["DBInstanceStatus"] == "backing-up"
    assert "ReadReplicaSourceDBInstanceIdentifier" not in backing_up
    assert backing_up["BackupRetentionPeriod"] == 7
    assert instance(primary, "app-db")["ReadReplicaDBInstanceIdentifiers"] == []
    with pytest.raises(ClientError) as e:
        dr.promote_read_replica(DBInstanceIdentifier="app-db-dr")
    assert error(e) == ("InvalidDBInstanceState", "DB Instance is not a read replica.")

    time.sleep(1.0)
    after = instance(dr, "app-db-dr")
    assert after["DBInstanceStatus"] == "available"
    assert "ReadReplicaSourceDBInstanceIdentifier" not in after


def test_promote_same_region_replica_defaults_backup_retention_to_one(standin):
    primary = standin.client("rds", PRIMARY)
    create_primary_db(primary)
    primary.create_db_instance_read_replica(DBInstanceIdentifier="app-db-2", SourceDBInstanceIdentifier="app-db")
    assert instance(primary, "app-db")["ReadReplicaDBInstanceIdentifiers"] == ["app-db-2"]
    assert primary.promote_read_replica(DBInstanceIdentifier="app-db-2")["DBInstance"]["BackupRetentionPeriod"] == 1
    time.sleep(1.1)
    assert instance(primary, "app-db-2")["DBInstanceStatus"] == "backing-up"
    assert instance(primary, "app-db")["ReadReplicaDBInstanceIdentifiers"] == []
    time.sleep(1.0)
    assert instance(primary, "app-db-2")["DBInstanceStatus"] == "available"


def test_promotion_without_backups_takes_no_backup_and_lasts_promotion_seconds(standin):
    primary, dr = standin.client("rds", PRIMARY), standin.client("rds", DR)
    source = create_primary_db(primary)
    dr.create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"]
    )
    assert control(standin, "settings", {"promotion_seconds": 1.5})[1]["promotion_seconds"] == 1.5
    dr.promote_read_replica(DBInstanceIdentifier="app-db-dr", BackupRetentionPeriod=0)
    time.sleep(1.1)
    assert instance(dr, "app-db-dr")["DBInstanceStatus"] == "modifying"
    time.sleep(0.5)
    after = instance(dr, "app-db-dr")
    assert (after["DBInstanceStatus"], after["BackupRetentionPeriod"]) == ("available", 0)
    assert "ReadReplicaSourceDBInstanceIdentifier" not in after


def test_instance_status_control_blocks_promotion_while_not_available(standin):
    primary, dr = standin.client("rds", PRIMARY), standin.client("rds", DR)
    source = create_primary_db(primary)
    dr.create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"]
    )
    assert control(standin, "rds/instance-status",
                   {"region": DR, "instance": "app-db-dr", "status": "backing-up", "seconds": 1}) == (
        200, {"instance": "app-db-dr", "status": "backing-up", "until": 1},
    )
    assert instance(dr, "app-db-dr")["DBInstanceStatus"] == "backing-up"
    with pytest.raises(ClientError) as e:
        dr.promote_read_replica(DBInstanceIdentifier="app-db-dr")
    assert error(e) == ("InvalidDBInstanceState", "Instance app-db-dr is not in available state.")
    time.sleep(1.1)
    assert instance(dr, "app-db-dr")["DBInstanceStatus"] == "available"
    assert dr.promote_read_replica(DBInstanceIdentifier="app-db-dr")["DBInstance"]["DBInstanceStatus"] == "modifying"

    assert control(standin, "rds/instance-status", {"region": DR, "instance": "missing", "status": "x"})[0] == 404
    assert control(standin, "rds/instance-status", {"region": DR, "instance": "app-db-dr"})[0] == 400
    assert control(standin, "rds/instance-status",
                   {"region": DR, "instance": "app-db-dr", "status": "x", "seconds": -1})[0] == 400


def test_rename_holds_the_old_name_while_renaming_and_refuses_a_name_in_use(standin):
    dr = standin.client("rds", DR)
    create_primary_db(dr, "app-db-dr")
    create_primary_db(dr, "other")
    dr.add_tags_to_resource(ResourceName=f"arn:aws:rds:{DR}:{ACCOUNT}:db:app-db-dr",
                            Tags=[{"Key": "team", "Value": "payments"}])

    with pytest.raises(ClientError) as e:
        dr.modify_db_instance(DBInstanceIdentifier="app-db-dr", NewDBInstanceIdentifier="other",
                              ApplyImmediately=True)
    assert error(e) == ("DBInstanceAlreadyExists", "DB instance already exists")
    assert instance(dr, "other")["DBInstanceStatus"] == "available"

    renaming = dr.modify_db_instance(DBInstanceIdentifier="app-db-dr",
                                     NewDBInstanceIdentifier="app-db-dr-retired-1",
                                     ApplyImmediately=True)["DBInstance"]
    assert renaming["DBInstanceStatus"] == "renaming"
    # Until the new name is effective: still under its old name, which stays taken, and the new
    # name is taken by the rename under way.
    assert instance(dr, "app-db-dr")["DBInstanceStatus"] == "renaming"
    with pytest.raises(ClientError) as e:
        dr.create_db_instance_read_replica(DBInstanceIdentifier="app-db-dr",
                                           SourceDBInstanceIdentifier="other")
    assert error(e)[0] == "DBInstanceAlreadyExists"
    with pytest.raises(ClientError) as e:
        dr.modify_db_instance(DBInstanceIdentifier="other",
                              NewDBInstanceIdentifier="app-db-dr-retired-1", ApplyImmediately=True)
    assert error(e)[0] == "DBInstanceAlreadyExists"
    with pytest.raises(ClientError) as e:
        dr.modify_db_instance(DBInstanceIdentifier="app-db-dr", NewDBInstanceIdentifier="again",
                              ApplyImmediately=True)
    assert error(e) == ("InvalidDBInstanceState", "Instance app-db-dr is not in available state.")

    time.sleep(1.1)
    retired = instance(dr, "app-db-dr-retired-1")
    assert retired["DBInstanceStatus"] == "available"
    assert retired["DBInstanceArn"] == f"arn:aws:rds:{DR}:{ACCOUNT}:db:app-db-dr-retired-1"
    assert dr.list_tags_for_resource(ResourceName=retired["DBInstanceArn"])["TagList"] == [
        {"Key": "team", "Value": "payments"}
    ]
    with pytest.raises(ClientError) as e:
        instance(dr, "app-db-dr")
    assert error(e)[0] == "DBInstanceNotFound"
    # The old name is free again: a replacement takes it.
    replacement = dr.create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-dr", SourceDBInstanceIdentifier="other")["DBInstance"]
    assert replacement["DBInstanceArn"] == f"arn:aws:rds:{DR}:{ACCOUNT}:db:app-db-dr"
    assert "ReadReplicaSourceDBInstanceIdentifier" not in retired


def build_global(standin, primary_region="eu-west-1", dr_region=DR, dr_instance=True):
    """Primary cluster first, global cluster from it, then the secondary, each with an instance
    (the secondary without one if not ``dr_instance``)."""
    primary, dr = standin.client("rds", primary_region), standin.client("rds", dr_region)
    primary_arn = primary.create_db_cluster(
        DBClusterIdentifier="app-primary", Engine="aurora-postgresql", EngineVersion="15.4",
        MasterUsername="app", MasterUserPassword="password123",
    )["DBCluster"]["DBClusterArn"]
    primary.create_db_instance(
        DBInstanceIdentifier="app-primary-1", DBClusterIdentifier="app-primary",
        Engine="aurora-postgresql", DBInstanceClass="db.r6g.large",
    )
    created = primary.create_global_cluster(GlobalClusterIdentifier="app-global", SourceDBClusterIdentifier=primary_arn)
    dr_arn = dr.create_db_cluster(
        DBClusterIdentifier="app-dr", Engine="aurora-postgresql", EngineVersion="15.4",
        GlobalClusterIdentifier="app-global",
    )["DBCluster"]["DBClusterArn"]
    if dr_instance:
        dr.create_db_instance(
            DBInstanceIdentifier="app-dr-1", DBClusterIdentifier="app-dr",
            Engine="aurora-postgresql", DBInstanceClass="db.r6g.large",
        )
    return primary, dr, primary_arn, dr_arn, created["GlobalCluster"]


def writers(gc):
    return {m["DBClusterArn"]: m["IsWriter"] for m in gc["GlobalClusterMembers"]}


def cluster_writer_flags(client, identifier):
    cluster = client.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    return [m["IsClusterWriter"] for m in cluster["DBClusterMembers"]]


def test_global_cluster_spans_regions(standin):
    primary, dr, primary_arn, dr_arn, created = build_global(standin)
    assert created["GlobalClusterMembers"] == [
        {"DBClusterArn": primary_arn, "IsWriter": True, "Readers": []}
    ]
    gc = global_cluster(dr)
    assert writers(gc) == {primary_arn: True, dr_arn: False}
    assert gc["Engine"] == "aurora-postgresql" and gc["EngineVersion"] == "15.4"
    assert primary.describe_db_clusters(DBClusterIdentifier="app-primary")["DBClusters"][0]["GlobalClusterIdentifier"] == "app-global"
    assert cluster_writer_flags(primary, "app-primary") == [True]
    # A secondary cluster has no writer instance until it is promoted.
    assert cluster_writer_flags(dr, "app-dr") == [False]

    assert global_cluster(primary, "arn:aws:rds::123456789012:global-cluster:app-global")["GlobalClusterIdentifier"] == "app-global"
    dr.create_global_cluster(GlobalClusterIdentifier="other-global", Engine="aurora-postgresql")
    assert [g["GlobalClusterIdentifier"] for g in dr.describe_global_clusters(GlobalClusterIdentifier="other-global")["GlobalClusters"]] == ["other-global"]
    assert len(dr.describe_global_clusters()["GlobalClusters"]) == 2
    with pytest.raises(ClientError) as e:
        dr.describe_global_clusters(GlobalClusterIdentifier="missing")
    assert error(e)[0] == "GlobalClusterNotFoundFault"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_failover_global_cluster(standin):
    primary, dr, primary_arn, dr_arn, _ = build_global(standin)
    dr.create_db_cluster(
        DBClusterIdentifier="loner", Engine="aurora-postgresql", MasterUsername="app", MasterUserPassword="password123"
    )

    def refused(**kwargs):
        with pytest.raises(ClientError) as e:
            dr.failover_global_cluster(**{"GlobalClusterIdentifier": "app-global", "AllowDataLoss": True, **kwargs})
        return error(e)[0]

    assert refused(GlobalClusterIdentifier="missing", TargetDbClusterIdentifier=dr_arn) == "GlobalClusterNotFoundFault"
    assert refused(TargetDbClusterIdentifier=f"arn:aws:rds:{DR}:{ACCOUNT}:cluster:missing") == "DBClusterNotFoundFault"
    assert refused(TargetDbClusterIdentifier=primary_arn) == "InvalidDBClusterStateFault"
    assert refused(TargetDbClusterIdentifier="loner") == "InvalidDBClusterStateFault"
    assert refused(TargetDbClusterIdentifier=dr_arn, Switchover=True) == "InvalidParameterCombination"

    started = dr.failover_global_cluster(
        GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=dr_arn, AllowDataLoss=True
    )["GlobalCluster"]
    assert started["Status"] == "failing-over"
    assert started["FailoverState"] == {
        "Status": "pending", "FromDbClusterArn": primary_arn, "ToDbClusterArn": dr_arn, "IsDataLossAllowed": True,
    }
    assert writers(started) == {primary_arn: True, dr_arn: False}
    assert refused(TargetDbClusterIdentifier=dr_arn) == "InvalidGlobalClusterStateFault"

    time.sleep(0.6)
    midway = global_cluster(dr)
    assert midway["Status"] == "failing-over"
    assert midway["FailoverState"]["Status"] == "failing-over"

    time.sleep(0.6)
    done = global_cluster(dr)
    assert done["Status"] == "available"
    assert "FailoverState" not in done
    assert writers(done) == {primary_arn: False, dr_arn: True}
    writer = next(m for m in done["GlobalClusterMembers"] if m["IsWriter"])
    assert writer["Readers"] == [primary_arn]
    assert dr.describe_db_clusters(DBClusterIdentifier="app-dr")["DBClusters"][0]["Status"] == "available"
    assert cluster_writer_flags(dr, "app-dr") == [True]
    assert cluster_writer_flags(primary, "app-primary") == [False]
    assert refused(TargetDbClusterIdentifier=dr_arn) == "InvalidDBClusterStateFault"


def test_switchover_global_cluster(standin):
    primary, dr, primary_arn, dr_arn, _ = build_global(standin, primary_region=PRIMARY)
    started = dr.switchover_global_cluster(GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=dr_arn)["GlobalCluster"]
    assert started["Status"] == "switching-over"
    assert started["FailoverState"]["Status"] == "pending"
    assert started["FailoverState"]["IsDataLossAllowed"] is False
    with pytest.raises(ClientError) as e:
        primary.switchover_global_cluster(GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=dr_arn)
    assert error(e)[0] == "InvalidGlobalClusterStateFault"
    time.sleep(0.6)
    assert global_cluster(dr)["FailoverState"]["Status"] == "switching-over"
    time.sleep(0.6)
    assert writers(global_cluster(dr)) == {primary_arn: False, dr_arn: True}

    # FailoverGlobalCluster without AllowDataLoss is a switchover too; by plain identifier the
    # target is looked up in the caller's region.
    back = primary.failover_global_cluster(GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier="app-primary")["GlobalCluster"]
    assert back["Status"] == "switching-over"
    assert back["FailoverState"] == {
        "Status": "pending", "FromDbClusterArn": dr_arn, "ToDbClusterArn": primary_arn, "IsDataLossAllowed": False,
    }
    time.sleep(1.1)
    assert writers(global_cluster(primary)) == {primary_arn: True, dr_arn: False}


def cluster(client, identifier):
    return client.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]


@pytest.mark.parametrize("dr_instance", [True, False])
def test_remove_from_global_cluster_detaches_and_promotes_the_secondary(standin, dr_instance):
    primary, dr, primary_arn, dr_arn, _ = build_global(standin, dr_instance=dr_instance)
    assert cluster_writer_flags(dr, "app-dr") == ([False] if dr_instance else [])

    def refused(**kwargs):
        with pytest.raises(ClientError) as e:
            dr.remove_from_global_cluster(**{"GlobalClusterIdentifier": "app-global", "DbClusterIdentifier": dr_arn, **kwargs})
        return error(e)[0]

    assert refused(GlobalClusterIdentifier="missing") == "GlobalClusterNotFoundFault"
    assert refused(DbClusterIdentifier=f"arn:aws:rds:{DR}:{ACCOUNT}:cluster:missing") == "DBClusterNotFoundFault"

    # Called in the secondary's region, with the secondary's ARN ("detach and promote").
    answer = dr.remove_from_global_cluster(GlobalClusterIdentifier="app-global", DbClusterIdentifier=dr_arn)
    assert writers(answer["GlobalCluster"]) == {primary_arn: True}
    assert writers(global_cluster(dr)) == {primary_arn: True}
    assert writers(global_cluster(primary)) == {primary_arn: True}
    detached = cluster(dr, "app-dr")
    assert "GlobalClusterIdentifier" not in detached
    assert detached["Status"] == "modifying"
    assert refused() == "InvalidDBClusterStateFault"  # no longer a member

    time.sleep(1.1)
    detached = cluster(dr, "app-dr")
    assert detached["Status"] == "available"
    assert "GlobalClusterIdentifier" not in detached
    # A standalone cluster: its instance (if any) is the writer.
    assert cluster_writer_flags(dr, "app-dr") == ([True] if dr_instance else [])
    assert cluster_writer_flags(primary, "app-primary") == [True]
    assert cluster(primary, "app-primary")["GlobalClusterIdentifier"] == "app-global"


def test_db_cluster_members_of_a_secondary_without_instances(standin):
    primary, dr, primary_arn, dr_arn, _ = build_global(standin, dr_instance=False)
    assert cluster(dr, "app-dr")["DBClusterMembers"] == []
    assert cluster_writer_flags(primary, "app-primary") == [True]
    dr.failover_global_cluster(GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=dr_arn, AllowDataLoss=True)
    time.sleep(1.1)
    assert writers(global_cluster(dr)) == {primary_arn: False, dr_arn: True}
    assert cluster(dr, "app-dr")["DBClusterMembers"] == []
    assert cluster_writer_flags(primary, "app-primary") == [False]
    # An instance added to the promoted cluster is its writer.
    dr.create_db_instance(
        DBInstanceIdentifier="app-dr-1", DBClusterIdentifier="app-dr",
        Engine="aurora-postgresql", DBInstanceClass="db.r6g.large",
    )
    assert cluster_writer_flags(dr, "app-dr") == [True]
