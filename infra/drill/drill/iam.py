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
    "WitnessFunction": "witness",
}


def role_arn(logical_id: str) -> str:
    """The ARN of a role of the DR stack that CloudFormation names (``<stack>-<LogicalId>``)."""
    from drill import world as w

    return w.role_arn(f"{w.DEPLOYMENT}-{logical_id}")


def parameters(world: Any, env: Dict[str, str]) -> Dict[str, Any]:
    """The DR stack's parameters for ``world``, from the functions' configuration ``env``."""
    from drill import reprotect
    from drill import world as w

    options = world.options
    if w.PLAN:
        # --plan: the parameters `dr-failover plan render` derived from the plan, with the drill's
        # run settings (budgets, poll, approval timeout) as the other runs have them.
        params = dict(w.PLAN.parameters)
        params.update({
            "PollSeconds": options.poll_seconds,
            "DatabaseBudgetSeconds": options.database_budget_seconds,
            "ComputeBudgetSeconds": options.compute_budget_seconds,
            "DnsBudgetSeconds": options.dns_budget_seconds,
            "ApprovalTimeoutSeconds": options.approval_timeout_seconds,
            "ReprotectBudgetSeconds": options.reprotect_budget_seconds,
            "FailbackDrainSeconds": options.failback_drain_seconds,
            "FailbackApprovalTimeoutSeconds": options.failback_approval_timeout_seconds,
            # The witness (drill.world.witness_env): the plan does not name the primary's endpoint.
            "PrimaryEndpointUrl": env.get("WITNESS_PRIMARY_URL", ""),
            "WitnessAloneSeconds": env.get("WITNESS_ALONE_SECONDS", "600"),
        })
        return params
    params: Dict[str, Any] = {
        "DeploymentName": w.DEPLOYMENT,
        # The plan's version (a function refuses a layer of another one); the drill's functions
        # read the plan's variables from their env file, or from DR_PLAN_FILE with --plan.
        "PlanVersion": env.get("PLAN_VERSION", "0" * 64),
        "PrimaryRegion": w.PRIMARY,
        "HealthCheckAlarmName": w.ALARM,
        "DbKind": world.db_kind,
        "AsgGroupNames": env["ASG_ALLOWED_GROUP_NAMES"],
        "AsgReadyPercent": env["ASG_READY_PERCENT"],
        "DnsCapacityPercent": env["ASG_DNS_CAPACITY_PERCENT"],
        "DnsHostedZoneId": env["DNS_HOSTED_ZONE_ID"],
        "DnsRecordNames": env["DNS_ALLOWED_RECORD_NAMES"],
        "DnsRecordTypes": env["DNS_ALLOWED_RECORD_TYPES"],
        "BackupVaultName": env["BACKUP_VAULT_NAME"],
        "BackupVaultRegion": env["BACKUP_VAULT_REGION"],
        "BackupVaultRoleArn": env["BACKUP_VAULT_ROLE_ARN"],
        "BackupVaultExternalId": env["BACKUP_VAULT_EXTERNAL_ID"],
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
    # The parameters the template turns into these variables (a test's overrides included, as a
    # deployment with that configuration would have them).
    from_env = {
        "DbReplicaInstanceId": "DB_REPLICA_INSTANCE_ID",
        "DbGlobalClusterId": "DB_GLOBAL_CLUSTER_ID",
        "DbDrClusterId": "DB_DR_CLUSTER_ID",
        "DbMaxReplicaLagSeconds": "DB_MAX_REPLICA_LAG_SECONDS",
        "DbBackupRetentionDays": "DB_BACKUP_RETENTION_DAYS",
        "ReprotectReplicaInstanceId": "REPROTECT_REPLICA_INSTANCE_ID",
        "ReprotectClusterId": "REPROTECT_CLUSTER_ID",
        "ReprotectInstanceClass": "REPROTECT_INSTANCE_CLASS",
        "ReprotectParameterGroupName": "REPROTECT_PARAMETER_GROUP",
        "ReprotectKmsKeyArn": "REPROTECT_KMS_KEY_ID",
        "PrimaryTimeoutSeconds": "PRIMARY_TIMEOUT_SECONDS",
        "BackupCopyJobWindowHours": "BACKUP_COPY_JOB_WINDOW_HOURS",
        "AlarmMaxAgeSeconds": "ALARM_MAX_AGE_SECONDS",
        # The witness (drill.world.witness_env).
        "PrimaryEndpointUrl": "WITNESS_PRIMARY_URL",
        "WitnessAloneSeconds": "WITNESS_ALONE_SECONDS",
    }
    params.update({name: env[variable] for name, variable in from_env.items() if variable in env})
    if "FAILBACK_ASG_TARGETS" in env:
        targets = json.loads(env["FAILBACK_ASG_TARGETS"])
        params.update(
            {
                "FailbackAsgGroupNames": w.group_name_scope([t["group"] for t in targets]),
            }
        )
        failback_from_env = {
            "FailbackStandbyReplicaInstanceId": "FAILBACK_REPROTECT_REPLICA_INSTANCE_ID",
            "FailbackStandbyParameterGroupName": "FAILBACK_REPROTECT_PARAMETER_GROUP",
            "FailbackStandbyKmsKeyArn": "FAILBACK_REPROTECT_KMS_KEY_ID",
        }
        params.update({name: env[variable] for name, variable in failback_from_env.items() if variable in env})
        if world.db_kind != "rds-instance":
            # FAILBACK_DB_DR_CLUSTER_ID is "<DbPrimaryClusterId>,<ReprotectClusterId>".
            params["DbPrimaryClusterId"] = env["FAILBACK_DB_DR_CLUSTER_ID"].split(",")[0]
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
    if w.PLAN:
        # The vault's values as the rendered plan has them (drill.plan_world.render).
        env = {**env, **{k: v for k, v in (
            ("BACKUP_VAULT_ROLE_ARN", dr_params.get("BackupVaultRoleArn", "")),
            ("BACKUP_VAULT_EXTERNAL_ID", dr_params.get("BackupVaultExternalId", "")),
            ("BACKUP_VAULT_NAME", dr_params.get("BackupVaultName", "")),
            ("BACKUP_VAULT_REGION", dr_params.get("BackupVaultRegion", "")),
        )}}
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
