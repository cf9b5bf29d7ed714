"""What the world looks like, read through the ordinary AWS APIs, and what changed between two looks.

A snapshot covers every resource the failover touches: the DR database (replica or Aurora global
cluster), every Auto Scaling group of the plan, every DNS record with its record sets and what
Route 53 answers for it (TestDNSAnswer), and the backup verdicts (verify-backup-copy, read-only).
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Tuple

from drill import world

# Fields that change with the clock, not with the failover; a diff ignores them.
VOLATILE = {"taken_at", "age_hours", "checked_at"}

# What each record answers from the primary region and from the DR region.
ANSWERS = {
    "app.example.com.": {"primary": [world.PRIMARY_IP], "dr": [world.DR_IP]},
    "api.example.com.": {"primary": [world.PRIMARY_API_IP], "dr": [world.DR_API_IP]},
    "www.example.com.": {"primary": [world.PRIMARY_LB["DNSName"]], "dr": [world.DR_LB["DNSName"]]},
}



# RDS instance statuses in which an instance that is no longer a replica serves writes ("Viewing
# Amazon RDS DB instance status" in the RDS user guide), as promote-replica reads them
# (shared::database::WRITABLE_INSTANCE_STATUSES): a promotion with backups newly turned on ends
# in backing-up, and the application can write all the while.
WRITABLE_INSTANCE_STATUSES = (
    "available", "backing-up", "modifying", "storage-optimization", "maintenance",
    "resetting-master-credentials",
)


def accepts_writes(status: str) -> bool:
    return status in WRITABLE_INSTANCE_STATUSES or status.startswith("configuring-")

def _norm(value: str) -> str:
    return value.lower().rstrip(".")


def take(session: Any) -> Dict[str, Any]:
    w = session.world
    shot = {
        "taken_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
        "database": _aurora(session) if w.db_kind == "aurora-global" else _instance(session),
        "compute": _compute(session),
        "dns": _dns(session),
        "backup": _backup(session),
    }
    return shot


def _instance(session: Any) -> Dict[str, Any]:
    dr = session.client("rds", world.DR)
    replica = dr.describe_db_instances(DBInstanceIdentifier=world.RDS_REPLICA)["DBInstances"][0]
    source = replica.get("ReadReplicaSourceDBInstanceIdentifier") or None
    primary = session.client("rds", world.PRIMARY).describe_db_instances(DBInstanceIdentifier=world.RDS_PRIMARY)[
        "DBInstances"
    ][0]
    return {
        "kind": "rds-instance",
        "identifier": world.RDS_REPLICA,
        "status": replica["DBInstanceStatus"],
        "replica_source": source,
        "writable": source is None and accepts_writes(replica["DBInstanceStatus"]),
        "backup_retention_days": replica.get("BackupRetentionPeriod"),
        "primary": {
            "identifier": world.RDS_PRIMARY,
            "status": primary["DBInstanceStatus"],
            "read_replicas": sorted(primary.get("ReadReplicaDBInstanceIdentifiers", [])),
        },
    }


def _aurora(session: Any) -> Dict[str, Any]:
    dr = session.client("rds", world.DR)
    gc = dr.describe_global_clusters(GlobalClusterIdentifier=world.AURORA_GLOBAL)["GlobalClusters"][0]
    members = {
        m["DBClusterArn"].split(":")[-1]: {"region": m["DBClusterArn"].split(":")[3], "writer": bool(m.get("IsWriter"))}
        for m in gc.get("GlobalClusterMembers", [])
    }
    writer = next((name for name, m in members.items() if m["writer"]), None)
    cluster = dr.describe_db_clusters(DBClusterIdentifier=world.AURORA_DR)["DBClusters"][0]
    failover = gc.get("FailoverState") or None
    return {
        "kind": "aurora-global",
        "identifier": world.AURORA_DR,
        "status": cluster.get("Status"),
        "global_cluster": world.AURORA_GLOBAL,
        "global_status": gc.get("Status"),
        "writer": writer,
        "members": members,
        "failover_in_progress": failover.get("Status") if failover else None,
        "writable": writer == world.AURORA_DR and not failover and cluster.get("Status") == "available",
    }


def _groups(session: Any, region: str, names: List[str]) -> Dict[str, Any]:
    groups = session.client("autoscaling", region).describe_auto_scaling_groups(AutoScalingGroupNames=names)[
        "AutoScalingGroups"
    ]
    out = {}
    for group in groups:
        instances = group.get("Instances", [])
        out[group["AutoScalingGroupName"]] = {
            "region": region,
            "min": group["MinSize"],
            "desired": group["DesiredCapacity"],
            "max": group["MaxSize"],
            "in_service": sum(
                1 for i in instances if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"
            ),
        }
    return out


def _compute(session: Any) -> Dict[str, Any]:
    return {
        **_groups(session, world.DR, sorted(world.DR_GROUPS)),
        **_groups(session, world.PRIMARY, sorted(world.PRIMARY_GROUPS)),
    }


def _target(rrset: Dict[str, Any]) -> List[str]:
    if rrset.get("AliasTarget"):
        return [rrset["AliasTarget"]["DNSName"]]
    return [r["Value"] for r in rrset.get("ResourceRecords", [])]


def answers_side(name: str, record_data: List[str]) -> str:
    """'primary', 'dr', 'none' or 'other': whose target a DNS answer is."""
    got = sorted(_norm(v) for v in record_data)
    if not got:
        return "none"
    for side in ("dr", "primary"):
        if got == sorted(_norm(v) for v in ANSWERS[name][side]):
            return side
    return "other"


def _dns(session: Any) -> Dict[str, Any]:
    route53 = session.client("route53", world.GLOBAL)
    zone_id = session.world.zone_id
    pages = route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
    rrsets: List[Dict[str, Any]] = [rrset for page in pages for rrset in page["ResourceRecordSets"]]
    out = {}
    for record in world.dns_records():
        name, rtype = record["name"], record["type"]
        sets = []
        for rrset in rrsets:
            if _norm(rrset["Name"]) != _norm(name) or rrset["Type"] != rtype:
                continue
            entry: Dict[str, Any] = {"set": rrset.get("SetIdentifier"), "target": _target(rrset)}
            if "Weight" in rrset:
                entry["weight"] = rrset["Weight"]
            if rrset.get("Failover"):
                entry["failover"] = rrset["Failover"]
            entry["health_check"] = rrset.get("HealthCheckId")
            sets.append(entry)
        sets.sort(key=lambda s: s["set"] or "")
        answer = route53.test_dns_answer(HostedZoneId=zone_id, RecordName=name, RecordType=rtype)
        # A plan may hold an A and an AAAA record of one name (drill.plan_world.key).
        key = f"{name} {rtype}" if world.PLAN else name
        out[key] = {
            "type": rtype,
            "routing": record["routing"],
            "sets": sets,
            "answer": answer["RecordData"],
            "answers": answers_side(key, answer["RecordData"]),
        }
    return out


def _backup(session: Any) -> Dict[str, Any]:
    result = session.invoke("verify-backup-copy", {"action": "verify", "reason": "drill snapshot"})
    if result.get("errorType"):
        return {"error": f"{result['errorType']}: {result.get('errorMessage')}"}
    detail = result["detail"]
    resources = {}
    for check in detail["resources"]:
        age = check.get("age_seconds")
        resources[check["arn"]] = {
            "verdict": check["verdict"],
            "age_hours": None if age is None else round(age / 3600, 1),
            "failed_copy_jobs": check.get("failed_copy_jobs"),
        }
    return {
        "overall": detail["overall"],
        "vault": detail["vault_arn"],
        "resources": resources,
        "checked_at": detail.get("checked_at"),
        "summary": result.get("summary"),
    }


def flatten(value: Any, prefix: str = "") -> Dict[str, Any]:
    """Nested dicts as dotted paths; lists stay whole (a record's sets compare as one value)."""
    if isinstance(value, dict):
        out: Dict[str, Any] = {}
        for key, item in value.items():
            if key in VOLATILE:
                continue
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def diff(before: Dict[str, Any], after: Dict[str, Any]) -> List[Tuple[str, Any, Any]]:
    """(path, before, after) for every leaf that differs."""
    a, b = flatten(before), flatten(after)
    return [(path, a.get(path), b.get(path)) for path in sorted(set(a) | set(b)) if a.get(path) != b.get(path)]
