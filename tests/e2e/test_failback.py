"""Fail back, end to end on the stand-in: after a failover and a re-protect, the real fail back state
machine and the real fail back functions move the application back to the primary region behind
an approval gate, and the world read back through the AWS APIs ends where it started."""

from __future__ import annotations

import datetime
import json
import shlex
import time

from conftest import TRANSITION_SECONDS, assert_in_the_applications_network, fail_over_by_alarm, wait_until
from drill import failback, messages, reprotect, world


def start(session, arn_attr: str, execution_input: dict) -> str:
    return session.client("stepfunctions").start_execution(
        stateMachineArn=getattr(session.world, arn_attr), input=json.dumps(execution_input)
    )["executionArn"]


def one_report(session, wait: float = 1.0) -> dict:
    reports = session.reports(wait=wait)
    assert len(reports) == 1, reports
    return reports[0]


def approval_request(session, timeout: float = 30.0) -> dict:
    """The published approval request: its subject, text, and the task token in its commands."""
    found = []

    def published():
        found.extend(session.reports())
        return [r for r in found if "APPROVAL NEEDED" in (r["subject"] or "")]

    (request,) = wait_until(published, timeout=timeout)
    report = request["message"]
    # The first paragraph lists the commands the request's JSON gives, each as it runs.
    assert messages.commands(request["text"]) == {
        name: report[name] for name in ("approve_cli_command", "deny_cli_command", "approve_command", "deny_command")
    }, request["text"]
    # The dr-failover forms name the run and its region (test_operator_cli runs them as printed).
    cli = shlex.split(report["approve_cli_command"])
    assert cli[:5] == ["dr-failover", "--region", world.DR, "--deployment", world.DEPLOYMENT]
    assert cli[5:] == ["approve", report["execution"].rsplit(":", 1)[1]]
    approve = shlex.split(report["approve_command"])
    assert json.loads(approve[approve.index("--task-output") + 1]) == {"approved_by": "<your name>"}
    token = approve[approve.index("--task-token") + 1]
    assert shlex.split(report["deny_command"])[-2:] == ["--cause", "<why>"]
    return {"subject": request["subject"], "text": request["text"], "report": report, "token": token}


def alarm_rule_state(session) -> str:
    return session.client("events").describe_rule(Name=world.ALARM_RULE_DR)["State"]


def freeze_writes(session) -> None:
    """What RDS reports once the application stops writing: the new replica's lag at 0."""
    session.client("cloudwatch", world.PRIMARY).put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[{
            "MetricName": "ReplicaLag",
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": reprotect.REPLICA}],
            "Timestamp": datetime.datetime.now(datetime.timezone.utc),
            "Value": 0.0,
            "Unit": "Seconds",
        }],
    )


def after_failover_and_reprotect(session) -> None:
    assert fail_over_by_alarm(session)["described"]["status"] == "SUCCEEDED"
    session.end_outage()
    arn = start(session, "reprotect_state_machine_arn", {"dry_run": False, "reason": "standby"})
    assert session.follow(arn, timeout=90)["status"] == "SUCCEEDED"
    session.reports(wait=0.5)


def test_approved_fail_back_returns_the_world_to_where_it_started(local_aws):
    session = local_aws(reprotect_budget_seconds=5, failback_drain_seconds=4)
    before = session.snapshot()
    after_failover_and_reprotect(session)

    # A dry run plans every step and changes nothing; the database's refusal is the write freeze.
    dry = start(session, "failback_state_machine_arn", {"dry_run": True, "reason": "rehearsal"})
    assert session.follow(dry, timeout=60)["status"] == "SUCCEEDED"
    report = one_report(session)
    assert report["subject"] == "[dr-failover] drill: fail back dry run, nothing changed"
    assert report["message"]["plan"]["pilot"]["summary"].startswith("apply would set to pilot capacity: web-dr 6/6/6 -> 1/1/2")
    assert any("ReplicaLag" in r or "lag" in r for r in report["message"]["plan"]["database"]["refusals"])

    freeze_writes(session)
    arn = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "primary region healthy again"})
    request = approval_request(session)
    assert request["subject"] == "[dr-failover] drill: APPROVAL NEEDED to fail back to the primary region"
    assert f"aws stepfunctions send-task-success --region {world.DR} --task-token " in request["text"]
    assert f"aws stepfunctions send-task-failure --region {world.DR} --task-token " in request["text"]
    assert "web-dr 6/6/6 -> 1/1/2" in json.dumps(request["report"]["what"])
    assert session.describe(arn)["status"] == "RUNNING" and alarm_rule_state(session) == "ENABLED", "nothing moves before approval"

    # A failure in the middle: the new DR replica takes longer than ReprotectBudgetSeconds (5 s),
    # after the database and DNS have moved back. The same input again finishes the job.
    assert session.control("settings", {"replica_creation_seconds": 8})["replica_creation_seconds"] == 8
    session.client("stepfunctions").send_task_success(taskToken=request["token"], output=json.dumps({"approved_by": "the drill"}))
    described = session.follow(arn, timeout=120)
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.FailbackFailed", described
    failed = one_report(session)
    assert failed["subject"] == "[dr-failover] drill: FAIL BACK FAILED at standby", failed["subject"]
    assert "ReprotectBudgetSeconds" in failed["message"]["error"]["Cause"], failed["message"]["error"]
    assert alarm_rule_state(session) == "DISABLED", "paused until the run that finishes it"
    assert failed["message"]["rerun_command"].startswith(f"aws stepfunctions start-execution --region {world.DR} ")
    assert all(r["answers"] == "primary" for r in session.snapshot()["dns"].values()), "DNS already moved back"
    # The DR groups kept their capacity for FailbackDrainSeconds (4 s) after DNS had moved back.
    stages = failed["message"]["state"]["stages"]
    drained = datetime.datetime.fromisoformat(stages["pilot"]["started_at"].replace("Z", "+00:00")) - \
        datetime.datetime.fromisoformat(stages["dns"]["started_at"].replace("Z", "+00:00"))
    assert drained.total_seconds() >= 4 + TRANSITION_SECONDS, (drained, stages["dns"])

    again = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "primary region healthy again"})
    session.client("stepfunctions").send_task_success(
        taskToken=approval_request(session)["token"], output=json.dumps({"approved_by": "the drill"}))
    described = session.follow(again, timeout=120)
    assert described["status"] == "SUCCEEDED", described
    report = one_report(session)
    message = report["message"]
    assert message["approval"] == {"approved_by": "the drill"}
    # Nothing was done twice: the database, DNS and groups were already back, the standby was found.
    assert message["stages"]["standby"]["apply"]["changed"] is False, message["stages"]["standby"]

    after = session.snapshot()
    # The same writer region, records and group capacities as before the failover.
    assert {n: r["answers"] for n, r in after["dns"].items()} == {n: r["answers"] for n, r in before["dns"].items()}
    assert all(r["answers"] == "primary" for r in after["dns"].values())
    for name, group in before["compute"].items():
        wait_until(lambda: session.snapshot()["compute"][name]["desired"] == group["desired"], timeout=20)
    rds_primary = session.client("rds", world.PRIMARY)
    writer = rds_primary.describe_db_instances(DBInstanceIdentifier=reprotect.REPLICA)["DBInstances"][0]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in writer and writer["DBInstanceStatus"] in ("available", "backing-up")
    # And a standby replica in the DR region again, under the failover's own replica name: the
    # former DR writer was renamed (retired, kept with its data), then the new replica took the name.
    assert failback.STANDBY == world.RDS_REPLICA
    dr_rds = session.client("rds", world.DR)
    standby = dr_rds.describe_db_instances(DBInstanceIdentifier=failback.STANDBY)["DBInstances"][0]
    assert standby["ReadReplicaSourceDBInstanceIdentifier"] == writer["DBInstanceArn"]
    # In the application's network of the DR region, with the settings of the former DR writer it
    # replaces (read under its retired name once renamed).
    assert_in_the_applications_network(standby, session, world.DR)
    (retired,) = [i for i in dr_rds.describe_db_instances()["DBInstances"]
                  if i["DBInstanceIdentifier"].startswith(failback.RETIRED_PREFIX)]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in retired and retired["DBInstanceStatus"] == "available"
    assert len(retired["DBInstanceIdentifier"]) == len(failback.RETIRED_PREFIX) + 12, "YYYYMMDDHHMM"
    # The failover would promote a replica again: the automation is re-armed.
    assert report["subject"] == "[dr-failover] drill: failed back to the primary region", report["subject"]
    assert alarm_rule_state(session) == "ENABLED"


def test_refused_while_a_failover_runs_then_denied_then_expired_and_nothing_changes(local_aws):
    session = local_aws(promotion_seconds=6, failback_approval_timeout_seconds=4)

    # A failover is running (its promotion takes a while): the fail back refuses to start.
    known = [e["executionArn"] for e in session.executions()]
    session.trip_alarm()
    failover = session.wait_for_execution(known)
    blocked = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "too early"})
    described = session.follow(blocked, timeout=60)
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.AlreadyRunning"
    assert session.follow(failover, timeout=120)["status"] == "SUCCEEDED"
    reports = session.reports(wait=1.0)
    (refusal,) = [r for r in reports if "fail back" in r["subject"]]
    assert refusal["subject"] == "[dr-failover] drill: fail back refused, another run of this deployment is running"
    assert refusal["message"]["blocked_by"]["execution_arn"] == failover
    session.end_outage()
    arn = start(session, "reprotect_state_machine_arn", {"dry_run": False, "reason": "standby"})
    assert session.follow(arn, timeout=90)["status"] == "SUCCEEDED"
    session.reports(wait=0.5)
    before = session.snapshot()

    # Denied: the run ends at once, nothing changed, the automation never paused.
    denied = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "planned move back"})
    session.client("stepfunctions").send_task_failure(
        taskToken=approval_request(session)["token"], error="DrFailover.ApprovalDenied", cause="not during the sale"
    )
    described = session.follow(denied, timeout=60)
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.ApprovalDenied"
    report = one_report(session)
    assert report["subject"] == "[dr-failover] drill: fail back denied; nothing changed"
    assert report["message"]["error"] == {"Error": "DrFailover.ApprovalDenied", "Cause": "not during the sale"}

    # A denial sent without the documented error name (a console's or a chat bot's send-task-failure)
    # is a denial too, never a failure that leaves the automation paused.
    denied = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "planned move back"})
    session.client("stepfunctions").send_task_failure(taskToken=approval_request(session)["token"], cause="no")
    described = session.follow(denied, timeout=60)
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.ApprovalDenied", described
    report = one_report(session)
    assert report["subject"] == "[dr-failover] drill: fail back denied; nothing changed"
    assert report["message"]["error"]["Cause"] == "no"
    assert alarm_rule_state(session) == "ENABLED"

    # Not answered within FailbackApprovalTimeoutSeconds (4 s here): it expires, and the expiry action is to abort.
    began = time.monotonic()
    expired = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "planned move back"})
    approval_request(session)
    described = session.follow(expired, timeout=60)
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.ApprovalExpired"
    assert time.monotonic() - began >= 4
    report = one_report(session)
    assert report["subject"] == "[dr-failover] drill: fail back NOT approved in time; nothing changed"
    assert report["message"]["error"]["Error"] == "States.Timeout"

    after = session.snapshot()
    assert {n: r["answers"] for n, r in after["dns"].items()} == {n: r["answers"] for n, r in before["dns"].items()}
    assert {n: g["desired"] for n, g in after["compute"].items()} == {n: g["desired"] for n, g in before["compute"].items()}
    assert after["database"] == before["database"]
    assert alarm_rule_state(session) == "ENABLED"


def approve(session, execution_input: dict) -> str:
    """Starts a real fail back and approves it once it asks."""
    arn = start(session, "failback_state_machine_arn", execution_input)
    session.client("stepfunctions").send_task_success(
        taskToken=approval_request(session)["token"], output=json.dumps({"approved_by": "the drill"}))
    return arn


def test_aurora_fail_back_switches_over_to_the_primary_regions_secondary_and_resumes_the_automation(local_aws):
    session = local_aws(aurora=True, database_budget_seconds=8)
    before = session.snapshot()
    assert fail_over_by_alarm(session)["described"]["status"] == "SUCCEEDED"
    session.end_outage()
    # Aurora did not rejoin the former primary (detached here): re-protect adds a new secondary, and
    # the former primary stays a standalone cluster that fail back must never take for the writer.
    rds_primary = session.client("rds", world.PRIMARY)
    former_arn = rds_primary.describe_db_clusters(DBClusterIdentifier=world.AURORA_PRIMARY)["DBClusters"][0]["DBClusterArn"]
    rds_primary.remove_from_global_cluster(GlobalClusterIdentifier=world.AURORA_GLOBAL, DbClusterIdentifier=former_arn)
    arn = start(session, "reprotect_state_machine_arn", {"dry_run": False, "reason": "standby"})
    assert session.follow(arn, timeout=90)["status"] == "SUCCEEDED"
    session.reports(wait=0.5)

    dry = start(session, "failback_state_machine_arn", {"dry_run": True, "reason": "rehearsal"})
    assert session.follow(dry, timeout=60)["status"] == "SUCCEEDED"
    plan = one_report(session)["message"]["plan"]["database"]
    assert plan["refusals"] == [] and plan["detail"]["identifier"] == reprotect.SECONDARY_CLUSTER, plan
    assert "switch over (no data loss)" in plan["summary"], plan["summary"]

    # A failure in the middle: the switchover takes longer than DatabaseBudgetSeconds (8 s).
    session.control("settings", {"promotion_seconds": 12})
    failed_arn = approve(session, {"dry_run": False, "reason": "primary region healthy again"})
    described = session.follow(failed_arn, timeout=120)
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.FailbackFailed", described
    failed = one_report(session)
    assert failed["subject"] == "[dr-failover] drill: FAIL BACK FAILED at database", failed["subject"]
    assert failed["message"]["error"]["Error"] == "DrFailover.StageTimedOut"
    assert alarm_rule_state(session) == "DISABLED"
    assert all(r["answers"] == "dr" for r in session.snapshot()["dns"].values()), "no DNS before the database is back"

    # The same input again (rerun_command) continues: the switchover under way is not started twice,
    # DNS follows once the primary region's cluster is the writer, and the automation is resumed.
    session.control("settings", {"promotion_seconds": 1})
    described = session.follow(approve(session, {"dry_run": False, "reason": "primary region healthy again"}), timeout=120)
    assert described["status"] == "SUCCEEDED", described
    report = one_report(session)
    assert report["subject"] == "[dr-failover] drill: failed back to the primary region", report["subject"]
    assert report["message"]["alarm_rule"]["resume"] is True
    assert alarm_rule_state(session) == "ENABLED"
    events = session.client("events")
    rule_arn = events.describe_rule(Name=world.ALARM_RULE_DR)["Arn"]
    # The witness's own mark (shared::witness: dr-failover:witness-*) stays; fail back's is gone.
    tags = events.list_tags_for_resource(ResourceARN=rule_arn)["Tags"]
    assert [t for t in tags if not t["Key"].startswith("dr-failover:witness-")] == [], "the pause mark is gone"

    (global_cluster,) = rds_primary.describe_global_clusters(GlobalClusterIdentifier=world.AURORA_GLOBAL)["GlobalClusters"]
    roles = {m["DBClusterArn"].rsplit(":", 1)[1]: m["IsWriter"] for m in global_cluster["GlobalClusterMembers"]}
    assert roles == {reprotect.SECONDARY_CLUSTER: True, world.AURORA_DR: False}, roles
    assert not rds_primary.describe_db_clusters(DBClusterIdentifier=world.AURORA_PRIMARY)["DBClusters"][0].get(
        "GlobalClusterIdentifier"), "the detached former primary is left as it was"
    after = session.snapshot()
    assert {n: r["answers"] for n, r in after["dns"].items()} == {n: r["answers"] for n, r in before["dns"].items()}
    for name, group in before["compute"].items():
        wait_until(lambda: session.snapshot()["compute"][name]["desired"] == group["desired"], timeout=20)


def test_aurora_reprotect_and_fail_back_refuse_while_a_failover_runs_and_a_reprotect_cut_off_midway_is_finished_by_its_rerun(local_aws):
    session = local_aws(aurora=True, promotion_seconds=6, reprotect_budget_seconds=5)

    # The global failover is running: fail back and re-protect refuse to start (the failover holds
    # the deployment); nothing changes.
    known = [e["executionArn"] for e in session.executions()]
    session.trip_alarm()
    failover = session.wait_for_execution(known)
    blocked = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "too early"})
    described = session.follow(blocked, timeout=60)
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.AlreadyRunning", described
    early = start(session, "reprotect_state_machine_arn", {"dry_run": False, "reason": "too early"})
    described = session.follow(early, timeout=60)
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.AlreadyRunning", described
    assert session.follow(failover, timeout=120)["status"] == "SUCCEEDED"
    subjects = [r["subject"] for r in session.reports(wait=1.0)]
    assert "[dr-failover] drill: fail back refused, another run of this deployment is running" in subjects, subjects
    assert "[dr-failover] drill: re-protect refused, another run of this deployment is running" in subjects, subjects
    session.end_outage()

    # Aurora did not rejoin the former primary (detached here), so re-protect adds a secondary. A
    # failure in the middle: the secondary cluster is created, then its DB instance cannot be
    # (CreateDBInstance throttled past the 5 s budget). The run fails at that stage and says so.
    rds_primary = session.client("rds", world.PRIMARY)
    former_arn = rds_primary.describe_db_clusters(DBClusterIdentifier=world.AURORA_PRIMARY)["DBClusters"][0]["DBClusterArn"]
    rds_primary.remove_from_global_cluster(GlobalClusterIdentifier=world.AURORA_GLOBAL, DbClusterIdentifier=former_arn)
    session.control("faults", {"service": "rds", "operation": "CreateDBInstance", "region": world.PRIMARY,
                               "count": 1000, "kind": "throttle"})
    real = {"dry_run": False, "reason": "standby after the failover"}
    cut = start(session, "reprotect_state_machine_arn", real)
    described = session.follow(cut, timeout=90)
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.ReprotectFailed", described
    failed = one_report(session)
    assert failed["subject"].startswith("[dr-failover] drill: RE-PROTECT FAILED at "), failed["subject"]
    assert failed["message"]["rerun_command"].startswith(f"aws stepfunctions start-execution --region {world.DR} ")
    secondary = rds_primary.describe_db_clusters(DBClusterIdentifier=reprotect.SECONDARY_CLUSTER)["DBClusters"][0]
    assert secondary["DBClusterMembers"] == [], "the cluster was added, its instance not"

    # The same input again: the cluster is not added twice, only its DB instance is created.
    session.control("faults", method="DELETE")
    again = start(session, "reprotect_state_machine_arn", real)
    assert session.follow(again, timeout=90)["status"] == "SUCCEEDED"
    report = one_report(session)["message"]
    assert report["plan"]["detail"]["replica"]["exists"] is True
    assert report["plan"]["summary"].startswith(f"apply would add DB instance {reprotect.SECONDARY_CLUSTER}-1"), \
        report["plan"]["summary"]
    clusters = rds_primary.describe_db_clusters()["DBClusters"]
    assert sorted(c["DBClusterIdentifier"] for c in clusters) == sorted([world.AURORA_PRIMARY, reprotect.SECONDARY_CLUSTER])
    (secondary,) = [c for c in clusters if c["DBClusterIdentifier"] == reprotect.SECONDARY_CLUSTER]
    assert [m["DBInstanceIdentifier"] for m in secondary["DBClusterMembers"]] == [f"{reprotect.SECONDARY_CLUSTER}-1"]
    members = rds_primary.describe_global_clusters(GlobalClusterIdentifier=world.AURORA_GLOBAL)[
        "GlobalClusters"][0]["GlobalClusterMembers"]
    assert {m["DBClusterArn"].rsplit(":", 1)[1]: m["IsWriter"] for m in members} == {
        world.AURORA_DR: True, reprotect.SECONDARY_CLUSTER: False}


def delete_dr_record_set(session, name: str) -> None:
    """Deletes the DR record set of ``name`` as it is now (a person cleaning up the zone)."""
    route53 = session.client("route53", world.GLOBAL)
    sets = route53.list_resource_record_sets(HostedZoneId=session.world.zone_id)["ResourceRecordSets"]
    (dr,) = [s for s in sets if s["Name"] == name and s.get("SetIdentifier") == "dr"]
    route53.change_resource_record_sets(HostedZoneId=session.world.zone_id,
                                        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": dr}]})


def test_an_approved_fail_back_makes_its_plan_again_and_changes_nothing_when_it_refuses_now(local_aws):
    # Issue 21, kind 3: the approver read a plan that went; during the wait, a DR record set the
    # fail back moves is deleted. Approved, the run plans again before its first change.
    session = local_aws(reprotect_budget_seconds=5, failback_drain_seconds=4)
    after_failover_and_reprotect(session)
    freeze_writes(session)
    before = session.snapshot()
    arn = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "primary region healthy again"})
    token = approval_request(session)["token"]
    delete_dr_record_set(session, "api.example.com.")

    session.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps({"approved_by": "the drill"}))
    described = session.follow(arn, timeout=90)

    assert described["status"] == "FAILED" and described["error"] == "DrFailover.Refused", described
    report = one_report(session)
    assert report["subject"] == "[dr-failover] drill: fail back refused by its plan", report["subject"]
    assert report["message"]["approval"] == {"approved_by": "the drill"}
    assert report["message"]["plan"]["dns"]["refusals"], report["message"]["plan"]["dns"]
    assert alarm_rule_state(session) == "ENABLED", "not even the automation was paused"
    after = session.snapshot()
    assert {n: g["desired"] for n, g in after["compute"].items()} == {n: g["desired"] for n, g in before["compute"].items()}
    assert after["database"] == before["database"]
