"""The failover state machine (infra/statemachine/failover.asl.json) and its template resources:
its substitutions, how its calls retry and wait, which inputs each trigger sends and which the ASL
accepts, that every end is published and every failed execution pages, the request check and the
reports, and the approval gate. Its roles are in test_template_iam.py, its agreement with the Rust
code in test_template_rust_agreement.py."""

from __future__ import annotations

import json
import re

import pytest
from template_support import (
    ASL_PATH,
    INFRA,
    Choice,
    asl,  # noqa: F401  (a fixture)
    end_outcome,
    load_template,
    matches,
    resources_of_type,
    state_machine,
    statemachine_event,
    successors,
    template,  # noqa: F401  (a fixture)
    transform,
    walk,
)


# ------------------------------------------------------------------ the ASL and its substitutions


def asl_substitutions() -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", ASL_PATH.read_text()))


def test_every_asl_substitution_is_defined_and_none_is_extra(template):
    defined = set(state_machine(template)["Properties"]["DefinitionSubstitutions"])
    used = asl_substitutions()
    assert used - defined == set(), "used in the ASL but not substituted"
    assert defined - used == set(), "substituted but not used in the ASL"


def test_the_template_loads_the_asl_file(template):
    uri = state_machine(template)["Properties"]["DefinitionUri"]
    assert (INFRA / uri).resolve() == ASL_PATH


def test_settings_substitutions_come_from_the_parameters_of_the_same_name(template):
    substitutions = state_machine(template)["Properties"]["DefinitionSubstitutions"]
    for key in ("DeploymentName", "PollSeconds", "DatabaseBudgetSeconds", "ComputeBudgetSeconds", "DnsBudgetSeconds",
                "AlarmFailoverApproval", "ApprovalTimeoutSeconds", "ApprovalExpiryAction"):
        assert substitutions[key] == {"Ref": key}
        assert key in template["Parameters"]
    assert substitutions["ReportTopicArn"] == {"Ref": "ReportTopic"}
    assert template["Resources"]["ReportTopic"]["Type"] == "AWS::SNS::Topic"


def test_plans_retry_retryable_errors_and_every_change_waits_within_its_stage_budget(asl):
    """Read-only plans retry throttling a few times; every apply and status of a failover stage
    carries a wait context, so temporary conditions (Retryable, NotReady) come back as pending
    results and are waited out within the stage's time budget rather than a retry count."""
    retried = set()
    for node in walk(asl):
        for handler in node.get("Retry", []):
            retried |= set(handler["ErrorEquals"])
    assert "DrFailover.Retryable" in retried
    lambda_errors = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                     "Lambda.TooManyRequestsException", "Sandbox.Timedout"}
    loops = 0
    for node in walk(asl):
        payload = node.get("Parameters", {}).get("Payload", {}) if isinstance(node.get("Parameters"), dict) else {}
        if node.get("Resource") == "arn:aws:states:::lambda:invoke":
            handled = {e for handler in node.get("Retry", []) for e in handler["ErrorEquals"]}
            # The backup verification is context: any failure becomes an 'unknown' verdict at
            # once (its Catch), bounded by its TimeoutSeconds, rather than retried for a minute.
            context = [c for c in node.get("Catch", []) if c["Next"] == "BackupUnknown"]
            assert lambda_errors <= handled or (context and node["TimeoutSeconds"] <= 30), node
        if payload.get("action") in ("apply", "status"):
            loops += 1
            wait = payload["wait"]
            assert wait["stage"] in ("database", "compute", "capacity", "dns")
            assert wait["budget_seconds.$"].startswith("$.settings.budgets."), wait
            assert node["ResultSelector"]["wait.$"] == "$.Payload.wait"
            assert node["Catch"][0]["ErrorEquals"] == ["States.ALL"], "a branch never fails the failover"
    assert loops == 7, "apply and status of database, compute and DNS, and the capacity status"


def test_a_dry_run_skips_the_concurrency_check_and_a_real_run_describes_what_runs(asl):
    states = asl["States"]
    assert accepted(asl, {"dry_run": True, "reason": "rehearsal"}) == (True, "Plan")
    assert accepted(asl, {"dry_run": False, "reason": "outage"}) == (True, "ReadPause")
    assert accepted(asl, {"trigger": "witness", "dry_run": False, "reason": "outage"}) == (True, "ReadPause")
    assert accepted(asl, {"trigger": "witnes", "dry_run": False, "reason": "outage"}) == (False, "InvalidTrigger")
    # An operator's pause is read first (a read that fails goes on), then judged by the hold.
    read = states["ReadPause"]
    assert read["Next"] == "CheckConcurrency" and [c["Next"] for c in read["Catch"]] == ["CheckConcurrency"]
    assert read["Parameters"] == {"ResourceARN": "${TriggerRuleArn}"}
    check = states["CheckConcurrency"]
    assert check["Parameters"]["Payload"] == {
        "action": "hold", "execution_id.$": "$$.Execution.Id",
        "pause": {"trigger.$": "$.request.trigger", "dry_run.$": "$.request.dry_run", "read.$": "$.pause_read"}}
    assert states["AnyRunning?"]["Choices"][0]["Next"] == "AlarmPaused"
    assert [c["Next"] for c in check["Catch"]] == ["PublishConcurrencyUnchecked"], "a failover goes on in doubt"
    nexts = {c["Next"]: c for c in states["AnyRunning?"]["Choices"]}
    assert nexts["BlockedByCandidate"] == {"Variable": "$.concurrency.holds", "BooleanEquals": False,
                                           "Next": "BlockedByCandidate"}
    assert nexts["PublishConcurrencyUnchecked"]["Variable"] == "$.concurrency.checked"
    assert states["BlockedByCandidate"]["Parameters"]["blocked_by.$"] == "$.concurrency.holder"


# ------------------------------------------------------------------ trigger inputs


def accepted(asl: dict, execution_input: dict) -> tuple[bool, str]:
    """What ValidateRequest does with an execution input: (accepted, the state it goes to)."""
    states = asl["States"]
    defaults = states["Defaults"]["Parameters"]["defaults"]
    # States.JsonMerge(defaults, input, false): a shallow merge, the input winning.
    request = {**defaults, **execution_input}
    validate = states["ValidateRequest"]
    choice = Choice({"request": request})
    for rule in validate["Choices"]:
        if choice.holds(rule):
            target = rule["Next"]
            break
    else:
        target = validate["Default"]
    refused = end_outcome(states[target]) == "invalid-input"
    return not refused, target


@pytest.mark.parametrize(
    "name,dry_run",
    [
        ("manual-failover.json", False),
        ("manual-dry-run.json", True),
        ("manual-forced.json", False),
        ("finish-partial-capacity.json", False),
        ("aurora-switchover.json", False),
    ],
)
def test_the_documented_manual_inputs_are_accepted(asl, name, dry_run):
    execution_input = statemachine_event(name)
    ok, target = accepted(asl, execution_input)
    assert ok, f"{name} goes to {target}"
    assert execution_input["dry_run"] is dry_run
    assert execution_input["trigger"] == "manual"


def test_a_mistyped_input_is_refused(asl):
    assert accepted(asl, {"trigger": "manual", "dry_run": "yes"}) == (False, "InvalidDryRun")
    assert accepted(asl, {"trigger": "cron"})[0] is False


@pytest.mark.parametrize("execution_input", [{}, {"trigger": "manual", "reason": "forgot dry_run"}])
def test_an_input_without_dry_run_is_refused_saying_how_to_start_either(asl, execution_input):
    assert accepted(asl, execution_input) == (False, "InvalidDryRunMissing")
    marker = asl["States"]["InvalidDryRunMissing"]
    cause = marker["Parameters"]["cause"]
    assert marker["Parameters"]["input.$"] == "$$.Execution.Input" and marker["Next"] == "FinishRun"
    assert "manual-failover.json" in cause and "manual-dry-run.json" in cause
    assert "dry_run" not in asl["States"]["Defaults"]["Parameters"]["defaults"], "no default for dry_run"


def test_the_forwarded_alarm_event_starts_a_real_failover(template, asl):
    event = statemachine_event("alarm-event.json")
    rule = template["Resources"]["AlarmTriggerRule"]["Properties"]
    assert matches(rule["EventPattern"], event, {"HealthCheckAlarmName": event["detail"]["alarmName"]})
    (target,) = rule["Targets"]
    execution_input = transform(event, target["InputTransformer"])
    assert execution_input == {
        "trigger": "alarm",
        "dry_run": False,
        "reason": f"health check alarm {event['detail']['alarmName']} went to ALARM at {event['time']}",
        "alarm": {"name": event["detail"]["alarmName"], "time": event["time"], "region": "us-east-1",
                  "previous_state": "OK"},
    }
    assert accepted(asl, execution_input) == (True, "ReadPause")


@pytest.mark.parametrize("previous", ["INSUFFICIENT_DATA", "ALARM"])
def test_an_alarm_that_was_never_healthy_starts_nothing_and_warns(template, asl, previous):
    """A new health check that cannot reach its endpoint goes INSUFFICIENT_DATA -> ALARM: no
    failover, a warning to the report topic. The state machine refuses such an input too."""
    event = statemachine_event("alarm-event.json")
    event["detail"]["previousState"]["value"] = previous
    parameters = {"HealthCheckAlarmName": event["detail"]["alarmName"]}
    resources = template["Resources"]
    assert not matches(resources["AlarmTriggerRule"]["Properties"]["EventPattern"], event, parameters)
    warning = resources["AlarmNotFromHealthyRule"]["Properties"]
    assert matches(warning["EventPattern"], event, parameters)
    (target,) = warning["Targets"]
    assert target["Arn"] == {"Ref": "ReportTopic"}
    assert "NO failover started" in target["InputTransformer"]["InputTemplate"]["Fn::Sub"]
    healthy = statemachine_event("alarm-event.json")
    assert not matches(warning["EventPattern"], healthy, parameters), "OK -> ALARM is the failover, not a warning"
    (failover,) = resources["AlarmTriggerRule"]["Properties"]["Targets"]
    replayed = transform(event, failover["InputTransformer"])
    assert accepted(asl, replayed) == (False, "InvalidAlarmTransition")
    policy = resources["ReportTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Principal"] == {"Service": "events.amazonaws.com"} for s in policy)


def test_an_alarm_going_back_to_ok_starts_nothing(template):
    event = statemachine_event("alarm-event.json")
    event["detail"]["state"]["value"] = "OK"
    rule = template["Resources"]["AlarmTriggerRule"]["Properties"]
    assert not matches(rule["EventPattern"], event, {"HealthCheckAlarmName": event["detail"]["alarmName"]})


def test_the_weekly_drill_is_an_accepted_dry_run(template, asl):
    (target,) = template["Resources"]["DrillScheduleRule"]["Properties"]["Targets"]
    execution_input = json.loads(target["Input"])
    assert execution_input == {"trigger": "schedule", "dry_run": True, "reason": "weekly dry-run drill"}
    assert accepted(asl, execution_input) == (True, "Plan")


@pytest.mark.parametrize("execution_input", [
    {"action": "apply", "dry_run": False},
    {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "dry_run": False},
])
def test_a_step_request_or_an_event_given_to_the_state_machine_is_refused(asl, execution_input):
    """The second line, for a run whose CheckRequest could not run: a step request or an event
    never runs a failover, whatever dry_run it carries."""
    assert accepted(asl, execution_input) == (False, "InvalidNotAnExecutionInput")
    assert accepted(asl, statemachine_event("alarm-event.json")) == (False, "InvalidNotAnExecutionInput")


def test_the_us_east_1_alarm_is_the_one_the_dr_stack_listens_for():
    east = load_template("us-east-1.yaml")
    alarm = east["Resources"]["HealthCheckAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/Route53" and alarm["MetricName"] == "HealthCheckStatus"
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmName"] == {"Ref": "AlarmName"}
    role = east["Resources"]["ForwardingRole"]["Properties"]
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement == {"Effect": "Allow", "Action": "events:PutEvents", "Resource": {"Ref": "DrEventBusArn"}}


# ------------------------------------------------------------------ every end is heard


PUBLISH = "arn:aws:states:::sns:publish"
def retry_seconds(retrier: dict) -> float:
    """The total wait of a retrier that retries every time: IntervalSeconds (default 1) times
    BackoffRate (default 2) per attempt, each wait at most MaxDelaySeconds."""
    total, wait = 0.0, retrier.get("IntervalSeconds", 1)
    for _ in range(retrier.get("MaxAttempts", 3)):
        total += min(wait, retrier.get("MaxDelaySeconds", wait))
        wait *= retrier.get("BackoffRate", 2.0)
    return total


def test_every_publish_of_the_state_machine_retries_and_the_plain_one_ends_at_report_not_published(asl):
    states = asl["States"]
    publishes = {name for name, state in states.items() if state.get("Resource") == PUBLISH}
    nested = [s for s in walk(asl) if s.get("Resource") == PUBLISH]
    assert len(nested) == len(publishes), "no publish inside a Parallel branch"
    # The reports are finish-run's; the state machine publishes warnings that let the run go on,
    # and the plain message when the finishing step fails.
    assert publishes == {
        "PublishConcurrencyUnchecked", "PublishRequestNotChecked", "PublishApprovalExpiredProceeding", "PublishPlain",
        "AnnounceFailover",
    }
    fallback = states["ReportNotPublished"]
    assert fallback["Type"] == "Fail" and fallback["Error"] == "DrFailover.ReportNotPublished"
    assert "$.end.outcome" in fallback["CausePath"] and "$.finish_error.Cause" in fallback["CausePath"]
    plain = states["PublishPlain"]
    *specific, catch_all = plain["Retry"]
    assert catch_all["ErrorEquals"] == ["States.ALL"]
    seconds = retry_seconds(catch_all)
    assert catch_all["MaxAttempts"] >= 4 and 60 <= seconds <= 150, f"PublishPlain retries for {seconds} s"
    assert all(r["MaxAttempts"] == 0 and "States.ALL" not in r["ErrorEquals"] for r in specific)
    (catch,) = plain["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] not in (None, "$")
    assert "$.end.outcome" in plain["Parameters"]["Message.$"] and "$.finish_error.Error" in plain["Parameters"]["Message.$"]


def test_a_real_failover_is_announced_as_it_begins_and_a_failed_announcement_holds_nothing_up(asl):
    """Every path to the first change passes AnnounceFailover (only real runs reach Approval?): a
    person reads what started and the command that follows it, whatever publishing does."""
    states = asl["States"]
    announce = states["AnnounceFailover"]
    assert announce["Next"] == "Failover" and [c["Next"] for c in announce["Catch"]] == ["Failover"]
    assert announce["ResultPath"] is None
    assert {name for name, state in states.items() if "Failover" in successors(state)} == {"AnnounceFailover"}
    message = announce["Parameters"]["Message.$"]
    assert "aws stepfunctions describe-execution --region {} --execution-arn {}" in message
    assert "FAILOVER STARTED" in announce["Parameters"]["Subject.$"]


def test_the_concurrency_check_publishes_a_warning_and_goes_on_when_it_fails(asl):
    states = asl["States"]
    (catch,) = states["CheckConcurrency"]["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    warning = states[catch["Next"]]
    assert warning["Resource"] == PUBLISH and warning["Next"] == "Plan"
    assert [c["Next"] for c in warning["Catch"]] == ["Plan"], "a warning that cannot be published stops nothing"
    assert warning["Catch"][0]["ResultPath"] not in (None, "$"), "keeps the state"
    *_, catch_all = warning["Retry"]
    assert catch_all["ErrorEquals"] == ["States.ALL"]
    assert retry_seconds(catch_all) <= 10, "the warning must not hold a failover up"


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_failed_timed_out_and_aborted_executions_page_the_report_topic(template, metric):
    alarms = [
        a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == metric
        and a["Properties"]["Dimensions"][0]["Value"] == {"Ref": "StateMachine"}
    ]
    assert len(alarms) == 1, metric
    (alarm,) = alarms
    assert alarm["Namespace"] == "AWS/States"
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "StateMachine"}}]
    assert alarm["Statistic"] == "Sum" and alarm["Period"] == 60 and alarm["EvaluationPeriods"] == 1
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "ReportTopic"}]


def test_the_failed_executions_alarm_says_that_refusals_page_too(template):
    alarms = [
        a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ExecutionsFailed"
    ]
    assert alarms
    for alarm in alarms:  # the failover's, and re-protect's
        description = alarm["AlarmDescription"]
        assert "on purpose" in description and "DrFailover.ReportNotPublished" in description


# ------------------------------------------------------------------ bounded state: request check, reports


def test_the_request_is_checked_first_by_the_read_only_function_with_the_input_unchanged(template, asl):
    states = asl["States"]
    assert asl["StartAt"] == "CheckRequest"
    check = states["CheckRequest"]
    assert check["Resource"] == "${VerifyBackupCopyFunctionArn}", "the function whose every request is read-only"
    assert "Parameters" not in check and "InputPath" not in check, "the input as StartExecution took it, no byte added"
    assert check["ResultPath"] is None and check["Next"] == "Defaults"
    invalid, other = check["Catch"]
    assert invalid["ErrorEquals"] == ["DrFailover.InvalidInput"] and other["ErrorEquals"] == ["States.ALL"]
    for catch in (invalid, other):
        assert catch["ResultPath"] == "$", "the refused input is not carried on"
    # A refusal ends through the finishing step (a report with the deployment, the execution and
    # the check's message, and the input only when the refusal is not about its size or type).
    shown = states[invalid["Next"]]
    assert shown["Type"] == "Choice"
    hidden = shown["Choices"][0]
    assert {rule["StringMatches"] for rule in hidden["Or"]} == {
        f"*invalid request: field `{field}`*" for field in ("(request)", "reason", "input")
    }
    assert {rule["Variable"] for rule in hidden["Or"]} == {"$.Cause"}
    without_input = states[hidden["Next"]]
    assert end_outcome(without_input) == "invalid-request" and "input.$" not in without_input.get("Parameters", {})
    with_input = states[shown["Default"]]
    assert end_outcome(with_input) == "invalid-request"
    assert with_input["Parameters"]["input.$"] == "$$.Execution.Input"
    # A check that could not run warns and goes on: the backup function never stands between an
    # alarm and its failover (only an input that is plainly not an object is refused there).
    notice = states[other["Next"]]
    assert notice["Type"] == "Pass" and notice["Parameters"]["error.$"] == "$", "the error, for the message"
    unchecked = states[notice["Next"]]
    assert unchecked["Resource"] == PUBLISH, "heard"
    assert "States.JsonToString($.error)" in unchecked["Parameters"]["Message.$"]
    gate = unchecked["Next"]
    assert states[gate]["Type"] == "Choice" and states[gate]["Default"] == "Defaults"
    assert [c["Next"] for c in unchecked["Catch"]] == [gate]
    *_, catch_all = unchecked["Retry"]
    assert retry_seconds(catch_all) <= 10


# ------------------------------------------------------------------ the approval gate


@pytest.mark.parametrize("required,trigger,waits", [
    ("required", "alarm", True), ("required", "manual", False), ("required", "schedule", False),
    ("none", "alarm", False),
    # The witness starts a failover by itself too (shared::witness): approval applies to it alike.
    ("required", "witness", True), ("none", "witness", False),
])
def test_only_an_alarm_started_failover_waits_for_approval_and_only_when_required(asl, required, trigger, waits):
    gate = asl["States"]["Approval?"]
    choice = Choice({"settings": {"approval": {"required": required}}, "request": {"trigger": trigger}})
    target = next((rule["Next"] for rule in gate["Choices"] if choice.holds(rule)), gate["Default"])
    assert target == ("RequestApproval" if waits else "AnnounceFailover")
    assert asl["States"]["Refused?"]["Default"] == "Approval?", "a dry run or a refused plan never asks"


def test_the_approval_request_gives_the_commands_and_only_an_approval_fails_over(asl, template):
    states = asl["States"]
    request = states["RequestApproval"]
    assert request["Resource"] == "arn:aws:states:::sns:publish.waitForTaskToken"
    assert request["TimeoutSecondsPath"] == "$.settings.approval.timeout_seconds"
    # A paragraph with both commands, then the request as JSON with them (tests/e2e/test_approval.py
    # reads and runs them as published).
    message = request["Parameters"]["Message.$"]
    literal = message.split("', ", 1)[0]
    approve = "aws stepfunctions send-task-success --region {} --task-token {} --task-output true"
    deny = "aws stepfunctions send-task-failure --region {} --task-token {} --error DrFailover.ApprovalDenied"
    assert f"approve_command: {approve}" in literal and f'"approve_command":"{approve}' in literal
    assert f"deny_command: {deny}" in literal and f'"deny_command":"{deny}' in literal
    assert message.count("$$.Task.Token") == 4
    assert "States.JsonToString($.plan)" in message
    # Approved, or expired and proceeding: the plan is made again after the wait (what it checked
    # may have changed), and Approval? sends a run back from the gate on to the failover.
    assert request["Next"] == "Plan", "an approval (send-task-success) goes on, through a new plan"
    assert states["Approval?"]["Choices"][0] == {"Variable": "$.approval", "IsPresent": True, "Next": "AnnounceFailover"}
    assert states["Refused?"]["Default"] == "Approval?"
    timeout, unpublished, anything_else = request["Catch"]
    assert timeout["ErrorEquals"] == ["States.Timeout"] and timeout["Next"] == "ReadAlarm"
    assert all(e.startswith("SNS.") for e in unpublished["ErrorEquals"]) and unpublished["Next"] == "ReadAlarm"
    assert anything_else["ErrorEquals"] == ["States.ALL"] and anything_else["Next"] == "ApprovalDenied", (
        "any send-task-failure, whatever error it names, is a denial")
    assert all(e.startswith("SNS.") for r in request["Retry"] for e in r["ErrorEquals"]), (
        "a denial or a timeout is never retried into a second request")
    # No answer: the alarm is read again; any failure of that read goes on (context never blocks).
    read = states["ReadAlarm"]
    assert read["Next"] == "ApprovalExpired?" and read["ResultPath"] == "$.alarm_state"
    assert read["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.alarm_state", "Next": "ApprovalExpired?"}]
    expired = states["ApprovalExpired?"]
    assert [c["Next"] for c in expired["Choices"]] == ["ApprovalAborted", "PrimaryRecovered"]
    assert expired["Choices"][1]["Variable"] == "$.alarm_state.refusals[0]"
    assert end_outcome(states["ApprovalDenied"]) == "approval-denied"
    assert end_outcome(states["ApprovalAborted"]) == "approval-aborted"
    assert end_outcome(states["PrimaryRecovered"]) == "primary-recovered"
    assert expired["Default"] == "PublishApprovalExpiredProceeding"
    assert "States.JsonToString($.alarm_state)" in states["PublishApprovalExpiredProceeding"]["Parameters"]["Message.$"]
    assert states["PublishApprovalExpiredProceeding"]["Next"] == "Plan"
    assert [c["Next"] for c in states["PublishApprovalExpiredProceeding"]["Catch"]] == ["Plan"]
    parameters = template["Parameters"]
    assert parameters["AlarmFailoverApproval"]["Default"] == "none"
    assert parameters["ApprovalExpiryAction"]["AllowedValues"] == ["proceed", "abort"]
    # Approval means approval: unanswered, a gated failover changes nothing unless told otherwise.
    assert parameters["ApprovalExpiryAction"]["Default"] == "abort"
