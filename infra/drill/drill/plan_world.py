"""The world a recovery plan describes (``./scripts/drill --plan FILE``).

``configure(path)`` reads the plan (after ``dr-failover plan check`` passed) and points the drill
world's names at it: the regions, the deployment name, the database, the groups, the zone, its
records and the backup resources. ``world.seed`` then builds that world: the database and the DR
groups as the plan names them, every record in its primary state (a PRIMARY/SECONDARY pair for a
failover record, two weighted sets, or one simple set answering a primary target of the record's
type), and a fresh DR copy of every backup resource.

The functions read the plan as in AWS: from the plan file ``dr-failover plan render`` writes
(``DR_PLAN_FILE``), not from variables the drill sets. Only what the stand-in decides is adapted
in the copy that is rendered, and listed in the report: the hosted zone's id (Route 53 assigns it),
and the vault account's role and external id (the drill's vault account). The health check alarm
takes the plan's name; an approval the plan requires is given by the drill, as the on-call would.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

REPO = Path(__file__).resolve().parents[3]

# Documentation ranges: the primary's addresses and names, which the plan does not type (it names
# only what DR answers; the zone holds the primary's).
PRIMARY_LB = {"HostedZoneId": "Z32O12XQLNTSW2", "DNSName": "plan-primary-1234567890.{region}.elb.amazonaws.com."}
DR_LB = {"HostedZoneId": "Z215JYRZR1TBD5", "DNSName": "plan-dr-0987654321.{region}.elb.amazonaws.com."}


@dataclass
class PlanWorld:
    path: Path
    plan: Dict[str, Any]
    zone: str
    # The adapted copy's rendering (after seeding): DR_PLAN_FILE, PLAN_VERSION, the stacks' parameters.
    plan_file: Optional[Path] = None
    version: str = ""
    parameters: Dict[str, str] = field(default_factory=dict)
    adapted: List[str] = field(default_factory=list)

    @property
    def records(self) -> List[Dict[str, Any]]:
        return self.plan["dns"]["records"]

    @property
    def gate(self) -> Optional[str]:
        """dns.gate: the DNS gate's mode (cloudwatch-alarm), or None."""
        return self.plan["dns"].get("gate")

    @property
    def approval_required(self) -> bool:
        return (self.plan.get("trigger") or {}).get("approval") == "required"


def cli() -> Path:
    """The dr-failover binary `cargo build --workspace --bins` (scripts/drill) made."""
    path = REPO / "target" / "debug" / "dr-failover"
    if not path.exists():
        subprocess.run(["cargo", "build", "-p", "dr-failover"], cwd=REPO, check=True)
    return path


def check(path: Path) -> Tuple[bool, str]:
    """`dr-failover plan check FILE`: whether it passes, and what it printed."""
    done = subprocess.run([str(cli()), "plan", "check", str(path)], capture_output=True, text=True)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def _zone_of(names: List[str]) -> str:
    """The deepest domain every record name is in (at least two labels): the zone to create."""
    split = [n.rstrip(".").lower().split(".") for n in names]
    common: List[str] = []
    for labels in zip(*(list(reversed(s)) for s in split)):
        if len(set(labels)) != 1 or labels[0] == "*":
            break
        common.append(labels[0])
    # A record at the apex is in the zone; the zone never is the wildcard's own label.
    if len(common) == min(len(s) for s in split):
        common = common[:-1] if len(common) > 2 else common
    if len(common) < 2:
        raise ValueError(f"the plan's records share no zone of two labels or more: {names[:3]}")
    return ".".join(reversed(common)) + "."


def configure(path: Path) -> PlanWorld:
    """Points the drill world at the plan in `path`; answers the PlanWorld that seeding,
    function_env, the IAM rendering and the snapshot consult (world.PLAN)."""
    from drill import failback, reprotect, snapshot
    from drill import world as w

    plan = yaml.safe_load(path.read_text())
    pw = PlanWorld(path=path, plan=plan, zone=_zone_of([r["name"] for r in plan["dns"]["records"]]))
    reset()
    for module, names in ((w, WORLD_NAMES), (failback, ("STATE_MACHINE",)), (reprotect, ("STATE_MACHINE",)),
                          (snapshot, ("ANSWERS",))):
        for name in names:
            _SAVED.append((module, name, getattr(module, name)))
    w.PLAN = pw
    w.PRIMARY, w.DR = plan["primary_region"], plan["dr_region"]
    w.DEPLOYMENT = plan["deployment"]
    w.STATE_MACHINE = f"{w.DEPLOYMENT}-failover"
    w.ALARM_RULE_DR = f"{w.DEPLOYMENT}-failover-trigger"
    w.VAULT_ROLE = f"{w.DEPLOYMENT}-dr-failover-backup-reader"
    w.UNFORWARDED_ALARM = f"{w.DEPLOYMENT}-dr-failover-unforwarded-alarm"
    w.TOPIC = f"{w.DEPLOYMENT}-dr-failover-reports"
    w.READINESS_STATE_MACHINE = f"{w.DEPLOYMENT}-readiness"
    w.READINESS_ALARM = f"{w.DEPLOYMENT}-dr-failover-not-ready"
    w.READINESS_STALE_ALARM = f"{w.DEPLOYMENT}-dr-failover-readiness-stale"
    failback.STATE_MACHINE = f"{w.DEPLOYMENT}-failback"
    reprotect.STATE_MACHINE = f"{w.DEPLOYMENT}-reprotect"
    w.ALARM = plan["trigger"]["health_check_alarm"]
    w.ZONE = pw.zone
    database = plan["database"]
    if database["kind"] == "rds-instance":
        w.RDS_REPLICA = database["replica"]
        w.RDS_PRIMARY = f"{database['replica']}-source"
    else:
        w.AURORA_GLOBAL = database["global_cluster"]
        w.AURORA_DR = database["dr_cluster"]
        w.AURORA_PRIMARY = database.get("primary_cluster") or f"{database['dr_cluster']}-source"
    # DR groups at their pilot sizes (or empty), and a primary counterpart at 4 for each that names one.
    w.DR_GROUPS = {}
    w.PRIMARY_GROUPS = {}
    for group in plan["compute"]["groups"]:
        pilot = group.get("pilot") or {"min": 0, "desired": 0, "max": 1}
        w.DR_GROUPS[group["group"]] = (pilot["min"], pilot["desired"], pilot["max"])
        if group.get("primary_group"):
            w.PRIMARY_GROUPS[group["primary_group"]] = 4
    backup = plan["backup"]
    w.DR_VAULT = backup["vault"]
    snapshot.ANSWERS = {key(r): answers(r, i, w.PRIMARY, w.DR) for i, r in enumerate(pw.records)}
    return pw


# What configure() changes in drill.world, restored by reset().
WORLD_NAMES = (
    "PLAN", "PRIMARY", "DR", "DEPLOYMENT", "STATE_MACHINE", "ALARM_RULE_DR", "VAULT_ROLE", "UNFORWARDED_ALARM", "TOPIC",
    "READINESS_STATE_MACHINE", "READINESS_ALARM", "READINESS_STALE_ALARM", "ALARM", "ZONE", "RDS_REPLICA",
    "RDS_PRIMARY", "AURORA_GLOBAL", "AURORA_DR", "AURORA_PRIMARY", "DR_GROUPS", "PRIMARY_GROUPS", "DR_VAULT",
)
_SAVED: List[Tuple[Any, str, Any]] = []


def reset() -> None:
    """Points the drill world back at its own application (what configure() changed)."""
    while _SAVED:
        module, name, value = _SAVED.pop()
        setattr(module, name, value)


def asg_targets(pw: PlanWorld) -> List[Dict[str, Any]]:
    """ASG_TARGETS as shared::plan::render derives them (what the drill's checks expect)."""
    out = []
    for group in pw.plan["compute"]["groups"]:
        if "capacity" in group:
            out.append({"group": group["group"], "capacity": group["capacity"]})
        else:
            out.append({k: group[k] for k in ("group", "primary_group", "percent_of_primary", "fallback_capacity")
                        if k in group})
    return out


def _primary_values(record: Dict[str, Any], index: int) -> List[str]:
    kind = record["type"]
    if kind == "A":
        return [f"198.51.100.{index % 250 + 1}"]
    if kind == "AAAA":
        return [f"2001:db8::{index + 1:x}"]
    if kind == "TXT":
        return ['"primary"']
    if kind == "MX":
        return ["10 mx-primary.example.net."]
    return [f"primary-{index}.example.net."]


def _dr_values(record: Dict[str, Any], index: int) -> List[str]:
    kind = record["type"]
    if kind == "A":
        return [f"203.0.113.{index % 250 + 1}"]
    if kind == "AAAA":
        return [f"2001:db8:dr::{index + 1:x}"]
    if kind == "TXT":
        return ['"dr"']
    if kind == "MX":
        return ["10 mx-dr.example.net."]
    return [f"dr-{index}.example.net."]


def _lb(template: Dict[str, str], region: str) -> Dict[str, str]:
    return {"HostedZoneId": template["HostedZoneId"], "DNSName": template["DNSName"].format(region=region)}


def _side_targets(record: Dict[str, Any], index: int, primary: str, dr: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The primary's and DR's record set targets (values with a TTL, or an alias)."""
    dr_target = record.get("dr")
    if dr_target and dr_target.get("alias"):
        alias = dr_target["alias"]
        dr_set = {"AliasTarget": {"HostedZoneId": alias["hosted_zone_id"], "DNSName": alias["dns_name"],
                                  "EvaluateTargetHealth": bool(alias.get("evaluate_target_health"))}}
        primary_set = {"AliasTarget": {**_lb(PRIMARY_LB, primary), "EvaluateTargetHealth": False}}
        return primary_set, dr_set
    ttl = (dr_target or {}).get("ttl", 60)
    dr_values = (dr_target or {}).get("values") or _dr_values(record, index)
    return (
        {"TTL": ttl, "ResourceRecords": [{"Value": v} for v in _primary_values(record, index)]},
        {"TTL": ttl, "ResourceRecords": [{"Value": v} for v in dr_values]},
    )


def record_sets(pw: PlanWorld, primary: str, dr: str, gate_health_check: Optional[str] = None) -> List[Dict[str, Any]]:
    """Every plan record as Route 53 holds it before a failover; with a DNS gate, each failover
    record's PRIMARY set carries the gate's health check (README, "DNS through the data plane")."""
    sets: List[Dict[str, Any]] = []
    for index, record in enumerate(pw.records):
        base = {"Name": record["name"], "Type": record["type"]}
        primary_target, dr_target = _side_targets(record, index, primary, dr)
        routing = record["routing"]
        if routing == "failover":
            gate = {"HealthCheckId": gate_health_check} if gate_health_check else {}
            sets.append({**base, "SetIdentifier": record["primary_set_identifier"], "Failover": "PRIMARY",
                         **primary_target, **gate})
            sets.append({**base, "SetIdentifier": record["dr_set_identifier"], "Failover": "SECONDARY", **dr_target})
        elif routing == "weighted":
            sets.append({**base, "SetIdentifier": record["primary_set_identifier"], "Weight": 100, **primary_target})
            sets.append({**base, "SetIdentifier": record["dr_set_identifier"], "Weight": 0, **dr_target})
        else:
            sets.append({**base, **primary_target})
    return sets


def answers(record: Dict[str, Any], index: int, primary: str, dr: str) -> Dict[str, List[str]]:
    """What the record answers from each side (snapshot.ANSWERS' shape)."""
    primary_target, dr_target = _side_targets(record, index, primary, dr)

    def data(target: Dict[str, Any]) -> List[str]:
        if "AliasTarget" in target:
            return [target["AliasTarget"]["DNSName"]]
        return [r["Value"] for r in target["ResourceRecords"]]

    return {"primary": data(primary_target), "dr": data(dr_target)}


def key(record: Dict[str, Any]) -> str:
    """A record's key in the snapshot: its name and type (a plan may hold A and AAAA of one name)."""
    return f"{record['name']} {record['type']}"


def render(pw: PlanWorld, zone_id: str, vault_role_arn: str, vault_external_id: str, work_dir: Path) -> None:
    """Writes the copy of the plan the stand-in runs (the zone id Route 53 gave, the drill's vault
    role), renders it with `dr-failover plan render`, and keeps the plan file, version and DR stack
    parameters."""
    adapted = json.loads(json.dumps(pw.plan))
    adapted["dns"]["hosted_zone_id"] = zone_id
    pw.adapted = [f"dns.hosted_zone_id: {pw.plan['dns']['hosted_zone_id']} -> {zone_id} (Route 53 assigns zone ids)"]
    role = adapted["backup"].get("vault_role")
    if role:
        pw.adapted.append(f"backup.vault_role: {role['arn']} -> {vault_role_arn} (the drill's vault account)")
        adapted["backup"]["vault_role"] = {"arn": vault_role_arn, "external_id": vault_external_id}
    path = work_dir / "plan" / "plan.yaml"
    out = work_dir / "plan" / "rendered"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(adapted, sort_keys=False))
    done = subprocess.run([str(cli()), "plan", "render", str(path), "--out", str(out)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dr-failover plan render {path} failed:\n{done.stdout}{done.stderr}")
    pw.plan_file = out / "layer" / "dr-failover" / "plan.json"
    listed = json.loads((out / "dr-region.parameters.json").read_text())
    pw.parameters = {p["ParameterKey"]: p["ParameterValue"] for p in listed}
    pw.version = pw.parameters["PlanVersion"]
