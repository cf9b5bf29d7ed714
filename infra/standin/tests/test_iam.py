"""IAM in the stand-in: requests signed by a template's function, state machine or assumed role are
authorized against that role's policies, and a denial is the service's own AccessDenied
(drstandin/iam.py).

Pages followed: "Policy evaluation logic"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html),
"Cross-account policy evaluation logic"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html),
"Troubleshoot access denied error messages"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html), and each
service's "Actions, resources, and condition keys" page of the Service Authorization Reference.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from standin_support import cbor_call, wait_execution

ACCOUNT = "123456789012"
VAULT_ACCOUNT = "210987654321"
FN_KEY = "lambda-test-fn"
FN_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/t-FnRole/t-fn"

TEMPLATE = """
Parameters:
  DeploymentName: {Type: String}
Resources:
  FnRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
      Policies:
        - PolicyName: fn
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: "autoscaling:Describe*", Resource: "*"}
              - Effect: Allow
                Action: autoscaling:UpdateAutoScalingGroup
                Resource: ["arn:*:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/web",
                           "arn:*:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/locked"]
                Condition:
                  StringEquals: {aws:RequestedRegion: eu-central-1}
                  "Null": {autoscaling:InstanceTypes: "true"}
              - Effect: Deny
                Action: autoscaling:UpdateAutoScalingGroup
                Resource: "arn:*:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/locked"
              - Effect: Allow
                Action: route53:ChangeResourceRecordSets
                Resource: "arn:aws:route53:::hostedzone/*"
                Condition:
                  ForAllValues:StringEquals:
                    route53:ChangeResourceRecordSetsNormalizedRecordNames: [app.example.com, "\\\\052.example.com"]
                    route53:ChangeResourceRecordSetsActions: [UPSERT]
              - {Effect: Allow, Action: states:ListExecutions, Resource: "arn:aws:states:*:*:stateMachine:allowed-*"}
              - Effect: Allow
                Action: cloudwatch:PutMetricData
                Resource: "*"
                Condition: {StringEquals: {cloudwatch:namespace: DrFailover}}
              - {Effect: Allow, Action: lambda:InvokeFunction, Resource: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:other"}
              - {Effect: Allow, Action: s3:PutObject, Resource: "arn:aws:s3:::reports-bucket/reports/*"}
              - {Effect: Allow, Action: sts:AssumeRole, Resource: !Sub "arn:aws:iam::210987654321:role/${DeploymentName}-reader"}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: test-fn}}
    Properties: {FunctionName: !Sub "${DeploymentName}-fn", Role: !GetAtt FnRole.Arn}
  MachineRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: states.amazonaws.com}, Action: sts:AssumeRole}]}
      Policies:
        - PolicyName: machine
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: sns:Publish, Resource: !Sub "arn:aws:sns:${AWS::Region}:${AWS::AccountId}:allowed"}
"""

VAULT_TEMPLATE = """
Parameters:
  DeploymentName: {Type: String}
Resources:
  Reader:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "${DeploymentName}-reader"
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {AWS: "arn:aws:iam::123456789012:root"}
            Action: sts:AssumeRole
            Condition:
              StringEquals: {sts:ExternalId: the-external-id, sts:RoleSessionName: dr-failover-backup-check}
              ArnEquals: {aws:PrincipalArn: "arn:aws:iam::123456789012:role/t-FnRole"}
      Policies:
        - PolicyName: read
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: backup:DescribeBackupVault
                Resource: !Sub "arn:aws:backup:eu-central-1:${AWS::AccountId}:backup-vault:v1"
"""


@pytest.fixture
def stacks(standin, tmp_path):
    """The stand-in with the two test templates loaded; answers the stand-in."""
    template, vault = tmp_path / "t.yaml", tmp_path / "vault.yaml"
    template.write_text(TEMPLATE)
    vault.write_text(VAULT_TEMPLATE)
    status, body = standin.control("iam", {"stacks": [
        {"template": str(template), "parameters": {"DeploymentName": "t"}, "region": "eu-central-1", "account": ACCOUNT},
        {"template": str(vault), "parameters": {"DeploymentName": "t"}, "region": "eu-central-1", "account": VAULT_ACCOUNT},
    ]})
    assert status == 200, body
    assert body["identities"] == {FN_KEY: FN_SESSION}
    return standin


def error_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response


def _group(standin, name, region="eu-central-1"):
    autoscaling = standin.client("autoscaling", region)
    autoscaling.create_launch_configuration(LaunchConfigurationName=f"lc-{name}", ImageId="ami-12c6146b", InstanceType="t3.micro")
    autoscaling.create_auto_scaling_group(AutoScalingGroupName=name, LaunchConfigurationName=f"lc-{name}",
                                          MinSize=0, MaxSize=4, DesiredCapacity=0, AvailabilityZones=[f"{region}a"])


def test_a_function_is_allowed_what_its_role_allows_and_denied_the_rest_with_the_query_answer(stacks):
    _group(stacks, "web")
    _group(stacks, "db")
    fn = stacks.client("autoscaling", "eu-central-1", aws_access_key_id=FN_KEY)
    fn.update_auto_scaling_group(AutoScalingGroupName="web", DesiredCapacity=2)
    assert fn.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]["DesiredCapacity"] == 2

    response = error_of(lambda: fn.update_auto_scaling_group(AutoScalingGroupName="db", DesiredCapacity=2))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "AccessDenied"
    message = response["Error"]["Message"]
    assert message.startswith(f"User: {FN_SESSION} is not authorized to perform: autoscaling:UpdateAutoScalingGroup "
                              f"on resource: arn:aws:autoscaling:eu-central-1:{ACCOUNT}:autoScalingGroup:")
    assert message.endswith(":autoScalingGroupName/db because no identity-based policy allows the "
                            "autoscaling:UpdateAutoScalingGroup action")
    admin = stacks.client("autoscaling", "eu-central-1")
    assert admin.describe_auto_scaling_groups(AutoScalingGroupNames=["db"])["AutoScalingGroups"][0]["DesiredCapacity"] == 0
    denials = stacks.control("iam", method="GET")[1]["denials"]
    assert [(d["principal"], d["action"]) for d in denials] == [(FN_SESSION, "autoscaling:UpdateAutoScalingGroup")]


def test_an_explicit_deny_wins_and_says_so(stacks):
    _group(stacks, "locked")
    fn = stacks.client("autoscaling", "eu-central-1", aws_access_key_id=FN_KEY)
    message = error_of(lambda: fn.update_auto_scaling_group(AutoScalingGroupName="locked", DesiredCapacity=1))["Error"]["Message"]
    assert message.endswith("with an explicit deny in an identity-based policy"), message


def test_a_condition_the_request_does_not_meet_denies(stacks):
    _group(stacks, "web")
    _group(stacks, "web", region="eu-west-1")
    other_region = stacks.client("autoscaling", "eu-west-1", aws_access_key_id=FN_KEY)
    assert error_of(lambda: other_region.update_auto_scaling_group(AutoScalingGroupName="web", DesiredCapacity=1))[
        "Error"]["Code"] == "AccessDenied"
    fn = stacks.client("autoscaling", "eu-central-1", aws_access_key_id=FN_KEY)
    # Changing what the group launches carries autoscaling:InstanceTypes, which "Null" refuses.
    response = error_of(lambda: fn.update_auto_scaling_group(
        AutoScalingGroupName="web",
        MixedInstancesPolicy={"LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateName": "app"},
                                                 "Overrides": [{"InstanceType": "m6i.large"}]}}))
    assert response["Error"]["Code"] == "AccessDenied"


def _zone(standin):
    route53 = standin.client("route53")
    return route53.create_hosted_zone(Name="example.com.", CallerReference="t")["HostedZone"]["Id"].split("/")[-1]


def _change(action, name):
    return {"Changes": [{"Action": action, "ResourceRecordSet": {
        "Name": name, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "203.0.113.1"}]}}]}


def test_route53_record_conditions_and_its_rest_xml_access_denied(stacks):
    zone = _zone(stacks)
    fn = stacks.client("route53", aws_access_key_id=FN_KEY)
    fn.change_resource_record_sets(HostedZoneId=zone, ChangeBatch=_change("UPSERT", "App.Example.com."))
    fn.change_resource_record_sets(HostedZoneId=zone, ChangeBatch=_change("UPSERT", "*.example.com."))
    for action, name in (("UPSERT", "db.example.com."), ("DELETE", "app.example.com.")):
        response = error_of(lambda: fn.change_resource_record_sets(HostedZoneId=zone, ChangeBatch=_change(action, name)))
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert response["Error"]["Code"] == "AccessDenied"
        assert f"route53:ChangeResourceRecordSets on resource: arn:aws:route53:::hostedzone/{zone}" in response["Error"]["Message"]


def test_step_functions_json_protocol_answers_access_denied_exception(stacks):
    fn = stacks.client("stepfunctions", "eu-central-1", aws_access_key_id=FN_KEY)
    arn = f"arn:aws:states:eu-central-1:{ACCOUNT}:stateMachine:"
    response = error_of(lambda: fn.list_executions(stateMachineArn=arn + "other"))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert f"states:ListExecutions on resource: {arn}other" in response["Error"]["Message"]


def test_cloudwatch_cbor_answers_access_denied_with_the_query_error_header(stacks):
    body = {"Namespace": "Other", "MetricData": [{"MetricName": "m", "Value": 1.0}]}
    status, headers, decoded = cbor_call(stacks, "PutMetricData", body, "eu-central-1", access_key=FN_KEY)
    assert status == 403
    assert headers["x-amzn-query-error"] == "AccessDenied;Sender"
    assert decoded["__type"] == "AccessDenied"
    assert "cloudwatch:PutMetricData on resource: *" in decoded["message"]
    status, _, _ = cbor_call(stacks, "PutMetricData", {**body, "Namespace": "DrFailover"}, "eu-central-1", access_key=FN_KEY)
    assert status == 200


def test_lambda_and_s3_answer_their_own_access_denied(stacks):
    fn_lambda = stacks.client("lambda", "eu-central-1", aws_access_key_id=FN_KEY)
    response = error_of(lambda: fn_lambda.invoke(FunctionName="promote-replica", Payload=b"{}"))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert f"lambda:InvokeFunction on resource: arn:aws:lambda:eu-central-1:{ACCOUNT}:function:promote-replica" in (
        response["Error"]["Message"])

    stacks.client("s3", "eu-central-1").create_bucket(
        Bucket="reports-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3 = stacks.client("s3", "eu-central-1", aws_access_key_id=FN_KEY)
    s3.put_object(Bucket="reports-bucket", Key="reports/r.json", Body=b"{}")
    response = error_of(lambda: s3.put_object(Bucket="reports-bucket", Key="other/r.json", Body=b"{}"))
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) == (403, "AccessDenied")
    assert "s3:PutObject on resource: arn:aws:s3:::reports-bucket/other/r.json" in response["Error"]["Message"]


def test_assume_role_checks_the_trust_policy_and_the_session_authorizes_as_that_role(stacks):
    admin_vault = stacks.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{VAULT_ACCOUNT}:role/OrganizationAccountAccessRole", RoleSessionName="seed")["Credentials"]
    backup_admin = stacks.client("backup", "eu-central-1", aws_access_key_id=admin_vault["AccessKeyId"],
                                 aws_session_token=admin_vault["SessionToken"])
    for vault in ("v1", "v2"):
        backup_admin.create_backup_vault(BackupVaultName=vault)
    sts = stacks.client("sts", aws_access_key_id=FN_KEY)
    role = f"arn:aws:iam::{VAULT_ACCOUNT}:role/t-reader"
    for external_id, session in (("wrong", "dr-failover-backup-check"), ("the-external-id", "other-session")):
        response = error_of(lambda: sts.assume_role(RoleArn=role, RoleSessionName=session, ExternalId=external_id))
        assert response["Error"]["Code"] == "AccessDenied"
        assert response["Error"]["Message"] == f"User: {FN_SESSION} is not authorized to perform: sts:AssumeRole on resource: {role}"
    other_role = f"arn:aws:iam::{VAULT_ACCOUNT}:role/other"
    assert "no identity-based policy allows the sts:AssumeRole action" in error_of(
        lambda: sts.assume_role(RoleArn=other_role, RoleSessionName="dr-failover-backup-check", ExternalId="the-external-id")
    )["Error"]["Message"]

    credentials = sts.assume_role(RoleArn=role, RoleSessionName="dr-failover-backup-check",
                                  ExternalId="the-external-id")["Credentials"]
    reader = stacks.client("backup", "eu-central-1", aws_access_key_id=credentials["AccessKeyId"],
                           aws_session_token=credentials["SessionToken"])
    assert reader.describe_backup_vault(BackupVaultName="v1")["BackupVaultName"] == "v1"
    response = error_of(lambda: reader.describe_backup_vault(BackupVaultName="v2"))
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) == (403, "AccessDeniedException")
    assert response["Error"]["Message"] == (
        f"User: arn:aws:sts::{VAULT_ACCOUNT}:assumed-role/t-reader/dr-failover-backup-check is not authorized to "
        f"perform: backup:DescribeBackupVault on resource: arn:aws:backup:eu-central-1:{VAULT_ACCOUNT}:backup-vault:v2 "
        "because no identity-based policy allows the backup:DescribeBackupVault action")


def test_a_state_machines_own_calls_are_authorized_against_its_role(stacks):
    sns = stacks.client("sns", "eu-central-1")
    allowed = sns.create_topic(Name="allowed")["TopicArn"]
    other = sns.create_topic(Name="other")["TopicArn"]
    sfn = stacks.client("stepfunctions", "eu-central-1")

    def run(topic):
        definition = {"StartAt": "P", "States": {"P": {
            "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": topic, "Message": "m"}, "End": True}}}
        machine = sfn.create_state_machine(name=f"m-{topic.rsplit(':', 1)[-1]}", definition=json.dumps(definition),
                                           roleArn=f"arn:aws:iam::{ACCOUNT}:role/t-MachineRole")["stateMachineArn"]
        return wait_execution(sfn, sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"])

    assert run(allowed)["status"] == "SUCCEEDED"
    denied = run(other)
    assert denied["status"] == "FAILED"
    assert "AccessDenied" in denied["error"], denied
    assert f"assumed-role/t-MachineRole/" in denied["cause"] and f"sns:Publish on resource: {other}" in denied["cause"]


def test_a_state_machine_whose_role_no_template_creates_is_allowed_nothing(stacks):
    sns = stacks.client("sns", "eu-central-1")
    topic = sns.create_topic(Name="allowed")["TopicArn"]
    sfn = stacks.client("stepfunctions", "eu-central-1")
    definition = {"StartAt": "P", "States": {"P": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                                                   "Parameters": {"TopicArn": topic, "Message": "m"}, "End": True}}}
    machine = sfn.create_state_machine(name="unknown-role", definition=json.dumps(definition),
                                       roleArn=f"arn:aws:iam::{ACCOUNT}:role/not-in-the-template")["stateMachineArn"]
    run = wait_execution(sfn, sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"])
    assert run["status"] == "FAILED" and "AccessDenied" in run["error"], run


def test_enforcement_can_be_switched_off_for_a_test_about_something_else(stacks):
    _group(stacks, "db")
    fn = stacks.client("autoscaling", "eu-central-1", aws_access_key_id=FN_KEY)
    assert stacks.control("iam", {"enforce": False}) == (200, {"enforce": False})
    fn.update_auto_scaling_group(AutoScalingGroupName="db", DesiredCapacity=1)
    assert stacks.control("iam", {"enforce": True}) == (200, {"enforce": True})
    assert error_of(lambda: fn.update_auto_scaling_group(AutoScalingGroupName="db", DesiredCapacity=2))[
        "Error"]["Code"] == "AccessDenied"


def test_a_template_that_cannot_be_evaluated_is_refused_and_changes_nothing(stacks, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TEMPLATE.replace("StringEquals: {aws:RequestedRegion", "NumericEquals: {aws:RequestedRegion"))
    status, body = stacks.control("iam", {"stacks": [{"template": str(bad), "parameters": {"DeploymentName": "t"}}]})
    assert status == 400 and "NumericEquals" in body["error"], body
    assert stacks.control("iam", method="GET")[1]["identities"] == {FN_KEY: FN_SESSION}
    status, body = stacks.control("iam", {"stacks": [], "enforced": True})
    assert status == 400 and "enforced" in body["error"]


def test_the_drill_and_tests_own_key_is_an_administrator(stacks):
    _group(stacks, "db")
    stacks.client("autoscaling", "eu-central-1").update_auto_scaling_group(AutoScalingGroupName="db", DesiredCapacity=3)


AURORA_TEMPLATE = """
Resources:
  FnRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
      Policies:
        - PolicyName: fn
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: rds:FailoverGlobalCluster
                Resource:
                  - "arn:aws:rds::123456789012:global-cluster:app-global"
                  - "arn:aws:rds:eu-central-1:123456789012:cluster:app-dr"
                  - !Sub "arn:aws:rds:${WriterRegion}:123456789012:cluster:*"
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: test-fn}}
    Properties: {FunctionName: t-fn, Role: !GetAtt FnRole.Arn}
Parameters:
  WriterRegion: {Type: String}
"""


@pytest.mark.parametrize("writer_region, allowed", [("eu-west-1", True), ("us-east-2", False)])
def test_an_aurora_failover_is_authorized_against_the_global_cluster_the_target_and_the_writer(
    standin, tmp_path, writer_region, allowed
):
    # "Actions, resources, and condition keys for Amazon RDS", FailoverGlobalCluster: the global
    # cluster and the clusters it moves the writer between.
    primary, dr = standin.client("rds", "eu-west-1"), standin.client("rds", "eu-central-1")
    writer = primary.create_db_cluster(DBClusterIdentifier="app-primary", Engine="aurora-postgresql",
                                       MasterUsername="app", MasterUserPassword="password-1")["DBCluster"]["DBClusterArn"]
    primary.create_global_cluster(GlobalClusterIdentifier="app-global", SourceDBClusterIdentifier=writer)
    target = dr.create_db_cluster(DBClusterIdentifier="app-dr", Engine="aurora-postgresql",
                                  GlobalClusterIdentifier="app-global")["DBCluster"]["DBClusterArn"]
    template = tmp_path / "aurora.yaml"
    template.write_text(AURORA_TEMPLATE)
    status, body = standin.control("iam", {"stacks": [{"template": str(template), "region": "eu-central-1",
                                                       "account": ACCOUNT, "parameters": {"WriterRegion": writer_region}}]})
    assert status == 200, body
    fn = standin.client("rds", "eu-central-1", aws_access_key_id=FN_KEY)
    failover = lambda: fn.failover_global_cluster(GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=target)  # noqa: E731
    if allowed:
        failover()
    else:
        message = error_of(failover)["Error"]["Message"]
        assert f"rds:FailoverGlobalCluster on resource: {writer} because" in message, message


TAGGING_TEMPLATE = """
Resources:
  FnRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
      Policies:
        - PolicyName: fn
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: rds:CreateDBInstance
                Resource:
                  - "arn:aws:rds:eu-central-1:123456789012:db:*"
                  - "arn:aws:rds:eu-central-1:123456789012:og:*"
              - {Effect: Allow, Action: rds:AddTagsToResource, Resource: "arn:aws:rds:eu-central-1:123456789012:db:tagged"}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: test-fn}}
    Properties: {FunctionName: t-fn, Role: !GetAtt FnRole.Arn}
"""


def test_an_rds_create_with_tags_also_needs_add_tags_to_resource_on_what_it_creates(standin, tmp_path):
    # "Grant permission to tag Amazon RDS resources during creation": RDS authorizes
    # rds:AddTagsToResource as well when the create names tags.
    template = tmp_path / "tagging.yaml"
    template.write_text(TAGGING_TEMPLATE)
    status, body = standin.control("iam", {"stacks": [{"template": str(template), "region": "eu-central-1",
                                                       "account": ACCOUNT, "parameters": {}}]})
    assert status == 200, body
    fn = standin.client("rds", "eu-central-1", aws_access_key_id=FN_KEY)

    def create(name, **extra):
        return fn.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.r6g.large", Engine="postgres",
                                     MasterUsername="app", MasterUserPassword="password123", AllocatedStorage=20, **extra)

    tags = [{"Key": "app", "Value": "shop"}]
    message = error_of(lambda: create("untagged", Tags=tags))["Error"]["Message"]
    assert "rds:AddTagsToResource on resource: arn:aws:rds:eu-central-1:123456789012:db:untagged" in message, message
    with pytest.raises(ClientError):
        standin.client("rds", "eu-central-1").describe_db_instances(DBInstanceIdentifier="untagged")
    create("untagged")
    assert create("tagged", Tags=tags)["DBInstance"]["TagList"] == tags


OPERATOR_TEMPLATE = """
Resources:
  Operator:
    Type: AWS::IAM::Role
    Properties:
      RoleName: t-operator
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: operate
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: states:ListExecutions, Resource: "arn:aws:states:*:*:stateMachine:allowed-*"}
"""


def test_an_administrator_assuming_a_role_of_the_stack_gets_that_roles_rights_only(standin, tmp_path):
    """How a person runs dr-failover as the template's OperatorRole: AssumeRole, then every call
    authorizes as the role ("Policy evaluation logic"; the role's trust lets the account in)."""
    template = tmp_path / "operator.yaml"
    template.write_text(OPERATOR_TEMPLATE)
    status, body = standin.control("iam", {"stacks": [
        {"template": str(template), "parameters": {}, "region": "eu-central-1", "account": ACCOUNT}]})
    assert status == 200, body
    credentials = standin.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/t-operator", RoleSessionName="alice")["Credentials"]
    sfn = standin.client("stepfunctions", "eu-central-1", aws_access_key_id=credentials["AccessKeyId"],
                         aws_session_token=credentials["SessionToken"])
    allowed = f"arn:aws:states:eu-central-1:{ACCOUNT}:stateMachine:allowed-x"
    # Authorized: the answer is Step Functions' own (no such state machine), not AccessDenied.
    assert error_of(lambda: sfn.list_executions(stateMachineArn=allowed))["Error"]["Code"] == "StateMachineDoesNotExist"
    other = f"arn:aws:states:eu-central-1:{ACCOUNT}:stateMachine:other"
    response = error_of(lambda: sfn.list_executions(stateMachineArn=other))
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert response["Error"]["Message"].startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/t-operator/alice is not authorized to perform: "
        f"states:ListExecutions on resource: {other}")
    # A role no loaded stack creates keeps the administrator's rights (the world's own set-up).
    admin = standin.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/not-in-a-stack", RoleSessionName="seed")["Credentials"]
    sfn_admin = standin.client("stepfunctions", "eu-central-1", aws_access_key_id=admin["AccessKeyId"],
                               aws_session_token=admin["SessionToken"])
    assert error_of(lambda: sfn_admin.list_executions(stateMachineArn=other))["Error"]["Code"] == "StateMachineDoesNotExist"
