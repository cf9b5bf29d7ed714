"""Fail back in the local world: what the template installs with FailbackStandbyReplicaInstanceId
set (rds-instance) or DbPrimaryClusterId set (aurora-global). The four fail back functions run the
failover's steps with the regions swapped (their FAILBACK_* variables), pilot-capacity returns the DR
groups to their pilot sizes, and the fail back state machine ties them together behind an approval.
Aurora: the writer moves back by switchover to the primary region's secondary (the former primary
cluster Aurora rejoined, or the one re-protect added: DB_DR_CLUSTER_ID names both), and the DR
cluster, a secondary again after the switchover, is the standby.

``world.seed`` calls ``seed`` after the failover and re-protect state machines exist;
``function_env`` adds the functions' variables.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List

from drill import iam, reprotect
from drill.aws import Clients

ASL_PATH = Path(__file__).resolve().parents[3] / "infra" / "statemachine" / "failback.asl.json"
STATE_MACHINE = "drill-failback"  # the template's ${DeploymentName}-failback
FUNCTIONS = ["failback-compute", "failback-database", "failback-dns", "failback-standby", "pilot-capacity"]
# The new DR replica of the primary region's writer takes the failover's own replica name
# (FailbackStandbyReplicaInstanceId = DbReplicaInstanceId, as the template recommends): the
# former DR writer is renamed RETIRED_PREFIX + its creation minute first, and the failover
# automation is re-armed at the end.
STANDBY = "app-db-dr"
RETIRED_PREFIX = f"{STANDBY}-retired-"


def pilot_capacity() -> List[Dict[str, Any]]:
    from drill import world as w

    return [{"group": g, "min": low, "desired": desired, "max": high} for g, (low, desired, high) in w.DR_GROUPS.items()]


def function_env(world: Any) -> Dict[str, str]:
    from drill import world as w

    if world.options.extra_dns_records or world.options.extra_groups:
        return {}
    # failback-dns reads the failover's own DNS_RECORDS (and REPORT_BUCKET_NAME) with the targets
    # flip-dns recorded before the failover: no record is typed twice. The names and types its role
    # may change are the failover's.
    records = w.dns_records()
    env = {
        "PRIMARY_REGION": w.DR,
        "DR_REGION": w.PRIMARY,
        "SDK_OPERATION_TIMEOUT_SECONDS": "10",
        "ASG_TARGETS": json.dumps([{"group": g, "capacity": n} for g, n in w.PRIMARY_GROUPS.items()]),
        "ASG_ALLOWED_GROUP_NAMES": w.group_name_scope(list(w.PRIMARY_GROUPS)),
        "ASG_READY_PERCENT": "100",
        "ASG_DNS_CAPACITY_PERCENT": "100",
        "PRIMARY_TIMEOUT_SECONDS": "5",
        "DNS_HOSTED_ZONE_ID": world.zone_id,
        "DNS_ALLOWED_RECORD_NAMES": w.record_name_scope(records),
        "DNS_ALLOWED_RECORD_TYPES": ",".join(sorted({r["type"] for r in records})),
        "REPROTECT_INSTANCE_CLASS": reprotect.INSTANCE_CLASS,
    }
    if world.db_kind == "aurora-global":
        env.update({
            "DB_KIND": "aurora-global",
            "DB_GLOBAL_CLUSTER_ID": w.AURORA_GLOBAL,
            "DB_DR_CLUSTER_ID": f"{w.AURORA_PRIMARY},{reprotect.SECONDARY_CLUSTER}",
            # The DR cluster is a secondary again after the switchover: the standby, found by name.
            "REPROTECT_CLUSTER_ID": w.AURORA_DR,
            # A new DR secondary, were one needed, takes the former DR writer's network.
            "REPROTECT_FORMER_PRIMARY_ID": w.AURORA_DR,
        })
    else:
        env.update({
            "DB_KIND": "rds-instance",
            "DB_REPLICA_INSTANCE_ID": reprotect.REPLICA,
            "DB_MAX_REPLICA_LAG_SECONDS": "0",
            "DB_BACKUP_RETENTION_DAYS": "7",
            "REPROTECT_REPLICA_INSTANCE_ID": STANDBY,
            "REPROTECT_RETIRE_FORMER_WRITER": "true",
            "REPROTECT_KMS_KEY_ID": reprotect.kms_key_arn(w.DR),
            # The new DR replica takes the network and settings of the former DR writer it
            # replaces (renamed <name>-retired-..., found by that name once renamed).
            "REPROTECT_FORMER_PRIMARY_ID": w.RDS_REPLICA,
        })
    out = {f"FAILBACK_{k}": v for k, v in env.items()}
    out["PILOT_CAPACITY"] = json.dumps(pilot_capacity())
    return out


def _standby_plan(world: Any) -> str:
    """The approval request's 5_standby line, as the template's FailbackStandbyPlan has it."""
    from drill import world as w

    if world.db_kind == "aurora-global":
        return (f"the DR cluster {w.AURORA_DR}, a secondary of {w.AURORA_GLOBAL} again after the switchover, "
                "is the standby: nothing is created")
    return (f"the former DR writer {w.RDS_REPLICA}, standalone, is renamed {w.RDS_REPLICA}-retired-YYYYMMDDHHMM "
            "(its creation time; kept, never deleted), then a new read replica of the primary region's writer "
            f"takes the name {STANDBY}")


def definition(world: Any) -> str:
    from drill import world as w

    values = {
        "DeploymentName": w.DEPLOYMENT,
        "PollSeconds": str(world.options.poll_seconds),
        "ComputeBudgetSeconds": str(world.options.compute_budget_seconds),
        "DatabaseBudgetSeconds": str(world.options.database_budget_seconds),
        "DnsBudgetSeconds": str(world.options.dns_budget_seconds),
        "ReprotectBudgetSeconds": str(world.options.reprotect_budget_seconds),
        "FailbackApprovalTimeoutSeconds": str(world.options.failback_approval_timeout_seconds),
        "FailbackDrainSeconds": str(world.options.failback_drain_seconds),
        "AlarmRuleName": w.ALARM_RULE_DR,
        "FailoverStateMachineArn": world.state_machine_arn,
        "PromoteReplicaFunctionArn": w.function_arn("promote-replica"),
        "ReportTopicArn": world.topic_arn,
        "FinishRunFunctionArn": w.function_arn("finish-run"),
        "FailbackStandbyPlan": _standby_plan(world),
        **{"".join(p.capitalize() for p in f.split("-")) + "FunctionArn": w.function_arn(f) for f in FUNCTIONS},
    }
    text = ASL_PATH.read_text()
    unknown = sorted(set(re.findall(r"\$\{(\w+)\}", text)) - set(values))
    if unknown:
        raise ValueError(f"{ASL_PATH}: no value for substitution(s) {', '.join(unknown)}")
    text = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)
    json.loads(text)
    return text


def seed(clients: Clients, world: Any) -> None:
    from drill import world as w

    lambdas = clients("lambda", w.DR)
    for name in FUNCTIONS:
        lambdas.create_function(
            FunctionName=name, Runtime="provided.al2023", Architectures=["arm64"], Role=w.role_arn("dr-failover-functions"),
            Handler="bootstrap", Code={"ZipFile": w._dummy_zip()}, Timeout=w.function_timeout_seconds(), MemorySize=256,
        )
    world.failback_state_machine_arn = clients("stepfunctions", w.DR).create_state_machine(
        name=STATE_MACHINE, definition=definition(world), roleArn=iam.role_arn("FailbackStateMachineRole"),
    )["stateMachineArn"]
