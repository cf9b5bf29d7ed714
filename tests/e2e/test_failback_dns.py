"""Fail back's DNS targets, end to end on the stand-in: the failover records what each record
answered before it flipped it (failback/dns-before-failover.json in the report bucket), and fail
back moves DNS back to those recorded targets, derived from the failover's own DNS_RECORDS; a
recording that cannot be written never stops the failover."""

from __future__ import annotations

import json

from conftest import fail_over_by_alarm
from drill import world
from test_failback import after_failover_and_reprotect, approval_request, freeze_writes, one_report, start

RECORDING_KEY = "failback/dns-before-failover.json"
MAINTENANCE_IP = "192.0.2.99"


def recording(session) -> dict:
    body = session.client("s3").get_object(Bucket=world.REPORT_BUCKET, Key=RECORDING_KEY)["Body"].read()
    return json.loads(body)


def record_sets(session, name: str) -> dict:
    """The record's sets by set identifier (None for a simple record): (values or alias, health check)."""
    sets = session.client("route53").list_resource_record_sets(
        HostedZoneId=session.world.zone_id, StartRecordName=name, StartRecordType="A")["ResourceRecordSets"]
    found = {}
    for s in sets:
        if s["Name"] != name:
            continue
        target = [r["Value"] for r in s.get("ResourceRecords", [])] or s["AliasTarget"]["DNSName"]
        found[s.get("SetIdentifier")] = (target, s.get("HealthCheckId"))
    return found


def test_fail_back_restores_the_targets_recorded_before_the_failover_not_what_the_zone_says_later(local_aws):
    session = local_aws(reprotect_budget_seconds=30, failback_drain_seconds=1)
    before = {name: record_sets(session, name) for name in ("app.example.com.", "www.example.com.")}
    after_failover_and_reprotect(session)

    # The failover recorded each record before it flipped it, with the primary region's targets.
    recorded = recording(session)
    assert recorded["deployment"] == world.DEPLOYMENT and recorded["hosted_zone_id"] == session.world.zone_id
    assert ":execution:drill-failover:" in recorded["execution_id"]
    by_name = {r["name"]: r for r in recorded["records"]}
    assert by_name["app.example.com."]["primary"] == {"values": [world.PRIMARY_IP], "ttl": 60}
    assert by_name["www.example.com."]["primary"]["alias"]["dns_name"] == world.PRIMARY_LB["DNSName"]
    assert {s["set_identifier"]: s["weight"] for s in by_name["api.example.com."]["sets"]} == {"primary": 100, "dr": 0}

    # Later, someone points the failover record's SECONDARY set, which holds the primary's former
    # address since the flip, at a maintenance page: a fail back that read the zone now would put
    # that address on the PRIMARY set.
    session.client("route53").change_resource_record_sets(
        HostedZoneId=session.world.zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "app.example.com.", "Type": "A", "SetIdentifier": "secondary", "Failover": "SECONDARY",
            "TTL": 60, "ResourceRecords": [{"Value": MAINTENANCE_IP}]}}]},
    )

    freeze_writes(session)
    arn = start(session, "failback_state_machine_arn", {"dry_run": False, "reason": "primary region healthy again"})
    session.client("stepfunctions").send_task_success(
        taskToken=approval_request(session)["token"], output=json.dumps({"approved_by": "the test"}))
    described = session.follow(arn, timeout=120)
    assert described["status"] == "SUCCEEDED", described
    report = one_report(session)
    dns = report["message"]["stages"]["dns"]
    assert dns["apply"]["changed"] is True, dns
    assert dns["apply"]["detail"]["failback_recording"]["object"] == f"s3://{world.REPORT_BUCKET}/{RECORDING_KEY}"

    # Both records as they were before the failover: the recorded primary address on the PRIMARY
    # set, the DR address back on the SECONDARY set, the primary load balancer on www.
    assert {name: record_sets(session, name) for name in before} == before
    assert record_sets(session, "app.example.com.")["primary"][0] == [world.PRIMARY_IP]
    assert all(r["answers"] == "primary" for r in session.snapshot()["dns"].values())


def test_a_recording_that_cannot_be_written_never_stops_the_failover_and_fail_back_then_refuses_by_name(local_aws):
    session = local_aws()
    # Every write of the recording denied (the role lacking s3:PutObject, a bucket policy...);
    # the reports under reports/ are stored as usual.
    session.control("faults", {"service": "s3", "operation": "PutObject", "resource": "/failback/",
                               "count": 1000, "kind": "denied"})

    run = fail_over_by_alarm(session)

    assert run["described"]["status"] == "SUCCEEDED", run["described"].get("cause")
    assert json.loads(run["described"]["output"])["outcome"] == "failed-over"
    [armed] = session.control("faults", method="GET")["faults"]
    assert armed["remaining"] < 1000, "the write was made, and denied"
    [report] = [r for r in session.reports(wait=0.5) if "failed over" in (r["subject"] or "")]
    apply = report["message"]["dns"]["apply"]
    [warning] = apply["warnings"]
    for part in ("NOT recorded", "app.example.com. A", "www.example.com. A", "AccessDenied",
                 "Fail back's plan refuses", "The failover goes on"):
        assert part in warning, (part, warning)
    assert apply["detail"]["failback_recording"]["not_recorded"] == 3
    session.end_outage()
    assert all(r["answers"] == "dr" for r in session.snapshot()["dns"].values())

    # Fail back's DNS plan names each record it has no primary target for, and what to do.
    plan = session.invoke("failback-dns", {"action": "plan"})
    assert plan["ready"] is False, plan
    refused = [r for r in plan["refusals"] if "fail back does not know" in r]
    assert [r.split(":")[0] for r in refused] == ["app.example.com. A", "www.example.com. A"], plan["refusals"]
    assert all("the object does not exist" in r and "Add the entry by hand" in r for r in refused), refused
    applied = session.invoke("failback-dns", {"action": "apply"})
    assert applied["errorType"] == "DrFailover.Refused", applied
    assert all(r["answers"] == "dr" for r in session.snapshot()["dns"].values()), "nothing moved back"


def test_a_stalled_s3_holds_the_flip_for_seconds_only_and_the_failover_goes_on(local_aws):
    session = local_aws()
    # S3 in the DR region accepts the recording's read and never answers in time: each call of the
    # recording is bounded at a third of SDK_OPERATION_TIMEOUT_SECONDS (10 s), so the flip waits
    # about 3 s for it, not the DNS budget.
    session.control("faults", {"service": "s3", "operation": "GetObject", "resource": "/failback/",
                               "count": 1000, "kind": "hang", "seconds": 20})

    run = fail_over_by_alarm(session)

    assert run["described"]["status"] == "SUCCEEDED", run["described"].get("cause")
    assert json.loads(run["described"]["output"])["outcome"] == "failed-over"
    [report] = [r for r in session.reports(wait=0.5) if "failed over" in (r["subject"] or "")]
    apply = report["message"]["dns"]["apply"]
    [warning] = apply["warnings"]
    assert "NOT recorded" in warning and "Timeout" in warning, warning
    [flip] = [s for s in run["timeline"].steps() if s.name == "FlipDnsApply"]
    assert flip.status == "succeeded" and flip.attempts == 1, flip
