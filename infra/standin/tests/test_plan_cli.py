"""`dr-failover plan import` and `dr-failover plan check --live` (issue 23, part 4) against the
stand-in: the plan's DNS section written from the zone as it is, listing what could not be
classified; and every step's read-only plan run with the plan's configuration, refusing a
resource that is not there. The binary against the drill's seeded world: no functions need to run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import yaml

REPO = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(REPO / "infra" / "drill")]

from drill import plan_world, world  # noqa: E402
from drill.aws import Clients  # noqa: E402


class Seeded:
    """The stand-in and the drill world seeded in it."""

    def __init__(self, standin):
        self.endpoint = standin.url
        self.world = world.seed(Clients(standin.url), world.Options())


def run(aws, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ENDPOINT_URL": aws.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": world.DR,
    })
    return subprocess.run([str(plan_world.cli()), *args], capture_output=True, text=True, env=env, timeout=120)


def plan_for(aws, dns: dict, replica: str = world.RDS_REPLICA) -> str:
    """A plan naming the drill world's resources, with `dns` as imported."""
    w = aws.world
    return yaml.safe_dump({
        "deployment": world.DEPLOYMENT,
        "primary_region": world.PRIMARY,
        "dr_region": world.DR,
        "account_id": world.ACCOUNT,
        "trigger": {"health_check_alarm": world.ALARM},
        "database": {"kind": "rds-instance", "replica": replica},
        "compute": {"groups": [
            {"group": "web-dr", "capacity": 6},
            {"group": "worker-dr", "primary_group": "worker", "percent_of_primary": 100, "fallback_capacity": 4},
        ]},
        **dns,
        "backup": {
            "vault": world.DR_VAULT,
            "vault_role": {"arn": w.vault_role_arn, "external_id": world.VAULT_EXTERNAL_ID},
            "resources": w.backup_resources,
        },
    }, sort_keys=False)


def test_import_writes_the_dns_section_from_the_zone_and_live_check_runs_every_plan(standin, tmp_path):
    aws = Seeded(standin)
    zone = aws.world.zone_id
    done = run(aws, "plan", "import", "--zone", f"/hostedzone/{zone}", "--primary-set", "primary", "--dr-set", "dr")
    assert done.returncode == 0, done.stderr
    section = yaml.safe_load(done.stdout)
    records = {r["name"]: r for r in section["dns"]["records"]}
    assert section["dns"]["hosted_zone_id"] == zone
    # The failover pair: the DR target is what the SECONDARY set holds.
    assert records["app.example.com."] == {
        "routing": "failover", "name": "app.example.com.", "type": "A", "primary_set_identifier": "primary",
        "dr_set_identifier": "secondary", "dr": {"values": [world.DR_IP], "ttl": 60},
    }
    assert records["api.example.com."]["routing"] == "weighted"
    assert (records["api.example.com."]["primary_set_identifier"], records["api.example.com."]["dr_set_identifier"]) == ("primary", "dr")
    # The simple record's DR target is not in the zone: listed, in the file and on stderr, never guessed.
    assert "www.example.com." not in records
    assert "not imported: www.example.com. A: a simple record" in done.stderr
    assert "#   www.example.com. A: a simple record" in done.stdout
    assert "imported 2 record(s); 1 not imported" in done.stderr

    # Told apart by Region instead: the api pair's sets hold no Region, so it is listed too.
    by_region = run(aws, "plan", "import", "--zone", zone, "--primary-region", world.PRIMARY, "--dr-region", world.DR)
    assert by_region.returncode == 0, by_region.stderr
    assert "api.example.com. A: a weighted pair whose primary and DR sets are not told apart" in by_region.stderr

    # The imported section, plus the simple record typed by hand, checks and passes live.
    dns = dict(section)
    dns["dns"]["records"].append({"name": "www.example.com.", "type": "A", "routing": "simple", "dr": {"alias": {
        "hosted_zone_id": world.DR_LB["HostedZoneId"], "dns_name": world.DR_LB["DNSName"]}}})
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_for(aws, dns))
    live = run(aws, "plan", "check", "--live", str(plan))
    assert live.returncode == 0, live.stdout + live.stderr
    lines: List[str] = live.stdout.splitlines()
    assert lines[0] == "ok: 3 records, 2 groups, 3 backup resources"
    for step in ("database", "compute", "dns", "backup"):
        assert any(line.split()[:2] == ["ok", step] for line in lines), live.stdout
    assert lines[-1] == "live: every step's plan passes against AWS"

    # A replica that does not exist: refused by name before anything is deployed.
    plan.write_text(plan_for(aws, dns, replica="app-db-typo"))
    live = run(aws, "plan", "check", "--live", str(plan))
    assert live.returncode == 1, live.stdout
    assert any(line.split()[:2] == ["REFUSED", "database"] for line in live.stdout.splitlines()), live.stdout
    assert "app-db-typo" in live.stdout
