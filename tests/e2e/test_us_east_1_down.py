"""`./scripts/drill --us-east-1-down` (issue 25): the primary is us-east-1 and goes down with it.

From the outage on, the stand-in leaves every request of the product to us-east-1, or to Route 53's
API, IAM or global STS, unanswered (drstandin/outage.py). The failover starts without an operator,
moves every record through the DNS gate (no Route 53 API call: the record sets stay as they were,
the zone's name server answers DR because the gate's health check follows its alarm in us-west-2),
and its report names what was refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest

from drill import plan_world
from drill.run import DrillOptions, run_drill


@pytest.fixture(autouse=True)
def _own_world():
    yield
    plan_world.reset()


PLAN = Path(__file__).resolve().parents[2] / "infra" / "plans" / "us-east-1.yaml"


def test_a_failover_while_us_east_1_is_down_moves_every_record_through_the_data_plane(tmp_path: Path):
    seen: List[str] = []
    code = run_drill(DrillOptions(plan=PLAN, us_east_1_down=True, out_dir=tmp_path / "out"), out=seen.append)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    failed = [c for c in report["checks"] if not c["ok"]]
    assert code == 0, (failed, seen[-30:])
    assert report["outcome"] == "failed-over"
    # No operator: the witness in us-west-2 started it, us-east-1's alarm being silent.
    assert report["request"]["trigger"] == "witness", report["request"]

    # The product did try us-east-1 (the primary's groups and copy jobs, Route 53's listing for the
    # plan's check of the gate), and needed none of it.
    refused = report["outage"]["refused_endpoints"]
    assert "route53.amazonaws.com" in refused, refused
    assert all(e.endswith("us-east-1.amazonaws.com") or e in ("route53.amazonaws.com",) for e in refused), refused
    assert "sts.amazonaws.com" not in refused
    # Only the plan's read-only checks of the gate asked Route 53's API: never a change.
    assert set(refused["route53.amazonaws.com"]["operations"]) <= {
        "route53:ListResourceRecordSets", "route53:GetHealthCheckStatus"}, refused["route53.amazonaws.com"]

    # No record set was edited: the PRIMARY sets still hold the primary's targets and the gate's
    # health check, and every record answers DR.
    for key, record in report["after"]["dns"].items():
        assert record["sets"] == report["before"]["dns"][key]["sets"], key
        primary = [s for s in record["sets"] if s["failover"] == "PRIMARY"][0]
        assert primary["health_check"], key
        assert record["answers"] == "dr", (key, record["answer"])
    steps = {s["name"]: s for s in report["steps"]}
    assert "opened the DNS gate (PutMetricData DnsGate=1 in us-west-2)" in steps["FlipDnsApply"]["summary"]
