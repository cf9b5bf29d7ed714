"""A whole failover, end to end: a health check alarm in us-east-1, EventBridge forwarding it to the
DR region, the real state machine on the stand-in's Step Functions, the real function binaries
behind `cargo lambda watch`, and the world read back through the AWS APIs."""

from __future__ import annotations

import datetime
import html
import json
import shlex
import signal
import time
import uuid
from pathlib import Path

from conftest import (
    Watched,
    drill_command,
    fail_over_by_alarm,
    follow,
    task_runs,
    wait_until,
)
from drill import processes, snapshot, world
from drill.messages import commands

DR_TARGETS = {"web-dr": 6, "worker-dr": 4}
EVENTS = Path(__file__).resolve().parents[2] / "events"


def assert_failed_over(after: dict) -> None:
    db = after["database"]
    assert db["writable"] is True, db
    assert db["status"] == "available"
    if db["kind"] == "rds-instance":
        assert db["replica_source"] is None
    for group, target in DR_TARGETS.items():
        g = after["compute"][group]
        assert (g["min"], g["desired"], g["max"], g["in_service"]) == (target, target, target, target), g
    for name, record in after["dns"].items():
        assert record["answers"] == "dr", (name, record)


def run_cli(tmp_path, *args: str) -> tuple:
    """The drill's own command line, to its end; (exit code, output, report dir, processes seen)."""
    out = tmp_path / "report"
    watched = Watched(drill_command(*args, out=out), tmp_path)
    output = watched.finish()
    return watched.process.returncode, output, out, watched


def assert_no_process_left(watched: Watched) -> None:
    # The stand-in, cargo lambda watch and the four functions ran below the drill ...
    assert len(watched.seen) >= 6, sorted(watched.seen)
    # ... and none of them outlived it.
    assert watched.leftovers() == []


def test_alarm_fails_over_and_the_report_is_complete(tmp_path):
    code, output, out, watched = run_cli(tmp_path)

    assert code == 0, output[-6000:]
    assert_no_process_left(watched)
    report = json.loads((out / "report.json").read_text())
    assert report["outcome"] == "failed-over" and report["ok"] is True
    assert report["request"]["trigger"] == "alarm"
    assert report["request"]["reason"].startswith(f"health check alarm {world.ALARM} went to ALARM at ")
    assert report["request"]["alarm"]["name"] == world.ALARM and report["request"]["alarm"]["region"] == world.GLOBAL
    assert_failed_over(report["after"])
    # Before: the pilot light, answering from the primary.
    assert report["before"]["database"]["writable"] is False
    assert {n: g["desired"] for n, g in report["before"]["compute"].items() if n.endswith("-dr")} == {"web-dr": 1, "worker-dr": 0}
    assert all(r["answers"] == "primary" for r in report["before"]["dns"].values())
    # The report: every Task step with its times, the RTO, and where the time went.
    names = [s["name"] for s in report["steps"]]
    for expected in ("CheckConcurrency", "PlanDatabase", "PlanCompute", "PlanDns", "PlanBackup", "PromoteApply",
                     "PromoteStatus", "ScaleApply", "ScaleStatus", "FlipDnsApply", "FlipDnsStatus", "FinishRun"):
        assert expected in names, names
    for step in report["steps"]:
        assert step["status"] == "succeeded", step
        assert step["start"] <= step["end"]
    alarm = datetime.datetime.fromisoformat(report["alarm"]["state_changed_at"].replace("Z", "+00:00"))
    first = datetime.datetime.fromisoformat(report["steps"][0]["start"].replace("Z", "+00:00"))
    assert first >= alarm
    assert 0 < report["rto_seconds"] < 60
    breakdown = report["time_breakdown"]
    assert 0 <= report["state_machine_overhead_seconds"] < breakdown["wall_seconds"]
    assert 0 <= report["state_machine_overhead_share"] < 1
    assert breakdown["lambda_seconds"] > 0 and breakdown["wait_seconds"] >= 1
    assert [m["subject"] for m in report["sns_messages"]] == ["[dr-failover] drill: FAILOVER STARTED (alarm)",
                                                              "[dr-failover] drill: failed over to the DR region"]
    assert report["sns_messages"][1]["message"]["outcome"] == "failed-over"
    verdicts = {r["arn"].split(":")[2]: r["verdict"] for r in report["backup"]["resources"]}
    assert verdicts == {"rds": "fresh", "elasticfilesystem": "stale", "dynamodb": "missing"}
    assert all(c["ok"] for c in report["checks"]), report["checks"]
    page = (out / "report.html").read_text()
    assert "<svg" in page and "Failed over to the DR region" in page and "RTO" in page


def test_running_it_again_changes_nothing_and_says_so_in_message_and_page(tmp_path):
    code, output, out, watched = run_cli(tmp_path, "--rerun", "--transition-seconds", "1")

    assert code == 0, output[-6000:]
    assert_no_process_left(watched)
    report = json.loads((out / "report.json").read_text())
    assert report["rerun_of"]["outcome"] == "failed-over"
    assert report["rerun_of"]["subjects"] == ["[dr-failover] drill: FAILOVER STARTED (alarm)",
                                              "[dr-failover] drill: failed over to the DR region"]
    assert report["outcome"] == report["expected_outcome"] == "already-failed-over" and report["ok"], report["checks"]
    assert report["request"]["trigger"] == "manual"
    assert [m["subject"] for m in report["sns_messages"]] == ["[dr-failover] drill: FAILOVER STARTED (manual)",
                                                              "[dr-failover] drill: already failed over; nothing changed"]
    output_ = report["execution"]["output"]
    applies = {stage: output_[stage]["apply"] for stage in ("database", "compute", "dns")}
    assert {stage: result["changed"] for stage, result in applies.items()} == {"database": False, "compute": False, "dns": False}
    assert applies["database"]["ready"] and applies["compute"]["ready"], applies
    assert report["unchanged"] is True and snapshot.diff(report["before"], report["after"]) == []
    assert_failed_over(report["after"])
    # The re-run cannot tell a finished flip from one that crashed before Route 53 answered, so it
    # UPSERTs the records unchanged (no answer moves: the snapshots are equal) and DNS counts as
    # done once that change is INSYNC.
    dns = output_["dns"]
    assert "UPSERTed them unchanged" in dns["apply"]["summary"], dns["apply"]["summary"]
    assert dns["apply"]["detail"]["change_id"] is not None
    assert dns["status"]["detail"]["change_id"] == dns["apply"]["detail"]["change_id"]
    assert dns["status"]["ready"] and dns["status"]["detail"]["change_status"] == "INSYNC", dns["status"]
    page = (out / "report.html").read_text()
    assert "Already failed over: nothing changed" in page and "a re-run of execution" in page
    assert "start → end" in page


def test_dry_run_changes_nothing(tmp_path):
    code, output, out, watched = run_cli(tmp_path, "--dry-run")

    assert code == 0, output[-6000:]
    assert_no_process_left(watched)
    report = json.loads((out / "report.json").read_text())
    assert report["outcome"] == "dry-run"
    assert report["request"]["dry_run"] is True and report["request"]["trigger"] == "alarm"
    assert report["unchanged"] is True and report["changes"] == []
    assert snapshot.diff(report["before"], report["after"]) == []
    names = {s["name"] for s in report["steps"]}
    assert {"PlanDatabase", "PlanCompute", "PlanDns", "PlanBackup", "FinishRun"} <= names
    assert not names & {"PromoteApply", "ScaleApply", "FlipDnsApply"}
    assert [m["subject"] for m in report["sns_messages"]] == ["[dr-failover] drill: dry run, nothing changed"]
    assert "before and after are the same" in output
    # The plan is in plain view: what apply would do per step, refusals, warnings, the verdict.
    plan = report["plan"]
    assert plan["verdict"] == "ready to fail over" and plan["refusals"] == []
    assert [s["stage"] for s in plan["steps"]] == ["database", "compute", "dns", "backup"]
    database = plan["steps"][0]
    assert "would promote" in database["summary"], database
    assert any("backup during the promotion" in w for w in database["warnings"]) or database["warnings"] == []
    page = (out / "report.html").read_text()
    assert "What a real run would do" in page and "ready to fail over" in page
    assert database["summary"] in page or html.escape(database["summary"]) in page
    assert "What a real run would do: ready to fail over" in output


def test_second_alarm_during_a_failover_is_refused(local_aws):
    aws = local_aws()
    known = [e["executionArn"] for e in aws.executions()]
    alarm_at = aws.trip_alarm()
    first_arn = aws.wait_for_execution(known)
    # Past its concurrency check, the first failover is under way; the alarm now flaps.
    wait_until(lambda: any(e["type"] == "ParallelStateEntered" for e in aws.history(first_arn)))
    aws.set_alarm("OK", "flapping: datapoint [1.0] was not less than the threshold (1.0)")
    aws.set_alarm("ALARM", "flapping: datapoint [0.0] was less than the threshold (1.0)")
    second_arn = aws.wait_for_execution(known + [first_arn])

    second = follow(aws, second_arn, alarm_at)
    first = follow(aws, first_arn, alarm_at)

    assert second["described"]["status"] == "FAILED"
    assert second["described"]["error"] == "DrFailover.AlreadyRunning"
    assert not task_runs(second["timeline"], "PromoteApply")
    assert first["described"]["status"] == "SUCCEEDED"
    assert len(task_runs(first["timeline"], "PromoteApply")) == 1
    subjects = sorted(m["subject"] for m in aws.reports(wait=0.5))
    assert subjects == [
        "[dr-failover] drill: failed over to the DR region",
        "[dr-failover] drill: refused, another run of this deployment is running",
    ]
    assert len(aws.executions()) == 2
    aws.end_outage()
    assert_failed_over(aws.snapshot())


def test_two_executions_started_together_run_exactly_one_failover(local_aws):
    # EventBridge delivers at least once: the same alarm can start two executions at once.
    aws = local_aws()
    started = datetime.datetime.now(datetime.timezone.utc)
    arns = [aws.start_execution({"trigger": "manual", "dry_run": False, "reason": f"duplicate delivery {i}"}) for i in range(2)]

    results = [follow(aws, arn, started) for arn in arns]

    statuses = sorted((r["described"]["status"], r["described"].get("error")) for r in results)
    assert statuses == [("FAILED", "DrFailover.AlreadyRunning"), ("SUCCEEDED", None)], statuses
    winner = next(r for r in results if r["described"]["status"] == "SUCCEEDED")
    assert winner["arn"] == arns[0], "the older execution is the one that goes on"
    promotions = [run for r in results for run in task_runs(r["timeline"], "PromoteApply")]
    assert len(promotions) == 1
    aws.end_outage()
    assert_failed_over(aws.snapshot())


def test_alarm_returning_to_ok_starts_nothing(local_aws):
    aws = local_aws()
    aws.alarm_events()  # what seeding emitted
    # A new alarm settling (INSUFFICIENT_DATA -> OK, as every alarm does after it is created).
    aws.set_alarm("INSUFFICIENT_DATA", "no datapoints yet")
    aws.set_alarm("OK", "Threshold Crossed: datapoint [1.0] was not less than the threshold (1.0)")
    # A real outage and recovery: ALARM starts one failover, the return to OK starts nothing.
    run = fail_over_by_alarm(aws)
    assert run["described"]["status"] == "SUCCEEDED"
    aws.end_outage()
    time.sleep(1.5)

    # Every change reached the DR region's bus; only the one to ALARM matched the trigger rule.
    states = [(e["detail"]["previousState"]["value"], e["detail"]["state"]["value"]) for e in aws.alarm_events(wait=0.5)]
    assert states == [("OK", "INSUFFICIENT_DATA"), ("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")]
    assert [e["executionArn"] for e in aws.executions()] == [run["arn"]]
    request = json.loads(aws.describe(run["arn"])["input"])
    assert request["trigger"] == "alarm" and request["alarm"]["name"] == world.ALARM


def test_an_alarm_that_was_never_healthy_starts_nothing_and_warns(local_aws):
    # A new health check that cannot reach its endpoint: missing data counts as unhealthy, so the
    # alarm goes INSUFFICIENT_DATA -> ALARM without the endpoint ever having been seen healthy.
    aws = local_aws()
    aws.alarm_events()  # what seeding emitted
    aws.set_alarm("INSUFFICIENT_DATA", "no datapoints yet")
    aws.set_alarm("ALARM", "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [Breaching].")
    time.sleep(2)

    assert aws.executions() == [], "no failover from a health check that was never healthy"
    messages = aws.reports(wait=1.0)
    assert len(messages) == 1, messages
    warning = str(messages[0]["message"])
    assert "went to ALARM from INSUFFICIENT_DATA" in warning and "NO failover started" in warning, warning
    assert f"--state-machine-arn {aws.world.state_machine_arn}" in warning

    # Once the endpoint is reached (OK), a real outage (OK -> ALARM) fails over as usual.
    aws.set_alarm("OK", "Threshold Crossed: 1 out of the last 1 datapoints [1.0] was not less than the threshold (1.0)")
    run = fail_over_by_alarm(aws)
    assert run["described"]["status"] == "SUCCEEDED"
    request = json.loads(aws.describe(run["arn"])["input"])
    assert request["alarm"]["previous_state"] == "OK"


def test_faults_that_retry_covers_still_fail_over(local_aws):
    aws = local_aws()
    # More throttles than the SDK's own three attempts absorb: the apply answers the throttling as
    # pending and the stage's wait loop applies again; one 5xx that the SDK retries by itself.
    aws.control("faults", [
        {"service": "rds", "operation": "PromoteReadReplica", "count": 4, "kind": "throttle"},
        {"service": "autoscaling", "operation": "UpdateAutoScalingGroup", "count": 1, "kind": "5xx"},
    ])

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "SUCCEEDED", run["described"].get("cause")
    promotes = task_runs(run["timeline"], "PromoteApply")
    assert len(promotes) == 2 and all(p.status == "succeeded" for p in promotes), promotes
    report = json.loads(run["described"]["output"])
    assert report["database"]["apply"]["wait"]["polls"] == 2
    assert report["database"]["apply"]["changed"] is True
    [scale] = task_runs(run["timeline"], "ScaleApply")
    assert scale.status == "succeeded" and scale.attempts == 1
    assert aws.control("faults", method="GET") == {"faults": []}
    aws.end_outage()
    assert_failed_over(aws.snapshot())


def test_two_transient_lambda_faults_at_the_plan_are_retried_and_the_run_fails_over(local_aws):
    # Issue 22: Lambda answers a transient fault with HTTP 500 ServiceException, which Step
    # Functions reports as Lambda.ServiceException and the plan's Retry covers. (The stand-in's
    # generic InternalFailure became Lambda.InternalFailure, which nothing retried: two transient
    # faults failed the whole failover at its plan.)
    aws = local_aws()
    aws.control("faults", {"service": "lambda", "operation": "Invoke", "resource": "scale-asg",
                           "count": 2, "kind": "5xx"})

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "SUCCEEDED", run["described"].get("cause")
    [plan] = task_runs(run["timeline"], "PlanCompute")
    assert plan.status == "retried" and plan.attempts == 3, plan
    assert json.loads(run["described"]["output"])["outcome"] == "failed-over"
    assert aws.control("faults", method="GET") == {"faults": []}


def test_a_denied_diagnostic_read_is_reported_and_the_slow_launch_still_fails_over(local_aws):
    # Issue 22: scale-asg reads the scaling activities while a group is short, to say why. That
    # read is context only: denied (the role lacked autoscaling:DescribeScalingActivities), the
    # compute stage still waits for its instances and the failover ends failed over.
    aws = local_aws(launch_seconds=3)
    aws.control("faults", {"service": "autoscaling", "operation": "DescribeScalingActivities",
                           "count": 1000, "kind": "denied"})

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "SUCCEEDED", run["described"].get("cause")
    assert json.loads(run["described"]["output"])["outcome"] == "failed-over"
    statuses = task_runs(run["timeline"], "ScaleStatus") + task_runs(run["timeline"], "CapacityStatus")
    unread = [s.summary for s in statuses if "scaling activities not read" in (s.summary or "")]
    assert unread and all("AccessDenied" in summary for summary in unread), [s.summary for s in statuses]
    [armed] = aws.control("faults", method="GET")["faults"]
    assert armed["remaining"] < 1000, "the read was made, and denied"
    aws.end_outage()
    assert_failed_over(aws.snapshot())


def test_failed_promotion_leaves_dns_untouched_and_is_published_with_the_next_step(tmp_path):
    # RDS answers 5xx to every promotion: a transient fault, waited out until the database
    # stage's budget is spent; then the failure is published naming what was pending, and the
    # drill's page says what already changed and the command that finishes the failover.
    code, output, out, watched = run_cli(
        tmp_path, "--fault", "rds:PromoteReadReplica:5xx:1000", "--database-budget-seconds", "8",
        "--transition-seconds", "1",
    )

    assert_no_process_left(watched)
    report = json.loads((out / "report.json").read_text())
    assert code == 1 and report["outcome"] == "failed", output[-4000:]
    execution = report["execution"]
    assert execution["status"] == "FAILED" and execution["error"] == "DrFailover.FailoverFailed"
    names = [s["name"] for s in report["steps"]]
    assert names.count("PromoteApply") >= 2 and "FlipDnsApply" not in names
    after = report["after"]
    assert all(record["answers"] == "primary" for record in after["dns"].values())
    assert after["database"]["writable"] is False and after["database"]["replica_source"]
    [started, message] = report["sns_messages"]
    assert started["subject"] == "[dr-failover] drill: FAILOVER STARTED (alarm)"
    assert message["subject"] == "[dr-failover] drill: FAILOVER FAILED at database"
    body = message["message"]
    assert body["outcome"] == "failed" and body["failed_stage"] == "database"
    assert body["error"]["Error"] == "DrFailover.StageTimedOut"
    assert "PromoteReadReplica" in body["error"]["Cause"] and "budget" in body["error"]["Cause"]
    # The message names the command that finishes the failover: the same request, started by hand
    # (the alarm's own input would be refused as a replay once AlarmMaxAgeSeconds have passed).
    command = shlex.split(body["rerun_command"])
    assert command[:3] == ["aws", "stepfunctions", "start-execution"]
    assert command[command.index("--region") + 1] == world.DR
    assert report["request"]["trigger"] == "alarm"
    assert json.loads(command[command.index("--input") + 1]) == {
        "trigger": "manual", "dry_run": False, "force": False, "database_mode": "failover",
        "accept_partial_capacity": False, "require_approval": False, "reason": report["request"]["reason"],
    }
    # The drill's own checks agree with the published failure: it was heard.
    published = [c for c in report["checks"] if "published" in c["name"]]
    assert published and all(c["ok"] for c in published), report["checks"]
    # The page: the failure, what already changed (compute ran beside the database), the command.
    page = (out / "report.html").read_text()
    assert "Failover FAILED" in page and "Stopped at database" in page
    assert "Next step" in page and "Already changed: " in page and "web-dr" in page
    assert html.escape(body["rerun_command"]) in page


def test_a_plan_step_that_fails_keeps_the_other_steps_plans_in_the_failure_report(local_aws):
    # The scale-asg role lost autoscaling:Describe* (a policy change): its plan fails; the
    # failure report still shows what the database, DNS and backup plans said.
    aws = local_aws()
    aws.control("faults", {
        "service": "autoscaling", "operation": "DescribeAutoScalingGroups", "region": world.DR, "count": 1000,
        "kind": "5xx", "status": 403, "code": "AccessDenied",
        "message": "User is not authorized to perform: autoscaling:DescribeAutoScalingGroups",
    })

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "FAILED"
    [message] = [m for m in aws.reports(wait=1.0) if "FAILOVER FAILED" in m["subject"]]
    assert message["subject"] == "[dr-failover] drill: FAILOVER FAILED at plan"
    failed = message["message"]
    assert failed["error"]["Error"] == "DrFailover.AwsError", failed["error"]
    plan = failed["state"]["plan"]
    assert plan["compute"]["error"]["Error"] == "DrFailover.AwsError"
    assert "AccessDenied" in plan["compute"]["error"]["Cause"]
    assert plan["database"]["summary"] and plan["database"]["refusals"] == []
    assert plan["dns"]["summary"] and plan["backup"]["detail"]["overall"]
    assert not task_runs(run["timeline"], "PromoteApply"), "nothing changed"


def test_scheduled_backup_verification_reports_fresh_stale_and_missing(local_aws):
    aws = local_aws()
    w = aws.world
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": world.ACCOUNT,
        "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": world.DR,
        "resources": [w.backup_rule_arn],
        "detail": {},
    }

    response = aws.client("lambda").invoke(FunctionName="verify-backup-copy", Payload=json.dumps(event).encode())

    assert "FunctionError" not in response
    result = json.loads(response["Payload"].read())
    assert result["step"] == "verify-backup-copy"
    assert result["changed"] is False and result["ready"] is False
    detail = result["detail"]
    assert detail["trigger"] == "schedule"
    assert detail["vault_arn"] == w.dr_vault_arn and f":{world.VAULT_ACCOUNT}:" in detail["vault_arn"]
    assert detail["overall"] == "missing"
    assert detail["copy_jobs_checked"] is True
    checks = {check["arn"]: check for check in detail["resources"]}
    db, efs, table = checks[w.db_resource_arn], checks[world.EFS_ARN], checks[world.DYNAMODB_ARN]
    assert db["verdict"] == "fresh" and abs(db["age_seconds"] - 3600) < 300
    assert efs["verdict"] == "stale" and abs(efs["age_seconds"] - 30 * 3600) < 300
    assert table["verdict"] == "missing" and table["recovery_point_arn"] is None
    assert table["failed_copy_jobs"] == 1 and db["failed_copy_jobs"] == 0
    assert "1 fresh, 1 stale, 1 missing" in result["summary"]


def test_a_failed_copy_job_is_published_at_once_even_with_a_fresh_copy(local_aws):
    aws = local_aws()
    event = json.loads((EVENTS / "verify-backup-copy" / "copy-job-failed.json").read_text())
    # The database's newest copy is fresh; this copy job of it failed all the same.
    db_arn = next(r["arn"] for r in aws.world.backup_resources if ":rds:" in r["arn"])
    event["detail"]["resourceArn"] = db_arn
    aws.client("events").put_events(Entries=[{
        "Source": "aws.backup", "DetailType": "Copy Job State Change", "Detail": json.dumps(event["detail"]),
    }])

    messages = wait_until(lambda: aws.reports(wait=0.2), timeout=10)

    [message] = messages
    text = str(message["message"])
    assert f"backup copy job {event['detail']['copyJobId']} FAILED" in text and db_arn in text, text
    assert event["detail"]["statusMessage"] in text


def test_aurora_global_database_fails_over(local_aws):
    aws = local_aws(aurora=True)
    before = aws.snapshot()
    assert before["database"]["writer"] == world.AURORA_PRIMARY

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "SUCCEEDED", run["described"].get("cause")
    output = json.loads(run["described"]["output"])
    assert output["outcome"] == "failed-over"
    assert output["database"]["apply"]["detail"]["kind"] == "aurora-global"
    assert output["database"]["apply"]["detail"]["mode"] == "failover"
    # The plan names the data a failover may lose: the secondary's newest global replication lag.
    assert output["plan"]["database"]["detail"]["global_replication_lag_ms"] == 105.0
    assert "global replication lag 105 ms" in output["plan"]["database"]["summary"]
    # People were told as it began, in words, with a command that follows the run as printed.
    started, ended = aws.reports(wait=1.0, started=True)
    assert started["subject"] == "[dr-failover] drill: FAILOVER STARTED (alarm)", started["subject"]
    assert ended["subject"] == "[dr-failover] drill: failed over to the DR region"
    text = started["message"]
    assert text == started["text"], "words only, no report"
    name = run["arn"].rsplit(":", 1)[1]
    assert text.startswith(f"drill: FAILOVER STARTED (alarm). The failover run {name} in {world.DR} (reason \""), text
    assert text.endswith(f"\nConsole: https://{world.DR}.console.aws.amazon.com/states/home?region={world.DR}"
                         f"#/v2/executions/details/{run['arn']}"), text
    argv = shlex.split(commands(text)["follow_command"])
    assert argv[:3] == ["aws", "stepfunctions", "describe-execution"], argv
    option = {argv[i]: argv[i + 1] for i in range(3, len(argv), 2)}
    assert option["--execution-arn"] == run["arn"] and option["--query"] == "status"
    described = aws.client("stepfunctions", option["--region"]).describe_execution(executionArn=option["--execution-arn"])
    assert described["status"] == "SUCCEEDED"
    aws.end_outage()
    after = aws.snapshot()
    assert_failed_over(after)
    assert after["database"]["writer"] == world.AURORA_DR
    assert after["database"]["members"] == {
        world.AURORA_PRIMARY: {"region": world.PRIMARY, "writer": False},
        world.AURORA_DR: {"region": world.DR, "writer": True},
    }


def test_an_interrupted_drill_leaves_no_process_behind(tmp_path):
    # A 15 s promotion leaves the interrupt time to land mid-failover, even on a loaded machine
    # where this test reads the drill's output late.
    watched = Watched(drill_command("--promotion-seconds", "15", out=tmp_path / "report"), tmp_path)
    lines = []
    for line in watched.lines():
        lines.append(line)
        if "PromoteApply" in line:  # Ctrl-C in the middle of the failover
            running = processes.descendants(watched.process.pid)
            watched.process.send_signal(signal.SIGINT)
            break
    rest = watched.finish(timeout=60)

    assert watched.process.returncode == 130, "".join(lines) + rest
    assert "interrupted" in rest
    assert len(running) >= 6, running
    assert not [pid for pid in running if processes.is_running(pid)]
    assert_no_process_left(watched)
