"""Readiness (issue 9 §1): the readiness state machine, as its schedule starts it, runs every
step's plan read-only, puts the readiness metrics, turns not-ready on an injected drift and
publishes the refusals once, and clears when the drift is repaired."""

from __future__ import annotations

import json
import shlex

from drill import readiness, snapshot, world

STEPS = ("promote-replica", "scale-asg", "flip-dns")


def test_readiness_runs_emit_metrics_turn_red_on_drift_publish_once_and_clear(local_aws):
    aws = local_aws()
    before = aws.snapshot()

    first = readiness.run(aws)
    assert first["status"] == "SUCCEEDED", first
    output = json.loads(first["output"])
    assert output["ready"] == 1 and output["refusal_count"] == 0, output
    assert output["step_ready"] == {"database": 1, "compute": 1, "dns": 1, "automation": 1}
    assert output["automation"]["rule"]["state"] == "ENABLED", output["automation"]
    assert output["automation"]["health_alarm"]["state"] == "OK", output["automation"]
    assert readiness.latest(aws, "Ready") == [1.0]
    assert readiness.latest(aws, "ReadinessRun") == [1.0]
    for step in STEPS:
        assert readiness.latest(aws, "StepReady", step) == [1.0], step
    assert readiness.latest(aws, "Refusals") == [0.0]
    assert readiness.latest(aws, "Warnings")[0] >= 1, "the pilot-light groups' maximums are below target"
    assert aws.reports() == [], "a ready deployment is not mailed"
    assert readiness.alarm_state(aws) == "OK"
    assert snapshot.diff(before, aws.snapshot()) == [], "a readiness run changes nothing"
    lines = readiness.emf_lines(aws)
    [lag] = [line for line in lines if "ReplicaLagSeconds" in line]
    assert lag["Deployment"] == world.DEPLOYMENT and lag["ReplicaLagLimitSeconds"] == 300
    capacity = {line["AutoScalingGroupName"]: line for line in lines if "CapacityTarget" in line}
    assert capacity["web-dr"]["CapacityTarget"] == 6 and capacity["web-dr"]["CapacityMax"] == 2, capacity
    assert any("BackupFresh" in line for line in lines), "the backup verification's metrics, every run"

    readiness.break_dr_record(aws)
    readiness.next_period()
    red = json.loads(readiness.run(aws)["output"])
    assert red["ready"] == 0 and red["step_ready"]["dns"] == 0 and red["step_ready"]["database"] == 1, red
    refusals = red["steps"]["dns"]["refusals"]
    assert refusals and any("api.example.com" in r for r in refusals), refusals
    assert readiness.alarm_state(aws) == "ALARM"
    published = aws.reports(wait=1.0)
    subjects = sorted(p["subject"] for p in published)
    assert subjects == sorted([
        f"[dr-failover] {world.DEPLOYMENT}: readiness NOT READY, {len(refusals)} refusal(s)",
        f'ALARM: "{world.READINESS_ALARM}" in {world.DR}',
    ]), subjects
    [change] = [p["message"] for p in published if p["subject"].startswith("[dr-failover]")]
    assert change["steps"]["dns"]["refusals"] == refusals

    readiness.next_period()
    again = json.loads(readiness.run(aws)["output"])
    assert again["ready"] == 0
    assert aws.reports(wait=0.5) == [], "still not ready, unchanged: nothing published again"
    assert readiness.latest(aws, "Ready") == [1.0, 0.0, 0.0]

    readiness.repair_dr_record(aws)
    readiness.next_period()
    green = json.loads(readiness.run(aws)["output"])
    assert green["ready"] == 1, green
    assert readiness.alarm_state(aws) == "OK"
    subjects = sorted(p["subject"] for p in aws.reports(wait=1.0))
    assert subjects == sorted([
        f"[dr-failover] {world.DEPLOYMENT}: readiness ready, 0 refusal(s)",
        f'OK: "{world.READINESS_ALARM}" in {world.DR}',
    ]), subjects


def test_an_alarm_started_dry_run_is_measured_with_its_rto_and_its_report_unchanged(local_aws):
    """Issue 9 §2: every run, dry runs included, is measured from its report as one metric line
    (RtoSeconds from the alarm's state change, RunSeconds, Outcome)."""
    from conftest import fail_over_by_alarm

    aws = local_aws(dry_run_on_alarm=True)
    run = fail_over_by_alarm(aws)
    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    report = json.loads(run["described"]["output"])
    assert report["outcome"] == "dry-run" and "measure" not in json.dumps(sorted(report)), sorted(report)

    [line] = [line for line in readiness.emf_lines(aws) if "Runs" in line]
    assert line["Outcome"] == "dry-run" and line["DryRun"] is True and line["Execution"] == run["arn"]
    assert line["Deployment"] == world.DEPLOYMENT
    assert 0 < line["RunSeconds"] <= line["RtoSeconds"] < 60, line
    declared = {m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert declared == {"Runs", "RunSeconds", "RtoSeconds"}, "a dry run waits in no stage"


def test_the_readiness_drill_turns_red_on_a_drift_and_green_on_its_repair(tmp_path):
    """Issue 9 §5: `scripts/drill --readiness`, as a user runs it (the drill's own checks pass, its
    page shows the readiness view), and no process is left behind."""
    from conftest import REPO, Watched, drill_command

    drill = Watched(drill_command("--readiness", out=tmp_path), cwd=REPO)
    output = drill.finish(timeout=300)
    assert drill.process.returncode == 0, output
    assert "RED flip-dns" in output and "refuses:" in output, output
    assert f"published: [dr-failover] {world.DEPLOYMENT}: readiness NOT READY" in output, output
    assert f'published: ALARM: "{world.READINESS_ALARM}"' in output, output
    assert "published: nothing (readiness unchanged)" in output, output
    report = json.loads((tmp_path / "readiness.json").read_text())
    assert [run["output"]["ready"] for run in report["runs"]] == [1, 0, 0, 1]
    assert report["metrics"]["Ready"] == [1.0, 0.0, 0.0, 1.0]
    assert report["metrics"]["StepReady flip-dns"] == [1.0, 0.0, 0.0, 1.0]
    assert all(check["ok"] for check in report["checks"]), report["checks"]
    page = (tmp_path / "readiness.html").read_text()
    assert 'class="red"' in page and "api.example.com" in page
    assert drill.leftovers() == []


def test_the_drill_page_shows_readiness_before_the_outage(tmp_path):
    """Issue 9 §4: the drill's first phase is a readiness run, and its report page shows the
    readiness view from the stand-in's metrics (a dry run keeps this short)."""
    from conftest import REPO, Watched, drill_command

    drill = Watched(drill_command("--dry-run", out=tmp_path), cwd=REPO)
    output = drill.finish(timeout=300)
    assert drill.process.returncode == 0, output
    assert "run 1: READY, 0 refusal(s)" in output, output
    report = json.loads((tmp_path / "report.json").read_text())
    seen = report["readiness"]
    assert seen["status"] == "SUCCEEDED" and seen["output"]["ready"] == 1 and seen["alarm"] == "OK", seen
    assert seen["metrics"]["Ready"] == [1.0] and seen["metrics"]["StepReady flip-dns"] == [1.0]
    assert not [m for m in report["sns_messages"] if "readiness" in (m["subject"] or "")], "a ready world mails nothing"
    page = (tmp_path / "report.html").read_text()
    assert "Readiness before the outage" in page and "StepReady promote-replica" in page
    assert drill.leftovers() == []


def test_readiness_after_a_failover_without_re_protect_is_not_ready(local_aws):
    """Issue 21, kind 6: after a failover the DR database is the writer and nothing stands by.
    promote-replica's plan rightly answers "already promoted" (a re-run of the failover is done,
    not refused), and readiness used to read that as ready: it now says NOT READY, re-protect
    needed."""
    from conftest import follow
    import datetime

    aws = local_aws()
    assert json.loads(readiness.run(aws)["output"])["ready"] == 1
    arn = aws.start_execution({"trigger": "manual", "dry_run": False, "reason": "drill"})
    run = follow(aws, arn, datetime.datetime.now(datetime.timezone.utc), timeout=120)
    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    aws.reports(wait=1.0)

    readiness.next_period()
    after = json.loads(readiness.run(aws)["output"])
    assert after["ready"] == 0 and after["step_ready"]["database"] == 0, after
    [refusal] = after["steps"]["database"]["refusals"]
    assert "no standby" in refusal and "re-protect is needed" in refusal, refusal
    assert readiness.latest(aws, "StepReady", "promote-replica")[-1] == 0.0
    # The failover's own plan still treats the promotion as done: a re-run is not refused.
    plan = aws.invoke("promote-replica", {"action": "plan"})
    assert plan["refusals"] == [] and plan["ready"] is True, plan


def test_a_disarmed_automation_is_not_ready_and_the_published_command_re_arms_it(local_aws):
    """Issue 24: a trigger rule disabled (by hand, or left paused) or a health check alarm without
    data used to leave readiness "ready, 0 refusals" while no alarm could start a failover."""
    aws = local_aws()
    assert json.loads(readiness.run(aws)["output"])["ready"] == 1

    aws.client("events").disable_rule(Name=world.ALARM_RULE_DR)
    readiness.next_period()
    red = json.loads(readiness.run(aws)["output"])
    assert red["ready"] == 0 and red["step_ready"]["automation"] == 0, red
    [refusal] = red["automation"]["refusals"]
    assert f"the trigger rule {world.ALARM_RULE_DR} is DISABLED" in refusal, refusal
    assert readiness.latest(aws, "StepReady", "automation")[-1] == 0.0
    [change] = [p for p in aws.reports(wait=1.0) if p["subject"].startswith("[dr-failover]")]
    assert change["subject"] == f"[dr-failover] {world.DEPLOYMENT}: readiness NOT READY, 1 refusal(s)"

    # The re-arm command, run as printed.
    argv = shlex.split(refusal.split("re-arm: ", 1)[1])
    assert argv[:3] == ["aws", "events", "enable-rule"], argv
    option = {argv[i]: argv[i + 1] for i in range(3, len(argv), 2)}
    aws.client("events", option["--region"]).enable_rule(Name=option["--name"])

    # A health check alarm without data cannot go to ALARM either.
    cloudwatch = aws.client("cloudwatch", world.GLOBAL)
    cloudwatch.set_alarm_state(AlarmName=world.ALARM, StateValue="INSUFFICIENT_DATA",
                               StateReason="Insufficient Data: 1 datapoint was unknown.")
    readiness.next_period()
    red = json.loads(readiness.run(aws)["output"])
    [refusal] = red["automation"]["refusals"]
    assert f"the health check alarm {world.ALARM} is INSUFFICIENT_DATA" in refusal, refusal

    aws.end_outage()
    readiness.next_period()
    green = json.loads(readiness.run(aws)["output"])
    assert green["ready"] == 1 and green["automation"]["armed"] is True, green["automation"]
