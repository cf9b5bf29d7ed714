"""Roles and resource policies of the failover (least privilege): the state machine's role
reads only its own executions, invokes only the failover's functions and stores only reports; only
the state machines may publish to the report topic; the report bucket and the dead-letter queue
admit only whom they serve; flip-dns and scale-asg are allowed exactly the records and groups
their plan names. Readiness's role is in test_template_readiness.py, re-protect's and fail back's
in test_reprotect.py and test_failback.py, the vault account's in test_template_backup.py."""

from __future__ import annotations

import json
import re

import pytest
from sdk_calls import without_test_code
from template_support import (
    SHARED_SRC,
    actions,
    functions,
    resources_of_type,
    role_statements,
    rust_source,
    state_machine,
    statements,
    template,  # noqa: F401  (a fixture)
)


# ------------------------------------------------------------------ the state machine's role


CHANGING_ROLES = {"PromoteReplicaRole", "ScaleAsgRole", "FlipDnsRole", "ReprotectDatabaseRole", "FailbackComputeRole",
                  "FailbackDatabaseRole", "FailbackDnsRole", "FailbackStandbyRole", "PilotCapacityRole"}
MACHINES = ("failover", "failback", "reprotect")


def test_the_roles_that_read_executions_are_the_changing_functions_and_read_only_the_deployments_machines(template):
    """shared::exclusive: every function that changes something reads the running executions of the
    deployment's three state machines (ListExecutions) and their input (DescribeExecution), and nothing
    else of Step Functions; no state machine role lists executions but readiness's own."""
    readers = {}
    for logical_id in resources_of_type(template, "AWS::IAM::Role"):
        for statement in role_statements(template, logical_id):
            actions = statement.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            if any(a.startswith("states:") and a not in ("states:SendTaskSuccess", "states:SendTaskFailure",
                                                          "states:StartExecution") for a in actions):
                readers.setdefault(logical_id, []).append(statement)
    # The people's roles (dr-failover's run-time commands) read runs too: test_operator_roles.
    # The witness reads whether a run already answered an outage before it starts one (and, as every
    # function served by shared::lambda, has the exclusivity check's grants).
    assert set(readers) == CHANGING_ROLES | {"ReadinessRole", "OperatorRole", "ApproverRole", "WitnessRole"}, sorted(readers)
    for role in CHANGING_ROLES | {"WitnessRole"}:
        by_action = {s["Action"]: [r["Fn::Sub"] for r in s["Resource"]] for s in readers[role]}
        assert by_action == {
            "states:ListExecutions": [
                f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:${{DeploymentName}}-{m}"
                for m in MACHINES],
            "states:DescribeExecution": [
                f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:${{DeploymentName}}-{m}:*"
                for m in MACHINES],
        }, role


def test_every_function_is_told_the_deployments_three_machines_as_the_template_names_them(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for machine in MACHINES:
        arn = variables[f"{machine.upper()}_STATE_MACHINE_ARN"]["Fn::Sub"]
        assert arn.endswith(f":stateMachine:${{DeploymentName}}-{machine}")
    names = {r["Properties"]["Name"]["Fn::Sub"] for r in resources_of_type(template, "AWS::Serverless::StateMachine").values()}
    assert {f"${{DeploymentName}}-{m}" for m in MACHINES} <= names


def test_only_the_state_machine_may_publish_to_the_report_topic_among_the_roles(template):
    """A function role that could publish to the report topic could forge a "failed over" mail:
    verify-backup-copy's dead-letter messages go to a topic of their own. The one function that
    publishes is finish-run, the state machines' finishing step, and it can do nothing else."""
    publishers = set()
    for logical_id, resource in resources_of_type(template, "AWS::IAM::Role").items():
        for statement in role_statements(template, logical_id):
            actions = statement.get("Action", [])
            if "sns:Publish" in (actions if isinstance(actions, list) else [actions]):
                if statement["Resource"] == {"Ref": "ReportTopic"}:
                    publishers.add(logical_id)
    assert publishers == {"StateMachineRole", "ReadinessRole", "ReprotectStateMachineRole", "FailbackStateMachineRole",
                          "FinishRunRole"}
    finish_actions = set()
    for statement in role_statements(template, "FinishRunRole"):
        actions = statement["Action"]
        finish_actions |= set(actions if isinstance(actions, list) else [actions])
    assert finish_actions == {"logs:CreateLogStream", "logs:PutLogEvents", "s3:PutObject", "sns:Publish",
                              "kms:GenerateDataKey*", "kms:Decrypt"}
    function = functions(template)["VerifyBackupCopyFunction"]["Properties"]
    assert function["DeadLetterQueue"]["TargetArn"] == {"Ref": "BackupCheckFailureTopic"}


def test_the_state_machine_may_invoke_every_function_and_nothing_else(template):
    (statement,) = [
        s for s in role_statements(template, "StateMachineRole") if s.get("Action") == "lambda:InvokeFunction"
    ]
    targets = set()
    for resource in statement["Resource"]:
        if "Fn::GetAtt" in resource:
            targets.add(resource["Fn::GetAtt"][0])
        else:
            targets.add(re.match(r"\$\{(\w+)\.Arn\}:\*$", resource["Fn::Sub"]).group(1))
    # The witness runs on its own schedule; no state machine invokes it.
    others = {"ReprotectDatabaseFunction", "PilotCapacityFunction", "WitnessFunction"} | {
        f for f in functions(template) if f.startswith("Failback")}
    assert targets == set(functions(template)) - others


def test_the_report_bucket_is_private_encrypted_tls_only_and_expires(template):
    bucket = template["Resources"]["ReportBucket"]["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (expire, *_) = bucket["LifecycleConfiguration"]["Rules"]
    assert expire["ExpirationInDays"] == {"Ref": "ReportRetentionDays"} and expire["Status"] == "Enabled"
    policy = template["Resources"]["ReportBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "ReportBucket"}
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    def s3_statements(role: str) -> list:
        return [
            s for p in template["Resources"][role]["Properties"]["Policies"]
            for s in p["PolicyDocument"]["Statement"] if "s3" in json.dumps(s.get("Action"))
        ]

    # The failover's reports are stored by its finishing step, finish-run, and only there.
    assert s3_statements("StateMachineRole") == []
    assert s3_statements("FinishRunRole") == [{"Sid": "StoreReports", "Effect": "Allow", "Action": "s3:PutObject",
                                               "Resource": {"Fn::Sub": "${ReportBucket.Arn}/reports/*"}}]
    variables = functions(template)["FinishRunFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["REPORT_BUCKET_NAME"] == {"Ref": "ReportBucket"}
    assert variables["REPORT_TOPIC_ARN"] == {"Ref": "ReportTopic"}


def test_every_rule_with_the_dead_letter_queue_may_send_to_it(template):
    """EventBridge sends an undeliverable event to a rule's dead-letter queue only if the queue's
    policy lets that rule (aws:SourceArn) send: a rule missing from the list loses its events."""
    (statement,) = template["Resources"]["TriggerDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allowed = {arn["Fn::GetAtt"][0] for arn in statement["Condition"]["ArnEquals"]["aws:SourceArn"]}
    using = {
        name
        for name, rule in resources_of_type(template, "AWS::Events::Rule").items()
        for target in rule["Properties"].get("Targets", [])
        if target.get("DeadLetterConfig", {}).get("Arn") == {"Fn::GetAtt": ["TriggerDeadLetterQueue", "Arn"]}
    }
    assert using == allowed


# ------------------------------------------------------------------ permissions and plan agree


def statement(template: dict, role: str, sid: str) -> dict:
    (found,) = [s for s in role_statements(template, role) if s.get("Sid") == sid]
    return found


def test_flip_dns_knows_the_names_and_types_its_role_may_change_from_the_same_parameters(template):
    env = template["Resources"]["FlipDnsFunction"]["Properties"]["Environment"]["Variables"]
    assert env["DNS_ALLOWED_RECORD_NAMES"] == {"Fn::Join": [",", {"Ref": "DnsRecordNames"}]}
    assert env["DNS_ALLOWED_RECORD_TYPES"] == {"Fn::Join": [",", {"Ref": "DnsRecordTypes"}]}
    condition = statement(template, "FlipDnsRole", "FlipTheRecords")["Condition"]
    # StringLike for the names: "*" (dr-failover plan render, past 2,048 bytes of names) scopes
    # the role to the zone; an IAM-form name holds no wildcard character.
    assert condition == {
        "ForAllValues:StringLike": {"route53:ChangeResourceRecordSetsNormalizedRecordNames": {"Ref": "DnsRecordNames"}},
        "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsRecordTypes": {"Ref": "DnsRecordTypes"},
            "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
        },
    }
    assert "octal" in template["Parameters"]["DnsRecordNames"]["Description"]


def test_scale_asg_knows_the_groups_its_role_may_change_and_the_role_changes_sizes_only(template):
    env = template["Resources"]["ScaleAsgFunction"]["Properties"]["Environment"]["Variables"]
    assert env["ASG_ALLOWED_GROUP_NAMES"] == {"Fn::Join": [",", {"Ref": "AsgGroupNames"}]}
    raise_groups = statement(template, "ScaleAsgRole", "RaiseTheDrGroups")
    assert raise_groups["Action"] == "autoscaling:UpdateAutoScalingGroup"
    assert "AsgGroupNames" in json.dumps(raise_groups["Resource"])
    # Nothing that changes what or where a group launches; scale-asg sends only the sizes.
    assert raise_groups["Condition"]["Null"] == {
        "autoscaling:LaunchConfigurationName": "true",
        "autoscaling:LaunchTemplateVersionSpecified": "true",
        "autoscaling:InstanceTypes": "true",
        "autoscaling:VPCZoneIdentifiers": "true",
    }
    update = rust_source(SHARED_SRC / "compute" / "mod.rs")
    call = update[update.index(".update_auto_scaling_group()"):]
    call = call[: call.index(".send()")]
    assert re.findall(r"\.(\w+)\(", call) == [
        "update_auto_scaling_group", "auto_scaling_group_name", "min_size", "desired_capacity", "max_size",
    ]


# ------------------------------------------------------------------ what the failover's tags may be
# (that every Auto Scaling operation the compute code calls is granted: test_template_grants.py)


def test_the_failovers_tag_grants_are_held_to_its_one_tag_key(template):
    """scale-asg may write, and pilot-capacity delete, only dr-failover:suspended-scheduled-actions: the
    tag that says the failover suspended ScheduledActions (a role that could write any tag could
    forge or erase others' marks)."""
    for role, action in (("ScaleAsgRole", "autoscaling:CreateOrUpdateTags"), ("PilotCapacityRole", "autoscaling:DeleteTags")):
        grants = [s for s in role_statements(template, role) if action in json.dumps(s.get("Action"))]
        assert grants, f"{role} does not grant {action}"
        for grant in grants:
            assert grant["Resource"] != "*", grant
            keys = grant["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]
            assert keys == ["dr-failover:suspended-scheduled-actions"], keys


# ------------------------------------------------------------------ what the database lag gate reads, granted


def unwrapped_statements(template: dict, role: str) -> list[dict]:
    """A role's statements, each `!If [condition, statement, AWS::NoValue]` taken as its statement."""
    found = []
    for item in role_statements(template, role):
        if isinstance(item, dict) and "Fn::If" in item:
            item = item["Fn::If"][1]
        found.append(item)
    return found


def cloudwatch_operations_called(module: str) -> set[str]:
    """The CloudWatch operations a shared module calls (`.get_metric_statistics()` ->
    GetMetricStatistics), test code excluded."""
    names: set[str] = set()
    for path in (SHARED_SRC / module).glob("*.rs"):
        if "tests" in path.name:
            continue
        text = without_test_code(rust_source(path))
        for call in re.findall(r"\.(get_metric_\w+|list_metrics|describe_alarms\w*)\(\)", text):
            names.add("".join(part.capitalize() for part in call.split("_")))
    return names


@pytest.mark.parametrize("role", ["PromoteReplicaRole", "FailbackDatabaseRole"])
def test_a_database_role_may_read_the_replica_lag_and_the_sources_wal_position_in_any_region(template, role):
    """promote-replica and failback-database run shared::database's lag gate: ReplicaLag in the
    replica's Region and, for PostgreSQL, the source's OldestReplicationSlotLag in the source's
    Region (the other one). GetMetricStatistics supports no resource-level permissions, so the
    grant is "*" and must carry no condition that pins a Region."""
    called = cloudwatch_operations_called("database")
    assert called == {"GetMetricStatistics"}, called
    gate = rust_source(SHARED_SRC / "database" / "replication.rs")
    assert '"OldestReplicationSlotLag"' in gate and "cloudwatch_in(" in gate
    grants = [s for s in unwrapped_statements(template, role)
              if "cloudwatch:GetMetricStatistics" in json.dumps(s.get("Action"))]
    assert grants, f"{role} does not grant cloudwatch:GetMetricStatistics"
    assert all(s["Resource"] == "*" and "Condition" not in s for s in grants), grants
    # StatusInfos come with DescribeDBInstances, which the role grants on the replica.
    describe = [s for s in unwrapped_statements(template, role) if "rds:DescribeDBInstances" in json.dumps(s.get("Action"))]
    assert describe, f"{role} does not grant rds:DescribeDBInstances"


def test_a_standby_role_may_read_the_instance_quota_its_plan_checks_in_the_standbys_region(template):
    """shared::reprotect::quota calls DescribeAccountAttributes before creating a standby; the
    action has no resource-level permissions, so "*", held to the Region the standby is made in."""
    source = (SHARED_SRC / "reprotect" / "quota.rs").read_text()
    assert ".describe_account_attributes()" in source
    for role, region in (("ReprotectDatabaseRole", {"Ref": "PrimaryRegion"}),
                         ("FailbackStandbyRole", {"Ref": "AWS::Region"})):
        (quota,) = [s for s in statements(template, role) if "rds:DescribeAccountAttributes" in actions(s)]
        assert quota["Resource"] == "*" and actions(quota) == ["rds:DescribeAccountAttributes"]
        assert quota["Condition"] == {"StringEquals": {"aws:RequestedRegion": region}}, role


# ------------------------------------------------------------------ the health check alarm, read again


def test_verify_backup_copy_may_read_the_health_check_alarm_in_us_east_1_and_nothing_else_of_cloudwatch(template):
    """Before a failover proceeds on approval expiry, verify-backup-copy reads the health check alarm
    again (shared::alarm_state, DescribeAlarms in the alarm's Region). The alarm lives in us-east-1
    (infra/us-east-1.yaml, its AlarmName is this stack's HealthCheckAlarmName); without the grant
    the read is AccessDenied, which lets the failover proceed on a recovered primary. The grant
    names that alarm's ARN only, and the role gets no other CloudWatch action."""
    source = without_test_code(rust_source(SHARED_SRC / "alarm_state.rs"))
    assert ".describe_alarms()" in source
    statements = unwrapped_statements(template, "VerifyBackupCopyRole")
    cloudwatch = [s for s in statements if "cloudwatch:" in json.dumps(s.get("Action"))]
    assert len(cloudwatch) == 1, cloudwatch
    (grant,) = cloudwatch
    assert grant["Action"] == "cloudwatch:DescribeAlarms"
    # That alarm, and (for readiness) the us-east-1 stack's alarm on events it could not forward.
    assert grant["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:us-east-1:${AWS::AccountId}:alarm:${HealthCheckAlarmName}"},
        {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:us-east-1:${AWS::AccountId}:alarm:"
                    "${DeploymentName}-dr-failover-unforwarded-alarm"},
    ]
    assert "Condition" not in grant
    # The state machine's ReadAlarm invokes that function, with the alarm of the run's input.
    read = failover_asl()["States"]["ReadAlarm"]
    assert read["Parameters"]["FunctionName"] == "${VerifyBackupCopyFunctionArn}"
    assert read["Parameters"]["Payload"]["action"] == "alarm-state"
    assert read["Parameters"]["Payload"]["request.$"] == "$.request"


def failover_asl() -> dict:
    return json.loads((SHARED_SRC.parent.parent / "infra" / "statemachine" / "failover.asl.json").read_text())
