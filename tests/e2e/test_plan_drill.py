"""`./scripts/drill --plan FILE` (issue 23): the world a recovery plan describes, failed over by the
real state machine and functions, which read the plan from the file `dr-failover plan render`
writes (DR_PLAN_FILE), as the Lambda layer ships it, never from variables the drill sets.

A plan of 500 records, 50 groups and 100 backup resources checks, renders and fails over: no
4,096-byte parameter or 4 KB environment stands in the way (the stand-in refuses both, as AWS
does). A plan `plan check` refuses starts nothing.
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


def large_plan(records: int, groups: int, resources: int) -> str:
    """Failover, weighted and simple records (A, AAAA, CNAME, a wildcard), fixed and share-of-primary
    groups, and EFS file systems to back up."""
    lines = [
        "deployment: large",
        "primary_region: eu-west-1",
        "dr_region: eu-central-1",
        "trigger: {health_check_alarm: large-primary-health}",
        "database: {kind: rds-instance, replica: large-db-dr, max_replica_lag_seconds: 300}",
        "compute:",
        "  groups:",
    ]
    for g in range(groups):
        if g % 2:
            lines.append(f"    - {{group: svc{g:02d}-dr, capacity: 1, pilot: {{min: 0, desired: 0, max: 1}}}}")
        else:
            lines.append(f"    - {{group: svc{g:02d}-dr, primary_group: svc{g:02d}, percent_of_primary: 50, fallback_capacity: 1}}")
    lines += ["dns:", "  hosted_zone_id: Z0LARGE", "  records:"]
    lines.append('    - {name: "*.app.large.example.com.", type: A, routing: simple, dr: {values: [203.0.113.250]}}')
    for r in range(records - 1):
        name = f"h{r:03d}.large.example.com."
        if r % 3 == 0:
            lines.append(f"    - {{name: {name}, type: A, routing: failover, primary_set_identifier: primary, "
                         f"dr_set_identifier: secondary, dr: {{values: [203.0.113.{r % 200 + 1}], ttl: 60}}}}")
        elif r % 3 == 1:
            lines.append(f"    - {{name: {name}, type: AAAA, routing: weighted, primary_set_identifier: eu-west-1, "
                         f"dr_set_identifier: eu-central-1}}")
        else:
            lines.append(f"    - {{name: {name}, type: CNAME, routing: simple, dr: {{values: [dr-{r}.example.net.]}}}}")
    lines += ["backup:", "  vault: large-dr-vault", "  resources:"]
    for b in range(resources):
        lines.append(f'    - {{arn: "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-{b:017x}", rpo_minutes: 1440}}')
    return "\n".join(lines) + "\n"


def test_a_500_record_plan_checks_renders_and_fails_over_every_record(tmp_path: Path):
    path = tmp_path / "large.yaml"
    path.write_text(large_plan(500, 50, 100))
    passed, printed = plan_world.check(path)
    assert passed, printed
    assert printed.splitlines()[0] == "ok: 500 records, 50 groups, 100 backup resources"

    seen: List[str] = []
    # The drill's own snapshots ask Route 53 about each record (TestDNSAnswer): 1,000 requests at
    # AWS's 10 a second are not what this test is about (test_route53_scale.py paces a flip of
    # 503 records against that rate), so the stand-in does not throttle here.
    code = run_drill(DrillOptions(plan=path, out_dir=tmp_path / "out", dns_budget_seconds=180,
                                  route53_requests_per_second=0), out=seen.append)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    failed = [c for c in report["checks"] if not c["ok"]]
    assert code == 0, (failed, seen[-20:])
    assert report["outcome"] == "failed-over"
    assert report["recovery_plan"]["records"] == 500
    answers = [c for c in report["checks"] if c["name"].endswith("answers DR")]
    assert len(answers) == 500 and all(c["ok"] for c in answers)
    assert any(c["name"] == "the published report names the plan's version" and c["ok"] for c in report["checks"])
    # The functions read the plan from its file: the env file holds no record, group or resource.
    env_file = (tmp_path / "out" / "functions.env").read_text()
    for variable in ("DNS_RECORDS", "ASG_TARGETS", "BACKUP_RESOURCES", "DNS_HOSTED_ZONE_ID"):
        assert f"\n{variable}=" not in "\n" + env_file, variable
    assert "DR_PLAN_FILE=" in env_file


def test_a_plan_that_check_refuses_starts_nothing(tmp_path: Path):
    path = tmp_path / "typo.yaml"
    path.write_text(large_plan(3, 2, 1).replace("  hosted_zone_id:", "  hosted_zone:"))
    seen: List[str] = []
    code = run_drill(DrillOptions(plan=path, out_dir=tmp_path / "out"), out=seen.append)
    assert code == 2
    text = "\n".join(seen)
    assert "unknown field `hosted_zone`" in text and "typo.yaml:" in text, text
    assert "The plan is refused: nothing was started." in text
    assert not (tmp_path / "out" / "report.json").exists()
