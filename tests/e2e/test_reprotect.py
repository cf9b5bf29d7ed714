"""Re-protect, end to end: the real re-protect state machine on the stand-in, the real
reprotect-database binary behind `cargo lambda watch`, after a real failover, and the world read back
through the AWS APIs. One world for the whole cycle, to keep the suite short."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import assert_in_the_applications_network, fail_over_by_alarm, wait_until
from drill import reprotect, world
from drill.aws import ACCOUNT

EVENTS = Path(__file__).resolve().parents[2] / "events"


def start(session, execution_input) -> dict:
    """Start the re-protect state machine, follow it to its end; (described, its one report)."""
    arn = session.client("stepfunctions").start_execution(
        stateMachineArn=session.world.reprotect_state_machine_arn, input=json.dumps(execution_input)
    )["executionArn"]
    described = session.follow(arn, timeout=90)
    reports = session.reports(wait=1.0)
    assert len(reports) == 1, reports
    return {"described": described, "report": reports[0]}


def replica(session):
    rds = session.client("rds", world.PRIMARY)
    found = [i for i in rds.describe_db_instances()["DBInstances"] if i["DBInstanceIdentifier"] == reprotect.REPLICA]
    return found[0] if found else None


def invoke(session, name: str) -> dict:
    payload = json.loads((EVENTS / "reprotect-database" / f"{name}.json").read_text())
    response = session.client("lambda").invoke(FunctionName=reprotect.FUNCTION, Payload=json.dumps(payload).encode())
    answer = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer
    return answer


def test_reprotect_refuses_before_a_failover_then_creates_the_standby_once_across_a_failed_run(local_aws):
    # Budget and creation time leave some seconds each way for a loaded machine (tests run side by
    # side): the first run must run out of budget while the replica is still being created, its
    # re-run must still find it being created (not yet available), and see it available in budget.
    session = local_aws(reprotect_budget_seconds=10)
    dr_arn = f"arn:aws:rds:{world.DR}:{ACCOUNT}:db:{world.RDS_REPLICA}"

    # A bad input is refused, published, and changes nothing; the field is named.
    bad = start(session, {"dry_run": False, "dry-run": True})
    assert bad["described"]["status"] == "FAILED" and bad["described"]["error"] == "DrFailover.InvalidInput"
    assert bad["report"]["subject"] == "[dr-failover] drill: re-protect refused, invalid input"
    assert "dry-run" in bad["report"]["message"]["error"]["Cause"]

    # Before a failover the DR instance is still a replica: nothing to re-protect.
    early = start(session, {"dry_run": False, "reason": "too early"})
    assert early["described"]["error"] == "DrFailover.Refused"
    assert early["report"]["subject"] == "[dr-failover] drill: re-protect refused by its plan"
    assert any("still a read replica" in r for r in early["report"]["message"]["plan"]["refusals"])
    assert replica(session) is None

    failover = fail_over_by_alarm(session)
    assert failover["described"]["status"] == "SUCCEEDED"
    session.reports(wait=0.5)  # the failover's own report

    # The function's sample requests answer as shipped, read-only ones first.
    for name in ("plan", "status", "apply-dry-run"):
        answer = invoke(session, name)
        assert answer["step"] == "reprotect-database" and answer["changed"] is False, answer
    assert invoke(session, "plan")["refusals"] == []

    # A dry run names what it would create and creates nothing.
    dry = start(session, {"dry_run": True, "reason": "rehearsal"})
    assert dry["described"]["status"] == "SUCCEEDED"
    assert dry["report"]["subject"] == "[dr-failover] drill: re-protect dry run, nothing changed"
    summary = dry["report"]["message"]["plan"]["summary"]
    for part in (reprotect.REPLICA, world.PRIMARY, dr_arn, reprotect.INSTANCE_CLASS, "parameter group the engine's default",
                 reprotect.kms_key_arn(world.PRIMARY)):
        assert part in summary, (part, summary)
    # Where it will live, and where each setting came from: the former primary, in its region.
    groups = " ".join(session.world.db_security_groups[world.PRIMARY])
    assert summary.endswith(
        f"DB subnet group {world.DB_SUBNET_GROUP} (former primary {world.RDS_PRIMARY}), security groups {groups} "
        f"(former primary {world.RDS_PRIMARY}), option group {world.OPTION_GROUP} (former primary {world.RDS_PRIMARY}), "
        f"deletion protection on (former primary {world.RDS_PRIMARY}), Multi-AZ on (former primary {world.RDS_PRIMARY}), "
        f"tags app=shop cost-center=dr-drill (former primary {world.RDS_PRIMARY})"
    ), summary
    assert replica(session) is None
    stored = dry["report"]["message"]["report_object"]
    body = session.client("s3").get_object(Bucket=stored["bucket"], Key=stored["key"])["Body"].read()
    assert json.loads(body)["outcome"] == "dry-run"

    # Creating the replica takes longer than the 10 s budget: the run fails in the middle, says so,
    # and leaves the replica being created.
    assert session.control("settings", {"replica_creation_seconds": 16})["replica_creation_seconds"] == 16
    real = {"dry_run": False, "reason": "standby after the failover"}
    first = start(session, real)
    assert first["described"]["error"] == "DrFailover.ReprotectFailed"
    message = first["report"]["message"]
    assert first["report"]["subject"] == "[dr-failover] drill: RE-PROTECT FAILED at replica"
    assert message["error"]["Error"] == "DrFailover.StageTimedOut", message["error"]
    assert "ReprotectBudgetSeconds" in message["error"]["Cause"]
    assert message["rerun_command"].startswith("aws stepfunctions start-execution --region eu-central-1 ")
    assert replica(session)["DBInstanceStatus"] == "creating"

    # The same input again finds the replica, does not create it twice, and waits until it is healthy.
    again = start(session, real)
    assert again["described"]["status"] == "SUCCEEDED", again["described"]
    report = again["report"]["message"]
    assert again["report"]["subject"] == (
        "[dr-failover] drill: re-protected: the DR region's writer has a standby in the primary region"
    )
    assert report["plan"]["detail"]["replica"]["exists"] is True
    assert report["replica"]["changed"] is False and report["replica"]["ready"] is True
    assert report["topology"].startswith(
        f"writer {world.RDS_REPLICA} ({world.DR}) -> read replica {reprotect.REPLICA} ({world.PRIMARY}, status available, replication replicating)"
    ), report["topology"]
    standby = replica(session)
    assert standby["ReadReplicaSourceDBInstanceIdentifier"] == dr_arn
    assert standby["DBInstanceClass"] == reprotect.INSTANCE_CLASS
    # PostgreSQL: RDS gives a cross-Region replica the engine's default group of its Region.
    groups = [g["DBParameterGroupName"] for g in standby["DBParameterGroups"]]
    assert len(groups) == 1 and groups[0].startswith("default.postgres"), groups
    assert standby["KmsKeyId"] == reprotect.kms_key_arn(world.PRIMARY)
    assert standby["StatusInfos"] == [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]
    # In the application's network of the primary region (which has no default VPC), with the
    # former primary's option group, deletion protection, Multi-AZ and tags.
    assert_in_the_applications_network(standby, session, world.PRIMARY)
    # The former primary is left as it was.
    former = session.client("rds", world.PRIMARY).describe_db_instances(DBInstanceIdentifier=world.RDS_PRIMARY)
    assert former["DBInstances"][0]["DBInstanceStatus"] == "available"

    # Once more: nothing to do, and said so.
    done = start(session, real)
    assert done["described"]["status"] == "SUCCEEDED"
    assert done["report"]["subject"] == "[dr-failover] drill: already re-protected; nothing changed"
    assert invoke(session, "apply")["changed"] is False
    assert wait_until(lambda: invoke(session, "status")["ready"])


def test_aurora_reprotect_takes_the_rejoined_former_primary_or_adds_a_secondary(local_aws):
    session = local_aws(aurora=True)
    failover = fail_over_by_alarm(session)
    assert failover["described"]["status"] == "SUCCEEDED"
    session.reports(wait=0.5)
    real = {"dry_run": False, "reason": "standby after the failover"}

    # The managed failover left the former primary cluster a secondary: that is the standby.
    rejoined = start(session, real)
    assert rejoined["described"]["status"] == "SUCCEEDED"
    assert rejoined["report"]["subject"] == "[dr-failover] drill: already re-protected; nothing changed"
    assert rejoined["report"]["message"]["topology"] == (
        f"{world.AURORA_GLOBAL}: writer {world.AURORA_DR} ({world.DR}) -> secondary {world.AURORA_PRIMARY} "
        f"({world.PRIMARY}, status available, 1 DB instance(s))"
    )

    # Had Aurora not rejoined it (here: detached from the global cluster), a new secondary is added.
    primary = session.client("rds", world.PRIMARY)
    former_arn = primary.describe_db_clusters(DBClusterIdentifier=world.AURORA_PRIMARY)["DBClusters"][0]["DBClusterArn"]
    primary.remove_from_global_cluster(GlobalClusterIdentifier=world.AURORA_GLOBAL, DbClusterIdentifier=former_arn)
    added = start(session, real)
    assert added["described"]["status"] == "SUCCEEDED", added["described"]
    report = added["report"]["message"]
    assert report["outcome"] == "reprotected"
    assert report["plan"]["detail"]["replica"]["exists"] is False
    assert report["plan"]["summary"].startswith(
        f"apply would add {reprotect.SECONDARY_CLUSTER} in {world.PRIMARY} as a secondary of {world.AURORA_GLOBAL}"
    ), report["plan"]["summary"]
    assert report["topology"].startswith(
        f"{world.AURORA_GLOBAL}: writer {world.AURORA_DR} ({world.DR}) -> secondary {reprotect.SECONDARY_CLUSTER} "
    ), report["topology"]
    members = session.client("rds", world.DR).describe_global_clusters(GlobalClusterIdentifier=world.AURORA_GLOBAL)[
        "GlobalClusters"][0]["GlobalClusterMembers"]
    assert {m["DBClusterArn"].rsplit(":", 1)[1]: m["IsWriter"] for m in members} == {
        world.AURORA_DR: True, reprotect.SECONDARY_CLUSTER: False,
    }
    new = primary.describe_db_clusters(DBClusterIdentifier=reprotect.SECONDARY_CLUSTER)["DBClusters"][0]
    assert [m["DBInstanceIdentifier"] for m in new["DBClusterMembers"]] == [f"{reprotect.SECONDARY_CLUSTER}-1"]
    # In the application's network of the primary region (no default VPC there), with the former
    # primary cluster's parameter groups, deletion protection and tags.
    assert f"DB subnet group {world.DB_SUBNET_GROUP} (former primary {world.AURORA_PRIMARY})" in report["plan"]["summary"]
    assert new["DBSubnetGroup"] == world.DB_SUBNET_GROUP
    assert [g["VpcSecurityGroupId"] for g in new["VpcSecurityGroups"]] == session.world.db_security_groups[world.PRIMARY]
    assert new["DBClusterParameterGroup"] == world.CLUSTER_PARAMETER_GROUP
    assert new["DeletionProtection"] is True
    assert new["TagList"] == world.DB_TAGS
    (instance,) = primary.describe_db_instances(DBInstanceIdentifier=f"{reprotect.SECONDARY_CLUSTER}-1")["DBInstances"]
    assert [g["DBParameterGroupName"] for g in instance["DBParameterGroups"]] == [world.INSTANCE_PARAMETER_GROUP]
    assert instance["TagList"] == world.DB_TAGS
    # The detached former primary is left as it was.
    former = primary.describe_db_clusters(DBClusterIdentifier=world.AURORA_PRIMARY)["DBClusters"][0]
    assert not former.get("GlobalClusterIdentifier")
