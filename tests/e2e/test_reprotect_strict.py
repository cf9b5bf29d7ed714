"""Re-protect's plan says no before RDS does, and a status RDS does not leave by itself ends its wait
at once: the real re-protect state machine and reprotect-database binary on the stand-in, after a
real failover."""

from __future__ import annotations

import json
import time

from conftest import fail_over_by_alarm, wait_until
from drill import reprotect, world
from test_reprotect import replica, start


def test_a_postgres_reprotect_naming_a_parameter_group_is_refused_by_its_dry_run_and_the_shipped_one_works(local_aws):
    # A deployment that names its own DB parameter group for the PostgreSQL replica (as the drill's
    # configuration used to): RDS refuses DBParameterGroupName on a cross-Region PostgreSQL replica.
    session = local_aws(function_env_overrides={"REPROTECT_PARAMETER_GROUP": reprotect.PARAMETER_GROUP})
    assert fail_over_by_alarm(session)["described"]["status"] == "SUCCEEDED"
    session.reports(wait=0.5)

    dry = start(session, {"dry_run": True, "reason": "rehearsal"})
    assert dry["described"]["error"] == "DrFailover.Refused", dry["described"]
    assert dry["report"]["subject"] == "[dr-failover] drill: re-protect refused by its plan"
    refusals = dry["report"]["message"]["plan"]["refusals"]
    assert len(refusals) == 1, refusals
    assert refusals[0].startswith(
        f"REPROTECT_PARAMETER_GROUP ({reprotect.PARAMETER_GROUP}): RDS accepts DBParameterGroupName on a "
        f"cross-Region read replica only for MySQL, Oracle and Db2 DB instances, and {world.RDS_REPLICA} runs postgres"
    ), refusals
    assert "API_CreateDBInstanceReadReplica.html" in refusals[0]

    # The real run says the same, and creates nothing.
    real = start(session, {"dry_run": False, "reason": "standby after the failover"})
    assert real["described"]["error"] == "DrFailover.Refused"
    assert replica(session) is None


def test_a_replica_in_a_status_rds_does_not_leave_ends_the_wait_at_once(local_aws):
    # A budget far longer than the test: before, the run waited all of it and then said "timed out".
    session = local_aws(reprotect_budget_seconds=300)
    assert fail_over_by_alarm(session)["described"]["status"] == "SUCCEEDED"
    session.reports(wait=0.5)
    session.control("settings", {"replica_creation_seconds": 600})

    arn = session.client("stepfunctions").start_execution(
        stateMachineArn=session.world.reprotect_state_machine_arn,
        input=json.dumps({"dry_run": False, "reason": "standby after the failover"}),
    )["executionArn"]
    wait_until(lambda: replica(session), timeout=60)
    # RDS cannot start the new replica: its parameters do not fit. RDS does not leave this status.
    session.control(
        "rds/instance-status",
        {"region": world.PRIMARY, "instance": reprotect.REPLICA, "status": "incompatible-parameters"},
    )
    stuck_at = time.monotonic()
    described = session.follow(arn, timeout=90)
    assert time.monotonic() - stuck_at < 30
    assert described["error"] == "DrFailover.ReprotectFailed", described
    reports = session.reports(wait=1.0)
    assert len(reports) == 1, reports
    assert reports[0]["subject"] == "[dr-failover] drill: RE-PROTECT FAILED at replica"
    error = reports[0]["message"]["error"]
    assert error["Error"] == "DrFailover.AwsError", error
    assert (
        f"read replica {reprotect.REPLICA} ({world.PRIMARY}) is incompatible-parameters, a status RDS does not leave by itself"
        in error["Cause"]
    ), error
    assert "accessing-monitoring.html#Overview.DBInstance.Status" in error["Cause"]


def test_a_primary_region_at_its_db_instance_quota_is_refused_by_the_dry_run_before_rds_refuses(local_aws):
    # The account's DBInstances quota in the primary region is used up: RDS would answer the
    # create InstanceQuotaExceeded. The plan reads the quota (DescribeAccountAttributes) and says so.
    session = local_aws()
    assert fail_over_by_alarm(session)["described"]["status"] == "SUCCEEDED"
    session.reports(wait=0.5)
    rds = session.client("rds", world.PRIMARY)
    used = len(rds.describe_db_instances()["DBInstances"])
    session.control("rds/quota", {"region": world.PRIMARY, "db_instances": used})

    dry = start(session, {"dry_run": True, "reason": "rehearsal"})
    assert dry["described"]["error"] == "DrFailover.Refused", dry["described"]
    (refusal,) = dry["report"]["message"]["plan"]["refusals"]
    assert refusal.startswith(f"{world.PRIMARY} has {used} of its {used} DB instances"), refusal
    assert "InstanceQuotaExceeded" in refusal

    # Room for one more: the same plan goes.
    session.control("rds/quota", {"region": world.PRIMARY, "db_instances": used + 1})
    dry = start(session, {"dry_run": True, "reason": "rehearsal"})
    assert dry["described"]["status"] == "SUCCEEDED", dry["described"]
    assert dry["report"]["message"]["plan"]["refusals"] == []


def test_a_reprotect_that_knows_of_no_db_subnet_group_is_refused_by_its_plan_naming_how_to_give_one(local_aws):
    # The former primary named is not in the primary region (deleted), and configuration names no
    # subnet group: RDS would create the replica in the default VPC, or (the world's primary region
    # has none) refuse it. The plan says so first, and nothing is created.
    session = local_aws(function_env_overrides={"REPROTECT_FORMER_PRIMARY_ID": "app-db-gone"})
    assert fail_over_by_alarm(session)["described"]["status"] == "SUCCEEDED"
    session.reports(wait=0.5)

    dry = start(session, {"dry_run": True, "reason": "rehearsal"})
    assert dry["described"]["error"] == "DrFailover.Refused", dry["described"]
    refusals = dry["report"]["message"]["plan"]["refusals"]
    assert len(refusals) == 1, refusals
    assert refusals[0] == (
        f"no DB subnet group for the read replica {reprotect.REPLICA} in {world.PRIMARY}: RDS would put it in the "
        f"default VPC, or refuse it without one (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/"
        f"API_CreateDBInstanceReadReplica.html, DBSubnetGroupName). Set REPROTECT_DB_SUBNET_GROUP and "
        f"REPROTECT_VPC_SECURITY_GROUP_IDS, or REPROTECT_FORMER_PRIMARY_ID; the former primary app-db-gone is not in "
        f"{world.PRIMARY}"
    ), refusals

    real = start(session, {"dry_run": False, "reason": "standby after the failover"})
    assert real["described"]["error"] == "DrFailover.Refused"
    assert replica(session) is None


def test_configuration_wins_over_what_the_former_primary_has(local_aws):
    session = local_aws(function_env_overrides={
        "REPROTECT_TAGS": json.dumps({"app": "shop", "standby-of": "app-db-dr"}),
        "REPROTECT_DELETION_PROTECTION": "false",
        "REPROTECT_MULTI_AZ": "false",
    })
    assert fail_over_by_alarm(session)["described"]["status"] == "SUCCEEDED"
    session.reports(wait=0.5)

    real = start(session, {"dry_run": False, "reason": "standby after the failover"})
    assert real["described"]["status"] == "SUCCEEDED", real["described"]
    summary = real["report"]["message"]["plan"]["summary"]
    assert "deletion protection off (REPROTECT_DELETION_PROTECTION), Multi-AZ off (REPROTECT_MULTI_AZ)" in summary, summary
    standby = replica(session)
    assert standby["TagList"] == [{"Key": "app", "Value": "shop"}, {"Key": "standby-of", "Value": "app-db-dr"}]
    assert standby["DeletionProtection"] is False and standby["MultiAZ"] is False
    # The rest from the former primary: its network and option group.
    assert standby["DBSubnetGroup"]["DBSubnetGroupName"] == world.DB_SUBNET_GROUP
    assert [g["VpcSecurityGroupId"] for g in standby["VpcSecurityGroups"]] == session.world.db_security_groups[world.PRIMARY]
    assert [g["OptionGroupName"] for g in standby["OptionGroupMemberships"]] == [world.OPTION_GROUP]
