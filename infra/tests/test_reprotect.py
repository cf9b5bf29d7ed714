"""The re-protect state machine (infra/statemachine/reprotect.asl.json) and its template resources:
the substitutions agree, every end is published, the inputs the project documents are accepted and
others refused, and its two roles may do only what re-protect does (least privilege)."""

from __future__ import annotations

import json
import re

import pytest
from template_support import (
    INFRA,
    ROOT,
    actions,
    emitted_error_names,
    functions,
    statements,
    template,  # noqa: F401  (a fixture)
    validate,
    walk,
)

ASL_PATH = INFRA / "statemachine" / "reprotect.asl.json"


@pytest.fixture(scope="module")
def asl() -> dict:
    return json.loads(ASL_PATH.read_text())


def machine(template: dict) -> dict:
    return template["Resources"]["ReprotectStateMachine"]


def test_the_template_loads_the_file_and_substitutes_exactly_what_it_uses(template, asl):
    properties = machine(template)["Properties"]
    assert (INFRA / properties["DefinitionUri"]).resolve() == ASL_PATH
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", ASL_PATH.read_text()))
    assert used == set(properties["DefinitionSubstitutions"])
    for key in ("DeploymentName", "PollSeconds", "ReprotectBudgetSeconds"):
        assert properties["DefinitionSubstitutions"][key] == {"Ref": key}
    assert properties["DefinitionSubstitutions"]["ReprotectDatabaseFunctionArn"] == {
        "Fn::GetAtt": ["ReprotectDatabaseFunction", "Arn"]
    }


def test_every_lambda_call_is_the_reprotect_function_and_every_change_waits_within_the_budget(asl):
    calls = [s for n, s in asl["States"].items() if s.get("Resource") == "arn:aws:states:::lambda:invoke"
             and n != "FinishRun"]
    assert calls
    for state in calls:
        parameters = state["Parameters"]
        assert parameters["FunctionName"] == "${ReprotectDatabaseFunctionArn}"
        payload = parameters.get("Payload")
        if payload is None:  # the plan: the request merged with action plan
            assert parameters["Payload.$"] == "States.JsonMerge($.request, $.plan_call, false)"
            continue
        if payload["action"] == "hold":  # the start's check: who holds the deployment (shared::exclusive)
            assert payload == {"action": "hold", "execution_id.$": "$$.Execution.Id"}
            continue
        assert payload["action"] in ("apply", "status")
        assert payload["wait"]["budget_seconds.$"] == "$.settings.budget_seconds"
        assert all("DrFailover." not in e for r in state.get("Retry", []) for e in r["ErrorEquals"]), (
            "a stage waits out temporary conditions within its budget, not by a retry count"
        )
    plan_call = asl["States"]["Normalize"]["Parameters"]["plan_call"]
    assert plan_call["action"] == "plan"


def test_every_drfailover_error_the_machine_matches_is_one_that_is_emitted(asl):
    handled = {
        error
        for node in walk(asl)
        for error in node.get("ErrorEquals", [])
        if error.startswith("DrFailover.")
    }
    assert handled <= emitted_error_names()
    # How a re-protect ends: the finishing step's errors (shared::finish::reprotect), and the plain one.
    fails = {s.get("Error") for s in asl["States"].values() if s["Type"] == "Fail"}
    assert fails == {None, "DrFailover.ReportNotPublished"}
    source = (ROOT / "shared" / "src" / "finish" / "reprotect.rs").read_text()
    assert set(re.findall(r'"(DrFailover\.[A-Za-z]+)"', source)) == {
        "DrFailover.Refused", "DrFailover.InvalidInput", "DrFailover.ReprotectFailed", "DrFailover.AlreadyRunning"}


@pytest.mark.parametrize("name", ["reprotect.json", "reprotect-dry-run.json"])
def test_the_documented_inputs_are_accepted(asl, name):
    execution_input = json.loads((ROOT / "events" / "statemachine" / name).read_text())
    assert validate(asl, execution_input) == "Normalize"


@pytest.mark.parametrize(
    "execution_input",
    [{}, {"dry_run": "false"}, {"dry_run": False, "reason": 7}, {"dry_run": False, "trigger": "manual"},
     {"dry_run": False, "action": "apply"}, {"dry_run": False, "force": True}],
)
def test_a_bad_input_is_refused_before_any_call(asl, execution_input):
    """Refused at ValidateRequest, before the plan: the finishing step names the field."""
    assert validate(asl, execution_input) == "InvalidRequest"
    assert asl["States"]["InvalidRequest"] == {"Type": "Pass", "Result": {"outcome": "invalid-request"},
                                               "ResultPath": "$.end", "Next": "FinishRun"}


def test_the_function_role_may_read_and_create_only_the_plans_standby(template):
    allowed = {
        "logs:CreateLogStream", "logs:PutLogEvents", "rds:DescribeDBInstances",
        "rds:CreateDBInstanceReadReplica", "rds:DescribeDBParameterGroups", "kms:CreateGrant", "kms:DescribeKey",
        # Aurora
        "rds:DescribeGlobalClusters", "rds:DescribeDBClusters", "rds:CreateDBCluster", "rds:CreateDBInstance",
        # The DBInstances quota (shared::reprotect::quota): no resource-level permissions.
        "rds:DescribeAccountAttributes",
        # Tags given at creation (the former primary's): RDS authorizes this too, on the standby only.
        "rds:AddTagsToResource",
        # shared::exclusive: the deployment's running executions (test_template_iam.py pins their resources)
        "states:ListExecutions", "states:DescribeExecution",
    }
    granted = set()
    for statement in statements(template, "ReprotectDatabaseRole"):
        assert statement["Effect"] == "Allow"
        if statement["Resource"] == "*":
            assert actions(statement) == ["rds:DescribeAccountAttributes"], statement
            assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": {"Ref": "PrimaryRegion"}}}
        granted |= set(actions(statement))
        if ":db:*" in json.dumps(statement["Resource"]):
            # The former primary, any name in the primary region (shared::reprotect::network).
            assert actions(statement) == ["rds:DescribeDBInstances"], "any DB instance: read only"
        if "rds:AddTagsToResource" in actions(statement):
            assert "*" not in json.dumps(statement["Resource"]), "tags only on the plan's standby"
        if ":cluster:*" in json.dumps(statement["Resource"]):
            assert all(a.startswith("rds:Describe") for a in actions(statement)), "any cluster: read only"
    assert granted == allowed
    (create,) = [s for s in statements(template, "ReprotectDatabaseRole") if "rds:CreateDBInstanceReadReplica" in actions(s)]
    databases = [r["Fn::Sub"] for r in create["Resource"] if isinstance(r, dict) and ":db:" in r.get("Fn::Sub", "")]
    assert databases == [
        "arn:${AWS::Partition}:rds:${PrimaryRegion}:${AWS::AccountId}:db:${ReprotectReplicaInstanceId}",
        "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:${DbReplicaInstanceId}",
    ]
    (cluster,) = [s for s in statements(template, "ReprotectDatabaseRole") if "rds:CreateDBCluster" in actions(s)]
    assert cluster["Resource"][0] == {
        "Fn::Sub": "arn:${AWS::Partition}:rds:${PrimaryRegion}:${AWS::AccountId}:cluster:${ReprotectClusterId}"
    }
    (instance,) = [s for s in statements(template, "ReprotectDatabaseRole") if "rds:CreateDBInstance" in actions(s)]
    assert instance["Resource"][0] == {
        "Fn::Sub": "arn:${AWS::Partition}:rds:${PrimaryRegion}:${AWS::AccountId}:db:${ReprotectClusterId}-1"
    }
    (kms,) = [s for s in statements(template, "ReprotectDatabaseRole") if "kms:CreateGrant" in actions(s)]
    # The plan's key, else the former primary's: a key of the primary region, used through RDS only.
    assert kms["Resource"] == {"Fn::If": ["HasReprotectKmsKey", {"Ref": "ReprotectKmsKeyArn"}, {
        "Fn::Sub": "arn:${AWS::Partition}:kms:${PrimaryRegion}:${AWS::AccountId}:key/*"}]}
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == {"Fn::Sub": "rds.${PrimaryRegion}.amazonaws.com"}


def test_the_state_machine_role_invokes_only_the_reprotect_function_and_reports(template):
    role = statements(template, "ReprotectStateMachineRole")
    (invoke,) = [s for s in role if "lambda:InvokeFunction" in actions(s)]
    assert invoke["Resource"] == [
        {"Fn::GetAtt": ["ReprotectDatabaseFunction", "Arn"]},
        {"Fn::Sub": "${ReprotectDatabaseFunction.Arn}:*"},
        {"Fn::GetAtt": ["FinishRunFunction", "Arn"]},
        {"Fn::Sub": "${FinishRunFunction.Arn}:*"},
    ]
    for statement in role:
        if statement["Resource"] == "*":
            assert all(a.startswith("logs:") for a in actions(statement)), statement
        assert not any(a.startswith(("rds:", "states:", "autoscaling:", "route53:")) for a in actions(statement))


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsAborted"])
def test_a_run_that_ends_without_its_report_pages_the_report_topic(template, metric):
    (alarm,) = [
        r["Properties"] for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == metric
        and r["Properties"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "ReprotectStateMachine"}}]
    ]
    assert alarm["Threshold"] == 1 and alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "ReportTopic"}]


def test_every_reprotect_resource_is_installed_only_with_a_standby_to_create(template):
    names = [n for n in template["Resources"] if n.startswith("Reprotect")]
    assert len(names) == 8, names
    for name in names:
        assert template["Resources"][name]["Condition"] == "Reprotects", name
    assert "ReprotectDatabaseFunction" in functions(template)
