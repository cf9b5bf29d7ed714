"""Route 53 at scale: a failover whose plan names 500 records more than the drill's three, against
the stand-in's Route 53 request quota (10 requests per second per account, burst 50, answered
`Throttling` past it; infra/standin/drstandin/ratelimit.py) and batch limits (1,000 ResourceRecord
elements a request, UPSERT counting twice; drstandin/route53.py).

flip-dns must read the zone a page at a time rather than a record at a time, pace its requests,
and split its UPSERTs (503 changed records with values count 1,006) into batches Route 53 accepts.
"""

from __future__ import annotations

import json
import time

from conftest import fail_over_by_alarm
from drill import large, world

EXTRA = 500


def test_a_failover_with_500_more_records_fits_route53s_request_rate_and_batch_limits(local_aws):
    # 503 records: within every limit since the records come from the plan file, not from a
    # parameter or the environment (the drill's check of those limits is on).
    aws = local_aws(extra_dns_records=EXTRA, dns_budget_seconds=120)
    throttled_before = aws.control("route53/rate", method="GET")["throttled"]
    started = time.monotonic()

    run = fail_over_by_alarm(aws, timeout=300)

    elapsed = time.monotonic() - started
    described = run["described"]
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"), described.get("output"))
    report = json.loads(run["described"]["output"])
    assert report["outcome"] == "failed-over", report["outcome"]
    # 1,008 counted ResourceRecord elements: the first batch takes 1,000 (the drill's three records
    # and host-0 to host-495), the apply that ends the stage sends the last 4 record sets.
    assert "UPSERTing 4 record set(s)" in report["dns"]["apply"]["summary"], report["dns"]["apply"]["summary"]
    assert report["dns"]["apply"]["detail"]["record_count"] == EXTRA + 3
    # Every Route 53 request of the run was flip-dns's: none of them was throttled.
    assert aws.control("route53/rate", method="GET")["throttled"] == throttled_before
    route53 = aws.client("route53", world.GLOBAL)
    pages = route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=aws.world.zone_id)
    values = {s["Name"]: [r["Value"] for r in s.get("ResourceRecords", [])] for p in pages for s in p["ResourceRecordSets"]}
    wrong = [
        name for name in (large.record_name(i) for i in range(EXTRA)) if values.get(name) != [world.DR_IP]
    ]
    assert not wrong, f"{len(wrong)} record(s) not at DR, first {wrong[:3]}"
    assert {record["answers"] for record in aws.snapshot()["dns"].values()} == {"dr"}
    print(f"failover with {EXTRA + 3} records: {elapsed:.1f} s")
