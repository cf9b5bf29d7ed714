"""Issue 24: the bad day driven through `dr-failover` alone, as the template's OperatorRole and
ApproverRole (the stand-in authorizes every call against the roles' policies): a pause that shows
in readiness, an alarm it holds back, the published resume command run as printed; then an
approval-gated failover started, followed, approved and reported from the command line, with a
reason that holds an apostrophe, quotes, `$` and backticks, passed unchanged. The shell's default
region is a wrong one: every command names the DR region itself.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import subprocess
import time
from typing import Dict, List

from drill import plan_world, world

REASON = "eu-west-1's writer is down; \"page\" $HOME `date` \\ 100%"


def role_credentials(aws, role: str, session: str) -> Dict[str, str]:
    arn = f"arn:aws:iam::{world.ACCOUNT}:role/{world.DEPLOYMENT}-dr-failover-{role}-{world.DR}"
    creds = aws.client("sts").assume_role(RoleArn=arn, RoleSessionName=session)["Credentials"]
    return {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"]}


def environment(aws, creds: Dict[str, str]) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("DR_FAILOVER")}
    # The failed region as the shell's default: no command may rely on it.
    env.update(creds, AWS_ENDPOINT_URL=aws.endpoint, AWS_REGION="us-west-2", AWS_DEFAULT_REGION="us-west-2")
    return env


def argv(words: List[str]) -> List[str]:
    """A printed `dr-failover ...` command, as a shell splits it, run with the built binary."""
    assert words[0] == "dr-failover", words
    return [str(plan_world.cli()), *words[1:]]


def cli(aws, creds, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    words = ["dr-failover", "--region", world.DR, "--deployment", world.DEPLOYMENT, *args]
    done = subprocess.run(argv(words), capture_output=True, text=True, env=environment(aws, creds), timeout=120)
    if check:
        assert done.returncode == 0, f"{words}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def run_printed(aws, creds, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(argv(shlex.split(command)), capture_output=True, text=True,
                          env=environment(aws, creds), timeout=timeout)


def alarm_input() -> dict:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"trigger": "alarm", "dry_run": False, "reason": "health check alarm went to ALARM",
            "alarm": {"name": world.ALARM, "time": now, "region": "us-east-1", "previous_state": "OK"}}


def answers(aws) -> set:
    return {record["answers"] for record in aws.snapshot()["dns"].values()}


def test_pause_readiness_and_an_approval_gated_failover_through_the_command_line(local_aws, tmp_path):
    aws = local_aws()
    operator = role_credentials(aws, "operator", "oncall-alice")
    approver = role_credentials(aws, "approver", "lead-bob")

    # Pause: readiness is NOT READY, naming who, until when and why, with the resume command.
    paused = cli(aws, operator, "pause", "--for", "2h", "--reason", REASON)
    assert "assumed-role/drill-dr-failover-operator-eu-central-1/oncall-alice" in paused.stdout
    ready = cli(aws, operator, "readiness", "--now", check=False)
    assert ready.returncode == 2, ready.stdout + ready.stderr
    assert "NOT READY" in ready.stdout and "automation disarmed: paused by" in ready.stdout
    assert REASON in ready.stdout and "until 20" in ready.stdout
    assert "PAUSED" in cli(aws, operator, "status").stdout

    # An alarm while paused is heard, not acted on: nothing changes, and the report names the
    # commands that fail over anyway and that resume.
    arn = aws.start_execution(alarm_input())
    described = aws.follow(arn, timeout=60)
    assert described["status"] == "SUCCEEDED", described
    [report] = [m["message"] for m in aws.reports(wait=1.0) if m["message"].get("outcome") == "alarm-paused"]
    assert report["paused"]["reason"] == REASON and answers(aws) == {"primary"}
    failover_words = shlex.split(report["failover_cli_command"])
    aws_words = shlex.split(report["failover_command"])
    assert aws_words[:3] == ["aws", "stepfunctions", "start-execution"]
    assert json.loads(aws_words[aws_words.index("--input") + 1])["reason"] == failover_words[failover_words.index("--reason") + 1]
    assert failover_words[failover_words.index("--region") + 1] == world.DR
    assert REASON in failover_words[failover_words.index("--reason") + 1]
    resume_words = shlex.split(report["resume_command"])
    assert resume_words[:3] == ["aws", "events", "untag-resource"]
    assert resume_words[resume_words.index("--resource-arn") + 1] == (
        f"arn:aws:events:{world.DR}:{world.ACCOUNT}:rule/{world.ALARM_RULE_DR}")
    resumed = run_printed(aws, operator, report["resume_cli_command"])
    assert resumed.returncode == 0 and "resumed: the pause is removed" in resumed.stdout, resumed.stderr
    ready = cli(aws, operator, "readiness", "--now", check=False)
    assert "paused by" not in ready.stdout and ready.returncode == 0, ready.stdout + ready.stderr

    # An approval-gated failover: started, followed, approved and reported from the command line.
    started = cli(aws, operator, "failover", "--reason", REASON, "--require-approval")
    name = started.stdout.split("started failover run ", 1)[1].split()[0]
    follow_command = next(line.split("follow: ", 1)[1] for line in started.stdout.splitlines() if "follow: " in line)
    follower = subprocess.Popen(argv(shlex.split(follow_command)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=environment(aws, operator))
    seen: List[str] = []
    try:
        # The follower shows the wait, and the command that answers it.
        for line in follower.stdout:
            seen.append(line)
            if "waiting for approval: " in line:
                break
        assert "WAITING" in "".join(seen), "".join(seen)
        # The operator cannot approve: that is the approver's role.
        refused = cli(aws, operator, "approve", name, check=False)
        assert refused.returncode != 0 and "states:SendTaskSuccess" in refused.stderr, refused.stderr
        # The published request names the dr-failover command that approves it: run as printed.
        [request] = [m["message"] for m in aws.reports(wait=1.0) if m["message"].get("outcome") == "awaiting-approval"]
        assert request["approve_cli_command"] == f"dr-failover --region {world.DR} --deployment {world.DEPLOYMENT} approve {name}"
        approved = run_printed(aws, approver, request["approve_cli_command"])
        assert approved.returncode == 0, approved.stderr
        assert "approved as arn:aws:sts::" in approved.stdout and "lead-bob" in approved.stdout
        rest, _ = follower.communicate(timeout=120)
        output = "".join(seen) + rest
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, output
    assert "outcome: failed-over" in output, output
    assert answers(aws) == {"dr"}

    full = json.loads(cli(aws, operator, "report", name, "--json").stdout)
    assert full["outcome"] == "failed-over" and full["request"]["reason"] == REASON
    assert full["request"]["require_approval"] is True
    text = cli(aws, operator, "report", name).stdout
    assert "outcome: failed-over" in text and world.DR in text
    cli(aws, operator, "report", name, "--html", str(tmp_path / "report.html"))
    assert "outcome: failed-over" in (tmp_path / "report.html").read_text()

    # The published failover command of the paused alarm, run as printed now: a re-run changes
    # nothing more and ends failed over, its reason as the report wrote it.
    again = run_printed(aws, operator, report["failover_cli_command"])
    assert again.returncode == 0, again.stderr
    rerun = again.stdout.split("started failover run ", 1)[1].split()[0]
    deadline = time.monotonic() + 90
    while True:
        status = aws.client("stepfunctions", world.DR).describe_execution(
            executionArn=f"arn:aws:states:{world.DR}:{world.ACCOUNT}:execution:{world.STATE_MACHINE}:{rerun}")
        if status["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status["status"] == "SUCCEEDED", status
    assert json.loads(status["input"])["reason"] == failover_words[failover_words.index("--reason") + 1]

    # rerun of the run the pause held back: started by hand with the alarm's options (an alarm's
    # input started again would be refused as a replay); nothing is left to do, and it says so.
    paused_name = arn.rsplit(":", 1)[1]
    rerun_started = cli(aws, operator, "rerun", paused_name)
    assert '"trigger": "manual"' in rerun_started.stdout.replace('":"', '": "'), rerun_started.stdout
    rerun_name = rerun_started.stdout.split("started failover run ", 1)[1].split()[0]
    followed = cli(aws, operator, "status", "--follow", rerun_name, check=False)
    assert followed.returncode == 0 and "outcome: already-failed-over" in followed.stdout, followed.stdout

    # Re-protect: a dry run first, followed; with no terminal to confirm, nothing real starts and
    # the command that starts it is printed; run as printed, it re-protects.
    dry = cli(aws, operator, "reprotect", "--reason", REASON)
    assert "outcome: dry-run" in dry.stdout, dry.stdout
    real = dry.stdout.split("nothing real was started; when ready: ", 1)[1].splitlines()[0]
    assert "--skip-dry-run" in real and "--yes" in real
    reprotected = run_printed(aws, operator, real, timeout=180)
    assert reprotected.returncode == 0 and "outcome: reprotected" in reprotected.stdout, (
        reprotected.stdout + reprotected.stderr)
