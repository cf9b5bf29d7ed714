"""The two-region world a drill fails over, built in the stand-in through the ordinary AWS APIs.

Primary region eu-west-1, DR region eu-central-1; Route 53 health-check metrics and their alarm in
us-east-1. Workload account 123456789012; the DR backup vault in a separate account 210987654321,
read through a role assumed with an external id.

``seed(clients, options)`` builds it and answers a ``World``: every name and id the functions'
configuration, the state machine and the drill's snapshots need. ``function_env(world, ...)``
is the functions' configuration, exactly the variables docs/contract.md names.
"""

from __future__ import annotations

import copy
import datetime
import io
import json
import re
import time
import urllib.request
import uuid
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from drill import failback, iam, large, reprotect
from drill.aws import ACCOUNT, VAULT_ACCOUNT, Clients

PRIMARY = "eu-west-1"
DR = "eu-central-1"
GLOBAL = "us-east-1"  # Route 53 health-check metrics exist only here
DEPLOYMENT = "drill"
# The state machines take the names infra/template.yaml gives them (${DeploymentName}-failover...).
STATE_MACHINE = f"{DEPLOYMENT}-failover"
FUNCTIONS = ["promote-replica", "scale-asg", "flip-dns", "verify-backup-copy", "reprotect-database", "finish-run", "witness"]

ZONE = "example.com."
PRIMARY_IP = "198.51.100.10"
DR_IP = "203.0.113.20"
PRIMARY_API_IP = "198.51.100.11"
DR_API_IP = "203.0.113.21"
# Load balancer aliases: the hosted zone ids are the ELB zones of the two regions.
PRIMARY_LB = {"HostedZoneId": "Z32O12XQLNTSW2", "DNSName": "app-primary-1234567890.eu-west-1.elb.amazonaws.com."}
DR_LB = {"HostedZoneId": "Z215JYRZR1TBD5", "DNSName": "app-dr-0987654321.eu-central-1.elb.amazonaws.com."}

RDS_PRIMARY = "app-db"
RDS_REPLICA = "app-db-dr"
AURORA_GLOBAL = "app-global"
AURORA_PRIMARY = "app-primary"
AURORA_DR = "app-dr"

# The application's network in each region (the regions have no default VPC: the world deletes
# it, as many accounts do), and what its databases are created with: re-protect and fail back
# must carry these to the standbys they create.
DB_SUBNET_GROUP = "app-db-subnets"
DB_SECURITY_GROUPS = ("app-db", "app-db-admin")
OPTION_GROUP = "app-pg16-options"  # rds-instance
CLUSTER_PARAMETER_GROUP = "app-apg15"  # aurora-global
INSTANCE_PARAMETER_GROUP = "app-apg15-instance"  # aurora-global, its DB instances
DB_TAGS = [{"Key": "app", "Value": "shop"}, {"Key": "cost-center", "Value": "dr-drill"}]

PRIMARY_GROUPS = {"web": 6, "worker": 4}
DR_GROUPS = {"web-dr": (1, 1, 2), "worker-dr": (0, 0, 1)}  # min, desired, max: pilot light

SOURCE_VAULT = "app-backups"
DR_VAULT = "dr-vault"
VAULT_ROLE = f"{DEPLOYMENT}-dr-failover-backup-reader"
VAULT_EXTERNAL_ID = "dr-failover-drill-7f3a"
EFS_ARN = f"arn:aws:elasticfilesystem:{PRIMARY}:{ACCOUNT}:file-system/fs-0a1b2c3d4e5f60718"
DYNAMODB_ARN = f"arn:aws:dynamodb:{PRIMARY}:{ACCOUNT}:table/app-sessions"
RPO_MINUTES = 24 * 60

ALARM = "app-primary-health"
ALARM_RULE_US = "dr-failover-forward-alarm"
# infra/us-east-1.yaml's alarm on health check alarm events the forwarding rule could not deliver.
UNFORWARDED_ALARM = f"{DEPLOYMENT}-dr-failover-unforwarded-alarm"
ALARM_RULE_DR = f"{DEPLOYMENT}-failover-trigger"  # the template names it so
ALARM_NOT_FROM_HEALTHY_RULE = "dr-failover-alarm-not-from-healthy"
COPY_JOB_FAILED_RULE = "dr-failover-copy-job-failed"
WITNESS_RULE = "dr-failover-alarm-witness"
BACKUP_SCHEDULE_RULE = "dr-failover-backup-check"
DRILL_SCHEDULE_RULE = "dr-failover-weekly-dry-run"
TOPIC = f"{DEPLOYMENT}-dr-failover-reports"  # the template's ReportTopic name
REPORT_QUEUE = "dr-failover-reports-drill"
REPORT_BUCKET = "dr-failover-reports-drill"
WITNESS_QUEUE = "dr-failover-alarm-events"

ASL_PATH = Path(__file__).resolve().parents[3] / "infra" / "statemachine" / "failover.asl.json"
READINESS_ASL_PATH = ASL_PATH.with_name("readiness.asl.json")
READINESS_STATE_MACHINE = f"{DEPLOYMENT}-readiness"
METRIC_NAMESPACE = "DrFailover"
# The template's ReadinessNotReadyAlarm and ReadinessStaleAlarm, by the names it gives them.
READINESS_ALARM = f"{DEPLOYMENT}-dr-failover-not-ready"
READINESS_STALE_ALARM = f"{DEPLOYMENT}-dr-failover-readiness-stale"
# ``./scripts/drill --plan FILE``: the world the plan describes (drill/plan_world.py), or None.
PLAN: Any = None

# The readiness alarms' period on the stand-in (AWS's shortest alarm period is 10 s).
READINESS_ALARM_PERIOD_SECONDS = 10


@dataclass
class Options:
    aurora: bool = False
    # The alarm rule starts the state machine with dry_run true: the alarm path end to end, with
    # nothing changed (how a deployment can watch alarms before it trusts them to fail over).
    dry_run_on_alarm: bool = False
    poll_seconds: int = 1
    # Each stage's time budget, in seconds (the template's DatabaseBudgetSeconds,
    # ComputeBudgetSeconds and DnsBudgetSeconds).
    database_budget_seconds: int = 120
    compute_budget_seconds: int = 120
    dns_budget_seconds: int = 60
    # ASG_DNS_CAPACITY_PERCENT of scale-asg (the template's DnsCapacityPercent).
    dns_capacity_percent: int = 50
    # Aurora only: the DR secondary cluster has no DB instance (a "headless" secondary; promoting
    # it gives a writer cluster with no instance to write through until one is added).
    aurora_dr_without_instance: bool = False
    # The DR group web-dr uses a mixed instances policy with weights (m6i.xlarge weight 2 first,
    # m6i.large weight 1): its capacities are units, and each launched instance counts 2, so the
    # group's instance count differs from its desired capacity.
    mixed_instances: bool = False
    # A larger deployment (drill/large.py): this many more DNS records, DR groups and backup
    # resources than the base world's 3, 2 and 3.
    extra_dns_records: int = 0
    extra_groups: int = 0
    extra_backup_resources: int = 0
    # The PRIMARY set of the failover record app.example.com carries the primary's health check,
    # so Route 53 answers the SECONDARY (DR) by itself when the check fails, before the database
    # is promoted: the setup every plan warns about. Off, as docs/contract.md recommends: the
    # health check only drives the alarm that starts the failover.
    primary_health_check_on_record: bool = False
    # The approval gate of alarm-started failovers (the template's AlarmFailoverApproval,
    # ApprovalTimeoutSeconds and ApprovalExpiryAction).
    approval: str = "none"
    approval_timeout_seconds: int = 900
    approval_on_expiry: str = "abort"
    # Environment variables given to the functions over what function_env works out: a
    # deployment whose parameters disagree (a group missing from AsgGroupNames, for instance).
    function_env_overrides: Dict[str, str] = field(default_factory=dict)
    # The re-protect state machine's ReprotectBudgetSeconds (drill/reprotect.py).
    reprotect_budget_seconds: int = 120
    # The fail back state machine's FailbackApprovalTimeoutSeconds (drill/failback.py).
    failback_approval_timeout_seconds: int = 60
    # FailbackDrainSeconds: how long the DR groups keep their capacity after DNS moved back (the
    # template's default is 300 s; the drill's records have short TTLs and no connections to drain).
    failback_drain_seconds: int = 2
    # ---- the witness (shared::witness, issue 25): WITNESS_ALONE_SECONDS, how long the witness
    # alone must see the primary down before it starts a failover (the template's
    # WitnessAloneSeconds; long by default, so that only a test that means it reaches it).
    witness_alone_seconds: int = 600


@dataclass
class World:
    options: Options
    db_kind: str
    zone_id: str = ""
    health_check_id: str = ""
    # With a plan whose dns.gate is set: the gate's health check and its alarm (in the DR region),
    # as the template's DnsGateHealthCheck and DnsGateAlarm.
    gate_health_check_id: str = ""
    gate_alarm: str = ""
    alarm_arn: str = ""
    state_machine_arn: str = ""
    reprotect_state_machine_arn: str = ""
    failback_state_machine_arn: str = ""
    topic_arn: str = ""
    report_bucket: str = ""
    report_queue_url: str = ""
    witness_queue_url: str = ""
    function_arns: Dict[str, str] = field(default_factory=dict)
    db_resource_arn: str = ""
    dr_vault_arn: str = ""
    source_vault_arn: str = ""
    vault_role_arn: str = ""
    backup_rule_arn: str = ""
    backup_resources: List[Dict[str, Any]] = field(default_factory=list)
    readiness_state_machine_arn: str = ""
    # The primary's endpoint the witness probes: the session's own small HTTP server
    # (drill.session.PrimaryEndpoint), which a test turns up or down.
    primary_endpoint_url: str = ""
    # Per region: the application's subnets and its database's VPC security group ids.
    subnets: Dict[str, List[str]] = field(default_factory=dict)
    db_security_groups: Dict[str, List[str]] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{DR}:{ACCOUNT}:function:{name}"


def dns_records(extra: int = 0) -> List[Dict[str, Any]]:
    if PLAN:
        return PLAN.records
    return _base_dns_records() + large.records(extra, DR_IP)


def _base_dns_records() -> List[Dict[str, Any]]:
    return [
        {
            "name": "app.example.com.",
            "type": "A",
            "routing": "failover",
            "primary_set_identifier": "primary",
            "dr_set_identifier": "secondary",
            "dr": {"values": [DR_IP], "ttl": 60},
        },
        {
            "name": "api.example.com.",
            "type": "A",
            "routing": "weighted",
            "primary_set_identifier": "primary",
            "dr_set_identifier": "dr",
        },
        {
            "name": "www.example.com.",
            "type": "A",
            "routing": "simple",
            "dr": {
                "alias": {
                    "hosted_zone_id": DR_LB["HostedZoneId"],
                    "dns_name": DR_LB["DNSName"],
                    "evaluate_target_health": False,
                }
            },
        },
    ]


def asg_targets(extra: int = 0) -> List[Dict[str, Any]]:
    if PLAN:
        from drill import plan_world

        return plan_world.asg_targets(PLAN)
    return [
        {"group": "web-dr", "capacity": 6},
        {"group": "worker-dr", "primary_group": "worker", "percent_of_primary": 100, "fallback_capacity": 4},
    ] + large.targets(extra)


def state_machine_arn(name: str) -> str:
    """The ARN Step Functions gives the drill's state machine `name` in the DR region."""
    return f"arn:aws:states:{DR}:{ACCOUNT}:stateMachine:{name}"


def witness_env(world: World) -> Dict[str, str]:
    """The witness's configuration (docs/contract.md, "witness"), and WITNESS_CONFIRMS_ALARM, which
    the template sets for every function when the deployment has a witness."""
    return {
        "WITNESS_PRIMARY_URL": world.primary_endpoint_url or "http://127.0.0.1:9/health",
        "WITNESS_ALONE_SECONDS": str(world.options.witness_alone_seconds),
        "WITNESS_GAP_SECONDS": "180",
        "WITNESS_TIMEOUT_MS": "2000",
        "WITNESS_NAMESPACE": f"{METRIC_NAMESPACE}/Witness",
        "TRIGGER_RULE_ARN": f"arn:aws:events:{DR}:{ACCOUNT}:rule/{ALARM_RULE_DR}",
        "WITNESS_CONFIRMS_ALARM": "true",
    }


def function_env(world: World, endpoint: str) -> Dict[str, str]:
    """Every function's configuration (docs/contract.md), plus how to reach the stand-in."""
    if PLAN:
        env = _plan_function_env(world, endpoint)
        env.update(witness_env(world))
        return env
    env = {
        # The stand-in. Each function's access key id comes from the workspace Cargo.toml
        # ([workspace.metadata.lambda.bin.<binary>.env]): the stand-in authorizes it as the
        # function's role (drill/iam.py); the secret is not checked.
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": DR,
        "AWS_DEFAULT_REGION": DR,
        "RUST_LOG": "info",
        # The recovery plan.
        "DEPLOYMENT_NAME": DEPLOYMENT,
        # The deployment's three state machines: one real run at a time across them (shared::exclusive).
        "FAILOVER_STATE_MACHINE_ARN": state_machine_arn(STATE_MACHINE),
        "FAILBACK_STATE_MACHINE_ARN": state_machine_arn(failback.STATE_MACHINE),
        "REPROTECT_STATE_MACHINE_ARN": state_machine_arn(reprotect.STATE_MACHINE),
        "PRIMARY_REGION": PRIMARY,
        "DR_REGION": DR,
        "DB_KIND": world.db_kind,
        "ASG_TARGETS": json.dumps(asg_targets(world.options.extra_groups)),
        "ASG_READY_PERCENT": "100",
        "ASG_DNS_CAPACITY_PERCENT": str(world.options.dns_capacity_percent),
        "PRIMARY_TIMEOUT_SECONDS": "5",
        "SDK_OPERATION_TIMEOUT_SECONDS": "10",
        "DNS_HOSTED_ZONE_ID": world.zone_id,
        "DNS_RECORDS": json.dumps(dns_records(world.options.extra_dns_records)),
        "BACKUP_VAULT_NAME": DR_VAULT,
        "BACKUP_VAULT_REGION": DR,
        "BACKUP_VAULT_ROLE_ARN": world.vault_role_arn,
        "BACKUP_VAULT_EXTERNAL_ID": VAULT_EXTERNAL_ID,
        "BACKUP_RESOURCES": json.dumps(world.backup_resources),
        "BACKUP_COPY_JOB_WINDOW_HOURS": "24",
        "METRIC_NAMESPACE": "DrFailover",
        "ALARM_MAX_AGE_SECONDS": "900",
        # finish-run: where every run's report is stored and published.
        "REPORT_TOPIC_ARN": world.topic_arn,
        "REPORT_BUCKET_NAME": world.report_bucket,
    }
    # What the functions' roles may change, as the template fills it from AsgGroupNames,
    # DnsRecordNames (Route 53's IAM form: lowercase, no final dot) and DnsRecordTypes.
    targets = json.loads(env["ASG_TARGETS"])
    records = json.loads(env["DNS_RECORDS"])
    env["ASG_ALLOWED_GROUP_NAMES"] = group_name_scope([t["group"] for t in targets])
    env["DNS_ALLOWED_RECORD_NAMES"] = record_name_scope(records)
    env["DNS_ALLOWED_RECORD_TYPES"] = ",".join(sorted({r["type"] for r in records}))
    env.update(reprotect.function_env(world))
    env.update(failback.function_env(world))
    env.update(witness_env(world))
    env.update(world.options.function_env_overrides)
    if world.db_kind == "rds-instance":
        env.update(
            {
                "DB_REPLICA_INSTANCE_ID": RDS_REPLICA,
                "DB_MAX_REPLICA_LAG_SECONDS": "300",
                "DB_BACKUP_RETENTION_DAYS": "7",
            }
        )
    else:
        env.update({"DB_GLOBAL_CLUSTER_ID": AURORA_GLOBAL, "DB_DR_CLUSTER_ID": AURORA_DR})
    return env


# shared::plan::render::MAX_RECORD_NAME_LIST: past it, the roles are scoped to the zone, not to
# names (DnsRecordNames "*"), as `dr-failover plan render` writes it.
MAX_RECORD_NAME_LIST = 2048


def _plan_function_env(world: World, endpoint: str) -> Dict[str, str]:
    """With --plan: what the DR stack sets in every function's environment, and the plan file the
    layer would hold (DR_PLAN_FILE): the functions read the plan's values from it, as in AWS."""
    import tempfile

    from drill import plan_world

    work = Path(tempfile.mkdtemp(prefix="plan-", dir=REPO_TARGET))
    plan_world.render(PLAN, world.zone_id, world.vault_role_arn, VAULT_EXTERNAL_ID, work)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": DR,
        "AWS_DEFAULT_REGION": DR,
        "RUST_LOG": "info",
        "FAILOVER_STATE_MACHINE_ARN": state_machine_arn(STATE_MACHINE),
        "FAILBACK_STATE_MACHINE_ARN": state_machine_arn(failback.STATE_MACHINE),
        "REPROTECT_STATE_MACHINE_ARN": state_machine_arn(reprotect.STATE_MACHINE),
        "SDK_OPERATION_TIMEOUT_SECONDS": "10",
        "FAILBACK_SDK_OPERATION_TIMEOUT_SECONDS": "10",
        "REPORT_TOPIC_ARN": world.topic_arn,
        "REPORT_BUCKET_NAME": world.report_bucket,
        "DR_PLAN_FILE": str(PLAN.plan_file),
        "PLAN_VERSION": PLAN.version,
    }
    if PLAN.gate:
        # What the DR stack sets for the gate (infra/template.yaml), and, in place of the zone's
        # name servers (whose NS names do not resolve here), the stand-in's (drstandin.route53_dns).
        dns = json.loads(urllib.request.urlopen(f"{endpoint}/moto-api/dr/dns", timeout=10).read())
        env.update({
            "DNS_GATE_ALARM_NAME": world.gate_alarm,
            "DNS_GATE_HEALTH_CHECK_ID": world.gate_health_check_id,
            "DNS_AUTHORITATIVE_SERVERS": f"{dns['host']}:{dns['port']}",
        })
    env.update(world.options.function_env_overrides)
    return env


REPO_TARGET = Path(__file__).resolve().parents[3] / "target"


# shared::plan::render::MAX_GROUP_ARNS_PER_STATEMENT: past it, the roles are scoped to their
# region's groups, not to names (AsgGroupNames "*"), as `dr-failover plan render` writes it.
MAX_GROUP_ARNS_PER_STATEMENT = 1500


def group_name_scope(names: List[str]) -> str:
    """AsgGroupNames as `dr-failover plan render` derives it, or "*" past the budget."""
    if sum(len(n) + 69 for n in names) > MAX_GROUP_ARNS_PER_STATEMENT:
        return "*"
    return ",".join(names)


def record_name_scope(records: List[Dict[str, Any]]) -> str:
    """DnsRecordNames as `dr-failover plan render` derives it (Route 53's IAM form: lowercase,
    no final dot), or "*" when the list passes MAX_RECORD_NAME_LIST bytes."""
    names = sorted({r["name"].rstrip(".").lower().replace("*", "\\052") for r in records})
    if sum(len(n) + 1 for n in names) > MAX_RECORD_NAME_LIST:
        return "*"
    return ",".join(names)


def template_function_variables() -> Dict[str, List[str]]:
    """Each function binary of the DR region's template and the names of its environment
    variables there (Globals.Function.Environment's and its own)."""
    template = _template()
    shared = list(((template["Globals"]["Function"].get("Environment") or {}).get("Variables") or {}))
    names: Dict[str, List[str]] = {}
    for resource in template["Resources"].values():
        binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if binary:
            own = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
            names[binary] = shared + [name for name in own if name not in shared]
    return names


def configure_function_environments(clients: Clients, env: Dict[str, str]) -> Dict[str, int]:
    """Set each function's environment in the stand-in's Lambda as the template defines it (its
    variable names, the drill's values), so Lambda's 4 KB limit on a function's environment is
    played: the stand-in refuses, as Lambda refuses CreateFunction and UpdateFunctionConfiguration,
    an environment past it ("Lambda quotas",
    https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Answers each
    function's environment size in bytes as Lambda measures it; raises EnvironmentTooLarge naming
    the function, its size and its largest variables."""
    from botocore.exceptions import ClientError

    client = clients("lambda", DR)
    existing = {f["FunctionName"] for page in client.get_paginator("list_functions").paginate() for f in page["Functions"]}
    sizes: Dict[str, int] = {}
    for binary, names in template_function_variables().items():
        if binary not in existing:
            continue
        variables = {name: env[name] for name in names if name in env}
        size = len(json.dumps(variables, separators=(",", ":"), ensure_ascii=False).encode())
        try:
            client.update_function_configuration(FunctionName=binary, Environment={"Variables": variables})
        except ClientError as err:
            if err.response["Error"]["Code"] != "InvalidParameterValueException":
                raise
            largest = sorted(variables, key=lambda name: -len(variables[name]))[:3]
            raise EnvironmentTooLarge(
                f"function {binary}: its environment is {size} bytes as Lambda measures it, past Lambda's "
                f"4 KB (4096 bytes); largest: "
                + ", ".join(f"{name} ({len(variables[name])} bytes)" for name in largest)
                + f". Lambda answered: {err.response['Error']['Message'][:300]}"
            ) from err
        sizes[binary] = size
    return sizes


class EnvironmentTooLarge(Exception):
    """A function's environment, as the template defines it, passes Lambda's 4 KB."""


# "CloudFormation quotas" (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html):
# a parameter value is at most 4,096 bytes.
MAX_PARAMETER_VALUE_BYTES = 4096


def template_parameter_variables() -> Dict[str, str]:
    """Environment variable -> the template parameter it holds as is (``!Ref P``, or a list
    parameter joined with commas, which is the list's own value)."""
    template = _template()
    parameters = set(template.get("Parameters") or {})
    held: Dict[str, str] = {}
    for resource in list(template["Resources"].values()) + [template["Globals"]["Function"]]:
        properties = resource.get("Properties", resource) or {}
        for name, value in ((properties.get("Environment") or {}).get("Variables") or {}).items():
            ref = value.get("!Ref") if isinstance(value, dict) else None
            joined = value.get("!Join") if isinstance(value, dict) else None
            if joined and joined[0] == "," and isinstance(joined[1], dict):
                ref = joined[1].get("!Ref")
            if isinstance(ref, str) and ref in parameters:
                held[name] = ref
    return held


def check_parameter_values(env: Dict[str, str]) -> None:
    """Each template parameter the drill fills (through the variable that holds it) is at most
    CloudFormation's 4,096 bytes; raises ParameterTooLong naming the parameter otherwise."""
    for variable, parameter in sorted(template_parameter_variables().items()):
        value = env.get(variable)
        if value is not None and len(value.encode()) > MAX_PARAMETER_VALUE_BYTES:
            raise ParameterTooLong(
                f"parameter {parameter} (the functions' {variable}) is {len(value.encode())} bytes, past "
                f"CloudFormation's {MAX_PARAMETER_VALUE_BYTES}-byte parameter value: the stack would not deploy"
            )


class ParameterTooLong(Exception):
    """A template parameter's value passes CloudFormation's 4,096 bytes."""


def write_env_file(env: Dict[str, str], path: Path) -> None:
    """KEY='VALUE' lines, as `cargo lambda watch --env-file` reads them (dotenv: single quotes
    keep JSON's double quotes and spaces literal)."""
    for key, value in env.items():
        if "'" in value or "\n" in value:
            raise ValueError(f"{key}: a value for the env file may not hold a single quote or a newline")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key}='{value}'\n" for key, value in env.items()))


def state_machine_definition(world: World, path: Path = ASL_PATH) -> str:
    """The ASL file with its substitutions, unchanged otherwise; refuses any unknown placeholder."""
    values = {
        "DeploymentName": DEPLOYMENT,
        "PollSeconds": str(world.options.poll_seconds),
        "DatabaseBudgetSeconds": str(world.options.database_budget_seconds),
        "ComputeBudgetSeconds": str(world.options.compute_budget_seconds),
        "DnsBudgetSeconds": str(world.options.dns_budget_seconds),
        "AlarmFailoverApproval": world.options.approval,
        "ApprovalTimeoutSeconds": str(world.options.approval_timeout_seconds),
        "ApprovalExpiryAction": world.options.approval_on_expiry,
        "PromoteReplicaFunctionArn": function_arn("promote-replica"),
        "ScaleAsgFunctionArn": function_arn("scale-asg"),
        "FlipDnsFunctionArn": function_arn("flip-dns"),
        "VerifyBackupCopyFunctionArn": function_arn("verify-backup-copy"),
        "FinishRunFunctionArn": function_arn("finish-run"),
        "ReportTopicArn": world.topic_arn,
        "MetricNamespace": METRIC_NAMESPACE,
        "AlarmRuleName": ALARM_RULE_DR,
        "TriggerRuleArn": f"arn:aws:events:{DR}:{ACCOUNT}:rule/{ALARM_RULE_DR}",
        "HealthCheckAlarmName": ALARM,
        "UnforwardedAlarmName": UNFORWARDED_ALARM,
    }
    text = path.read_text()
    unknown = sorted(set(re.findall(r"\$\{(\w+)\}", text)) - set(values))
    if unknown:
        raise ValueError(f"{path}: no value for substitution(s) {', '.join(unknown)}")
    text = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)
    json.loads(text)  # still JSON
    return text


# ---------------------------------------------------------------------------------------------
# Seeding


def seed(clients: Clients, options: Options) -> World:
    world = World(options=options, db_kind="aurora-global" if options.aurora else "rds-instance")
    _iam_roles(clients)
    _network(clients, world)
    if options.aurora:
        _aurora(clients, world)
    else:
        _rds_instance(clients, world)
    _auto_scaling(clients, world)
    change_id = _route53(clients, world)
    _reports(clients, world)
    _functions(clients, world)
    _state_machine(clients, world)
    _readiness(clients, world)
    reprotect.seed(clients, world)
    failback.seed(clients, world)
    _alarm_and_rules(clients, world)
    _backup(clients, world)
    # Route 53 refuses a further change to the zone while the seed change is PENDING
    # (PriorRequestNotComplete): hand over a zone that is INSYNC.
    _wait_insync(clients("route53", GLOBAL), change_id)
    return world


GATE_NAMESPACE = "DrFailover"


def _dns_gate(clients: Clients, world: World) -> None:
    """The DNS gate as infra/template.yaml's DnsGateAlarm and DnsGateHealthCheck make it: an alarm
    in the DR region on DnsGate (missing data ignored), and a Route 53 health check that follows
    it (its last known status while it cannot be read)."""
    world.gate_alarm = f"{DEPLOYMENT}-dr-failover-dns-gate"
    clients("cloudwatch", DR).put_metric_alarm(
        AlarmName=world.gate_alarm,
        Namespace=GATE_NAMESPACE,
        MetricName="DnsGate",
        Dimensions=[{"Name": "Deployment", "Value": DEPLOYMENT}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="ignore",
    )
    world.gate_health_check_id = clients("route53", GLOBAL).create_health_check(
        CallerReference=str(uuid.uuid4()),
        HealthCheckConfig={
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": DR, "Name": world.gate_alarm},
            "InsufficientDataHealthStatus": "LastKnownStatus",
        },
    )["HealthCheck"]["Id"]


def _wait_insync(route53: Any, change_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while route53.get_change(Id=change_id)["ChangeInfo"]["Status"] != "INSYNC":
        if time.monotonic() > deadline:
            raise RuntimeError(f"Route 53 change {change_id} not INSYNC within {timeout:.0f} s")
        time.sleep(0.2)  # well under Route 53's request rate


def _trust(principal: Dict[str, Any], condition: Optional[Dict[str, Any]] = None) -> str:
    statement: Dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _iam_roles(clients: Clients) -> None:
    iam_client = clients("iam", GLOBAL)
    for name, service in (
        ("dr-failover-functions", "lambda.amazonaws.com"),
        ("dr-failover-states", "states.amazonaws.com"),
        ("dr-failover-readiness", "states.amazonaws.com"),
        ("dr-failover-events", "events.amazonaws.com"),
    ):
        iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=_trust({"Service": service}))


def role_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def _network(clients: Clients, world: World) -> None:
    """Each region as the application's account has it: no default VPC (deleted, so RDS refuses a
    database without a DB subnet group, "Working with a DB instance in a VPC"), the application's
    VPC with a subnet in two Availability Zones, its DB subnet group and the database's security
    groups."""
    for number, region in enumerate((PRIMARY, DR), start=1):
        ec2 = clients("ec2", region)
        for vpc in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
            for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]:
                ec2.delete_subnet(SubnetId=subnet["SubnetId"])
            ec2.delete_vpc(VpcId=vpc["VpcId"])
        vpc_id = ec2.create_vpc(CidrBlock=f"10.{number}.0.0/16")["Vpc"]["VpcId"]
        world.subnets[region] = [
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.{number}.{i}.0/24", AvailabilityZone=f"{region}{zone}")[
                "Subnet"]["SubnetId"]
            for i, zone in enumerate("ab", start=1)
        ]
        world.db_security_groups[region] = [
            ec2.create_security_group(GroupName=name, Description=f"{name} ({region})", VpcId=vpc_id)["GroupId"]
            for name in DB_SECURITY_GROUPS
        ]
        rds = clients("rds", region)
        rds.create_db_subnet_group(
            DBSubnetGroupName=DB_SUBNET_GROUP, DBSubnetGroupDescription="app database", SubnetIds=world.subnets[region],
        )
        if world.db_kind == "rds-instance":
            rds.create_option_group(
                OptionGroupName=OPTION_GROUP, EngineName="postgres", MajorEngineVersion="16",
                OptionGroupDescription="app, PostgreSQL 16",
            )
        else:
            rds.create_db_cluster_parameter_group(
                DBClusterParameterGroupName=CLUSTER_PARAMETER_GROUP, DBParameterGroupFamily="aurora-postgresql15",
                Description="app, Aurora PostgreSQL 15",
            )
            rds.create_db_parameter_group(
                DBParameterGroupName=INSTANCE_PARAMETER_GROUP, DBParameterGroupFamily="aurora-postgresql15",
                Description="app, Aurora PostgreSQL 15 instances",
            )


def db_placement(world: World, region: str) -> Dict[str, Any]:
    """What the application's database in ``region`` is created with (the network is regional)."""
    return {
        "DBSubnetGroupName": DB_SUBNET_GROUP,
        "VpcSecurityGroupIds": world.db_security_groups[region],
        "DeletionProtection": True,
        "Tags": DB_TAGS,
    }


def _rds_instance(clients: Clients, world: World) -> None:
    primary, dr = clients("rds", PRIMARY), clients("rds", DR)
    source = primary.create_db_instance(
        DBInstanceIdentifier=RDS_PRIMARY,
        DBInstanceClass="db.r6g.large",
        Engine="postgres",
        EngineVersion="16.3",
        MasterUsername="app",
        MasterUserPassword="drill-password-1",
        AllocatedStorage=100,
        BackupRetentionPeriod=7,
        StorageEncrypted=True,
        KmsKeyId=reprotect.kms_key_arn(PRIMARY),
        OptionGroupName=OPTION_GROUP,
        MultiAZ=True,
        **db_placement(world, PRIMARY),
    )["DBInstance"]
    dr.create_db_instance_read_replica(
        DBInstanceIdentifier=RDS_REPLICA,
        SourceDBInstanceIdentifier=source["DBInstanceArn"],
        DBInstanceClass="db.r6g.large",
        SourceRegion=PRIMARY,
        KmsKeyId=reprotect.kms_key_arn(DR),
        OptionGroupName=OPTION_GROUP,
        MultiAZ=True,
        **db_placement(world, DR),
    )
    world.db_resource_arn = source["DBInstanceArn"]
    # The replica's recent lag, as RDS reports it to CloudWatch in the replica's region.
    _rds_metric(clients, "ReplicaLag", ("DBInstanceIdentifier", RDS_REPLICA), "Seconds",
                [3.0, 2.0, 4.0, 6.0, 5.0, 3.0, 2.0, 4.0, 5.0, 3.0])


def _rds_metric(clients: Clients, metric: str, dimension: Tuple[str, str], unit: str, values: List[float]) -> None:
    """One datapoint a minute, the last a minute ago, in the DR region (namespace AWS/RDS)."""
    now = _now()
    clients("cloudwatch", DR).put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
                "Timestamp": now - datetime.timedelta(minutes=len(values) - i),
                "Value": value,
                "Unit": unit,
            }
            for i, value in enumerate(values)
        ],
    )


def _aurora(clients: Clients, world: World) -> None:
    primary, dr = clients("rds", PRIMARY), clients("rds", DR)
    primary_arn = primary.create_db_cluster(
        DBClusterIdentifier=AURORA_PRIMARY,
        Engine="aurora-postgresql",
        EngineVersion="15.4",
        MasterUsername="app",
        MasterUserPassword="drill-password-1",
        DBClusterParameterGroupName=CLUSTER_PARAMETER_GROUP,
        **db_placement(world, PRIMARY),
    )["DBCluster"]["DBClusterArn"]
    primary.create_db_instance(
        DBInstanceIdentifier=f"{AURORA_PRIMARY}-1",
        DBClusterIdentifier=AURORA_PRIMARY,
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
        DBParameterGroupName=INSTANCE_PARAMETER_GROUP,
        Tags=DB_TAGS,
    )
    primary.create_global_cluster(GlobalClusterIdentifier=AURORA_GLOBAL, SourceDBClusterIdentifier=primary_arn)
    dr.create_db_cluster(
        DBClusterIdentifier=AURORA_DR,
        Engine="aurora-postgresql",
        EngineVersion="15.4",
        GlobalClusterIdentifier=AURORA_GLOBAL,
        DBClusterParameterGroupName=CLUSTER_PARAMETER_GROUP,
        **db_placement(world, DR),
    )
    if not world.options.aurora_dr_without_instance:
        dr.create_db_instance(
            DBInstanceIdentifier=f"{AURORA_DR}-1",
            DBClusterIdentifier=AURORA_DR,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
            DBParameterGroupName=INSTANCE_PARAMETER_GROUP,
            Tags=DB_TAGS,
        )
    world.db_resource_arn = primary_arn
    # The secondary's lag behind the primary Region, as Aurora reports it to CloudWatch in the
    # secondary's Region (AuroraGlobalDBReplicationLag, milliseconds, by DBClusterIdentifier).
    _rds_metric(clients, "AuroraGlobalDBReplicationLag", ("DBClusterIdentifier", AURORA_DR), "Milliseconds",
                [120.0, 95.0, 140.0, 110.0, 105.0])


# web-dr's mixed instances policy with Options.mixed_instances: the weighted type first.
MIXED_OVERRIDES = [
    {"InstanceType": "m6i.xlarge", "WeightedCapacity": "2"},
    {"InstanceType": "m6i.large", "WeightedCapacity": "1"},
]


def _auto_scaling(clients: Clients, world: World) -> None:
    options = world.options
    dr_groups = {**DR_GROUPS, **large.dr_groups(options.extra_groups)}
    for region, groups in ((PRIMARY, {g: (n, n, n * 2) for g, n in PRIMARY_GROUPS.items()}), (DR, dr_groups)):
        ec2 = clients("ec2", region)
        image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
        template = ec2.create_launch_template(
            LaunchTemplateName="app",
            LaunchTemplateData={"ImageId": image, "InstanceType": "m6i.large"},
        )["LaunchTemplate"]["LaunchTemplateId"]
        autoscaling = clients("autoscaling", region)
        for name, (low, desired, high) in groups.items():
            launch: Dict[str, Any] = {"LaunchTemplate": {"LaunchTemplateId": template, "Version": "$Latest"}}
            if options.mixed_instances and name == "web-dr":
                launch = {
                    "MixedInstancesPolicy": {
                        "LaunchTemplate": {
                            "LaunchTemplateSpecification": {"LaunchTemplateId": template, "Version": "$Latest"},
                            "Overrides": MIXED_OVERRIDES,
                        },
                        "InstancesDistribution": {
                            "OnDemandAllocationStrategy": "prioritized",
                            "OnDemandPercentageAboveBaseCapacity": 100,
                        },
                    }
                }
            autoscaling.create_auto_scaling_group(
                AutoScalingGroupName=name,
                **launch,
                MinSize=low,
                DesiredCapacity=desired,
                MaxSize=high,
                VPCZoneIdentifier=",".join(world.subnets[region]),
                HealthCheckType="EC2",
            )


def _route53(clients: Clients, world: World) -> str:
    """The zone, its health check and every record set in one change; answers the change id."""
    route53 = clients("route53", GLOBAL)
    zone = route53.create_hosted_zone(Name=ZONE, CallerReference=str(uuid.uuid4()))
    world.zone_id = zone["HostedZone"]["Id"].split("/")[-1]
    world.health_check_id = route53.create_health_check(
        CallerReference=str(uuid.uuid4()),
        HealthCheckConfig={
            "IPAddress": PRIMARY_IP,
            "Port": 443,
            "Type": "HTTPS",
            "ResourcePath": "/health",
            "FullyQualifiedDomainName": "app.example.com",
            "RequestInterval": 10,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]["Id"]
    route53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=world.health_check_id, AddTags=[{"Key": "Name", "Value": "app-primary"}]
    )

    def values(*ips: str) -> List[Dict[str, str]]:
        return [{"Value": ip} for ip in ips]

    if PLAN:
        from drill import plan_world

        if PLAN.gate:
            _dns_gate(clients, world)
        return _create_record_sets(
            route53, world, plan_world.record_sets(PLAN, PRIMARY, DR, world.gate_health_check_id or None)
        )
    sets = [
        {
            "Name": "app.example.com.", "Type": "A", "SetIdentifier": "primary", "Failover": "PRIMARY",
            "TTL": 60, "ResourceRecords": values(PRIMARY_IP),
            **({"HealthCheckId": world.health_check_id} if world.options.primary_health_check_on_record else {}),
        },
        {
            "Name": "app.example.com.", "Type": "A", "SetIdentifier": "secondary", "Failover": "SECONDARY",
            "TTL": 60, "ResourceRecords": values(DR_IP),
        },
        {
            "Name": "api.example.com.", "Type": "A", "SetIdentifier": "primary", "Weight": 100,
            "TTL": 60, "ResourceRecords": values(PRIMARY_API_IP),
        },
        {
            "Name": "api.example.com.", "Type": "A", "SetIdentifier": "dr", "Weight": 0,
            "TTL": 60, "ResourceRecords": values(DR_API_IP),
        },
        {
            "Name": "www.example.com.", "Type": "A",
            "AliasTarget": {**PRIMARY_LB, "EvaluateTargetHealth": False},
        },
    ] + large.record_sets(world.options.extra_dns_records, PRIMARY_IP)
    return _create_record_sets(route53, world, sets)


def _create_record_sets(route53: Any, world: World, sets: List[Dict[str, Any]]) -> str:
    """CREATEs `sets`, in batches within Route 53's 1,000 changes a request, one after the other
    (each waits INSYNC before the next: PriorRequestNotComplete); answers the last change's id."""
    change_id = ""
    for start in range(0, len(sets), 500):
        if change_id:
            _wait_insync(route53, change_id)
        change_id = route53.change_resource_record_sets(
            HostedZoneId=world.zone_id,
            ChangeBatch={
                "Comment": "drill world",
                "Changes": [{"Action": "CREATE", "ResourceRecordSet": s} for s in sets[start:start + 500]],
            },
        )["ChangeInfo"]["Id"]
    return change_id


def _reports(clients: Clients, world: World) -> None:
    sns, sqs = clients("sns", DR), clients("sqs", DR)
    world.topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    world.report_queue_url = sqs.create_queue(QueueName=REPORT_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=world.report_queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=world.topic_arn, Protocol="sqs", Endpoint=queue_arn)
    world.witness_queue_url = sqs.create_queue(QueueName=WITNESS_QUEUE)["QueueUrl"]
    # The template's report bucket: each run's report is stored as reports/<execution name>.json.
    clients("s3", DR).create_bucket(Bucket=REPORT_BUCKET, CreateBucketConfiguration={"LocationConstraint": DR})
    world.report_bucket = REPORT_BUCKET


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\n# served by cargo lambda watch\n")
    return buffer.getvalue()


def _functions(clients: Clients, world: World) -> None:
    """The four functions exist in moto (so Invoke resolves them); their code runs in cargo lambda."""
    client = clients("lambda", DR)
    code = _dummy_zip()
    for name in FUNCTIONS:
        world.function_arns[name] = client.create_function(
            FunctionName=name,
            Runtime="provided.al2023",
            Architectures=["arm64"],
            Role=role_arn("dr-failover-functions"),
            Handler="bootstrap",
            Code={"ZipFile": code},
            # The template's own timeout, which the stand-in enforces on Invoke as Lambda does.
            Timeout=function_timeout_seconds(name),
            MemorySize=256,
        )["FunctionArn"]


def _state_machine(clients: Clients, world: World) -> None:
    world.state_machine_arn = clients("stepfunctions", DR).create_state_machine(
        name=STATE_MACHINE,
        definition=state_machine_definition(world),
        roleArn=iam.role_arn("StateMachineRole"),
    )["stateMachineArn"]


def _readiness(clients: Clients, world: World) -> None:
    """The readiness state machine and the template's two readiness alarms, their properties read
    from the template but for the period: READINESS_ALARM_PERIOD_SECONDS stands for the
    template's ReadinessRateMinutes, so one readiness run per period is seconds apart, not
    minutes (drill/readiness.py spaces its runs by it)."""
    world.readiness_state_machine_arn = clients("stepfunctions", DR).create_state_machine(
        name=READINESS_STATE_MACHINE,
        definition=state_machine_definition(world, READINESS_ASL_PATH),
        roleArn=iam.role_arn("ReadinessRole"),
    )["stateMachineArn"]
    cloudwatch = clients("cloudwatch", DR)
    for resource, name in (("ReadinessNotReadyAlarm", READINESS_ALARM), ("ReadinessStaleAlarm", READINESS_STALE_ALARM)):
        props = _template_resource(resource)["Properties"]
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=" ".join(str(props["AlarmDescription"]).split()),
            Namespace=METRIC_NAMESPACE,
            MetricName=props["MetricName"],
            Dimensions=[{"Name": "Deployment", "Value": DEPLOYMENT}],
            Statistic=props["Statistic"],
            Period=READINESS_ALARM_PERIOD_SECONDS,
            EvaluationPeriods=int(props["EvaluationPeriods"]),
            Threshold=float(props["Threshold"]),
            ComparisonOperator=props["ComparisonOperator"],
            TreatMissingData=props["TreatMissingData"],
            AlarmActions=[world.topic_arn],
            OKActions=[world.topic_arn],
        )


TEMPLATE_PATH = ASL_PATH.parents[1] / "template.yaml"


def function_timeout_seconds(name: Optional[str] = None) -> int:
    """The Timeout of function `name` in the DR region's SAM template (its own, else
    Globals.Function.Timeout)."""
    template = _template()
    for resource in template["Resources"].values():
        properties = resource.get("Properties") or {}
        binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if name is not None and binary == name and "Timeout" in properties:
            return int(properties["Timeout"])
    return int(template["Globals"]["Function"]["Timeout"])


def _template_resource(name: str) -> Dict[str, Any]:
    """A resource of the DR region's SAM template, intrinsic functions left unresolved."""
    return _template()["Resources"][name]


def _template() -> Dict[str, Any]:
    """The DR region's SAM template, parsed once per process (a seed reads it a dozen times, and
    parsing it is most of a seed's own time); each caller gets its own copy."""
    text = TEMPLATE_PATH.read_text()
    global _TEMPLATE_CACHE
    if _TEMPLATE_CACHE is None or _TEMPLATE_CACHE[0] != text:
        _TEMPLATE_CACHE = (text, _parse_template(text))
    return copy.deepcopy(_TEMPLATE_CACHE[1])


_TEMPLATE_CACHE: Optional[tuple] = None


def _parse_template(text: str) -> Dict[str, Any]:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {f"!{suffix}": value}

    Loader.add_multi_constructor("!", intrinsic)
    return yaml.load(text, Loader=Loader)


def alarm_input_transformer(dry_run: bool) -> Dict[str, Any]:
    """The InputTransformer of the template's AlarmTriggerRule, so the drill starts the state
    machine with the very input a deployment does; a dry-run drill flips only its dry_run."""
    rule = _template_resource("AlarmTriggerRule")
    [target] = [t for t in rule["Properties"]["Targets"] if t["Arn"] == {"!Ref": "StateMachine"}]
    transformer = dict(target["InputTransformer"])
    if dry_run:
        template = transformer["InputTemplate"]
        if template.count('"dry_run": false') != 1:
            raise ValueError(f"{TEMPLATE_PATH}: AlarmTriggerRule's InputTemplate has no single \"dry_run\": false")
        transformer["InputTemplate"] = template.replace('"dry_run": false', '"dry_run": true')
    return transformer


def not_from_healthy_transformer(world: World) -> Dict[str, Any]:
    """The template's AlarmNotFromHealthyRule InputTransformer, its ${...} filled for the drill."""
    rule = _template_resource("AlarmNotFromHealthyRule")
    [target] = rule["Properties"]["Targets"]
    transformer = dict(target["InputTransformer"])
    template = transformer["InputTemplate"]["!Sub"]
    transformer["InputTemplate"] = (
        template.replace("${DeploymentName}", DEPLOYMENT).replace("${StateMachine}", world.state_machine_arn)
    )
    return transformer


def drill_schedule_input() -> str:
    rule = _template_resource("DrillScheduleRule")
    return rule["Properties"]["Targets"][0]["Input"]


def alarm_pattern(alarm_arn: str) -> str:
    """us-east-1: every state change of the health check alarm (the DR side picks ALARM)."""
    return json.dumps(
        {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"], "resources": [alarm_arn]}
    )


def alarm_trigger_pattern(state: Optional[str] = "ALARM", previous: Any = ("OK",)) -> str:
    """DR: the forwarded alarm event, as the template's AlarmTriggerRule matches it (ALARM from
    OK); ``previous`` None for any previous state, or a pattern such as [{"anything-but": ["OK"]}]
    (the template's AlarmNotFromHealthyRule)."""
    detail: Dict[str, Any] = {"alarmName": [ALARM]}
    if state:
        detail["state"] = {"value": [state]}
    if state and previous is not None:
        detail["previousState"] = {"value": list(previous)}
    return json.dumps(
        {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "account": [ACCOUNT],
            "region": [GLOBAL],
            "detail": detail,
        }
    )


def _alarm_and_rules(clients: Clients, world: World) -> None:
    cloudwatch = clients("cloudwatch", GLOBAL)
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        AlarmDescription="app.example.com primary endpoint health (Route 53 health check)",
        Namespace="AWS/Route53",
        MetricName="HealthCheckStatus",
        Dimensions=[{"Name": "HealthCheckId", "Value": world.health_check_id}],
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="LessThanThreshold",
        TreatMissingData="breaching",
    )
    world.alarm_arn = cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["AlarmArn"]
    cloudwatch.put_metric_data(
        Namespace="AWS/Route53",
        MetricData=[
            {
                "MetricName": "HealthCheckStatus",
                "Dimensions": [{"Name": "HealthCheckId", "Value": world.health_check_id}],
                "Timestamp": _now() - datetime.timedelta(minutes=m),
                "Value": 1.0,
            }
            for m in range(5, 0, -1)
        ],
    )

    # us-east-1 (infra/us-east-1.yaml): the alarm on alarm events the forwarding rule could not
    # deliver (its dead-letter queue not empty), which readiness reads.
    cloudwatch.put_metric_alarm(
        AlarmName=UNFORWARDED_ALARM,
        AlarmDescription="The health check alarm's state change could not be forwarded to the DR region.",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": f"{DEPLOYMENT}-dr-failover-unforwarded"}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )

    # us-east-1 (infra/us-east-1.yaml): every state change of the alarm goes to the DR region's bus.
    events_us = clients("events", GLOBAL)
    events_us.put_rule(
        Name=ALARM_RULE_US,
        Description=f"Forwards {ALARM} state changes to the DR region",
        EventPattern=alarm_pattern(world.alarm_arn),
        State="ENABLED",
    )
    events_us.put_targets(
        Rule=ALARM_RULE_US,
        Targets=[
            {
                "Id": "dr-bus",
                "Arn": f"arn:aws:events:{DR}:{ACCOUNT}:event-bus/default",
                "RoleArn": role_arn("dr-failover-events"),
            }
        ],
    )

    # DR (infra/template.yaml): ALARM starts the state machine with the typed request.
    events_dr = clients("events", DR)
    events_dr.put_rule(
        Name=ALARM_RULE_DR,
        Description=f"Starts a real failover when {ALARM} goes to ALARM",
        EventPattern=alarm_trigger_pattern(),
        State="ENABLED",
    )
    events_dr.put_targets(
        Rule=ALARM_RULE_DR,
        Targets=[
            {
                "Id": "failover",
                "Arn": world.state_machine_arn,
                "RoleArn": role_arn("dr-failover-events"),
                "InputTransformer": alarm_input_transformer(world.options.dry_run_on_alarm),
            }
        ],
    )

    # DR (infra/template.yaml, AlarmNotFromHealthyRule): ALARM from anything but OK starts
    # nothing and warns on the report topic, with the template's own message.
    events_dr.put_rule(
        Name=ALARM_NOT_FROM_HEALTHY_RULE,
        EventPattern=alarm_trigger_pattern(previous=[{"anything-but": ["OK"]}]),
        State="ENABLED",
    )
    events_dr.put_targets(
        Rule=ALARM_NOT_FROM_HEALTHY_RULE,
        Targets=[{"Id": "warning", "Arn": world.topic_arn, "InputTransformer": not_from_healthy_transformer(world)}],
    )

    # A witness for the drill and the tests: every alarm state change that reached the DR bus.
    events_dr.put_rule(Name=WITNESS_RULE, EventPattern=alarm_trigger_pattern(state=None), State="ENABLED")
    witness_arn = clients("sqs", DR).get_queue_attributes(
        QueueUrl=world.witness_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    events_dr.put_targets(Rule=WITNESS_RULE, Targets=[{"Id": "witness", "Arn": witness_arn}])

    # DR (infra/template.yaml, CopyJobFailedRule): a failed or aborted copy job is published at once.
    failed_rule = _template_resource("CopyJobFailedRule")["Properties"]
    events_dr.put_rule(
        Name=COPY_JOB_FAILED_RULE, EventPattern=json.dumps(failed_rule["EventPattern"]), State="ENABLED"
    )
    [failed_target] = failed_rule["Targets"]
    transformer = dict(failed_target["InputTransformer"])
    transformer["InputTemplate"] = transformer["InputTemplate"]["!Sub"].replace("${DeploymentName}", DEPLOYMENT)
    events_dr.put_targets(
        Rule=COPY_JOB_FAILED_RULE,
        Targets=[{"Id": "report", "Arn": world.topic_arn, "InputTransformer": transformer}],
    )

    # The schedules (the stand-in does not fire schedules; they are here to be complete): the
    # daily backup verification, whose Scheduled Event is the function's input, and the weekly
    # dry-run drill.
    world.backup_rule_arn = events_dr.put_rule(
        Name=BACKUP_SCHEDULE_RULE, ScheduleExpression="rate(1 day)", State="ENABLED"
    )["RuleArn"]
    events_dr.put_targets(
        Rule=BACKUP_SCHEDULE_RULE,
        Targets=[{"Id": "verify", "Arn": function_arn("verify-backup-copy")}],
    )
    events_dr.put_rule(Name=DRILL_SCHEDULE_RULE, ScheduleExpression="cron(0 9 ? * MON *)", State="ENABLED")
    events_dr.put_targets(
        Rule=DRILL_SCHEDULE_RULE,
        Targets=[{"Id": "drill", "Arn": world.state_machine_arn, "RoleArn": role_arn("dr-failover-events"),
                  "Input": drill_schedule_input()}],
    )


def _backup(clients: Clients, world: World) -> None:
    """Source vault in the workload account; the DR vault and a read role in the vault account."""
    # The vault account's administrator (moto's STS lets any caller assume into any account).
    clients.assume_role(role_arn("OrganizationAccountAccessRole", VAULT_ACCOUNT), "drill-seed")
    iam_vault = clients("iam", GLOBAL, VAULT_ACCOUNT)
    world.vault_role_arn = iam_vault.create_role(
        RoleName=VAULT_ROLE,
        AssumeRolePolicyDocument=_trust(
            {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            {"StringEquals": {"sts:ExternalId": VAULT_EXTERNAL_ID}},
        ),
        Description="lets dr-failover's verify-backup-copy read the DR vault",
    )["Role"]["Arn"]
    iam_vault.put_role_policy(
        RoleName=VAULT_ROLE,
        PolicyName="read-dr-vault",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["backup:DescribeBackupVault", "backup:ListRecoveryPointsByBackupVault"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    world.dr_vault_arn = clients("backup", DR, VAULT_ACCOUNT).create_backup_vault(BackupVaultName=DR_VAULT)[
        "BackupVaultArn"
    ]
    world.source_vault_arn = clients("backup", PRIMARY).create_backup_vault(BackupVaultName=SOURCE_VAULT)[
        "BackupVaultArn"
    ]
    world.backup_resources = [
        {"arn": world.db_resource_arn, "rpo_minutes": RPO_MINUTES},
        {"arn": EFS_ARN, "rpo_minutes": RPO_MINUTES},
        {"arn": DYNAMODB_ARN, "rpo_minutes": RPO_MINUTES},
    ]
    extra = large.backup_resources(world.options.extra_backup_resources, PRIMARY, ACCOUNT, RPO_MINUTES)
    world.backup_resources += extra
    now = _now()
    # Copies in the DR vault: the database's 1 h old (fresh), the file system's 30 h old (stale),
    # none of the table (missing: its copy job failed).
    copies = [(world.db_resource_arn, 1), (EFS_ARN, 30)] + [(resource["arn"], 1) for resource in extra]
    if PLAN:
        # The plan's resources, each with a copy an hour old (fresh).
        world.backup_resources = PLAN.plan["backup"]["resources"]
        copies = [(resource["arn"], 1) for resource in world.backup_resources]
    for resource_arn, age_hours in copies:
        control_post(
            clients.endpoint,
            "backup/recovery-points",
            {
                "account_id": VAULT_ACCOUNT,
                "region": DR,
                "backup_vault_name": DR_VAULT,
                "resource_arn": resource_arn,
                "creation_date": (now - datetime.timedelta(hours=age_hours)).timestamp(),
                "source_backup_vault_arn": world.source_vault_arn,
            },
        )
    if PLAN:
        return
    control_post(
        clients.endpoint,
        "backup/copy-jobs",
        {
            "account_id": ACCOUNT,
            "region": PRIMARY,
            "resource_arn": DYNAMODB_ARN,
            "source_backup_vault_name": SOURCE_VAULT,
            "destination_backup_vault_arn": world.dr_vault_arn,
            "state": "FAILED",
            "status_message": "Access denied: the destination vault's access policy does not allow backup:CopyIntoBackupVault",
            "creation_date": (now - datetime.timedelta(hours=3)).timestamp(),
        },
    )


def control_post(endpoint: str, path: str, body: Any) -> Any:
    import urllib.request

    request = urllib.request.Request(
        f"{endpoint}/moto-api/dr/{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


