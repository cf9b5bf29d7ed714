"""The witness (shared::witness, issue 25): no real failover on one signal, and one without us-east-1.

A gap in the health check's metric in us-east-1 sends its alarm to ALARM by itself (the alarm's
TreatMissingData is breaching): with the witness in the DR region seeing the primary up, the run
the alarm starts changes nothing and says so. And the witness alone, seeing the primary down for
its configured time while us-east-1 says nothing, starts a real failover that ends failed over.
"""

from __future__ import annotations

import datetime
import time

from conftest import follow, task_runs
from drill import world

GAP_REASON = (
    "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as "
    "[Breaching]."
)


def unchanged(before: dict, after: dict) -> None:
    assert after["dns"] == before["dns"]
    assert after["compute"] == before["compute"]
    for key in ("status", "replica_source", "writable"):
        assert after["database"][key] == before["database"][key], key


def test_a_us_east_1_metric_gap_with_the_primary_healthy_starts_no_failover(local_aws):
    aws = local_aws()
    seen = aws.witness_sees(True)  # the witness's schedule: the primary answers
    assert seen["detail"]["mark"]["up"] is True and seen["detail"]["recorded"], seen
    before = aws.snapshot()
    known = [e["executionArn"] for e in aws.executions()]

    alarm_at = aws.set_alarm("ALARM", GAP_REASON)
    run = follow(aws, aws.wait_for_execution(known), alarm_at, timeout=60)

    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    assert not task_runs(run["timeline"], "PlanDatabase"), "nothing was planned"
    [message] = aws.reports(wait=1.0, started=True)
    assert message["subject"] == (
        f"[dr-failover] {world.DEPLOYMENT}: ALARM NOT CONFIRMED by the witness in {world.DR}; nothing changed")
    report = message["message"]
    assert report["outcome"] == "alarm-unconfirmed"
    assert report["witness"]["verdict"] == "up" and report["witness"]["mark"]["probe"] == "HTTP 200"
    assert report["failover_cli_command"].startswith(f"dr-failover --region {world.DR} --deployment {world.DEPLOYMENT} failover")
    assert "saw the primary up" in report["next_step"]
    unchanged(before, aws.snapshot())


def test_the_witness_alone_fails_over_when_the_primary_stays_down(local_aws):
    aws = local_aws(witness_alone_seconds=2)
    started = datetime.datetime.now(datetime.timezone.utc)
    first = aws.witness_sees(False)
    assert first["detail"]["failover_execution"] is None and first["detail"]["down_seconds"] == 0, first
    time.sleep(2.5)

    second = aws.witness_probe()  # its next scheduled probe: down alone long enough
    arn = second["detail"]["failover_execution"]
    assert arn and arn.split(":")[-1].startswith("witness-"), second
    run = follow(aws, arn, started, timeout=120)

    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    [report] = [m["message"] for m in aws.reports(wait=1.0)]
    assert report["outcome"] == "failed-over", report
    assert report["request"]["trigger"] == "witness" and "no run answered it" in report["request"]["reason"]
    after = aws.snapshot()
    assert after["database"]["writable"] is True
    assert {record["answers"] for record in after["dns"].values()} == {"dr"}

    # The run answered the outage: the probes that follow start nothing more.
    third = aws.witness_probe()
    assert third["detail"]["failover_execution"] is None, third
    assert "ended SUCCEEDED (failed-over)" in third["detail"]["not_started"], third
    assert len(aws.executions()) == 1
