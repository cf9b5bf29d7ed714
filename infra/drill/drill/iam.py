"""The drill's deployment as the stand-in's IAM sees it: the two templates and their parameters.

``stacks(world, env)`` answers what ``POST /moto-api/dr/iam`` takes (drstandin/iam.py): the DR
stack (``infra/template.yaml``) with the parameters a deployment of this world would pass (read
from the functions' configuration, which docs/contract.md ties to the template's parameters), and
the vault account's stack (``infra/vault-account-role.yaml``). The session sends it after seeding,
before any function runs, so every drill renders the templates afresh.

Physical names: the functions are deployed under their binary names (``cargo lambda watch``
serves each binary under its own name), so the stack's functions are passed with those names;
roles CloudFormation would name are ``<DeploymentName>-<LogicalId>`` (``role_arn``), the report
bucket and the EventBridge rules, which CloudFormation would name too, are the world's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "infra" / "template.yaml"
VAULT_TEMPLATE = REPO / "infra" / "vault-account-role.yaml"

# Logical id of each function resource -> its binary (the template's BuildProperties.Binary).
FUNCTIONS = {
    "PromoteReplicaFunction": "promote-replica",
    "ScaleAsgFunction": "scale-asg",
    "FlipDnsFunction": "flip-dns",
    "VerifyBackupCopyFunction": "verify-backup-copy",
    "FinishRunFunction": "finish-run",
    "ReprotectDatabaseFunction": "reprotect-database",
    "FailbackComputeFunction": "failback-compute",
    "FailbackDatabaseFunction": "failback-database",
    "FailbackDnsFunction": "failback-dns",
    "FailbackStandbyFunction": "failback-standby",
    "PilotCapacityFunction": "pilot-capacity",
}


def role_arn(logical_id: str) -> str:
    """The ARN of a role of the DR stack that CloudFormation names (``<stack>-<LogicalId>``)."""
    from drill import world as w

    return w.role_arn(f"{w.DEPLOYMENT}-{logical_id}")


def parameters(world: Any, env: Dict[str, str]) -> Dict[str, Any]:
    """The DR stack's parameters for ``world``, from the functions' configuration ``env``."""
    from drill import failback, reprotect
    from drill import world as w

    options = world.options
    params: Dict[str, Any] = {
        "DeploymentName": w.DEPLOYMENT,
        "PrimaryRegion": w.PRIMARY,
        "HealthCheckAlarmName": w.ALARM,
        "DbKind": world.db_kind,
        "AsgTargets": env["ASG_TARGETS"],
        "AsgGroupNames": env["ASG_ALLOWED_GROUP_NAMES"],
        "AsgReadyPercent": env["ASG_READY_PERCENT"],
        "DnsCapacityPercent": env["ASG_DNS_CAPACITY_PERCENT"],
        "DnsHostedZoneId": env["DNS_HOSTED_ZONE_ID"],
        "DnsRecords": env["DNS_RECORDS"],
        "DnsRecordNames": env["DNS_ALLOWED_RECORD_NAMES"],
        "DnsRecordTypes": env["DNS_ALLOWED_RECORD_TYPES"],
        "BackupVaultName": env["BACKUP_VAULT_NAME"],
        "BackupVaultRegion": env["BACKUP_VAULT_REGION"],
        "BackupVaultRoleArn": env["BACKUP_VAULT_ROLE_ARN"],
        "BackupVaultExternalId": env["BACKUP_VAULT_EXTERNAL_ID"],
        "BackupResources": env["BACKUP_RESOURCES"],
        "MetricNamespace": env["METRIC_NAMESPACE"],
        "PollSeconds": options.poll_seconds,
        "DatabaseBudgetSeconds": options.database_budget_seconds,
        "ComputeBudgetSeconds": options.compute_budget_seconds,
        "DnsBudgetSeconds": options.dns_budget_seconds,
        "AlarmFailoverApproval": options.approval,
        "ApprovalTimeoutSeconds": options.approval_timeout_seconds,
        "ApprovalExpiryAction": options.approval_on_expiry,
        "ReprotectInstanceClass": reprotect.INSTANCE_CLASS,
        "ReprotectBudgetSeconds": options.reprotect_budget_seconds,
        "FailbackDrainSeconds": options.failback_drain_seconds,
        "FailbackApprovalTimeoutSeconds": options.failback_approval_timeout_seconds,
    }
    if world.db_kind == "rds-instance":
        params.update(
            {
                "DbReplicaInstanceId": env["DB_REPLICA_INSTANCE_ID"],
                "ReprotectReplicaInstanceId": reprotect.REPLICA,
                "ReprotectKmsKeyArn": reprotect.kms_key_arn(w.PRIMARY),
            }
        )
    else:
        params.update(
            {
                "DbGlobalClusterId": env["DB_GLOBAL_CLUSTER_ID"],
                "DbDrClusterId": env["DB_DR_CLUSTER_ID"],
                "ReprotectClusterId": reprotect.SECONDARY_CLUSTER,
            }
        )
    if "FAILBACK_ASG_TARGETS" in env:
        targets = json.loads(env["FAILBACK_ASG_TARGETS"])
        params.update(
            {
                "FailbackAsgTargets": env["FAILBACK_ASG_TARGETS"],
                "FailbackAsgGroupNames": ",".join(t["group"] for t in targets),
                "FailbackDnsRecords": env["FAILBACK_DNS_RECORDS"],
                "PilotCapacity": env["PILOT_CAPACITY"],
            }
        )
        if world.db_kind == "rds-instance":
            params.update(
                {
                    "FailbackStandbyReplicaInstanceId": failback.STANDBY,
                    "FailbackStandbyKmsKeyArn": reprotect.kms_key_arn(w.DR),
                }
            )
        else:
            params["DbPrimaryClusterId"] = w.AURORA_PRIMARY
    return params


def stacks(world: Any, env: Dict[str, str], template: Optional[Path] = None) -> List[Dict[str, Any]]:
    """The body's ``stacks`` for ``POST /moto-api/dr/iam``; ``template``: the DR stack's template
    (None: infra/template.yaml)."""
    from drill import world as w

    dr_params = parameters(world, env)
    physical = {logical: binary for logical, binary in FUNCTIONS.items()}
    # Names CloudFormation would generate, as the world's resources have them.
    physical.update(
        {
            "ReportBucket": world.report_bucket,
            "AlarmTriggerRule": w.ALARM_RULE_DR,
            "AlarmNotFromHealthyRule": w.ALARM_NOT_FROM_HEALTHY_RULE,
            "DrillScheduleRule": w.DRILL_SCHEDULE_RULE,
            "BackupVerificationScheduleRule": w.BACKUP_SCHEDULE_RULE,
            "CopyJobFailedRule": w.COPY_JOB_FAILED_RULE,
        }
    )
    out = [
        {
            "template": str(template or TEMPLATE),
            "parameters": dr_params,
            "region": w.DR,
            "account": w.ACCOUNT,
            "physical_names": physical,
        }
    ]
    if env.get("BACKUP_VAULT_ROLE_ARN"):
        out.append(
            {
                "template": str(VAULT_TEMPLATE),
                "parameters": {
                    "DeploymentName": w.DEPLOYMENT,
                    "WorkloadAccountId": w.ACCOUNT,
                    "VerifyFunctionRoleName": f"{w.DEPLOYMENT}-verify-backup-{w.DR}",
                    "ExternalId": env["BACKUP_VAULT_EXTERNAL_ID"],
                    "BackupVaultName": env["BACKUP_VAULT_NAME"],
                    "BackupVaultRegion": env["BACKUP_VAULT_REGION"] or w.DR,
                    "RoleName": env["BACKUP_VAULT_ROLE_ARN"].rsplit("/", 1)[-1],
                },
                "region": w.DR,
                "account": env["BACKUP_VAULT_ROLE_ARN"].split(":")[4],
            }
        )
    return out
