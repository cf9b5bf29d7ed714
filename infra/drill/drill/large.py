"""A large deployment on top of the drill world: more DNS records, DR groups and backup resources,
so a test can show that nothing the state machine carries grows with the deployment.

``world.Options.extra_dns_records`` adds simple A records ``h<i>.example.com.`` (primary address
``PRIMARY_IP``, DR address ``DR_IP``); ``extra_groups`` adds pilot-light DR groups ``svc<i>-dr``
(min 0, desired 0, max 2) with a fixed target of 1; ``extra_backup_resources`` adds EFS file
systems whose newest DR copy is an hour old (fresh). All are created through the ordinary AWS APIs
(and the stand-in's Backup control route, as for the base world's copies).
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

PILOT_GROUP = (0, 0, 2)  # min, desired, max


def record_name(index: int) -> str:
    return f"h{index:04d}.example.com."


def records(count: int, dr_ip: str) -> List[Dict[str, Any]]:
    """DNS_RECORDS entries of the extra records."""
    return [
        {"name": record_name(i), "type": "A", "routing": "simple", "dr": {"values": [dr_ip], "ttl": 60}}
        for i in range(count)
    ]


def record_sets(count: int, primary_ip: str) -> List[Dict[str, Any]]:
    """The extra records as Route 53 holds them before a failover."""
    return [
        {"Name": record_name(i), "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": primary_ip}]}
        for i in range(count)
    ]


def group_name(index: int) -> str:
    return f"svc{index:03d}-dr"


def dr_groups(count: int) -> Dict[str, Tuple[int, int, int]]:
    return {group_name(i): PILOT_GROUP for i in range(count)}


def targets(count: int) -> List[Dict[str, Any]]:
    """ASG_TARGETS entries of the extra groups."""
    return [{"group": group_name(i), "capacity": 1} for i in range(count)]


def file_system_arn(region: str, account: str, index: int) -> str:
    return f"arn:aws:elasticfilesystem:{region}:{account}:file-system/fs-{index:017x}"


def backup_resources(count: int, region: str, account: str, rpo_minutes: int) -> List[Dict[str, Any]]:
    """BACKUP_RESOURCES entries of the extra file systems."""
    return [{"arn": file_system_arn(region, account, i), "rpo_minutes": rpo_minutes} for i in range(count)]
