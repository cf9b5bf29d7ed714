"""Bounded state: whatever the size of the deployment or what a caller writes in a free-text field,
no state's data comes near Step Functions' 256 KiB and the published message fits SNS's 256 KiB.

The stand-in's Step Functions fails a state past 256 KiB with the uncatchable
``States.DataLimitExceeded`` (infra/standin/drstandin/stepfunctions.py), as AWS does.
"""

from __future__ import annotations

import datetime
import json

from conftest import follow

# "Step Functions service quotas" and "Amazon SNS endpoints and quotas": 256 KiB each.
LIMIT = 256 * 1024
# What a large deployment may use of it: room for what a run adds that a test does not show.
ALLOWED = 192 * 1024

# 500, 50, 100, deployable since the plan ships in the functions' layer (issue 23): the drill's
# refusal of a configuration past CloudFormation's or Lambda's limits stays on.
LARGE = {"extra_dns_records": 497, "extra_groups": 48, "extra_backup_resources": 97}


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def size(value) -> int:
    """A state's data as Step Functions counts it: its JSON text in UTF-8."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def largest_state(events: list) -> tuple:
    """(bytes, state name, "input" or "output") of the largest state data in a history."""
    largest = (0, "", "")
    for event in events:
        for key, side, name_key in (("stateEnteredEventDetails", "input", "name"), ("stateExitedEventDetails", "output", "name")):
            details = event.get(key)
            if details and details.get(side) is not None:
                largest = max(largest, (size(details[side]), details[name_key], side))
    return largest


def read_report(aws, report: dict) -> dict:
    """The report object a run stored, read back from the bucket its report names."""
    where = report["report_object"]
    assert "not_stored" not in where, where
    assert where["uri"] == f"s3://{where['bucket']}/{where['key']}"
    stored = aws.client("s3").get_object(Bucket=where["bucket"], Key=where["key"])
    return json.loads(stored["Body"].read())


def message_bytes(message: dict) -> int:
    """The whole message as SNS counts it: its first paragraph and the report, in UTF-8."""
    return message["bytes"]


def test_a_large_deployment_plans_and_fails_over_with_every_state_and_message_well_within_the_limits(local_aws):
    # Each DNS read-back asks Route 53 once a record: 500 at AWS's 10 requests/s outlast a call.
    # Pacing them is not what this test is about, so the stand-in does not throttle here.
    aws = local_aws(route53_requests_per_second=0, **LARGE)

    # A dry run: the four plans of 500 records, 50 groups and 100 backup resources.
    arn = aws.start_execution({"trigger": "manual", "dry_run": True, "reason": "bounded-state drill"})
    run = follow(aws, arn, now(), timeout=120)["described"]
    largest = largest_state(run["events"])
    print(f"dry run: largest state data {largest[0]} bytes ({largest[1]} {largest[2]})")
    assert run["status"] == "SUCCEEDED", {k: run.get(k) for k in ("status", "error", "cause")}
    assert largest[0] <= ALLOWED, largest
    report = json.loads(run["output"])
    assert report["outcome"] == "dry-run"
    plan = report["plan"]
    # flip-dns bounds its own record list and counts them all.
    assert plan["dns"]["detail"]["record_count"] == 500
    assert len(plan["dns"]["detail"]["records"]) <= 40
    assert plan["compute"]["detail"]["total"]["groups"] == 50
    assert len(plan["compute"]["detail"]["targets"]) == 50, "the pinned targets are never cut"
    assert plan["backup"]["detail"]["total"]["resources"] == 100
    kept = plan["backup"]["detail"]["resources"]
    assert [r["verdict"] for r in kept[:2]] == ["stale", "missing"], "what is not fresh comes first"
    assert read_report(aws, report) == report
    [message] = aws.reports(wait=2.0)
    print(f"dry run: SNS message {message_bytes(message)} bytes")
    assert message["subject"] == "[dr-failover] drill: dry run, nothing changed"
    assert message_bytes(message) <= ALLOWED

    # The real failover: every stage's results at this size, and the largest report.
    arn = aws.start_execution({"trigger": "manual", "dry_run": False, "reason": "bounded-state drill"})
    run = follow(aws, arn, now(), timeout=240)["described"]
    largest = largest_state(run["events"])
    print(f"failover: largest state data {largest[0]} bytes ({largest[1]} {largest[2]}), {run['status']}")
    assert largest[0] <= ALLOWED, largest
    assert run.get("error") != "States.DataLimitExceeded", run.get("cause")
    [message] = aws.reports(wait=2.0)
    print(f"failover: SNS message {message_bytes(message)} bytes, subject {message['subject']!r}")
    assert message_bytes(message) <= ALLOWED
    report = message["message"]
    assert read_report(aws, report) == report
    assert report["outcome"] == "failed-over", report["outcome"]
    assert report["dns"]["status"]["detail"]["record_count"] == 500
    assert report["compute"]["status"]["detail"]["total"]["groups"] == 50
    assert report["compute"]["status"]["ready"] is True
    assert report["database"]["status"]["detail"]["writable"] is True


def test_a_reason_over_its_maximum_is_refused_by_name_and_nothing_changes(local_aws):
    aws = local_aws()
    reason = "the primary region is down; " * 8000  # 224,000 bytes: StartExecution accepts it
    arn = aws.start_execution({"trigger": "manual", "dry_run": False, "reason": reason})
    run = follow(aws, arn, now(), timeout=60)

    described = run["described"]
    assert described["status"] == "FAILED"
    assert described.get("error") == "DrFailover.InvalidInput", {k: described.get(k) for k in ("error", "cause")}
    assert "reason" in described["cause"] and "1024" in described["cause"], described["cause"]
    assert "the primary region is down" not in described["cause"], "the refusal does not echo the text"
    tasks = [e for e in described["events"] if e["type"] in ("TaskScheduled", "LambdaFunctionScheduled")]
    assert len(tasks) == 2, "only the check ran, and the refusal was published"
    [message] = aws.reports(wait=1.0)
    assert message["subject"] == "[dr-failover] drill: refused, invalid input"
    assert "the primary region is down" not in json.dumps(message["message"]), "nor does the message"
    assert largest_state(described["events"])[0] <= LIMIT
    snapshot = aws.snapshot()
    assert snapshot["database"]["replica_source"] is not None, "never promoted"
    assert {r["answers"] for r in snapshot["dns"].values()} == {"primary"}
