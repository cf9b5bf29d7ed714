"""Re-protect in the local world: what the template installs when ReprotectReplicaInstanceId is set
(the reprotect-database function's configuration, the re-protect state machine) and what its plan
names in the primary region (a DB parameter group, a KMS key).

``world.seed`` calls ``seed`` once the failover state machine exists; ``function_env`` adds the
function's variables (an RDS read replica, or an Aurora secondary cluster).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any, Dict

from drill import iam
from drill.aws import ACCOUNT, Clients

ASL_PATH = Path(__file__).resolve().parents[3] / "infra" / "statemachine" / "reprotect.asl.json"
STATE_MACHINE = "drill-reprotect"  # the template's ${DeploymentName}-reprotect
FUNCTION = "reprotect-database"
REPLICA = "app-db-2"  # the new standby in the former primary region
INSTANCE_CLASS = "db.r6g.large"
# The application's own DB parameter group in the primary region. Re-protect does not name it: RDS
# refuses DBParameterGroupName on a cross-Region read replica of PostgreSQL
# (InvalidParameterCombination; "CreateDBInstanceReadReplica", DBParameterGroupName), so the
# replica gets the engine's default group and the operator applies this one afterwards.
PARAMETER_GROUP = "app-pg16"
SECONDARY_CLUSTER = "app-primary-2"  # Aurora: the secondary added when the former primary did not rejoin


def kms_key_arn(region: str) -> str:
    """The key that encrypts the database in ``region`` (the stand-in checks only its Region)."""
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{uuid.uuid5(uuid.NAMESPACE_URL, 'drill-database-key-' + region)}"


def function_env(world: Any) -> Dict[str, str]:
    from drill import world as w

    if world.db_kind == "aurora-global":
        # The world's global database is not encrypted: no key. The new secondary's network and
        # settings come from the former primary cluster.
        return {
            "REPROTECT_CLUSTER_ID": SECONDARY_CLUSTER,
            "REPROTECT_INSTANCE_CLASS": INSTANCE_CLASS,
            "REPROTECT_FORMER_PRIMARY_ID": w.AURORA_PRIMARY,
        }
    return {
        "REPROTECT_REPLICA_INSTANCE_ID": REPLICA,
        "REPROTECT_INSTANCE_CLASS": INSTANCE_CLASS,
        "REPROTECT_KMS_KEY_ID": kms_key_arn(w.PRIMARY),
        # The replica's network and settings come from the former primary.
        "REPROTECT_FORMER_PRIMARY_ID": w.RDS_PRIMARY,
    }


def definition(world: Any) -> str:
    """reprotect.asl.json with the template's substitutions; refuses any unknown placeholder."""
    from drill import world as w

    values = {
        "DeploymentName": w.DEPLOYMENT,
        "PollSeconds": str(world.options.poll_seconds),
        "ReprotectBudgetSeconds": str(world.options.reprotect_budget_seconds),
        "ReprotectDatabaseFunctionArn": w.function_arn(FUNCTION),
        "ReportTopicArn": world.topic_arn,
        "FinishRunFunctionArn": w.function_arn("finish-run"),
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

    if world.db_kind == "rds-instance":
        clients("rds", w.PRIMARY).create_db_parameter_group(
            DBParameterGroupName=PARAMETER_GROUP, DBParameterGroupFamily="postgres16", Description="app, PostgreSQL 16"
        )
    world.reprotect_state_machine_arn = clients("stepfunctions", w.DR).create_state_machine(
        name=STATE_MACHINE, definition=definition(world), roleArn=iam.role_arn("ReprotectStateMachineRole"),
    )["stateMachineArn"]
