"""Readiness (issue 9 §1): the readiness state machine (infra/statemachine/readiness.asl.json)
plans every step read-only on a schedule, puts its metrics, publishes only a change and is
watched by its alarms; its role reads only its own executions. And the dashboard (issue 9 §4),
which shows what readiness and the functions put and every alarm of the stack."""

from __future__ import annotations

import json
import re

import pytest
from template_support import (
    successors,
    INFRA,
    SHARED_SRC,
    asl,  # noqa: F401  (a fixture)
    reachable,
    resources_of_type,
    role_statements,
    rust_source,
    state_machine,
    template,  # noqa: F401  (a fixture)
    walk,
)

READINESS_ASL_PATH = INFRA / "statemachine" / "readiness.asl.json"


@pytest.fixture(scope="module")
def readiness_asl() -> dict:
    return json.loads(READINESS_ASL_PATH.read_text())


def readiness_machine(template: dict) -> dict:
    return template["Resources"]["ReadinessStateMachine"]


def put_metrics(readiness_asl: dict) -> dict[str, dict]:
    """What the readiness run's PutMetricData calls put, by metric name (StepReady by its Step
    dimension): their dimensions."""
    out = {}
    for state in readiness_asl["States"].values():
        if state.get("Resource") != "arn:aws:states:::aws-sdk:cloudwatch:putMetricData":
            continue
        assert state["Parameters"]["Namespace"] == "${MetricNamespace}"
        for datum in state["Parameters"]["MetricData"]:
            dims = {d["Name"]: d["Value"] for d in datum["Dimensions"]}
            out[datum["MetricName"] + (f":{dims['Step']}" if "Step" in dims else "")] = dims
    return out


def test_the_readiness_asl_substitutions_are_exactly_the_templates(template):
    props = readiness_machine(template)["Properties"]
    assert (INFRA / props["DefinitionUri"]).resolve() == READINESS_ASL_PATH
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", READINESS_ASL_PATH.read_text()))
    assert used == set(props["DefinitionSubstitutions"])
    failover = state_machine(template)["Properties"]["DefinitionSubstitutions"]
    for key, value in props["DefinitionSubstitutions"].items():
        if key in failover:
            assert value == failover[key], f"{key} differs from the failover state machine's"
    assert props["DefinitionSubstitutions"]["MetricNamespace"] == {"Ref": "MetricNamespace"}


def test_a_readiness_run_asks_every_step_only_for_its_read_only_answer(readiness_asl, asl):
    """The plan of every step the failover plans, never forced, always a dry run: readiness can
    change nothing, and it sees what a failover's Plan state would see."""
    (plan,) = [s for s in readiness_asl["States"].values() if s["Type"] == "Parallel"]
    payloads = {}
    for branch in plan["Branches"]:
        for state in branch["States"].values():
            if state.get("Resource") == "arn:aws:states:::lambda:invoke":
                payloads.setdefault(state["Parameters"]["FunctionName"], []).append(state["Parameters"]["Payload"])
    failover_plan = asl["States"]["Plan"]
    failover_functions = {
        s["Parameters"]["FunctionName"]
        for b in failover_plan["Branches"]
        for s in b["States"].values()
        if s.get("Resource") == "arn:aws:states:::lambda:invoke"
    }
    assert set(payloads) == failover_functions
    for function, asked in payloads.items():
        if function == "${VerifyBackupCopyFunctionArn}":
            # The backup verification, and the two alarms whether the automation is armed.
            assert [p["action"] for p in asked] == ["verify", "alarm-state", "alarm-state"]
            assert [p["request"]["alarm"] for p in asked[1:]] == [
                {"name": "${HealthCheckAlarmName}", "region": "us-east-1"},
                {"name": "${UnforwardedAlarmName}", "region": "us-east-1"}]
            continue
        (payload,) = asked
        assert payload["action"] == "plan" and payload["dry_run"] is True and payload["force"] is False, function
    mutating = [s for s in walk(readiness_asl) if str(s.get("Resource", "")).split(":")[-1] in ("apply", "startExecution")]
    assert mutating == []


def test_the_readiness_schedule_starts_the_readiness_machine_at_the_configured_rate(template):
    rule = template["Resources"]["ReadinessScheduleRule"]["Properties"]
    assert rule["ScheduleExpression"] == {"Fn::Sub": "rate(${ReadinessRateMinutes} minutes)"}
    assert rule["State"] == {"Ref": "ReadinessScheduleState"}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "ReadinessStateMachine"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["StartReadinessRole", "Arn"]}
    (statement,) = role_statements(template, "StartReadinessRole")
    assert statement["Action"] == "states:StartExecution" and statement["Resource"] == {"Ref": "ReadinessStateMachine"}
    rate = template["Parameters"]["ReadinessRateMinutes"]
    assert rate["Default"] == "15"
    # rate(N minutes) with N > 1 only: EventBridge wants "minute" for 1.
    assert all(int(v) > 1 for v in rate["AllowedValues"])


def test_every_readiness_rate_has_its_alarm_period(template):
    rates = template["Parameters"]["ReadinessRateMinutes"]["AllowedValues"]
    mapping = template["Mappings"]["ReadinessRate"]
    assert set(mapping) == set(rates)
    for minutes in rates:
        assert mapping[minutes]["Seconds"] == int(minutes) * 60
    for alarm in ("ReadinessNotReadyAlarm", "ReadinessStaleAlarm"):
        props = template["Resources"][alarm]["Properties"]
        assert props["Period"] == {"Fn::FindInMap": ["ReadinessRate", {"Ref": "ReadinessRateMinutes"}, "Seconds"]}
        assert props["EvaluationPeriods"] * 3600 <= 86400, "an alarm looks back at most a day"


@pytest.mark.parametrize("alarm, metric", [("ReadinessNotReadyAlarm", "Ready"), ("ReadinessStaleAlarm", "ReadinessRun")])
def test_the_readiness_alarms_watch_what_the_readiness_run_puts_and_notify_each_change(template, readiness_asl, alarm, metric):
    props = template["Resources"][alarm]["Properties"]
    assert props["Namespace"] == {"Ref": "MetricNamespace"}
    assert props["MetricName"] == metric
    dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
    assert dims == {"Deployment": {"Ref": "DeploymentName"}}
    assert put_metrics(readiness_asl)[metric] == {"Deployment": "${DeploymentName}"}
    assert props["ComparisonOperator"] == "LessThanThreshold" and props["Threshold"] == 1
    assert props["AlarmActions"] == [{"Ref": "ReportTopic"}] and props["OKActions"] == [{"Ref": "ReportTopic"}]


def test_a_readiness_run_that_stops_happening_alarms_and_not_ready_holds_between_runs(template):
    stale = template["Resources"]["ReadinessStaleAlarm"]["Properties"]
    assert stale["TreatMissingData"] == "breaching" and stale["Statistic"] == "SampleCount"
    not_ready = template["Resources"]["ReadinessNotReadyAlarm"]["Properties"]
    assert not_ready["TreatMissingData"] == "ignore" and not_ready["Statistic"] == "Minimum"


def test_every_step_the_readiness_run_plans_has_its_ready_metric(readiness_asl):
    metrics = put_metrics(readiness_asl)
    for step in ("promote-replica", "scale-asg", "flip-dns"):
        assert metrics[f"StepReady:{step}"] == {"Deployment": "${DeploymentName}", "Step": step}
    assert {"Refusals", "Warnings"} <= set(metrics)
    catch = readiness_asl["States"]["PutMetrics"]["Catch"]
    assert [c["Next"] for c in catch] == [readiness_asl["States"]["PutMetrics"]["Next"]], "metrics failing never stop the run"


def test_readiness_publishes_only_a_change_and_fails_when_it_could_not(readiness_asl):
    """The report topic hears of readiness only when it changed since the last successful run (or
    on a first run that is not ready): finish-run decides (shared::finish::readiness::publishes).
    A publish that fails, or a previous run that cannot be read, fails the run after the metrics
    and without the heartbeat, so the next run compares with the last one that did publish."""
    states = readiness_asl["States"]
    assert states["PreviousRun"]["Parameters"]["StatusFilter"] == "SUCCEEDED"
    for name in ("PreviousRun", "DescribePreviousRun"):
        assert states[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.previous_error", "Next": "Checked"}]
    assert states["FirstRun?"]["Default"] == "Checked" and states["DescribePreviousRun"]["Next"] == "Checked"
    assert states["FinishRun"]["Parameters"]["Payload"]["machine"] == "readiness"
    assert states["FinishRun"]["Next"] == "PutMetrics" and states["PutMetrics"]["Next"] == "Ended?"
    assert states["Ended?"]["Choices"][0]["Next"] == "RunFailed" and states["Ended?"]["Default"] == "Heartbeat"
    publishes = {n for n, s in states.items() if s.get("Resource") == "arn:aws:states:::sns:publish"}
    assert publishes == {"PublishPlain"}, "the report is finish-run's to publish"
    source = (SHARED_SRC / "finish" / "readiness.rs").read_text()
    assert "pub fn publishes(" in source and (SHARED_SRC / "finish" / "mod.rs").read_text().count("readiness::publishes(") == 1


def test_the_readiness_heartbeat_is_put_last_so_a_run_that_fails_before_it_counts_as_missed(readiness_asl):
    states = readiness_asl["States"]
    beat = states["Heartbeat"]
    assert beat["Parameters"]["MetricData"][0]["MetricName"] == "ReadinessRun"
    assert {n for n, s in states.items() if "Heartbeat" in successors(s)} == {"Ended?"}
    assert beat["Next"] == "RunSucceeded" and [c["Next"] for c in beat["Catch"]] == ["RunSucceeded"]
    assert states["RunSucceeded"]["OutputPath"] == "$.finished.report", "the output the next run compares with"


def test_the_readiness_machine_reads_only_its_own_executions_and_puts_only_its_namespace(template):
    name = readiness_machine(template)["Properties"]["Name"]["Fn::Sub"]
    statements = role_statements(template, "ReadinessRole")
    (listing,) = [s for s in statements if s.get("Action") == "states:ListExecutions"]
    assert listing["Resource"]["Fn::Sub"].endswith(f":stateMachine:{name}")
    (describing,) = [s for s in statements if s.get("Action") == "states:DescribeExecution"]
    assert describing["Resource"]["Fn::Sub"].endswith(f":execution:{name}:*")
    (put,) = [s for s in statements if s.get("Action") == "cloudwatch:PutMetricData"]
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": {"Ref": "MetricNamespace"}}}
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    writes = {a for a in actions if a.split(":")[1].startswith(("Put", "Create", "Update", "Delete", "Start"))}
    assert writes <= {"cloudwatch:PutMetricData", "logs:CreateLogDelivery", "logs:UpdateLogDelivery",
                      "logs:DeleteLogDelivery", "logs:PutResourcePolicy"}, writes


def test_a_readiness_run_counts_only_the_failover_steps_refusals_and_a_failed_backup_check_warns(readiness_asl):
    (plan,) = [s for s in readiness_asl["States"].values() if s["Type"] == "Parallel"]
    failed = {name: state for branch in plan["Branches"] for name, state in branch["States"].items() if name.endswith("Failed")}
    assert failed["VerifyBackupFailed"]["Parameters"]["refusals"] == []
    assert "warnings.$" in failed["VerifyBackupFailed"]["Parameters"]
    for name in ("PlanDatabaseFailed", "PlanComputeFailed", "PlanDnsFailed"):
        assert "refusals.$" in failed[name]["Parameters"], f"{name}: a plan that cannot be made is not ready"
    source = (SHARED_SRC / "finish" / "readiness.rs").read_text()
    assert 'pub const STEPS: [&str; 3] = ["database", "compute", "dns"];' in source, "the backup never refuses"
    metrics = readiness_asl["States"]["PutMetrics"]["Parameters"]["MetricData"]
    assert all(m["Value.$"].startswith("$.finished.report.") for m in metrics)


# ------------------------------------------------------------------ dashboard (issue 9 §4)


def dashboard_body(template: dict) -> tuple[dict, set]:
    """The dashboard's JSON with every ${...} filled with a sample, and the names it used."""
    text, variables = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    used = set(re.findall(r"\$\{([A-Za-z0-9_:.]+)\}", text))
    def sample(name: str) -> str:
        value = variables.get(name)
        if isinstance(value, dict) and "Fn::If" in value:  # as when the part is installed
            return re.sub(r"\$\{[A-Za-z0-9_:.]+\}", "sample", value["Fn::If"][1]["Fn::Sub"])
        return "900" if name in variables else "sample"

    rendered = re.sub(r"\$\{([A-Za-z0-9_:.]+)\}", lambda m: sample(m.group(1)), text)
    return json.loads(rendered), used


def test_the_dashboard_is_json_and_names_only_what_the_template_defines(template):
    body, used = dashboard_body(template)
    _, variables = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for name in used:
        base = name.split(".")[0]
        assert base in variables or base in template["Parameters"] or base in template["Resources"] or base.startswith("AWS::"), name
    assert variables["Period"] == {"Fn::FindInMap": ["ReadinessRate", {"Ref": "ReadinessRateMinutes"}, "Seconds"]}
    (alarms,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    text, variables = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    named = set(re.findall(r"\$\{(\w+)\.Arn\}", text))
    # Alarms of parts installed only on a condition come in through a variable that is empty
    # otherwise, under that same condition.
    conditional = {}
    for name, value in variables.items():
        if isinstance(value, dict) and "Fn::If" in value:
            condition, installed, absent = value["Fn::If"]
            assert absent == "" and f"${{{name}}}" in text, name
            for alarm in re.findall(r"\$\{(\w+)\.Arn\}", installed["Fn::Sub"]):
                conditional[alarm] = condition
    alarms_of_stack = resources_of_type(template, "AWS::CloudWatch::Alarm")
    assert named | set(conditional) == set(alarms_of_stack), "every alarm of the stack on the dashboard"
    for alarm, condition in conditional.items():
        assert alarms_of_stack[alarm].get("Condition") == condition, alarm
    assert len(alarms["properties"]["alarms"]) == len(named) + len(conditional), "with every part installed"


def test_the_dashboard_shows_every_metric_the_readiness_run_and_the_functions_put(template, readiness_asl):
    body, _ = dashboard_body(template)
    text = json.dumps(body)
    shown = set(re.findall(r'"sample", "([A-Za-z]+)", "Deployment"', text))
    shown |= set(re.findall(r'MetricName=\\"([A-Za-z]+)\\"', text))
    put_by_readiness = {name.split(":")[0] for name in put_metrics(readiness_asl)}
    emitted = set()
    for path in (SHARED_SRC / "plan_metrics.rs", SHARED_SRC / "backup" / "metrics.rs", SHARED_SRC / "run_metrics.rs"):
        emitted |= set(re.findall(r'"((?:Replica|Capacity|Backup)[A-Za-z]+|Runs|[A-Za-z]+Seconds)"', rust_source(path)))
    assert put_by_readiness <= shown, put_by_readiness - shown
    assert emitted <= shown, emitted - shown
    steps = set(re.findall(r'"Step", "([a-z-]+)"', text))
    assert steps == {"promote-replica", "scale-asg", "flip-dns"}
