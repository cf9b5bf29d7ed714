"""The fail back state machine (infra/statemachine/failback.asl.json) and its template resources:
substitutions agree, every end is published, nothing changes before the approval and the pause,
the approval request carries the commands and a timeout, and each role may do only its step."""

from __future__ import annotations

import json
import re

import pytest
from template_support import (
    INFRA,
    ROOT,
    actions,
    functions,
    reachable,
    role_statements,
    statements,
    template,  # noqa: F401  (a fixture)
    validate,
    walk,
)

ASL_PATH = INFRA / "statemachine" / "failback.asl.json"
# The one state that changes anything: the stage loop's apply (each stage's Pass names its function).
CHANGES = {"StageApply"}
STAGES = ["ComputeStage", "DatabaseStage", "DnsStage", "PilotStage", "StandbyStage"]


@pytest.fixture(scope="module")
def asl() -> dict:
    return json.loads(ASL_PATH.read_text())


def test_the_template_loads_the_file_and_substitutes_exactly_what_it_uses(template):
    properties = template["Resources"]["FailbackStateMachine"]["Properties"]
    assert (INFRA / properties["DefinitionUri"]).resolve() == ASL_PATH
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", ASL_PATH.read_text()))
    substitutions = properties["DefinitionSubstitutions"]
    assert used == set(substitutions)
    for key in ("DeploymentName", "PollSeconds", "ComputeBudgetSeconds", "DatabaseBudgetSeconds", "DnsBudgetSeconds",
                "ReprotectBudgetSeconds", "FailbackApprovalTimeoutSeconds", "FailbackDrainSeconds"):
        assert substitutions[key] == {"Ref": key}
    assert substitutions["AlarmRuleName"] == {"Ref": "AlarmTriggerRule"}


def test_nothing_changes_before_the_approval_and_the_pause(asl):
    """Every change is reachable only through the approval (RequestApproval) and the pause of the
    failover automation (PauseFailover): without either, no apply state is reachable."""
    for gate in ("Approved?", "PauseFailover"):
        assert reachable(asl, without={gate}) & CHANGES == set(), gate
    # Approved? lets a run on only with an approval, which only RequestApproval's answer writes.
    writers = {n for n, s in asl["States"].items() if s.get("ResultPath") == "$.approval"}
    assert writers == {"RequestApproval"}
    assert asl["States"]["Approved?"]["Choices"][0]["Variable"] == "$.approval"
    assert CHANGES <= reachable(asl)
    assert asl["States"]["Refused?"]["Choices"][1]["Next"] == "DryRun", "a dry run ends before the gate"
    calls = [n for n, s in asl["States"].items() if s.get("Resource") == "arn:aws:states:::lambda:invoke"
             and s["Parameters"].get("Payload", {}).get("action") in ("apply", "status")]
    assert set(calls) == {"StageApply", "StageStatus"}


def test_the_approval_request_names_the_commands_and_expires(asl):
    gate = asl["States"]["RequestApproval"]
    assert gate["Resource"] == "arn:aws:states:::sns:publish.waitForTaskToken"
    assert gate["TimeoutSecondsPath"] == "$.settings.approval_seconds"
    assert gate["Parameters"]["TopicArn"] == "${ReportTopicArn}"
    message = gate["Parameters"]["Message.$"]
    assert "aws stepfunctions send-task-success --region {} --task-token {}" in message
    assert "aws stepfunctions send-task-failure --region {} --task-token {} --error DrFailover.ApprovalDenied" in message
    timeout, not_published, denial = gate["Catch"]
    assert (timeout["ErrorEquals"], timeout["Next"]) == (["States.Timeout"], "ApprovalExpired")
    # The request could not be published (after the retries of SNS's transient errors): nobody can
    # approve, the run ends with nothing changed, as a failure at the approval.
    assert all(e.startswith("SNS.") for e in not_published["ErrorEquals"]) and not_published["Next"] == "ApprovalNotRequested"
    assert {r for retry in gate["Retry"] for r in retry["ErrorEquals"]} <= set(not_published["ErrorEquals"])
    # Any send-task-failure, whatever error it names, is a denial (issue 21, kind 7).
    assert (denial["ErrorEquals"], denial["Next"]) == (["States.ALL"], "ApprovalDenied")
    assert asl["States"]["ApprovalNotRequested"]["Result"] == {"outcome": "failed", "stage": "approval"}


def test_after_the_approval_the_plan_is_made_again_before_the_first_change(asl):
    """Issue 21, kind 3: approved, the run goes back to Plan; a plan that refuses now ends it
    refused (Refused? comes first), one that goes on passes Approved? to the pause, never to a
    second approval request."""
    states = asl["States"]
    assert states["RequestApproval"]["Next"] == "Plan"
    assert states["Refused?"]["Choices"][0]["Next"] == "Refused" and states["Refused?"]["Default"] == "Approved?"
    assert states["Approved?"]["Choices"] == [{"Variable": "$.approval", "IsPresent": True, "Next": "ReadAlarmRule"}]
    assert states["Approved?"]["Default"] == "BuildApprovalRequest"
    assert "ReadAlarmRule" not in reachable(asl, without={"Approved?"})


def stage_order(asl: dict) -> list[str]:
    """The stages as a run goes through them: from each stage's Pass, the stage loop's StageDone?
    choice (on the stage's name) to its record, and the record's next state, to the next stage."""
    states = asl["States"]
    done = {c["StringEquals"]: c["Next"] for c in states["StageDone?"]["Choices"]}
    order, name = [], "ComputeStage"
    while name in STAGES:
        order.append(name)
        stage = states[name]["Parameters"]["name"]
        record = states[done.get(stage, states["StageDone?"]["Default"])]
        assert record["InputPath"] == "$.stage" and record["ResultPath"] == f"$.stages.{stage}"
        name = record["Next"]
        while name not in STAGES and name != "CheckArmed":
            # The write freeze and the drain sit between stages: follow their way forward.
            forward = {"FreezeBegin": "LagCheck", "LagCheck": "LagZero?", "Drain?": "DrainDr", "DrainDr": "PilotStage"}
            if name == "LagZero?":
                name = states[name]["Choices"][1]["Next"]
            else:
                name = forward[name]
    assert name == "CheckArmed"
    return order


def test_the_stages_run_in_the_issue_order_and_scale_in_comes_only_after_dns(asl):
    assert stage_order(asl) == STAGES
    states = asl["States"]
    functions_by_stage = {n: states[n]["Parameters"]["function"] for n in STAGES}
    assert functions_by_stage == {
        "ComputeStage": "${FailbackComputeFunctionArn}", "DatabaseStage": "${FailbackDatabaseFunctionArn}",
        "DnsStage": "${FailbackDnsFunctionArn}", "PilotStage": "${PilotCapacityFunctionArn}",
        "StandbyStage": "${FailbackStandbyFunctionArn}",
    }
    for name in ("StageApply", "StageStatus"):
        assert states[name]["Parameters"]["FunctionName.$"] == "$.stage.function"
    # The write freeze comes before the database; a database already moved back skips to DNS.
    lag = states["LagZero?"]["Choices"]
    assert [c["Next"] for c in lag] == ["DnsStage", "DatabaseStage", "FreezeTimedOut"]
    # Scale-in (pilot capacity) is reachable only once DNS has moved back.
    assert "PilotStage" not in reachable(asl, without={"RecordDns"})
    assert "DatabaseStage" not in reachable(asl, without={"LagZero?"}), "the database only after the write freeze"


def test_the_dr_groups_drain_after_dns_moved_back_before_they_go_to_pilot_capacity(asl, template):
    """After this run's DNS change is INSYNC, the groups keep their capacity for FailbackDrainSeconds
    (resolvers hold the DR answers up to the TTL; clients finish their connections). A run that
    finds DNS already moved back (ready at its apply, no status loop) does not wait again."""
    states = asl["States"]
    assert states["DrainDr"] == {"Comment": states["DrainDr"]["Comment"], "Type": "Wait",
                                 "SecondsPath": "$.settings.drain_seconds", "Next": "PilotStage"}
    assert states["RecordDns"]["Next"] == "Drain?"
    assert states["Drain?"]["Choices"] == [{"Variable": "$.stages.dns.status", "IsPresent": True, "Next": "DrainDr"}]
    assert states["Drain?"]["Default"] == "PilotStage"
    assert states["Normalize"]["Parameters"]["settings"]["drain_seconds.$"] == "States.StringToJson($.settings_text.drain)"
    parameter = template["Parameters"]["FailbackDrainSeconds"]
    assert (parameter["Default"], parameter["MinValue"]) == (300, 0)


def test_the_automation_is_resumed_only_when_it_was_on_and_the_failover_would_move_to_a_replicating_database(asl):
    """The failover's own database plan decides: a DR database that is not the writer (an RDS read
    replica, an Aurora secondary) and no refusal. The former DR writer is writable: not re-armed.
    "Was on" is the rule ENABLED when the run read it, or DISABLED with the pause mark an earlier
    fail back left (a re-run after a failure); the mark is set before the rule is disabled."""
    states = asl["States"]
    mark = "dr-failover:paused-by-failback"
    assert states["AlarmRuleEnabled?"]["Choices"] == [{"Variable": "$.alarm_rule.state", "StringEquals": "ENABLED",
                                                       "Next": "MarkPause"}]
    assert states["MarkPause"]["Parameters"]["Tags"][0]["Key"] == mark and states["MarkPause"]["Next"] == "ResumeAtTheEnd"
    assert states["ResumeAtTheEnd"]["Parameters"]["resume"] is True
    assert states["PausedByFailback"]["Parameters"]["resume.$"] == f"States.ArrayContains($.alarm_rule.tags.keys, '{mark}')"
    assert "PauseFailover" not in reachable({"StartAt": "AlarmRuleEnabled?", "States": states}, without={"MarkPause", "ReadPauseMark"})
    assert states["ResumeFailover"]["Next"] == "UnmarkPause" and states["UnmarkPause"]["Parameters"]["TagKeys"] == [mark]
    rules = asl["States"]["Armed?"]["Choices"]
    assert rules == [{"And": [{"Variable": "$.alarm_rule.resume", "BooleanEquals": True},
                              {"Variable": "$.armed.detail.writable", "BooleanEquals": False},
                              {"Variable": "$.armed.refusals[0]", "IsPresent": False}], "Next": "ResumeFailover"}]
    resumes = [n for n, s in asl["States"].items() if s.get("Resource", "").endswith("eventbridge:enableRule")]
    assert resumes == ["ResumeFailover"]
    assert asl["States"]["CheckArmed"]["Parameters"]["Payload"]["dry_run"] is True


@pytest.mark.parametrize("name", ["failback.json", "failback-dry-run.json"])
def test_the_documented_inputs_are_accepted(asl, name):
    execution_input = json.loads((ROOT / "events" / "statemachine" / name).read_text())
    assert validate(asl, execution_input) == "Normalize"


@pytest.mark.parametrize("execution_input", [{}, {"dry_run": "no"}, {"dry_run": False, "force": True}])
def test_a_bad_input_is_refused_before_any_call(asl, execution_input):
    assert validate(asl, execution_input) == "InvalidRequest"
    assert asl["States"]["InvalidRequest"]["Result"] == {"outcome": "invalid-request"}


def test_only_pilot_capacity_may_lower_the_dr_groups(template):
    """UpdateAutoScalingGroup on the DR groups (AsgGroupNames): scale-asg (which only raises them)
    and pilot-capacity. The fail back's compute role is limited to the primary groups."""
    on_dr_groups = set()
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in statements(template, logical_id):
            if "autoscaling:UpdateAutoScalingGroup" in actions(statement):
                text = json.dumps(statement["Resource"])
                if '"AsgGroupNames"' in text:
                    on_dr_groups.add(logical_id)
                else:
                    assert '"FailbackAsgGroupNames"' in text and logical_id == "FailbackComputeRole", logical_id
    assert on_dr_groups == {"ScaleAsgRole", "PilotCapacityRole"}


def test_the_state_machine_role_pauses_only_the_alarm_rule_and_invokes_only_its_steps(template):
    role = statements(template, "FailbackStateMachineRole")
    (events,) = [s for s in role if any(a.startswith("events:") for a in actions(s))]
    assert sorted(actions(events)) == ["events:DescribeRule", "events:DisableRule", "events:EnableRule",
                                       "events:ListTagsForResource", "events:TagResource", "events:UntagResource"]
    assert events["Resource"] == {"Fn::GetAtt": ["AlarmTriggerRule", "Arn"]}
    (invoke,) = [s for s in role if "lambda:InvokeFunction" in actions(s)]
    targets = {r["Fn::GetAtt"][0] for r in invoke["Resource"] if "Fn::GetAtt" in r}
    assert targets == {f for f in functions(template) if f.startswith(("Failback", "PilotCapacity"))} | {
        "PromoteReplicaFunction", "FinishRunFunction"}
    for statement in role:
        if statement["Resource"] == "*":
            assert all(a.startswith("logs:") for a in actions(statement)), statement
        assert not any(a.startswith(("rds:", "autoscaling:", "route53:")) for a in actions(statement))


def test_the_fail_back_functions_act_on_the_primary_region_and_the_write_freeze_is_zero_lag(template):
    for name, function in functions(template).items():
        if not name.startswith("Failback"):
            continue
        variables = function["Properties"]["Environment"]["Variables"]
        # failback-dns alone reads the failover's records and where they were recorded, as they
        # are: its records are derived from them, never typed again.
        # (DNS_RECORDS it reads from the plan file in the layer: shared::config::ProcessEnv.)
        as_they_are = {
            "REPORT_BUCKET_NAME": {"Ref": "ReportBucket"},
            # The DNS gate, in the deployment's DR region: fail back closes it (shared::dns::gate).
            "DNS_GATE": {"Ref": "DnsGate"},
            "DNS_GATE_ALARM_NAME": {"Fn::If": ["HasDnsGate", {"Ref": "DnsGateAlarm"}, ""]},
            "DNS_GATE_HEALTH_CHECK_ID": {"Fn::If": ["HasDnsGate", {"Ref": "DnsGateHealthCheck"}, ""]},
            "DNS_AUTHORITATIVE_SERVERS": "",
            "METRIC_NAMESPACE": {"Ref": "MetricNamespace"},
            "DEPLOYMENT_NAME": {"Ref": "DeploymentName"},
        }
        plain = {v: variables[v] for v in variables if not v.startswith("FAILBACK_")}
        assert plain == (as_they_are if name == "FailbackDnsFunction" else {}), name
        assert variables["FAILBACK_DR_REGION"] == {"Ref": "PrimaryRegion"}, name
        assert variables["FAILBACK_PRIMARY_REGION"] == {"Ref": "AWS::Region"}, name
    database = functions(template)["FailbackDatabaseFunction"]["Properties"]["Environment"]["Variables"]
    assert database["FAILBACK_DB_MAX_REPLICA_LAG_SECONDS"] == "0"
    assert database["FAILBACK_DB_REPLICA_INSTANCE_ID"] == {"Ref": "ReprotectReplicaInstanceId"}


def test_every_fail_back_resource_is_installed_only_with_a_fail_back_configured(template):
    names = [n for n, r in template["Resources"].items() if n.startswith(("Failback", "PilotCapacity"))]
    assert len(names) == 20, names
    for name in names:
        assert template["Resources"][name]["Condition"] == "FailsBack", name
    # How a fail back ends: the finishing step's errors (shared::finish::failback), and the plain one.
    errors = {n.get("Error") for n in walk(json.loads(ASL_PATH.read_text())) if n.get("Type") == "Fail"}
    assert errors == {None, "DrFailover.ReportNotPublished"}
    source = (ROOT / "shared" / "src" / "finish" / "failback.rs").read_text()
    assert set(re.findall(r'"(DrFailover\.[A-Za-z]+)"', source)) == {
        "DrFailover.Refused", "DrFailover.InvalidInput", "DrFailover.AlreadyRunning", "DrFailover.ApprovalDenied",
        "DrFailover.ApprovalExpired", "DrFailover.FailbackFailed"}


def test_an_aurora_fail_back_is_installed_with_db_primary_cluster_id_and_may_only_switch_over(template):
    conditions = template["Conditions"]
    assert conditions["FailsBack"] == {"Fn::Or": [{"Condition": "FailsBackInstance"}, {"Condition": "FailsBackAurora"}]}
    assert {"Condition": "ReprotectsAurora"} in conditions["FailsBackAurora"]["Fn::And"]
    rule = template["Rules"]["AuroraFailbackNamesWhatItMoves"]
    assert "ReprotectClusterId" in rule["Assertions"][0]["AssertDescription"]
    by_condition = {}
    for role in ("FailbackDatabaseRole", "FailbackDnsRole", "FailbackStandbyRole"):
        for statement in role_statements(template, role):
            if "Fn::If" in statement:
                condition, present, _ = statement["Fn::If"]
                by_condition.setdefault((role, condition), []).append(present)
    aurora_actions = {role: {a for s in by_condition.get((role, "FailsBackAurora"), []) for a in actions(s)}
                      for role in ("FailbackDatabaseRole", "FailbackDnsRole", "FailbackStandbyRole")}
    assert aurora_actions == {
        "FailbackDatabaseRole": {"rds:DescribeGlobalClusters", "rds:DescribeDBClusters", "rds:SwitchoverGlobalCluster"},
        "FailbackDnsRole": {"rds:DescribeGlobalClusters", "rds:DescribeDBClusters"},
        "FailbackStandbyRole": {"rds:DescribeGlobalClusters", "rds:DescribeDBClusters"},
    }, "never a failover with data loss on the way back, never a cluster created or changed by the standby step"
    for (role, condition), present in by_condition.items():
        for statement in present:
            text = json.dumps(statement["Resource"])
            assert ":cluster:*" not in text and ":db:*" not in text, (role, statement)
            if condition == "FailsBackAurora":
                assert not any(a in actions(statement) for a in ("rds:PromoteReadReplica", "rds:CreateDBInstanceReadReplica"))
            if condition == "FailsBackInstance":
                assert not any(a.endswith("GlobalCluster") or a.endswith("GlobalClusters") for a in actions(statement))
    variables = {n: f["Properties"]["Environment"]["Variables"] for n, f in functions(template).items()}
    candidates = {"Fn::If": ["FailsBackAurora", {"Fn::Sub": "${DbPrimaryClusterId},${ReprotectClusterId}"}, ""]}
    for name in ("FailbackDatabaseFunction", "FailbackDnsFunction", "FailbackStandbyFunction"):
        assert variables[name]["FAILBACK_DB_DR_CLUSTER_ID"] == candidates, name
    assert variables["FailbackStandbyFunction"]["FAILBACK_REPROTECT_CLUSTER_ID"] == {"Ref": "DbDrClusterId"}


def test_the_former_dr_writer_is_retired_by_rename_only_when_the_standby_takes_the_failovers_replica_name(template):
    """With FailbackStandbyReplicaInstanceId = DbReplicaInstanceId the standby step renames the
    former DR writer (AWS: "Renaming to replace an existing DB instance") and nothing else: its
    role may ModifyDBInstance only that name and its retired names, never delete anything, and the
    approval request says so. Any other name: no rename, the variable off."""
    condition = template["Conditions"]["FailbackRetiresFormerDrWriter"]
    assert condition == {"Fn::And": [{"Condition": "FailsBackInstance"},
                                     {"Fn::Equals": [{"Ref": "FailbackStandbyReplicaInstanceId"}, {"Ref": "DbReplicaInstanceId"}]}]}
    parameter = template["Parameters"]["FailbackStandbyReplicaInstanceId"]
    assert parameter["AllowedPattern"] == "^$|^[a-zA-Z][a-zA-Z0-9-]{0,41}$", "room for -retired-YYYYMMDDHHMM within 63"
    assert re.fullmatch(parameter["AllowedPattern"], "a" * 42) and not re.fullmatch(parameter["AllowedPattern"], "a" * 43)
    variables = functions(template)["FailbackStandbyFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["FAILBACK_REPROTECT_RETIRE_FORMER_WRITER"] == {"Fn::If": ["FailbackRetiresFormerDrWriter", "true", "false"]}

    modifying = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in role_statements(template, logical_id):
            present = statement["Fn::If"][1] if "Fn::If" in statement else statement
            if "rds:ModifyDBInstance" in actions(present):
                modifying.append((logical_id, statement))
            assert not any(a.startswith("rds:Delete") for a in actions(present)), (logical_id, present)
    standby = [s for role, s in modifying if role == "FailbackStandbyRole"]
    assert len(standby) == 1
    (retire,) = standby
    assert retire["Fn::If"][0] == "FailbackRetiresFormerDrWriter"
    assert actions(retire["Fn::If"][1]) == ["rds:ModifyDBInstance"]
    assert [r["Fn::Sub"].split(":db:")[1] for r in retire["Fn::If"][1]["Resource"]] == [
        "${FailbackStandbyReplicaInstanceId}", "${FailbackStandbyReplicaInstanceId}-retired-*"]

    plan = template["Resources"]["FailbackStateMachine"]["Properties"]["DefinitionSubstitutions"]["FailbackStandbyPlan"]
    aurora, (retires, retired_text, other_text) = plan["Fn::If"][0], plan["Fn::If"][2]["Fn::If"]
    assert aurora == "FailsBackAurora" and retires == "FailbackRetiresFormerDrWriter"
    assert "renamed ${DbReplicaInstanceId}-retired-YYYYMMDDHHMM" in retired_text["Fn::Sub"]
    assert "never deleted" in retired_text["Fn::Sub"]
    assert "left as it is" in other_text["Fn::Sub"]
    asl = json.loads(ASL_PATH.read_text())
    would_change = asl["States"]["BuildApprovalRequest"]["Parameters"]["what"]["would_change"]
    assert would_change["5_standby"] == "${FailbackStandbyPlan}"


def test_the_roles_that_read_the_dns_recording_may_list_the_report_bucket(template):
    """S3 answers a GetObject of a missing key with 404 NoSuchKey only to a caller allowed
    s3:ListBucket, and with 403 AccessDenied otherwise ("GetObject", Permissions; aws/aws-cli#2041):
    without it, flip-dns could not tell "nothing recorded yet" from a denial, and never record."""
    for role in ("FlipDnsRole", "FailbackDnsRole"):
        plain = [s for s in role_statements(template, role) if "Action" in s]
        lists = [s for s in plain if "s3:ListBucket" in actions(s)]
        assert [s["Resource"] for s in lists] == [{"Fn::GetAtt": ["ReportBucket", "Arn"]}], role
        reads = [s for s in plain if "s3:GetObject" in actions(s)]
        assert [s["Resource"] for s in reads] == [{"Fn::Sub": "${ReportBucket.Arn}/failback/*"}], role
