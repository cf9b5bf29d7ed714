"""The one way a run ends, for every state machine that has it: each outcome is a Pass that writes
$.end and goes to FinishRun (shared::finish, the finish-run function), which builds, stores and
publishes the report; the run's only ends are FinishRun's answer and, when FinishRun itself fails,
a plain message then ReportNotPublished. The outcomes each machine writes are those its Rust type
(shared::finish::<machine>::End) reads."""

from __future__ import annotations

import json
import re

import pytest
from template_support import (
    INFRA,
    SHARED_SRC,
    actions,
    end_markers,
    end_outcomes,
    reachable,
    rust_source,
    statements,
    successors,
    template,  # noqa: F401  (a fixture)
    walk,
)

FINISH = "FinishRun"
# Every outcome the orchestration can reach, one end marker or more each.
OUTCOMES = {
    "failover": {
        "invalid-request", "invalid-input", "already-running", "alarm-paused", "alarm-unconfirmed", "plan-failed", "refused", "dry-run",
        "approval-denied", "approval-aborted", "primary-recovered", "failed", "failover-ended",
    },
    "failback": {
        "invalid-request", "blocked", "plan-failed", "refused", "dry-run", "approval-denied", "approval-expired",
        "failed", "failed-back", "failed-back-not-rearmed",
    },
    "readiness": {"checked"},
    "reprotect": {"invalid-request", "blocked", "plan-failed", "refused", "already-reprotected", "dry-run", "failed",
                  "reprotected"},
}
# Step Functions' own limit is 10,000 states; ours keep the orchestration readable (issue 20).
# Readiness: its plans (8 states), whether the automation is armed (6), its previous run and end.
MAX_STATES = {"failover": 100, "failback": 75, "reprotect": 40, "readiness": 30}
STATE_MACHINE_RESOURCE = {"failover": "StateMachine", "failback": "FailbackStateMachine", "reprotect": "ReprotectStateMachine",
                          "readiness": "ReadinessStateMachine"}
MACHINES = sorted(OUTCOMES)


def load(machine: str) -> dict:
    return json.loads((INFRA / "statemachine" / f"{machine}.asl.json").read_text())


def count(states: dict) -> int:
    total = 0
    for state in states.values():
        total += 1
        for branch in state.get("Branches", []):
            total += count(branch["States"])
    return total


def rust_outcomes(machine: str) -> set[str]:
    """The kebab-case variants of shared::finish::<machine>::End."""
    source = rust_source(SHARED_SRC / "finish" / f"{machine}.rs")
    body = source.split("pub enum End {", 1)[1].split("\n}", 1)[0]
    names = re.findall(r"^\s{4}([A-Z][A-Za-z]+)\s*[,{]", body, flags=re.M)
    return {re.sub(r"(?<!^)([A-Z])", r"-\1", n).lower() for n in names}


@pytest.mark.parametrize("machine", MACHINES)
def test_the_machine_keeps_to_its_size(machine):
    assert count(load(machine)["States"]) <= MAX_STATES[machine]


@pytest.mark.parametrize("machine", MACHINES)
def test_every_outcome_written_is_one_the_finishing_step_reads(machine):
    outcomes = set().union(*(end_outcomes(s) for s in end_markers(load(machine)).values()))
    assert outcomes == OUTCOMES[machine]
    assert outcomes <= rust_outcomes(machine) | {"invalid-input"}


@pytest.mark.parametrize("machine", MACHINES)
def test_no_end_but_through_the_finishing_step_or_its_plain_fallback(machine):
    states = load(machine)["States"]
    markers = end_markers({"States": states})
    assert {s["Next"] for s in markers.values()} == {FINISH}
    into_finish = {n for n, s in states.items() if FINISH in successors(s)}
    assert into_finish == set(markers), "only an end marker enters the finishing step"
    ends = {n for n, s in states.items() if s["Type"] in ("Fail", "Succeed") or s.get("End")}
    assert ends == {"RunFailed", "RunSucceeded", "ReportNotPublished"}
    finish = states[FINISH]
    # Readiness puts its metrics (from the report) after the finishing step, whatever its answer,
    # and its heartbeat only on success.
    assert finish["Next"] == ("PutMetrics" if machine == "readiness" else "Ended?")
    ended = states["Ended?"]
    assert ended["Choices"] == [{"Variable": "$.finished.error", "IsNull": False, "Next": "RunFailed"}]
    assert ended["Default"] == ("Heartbeat" if machine == "readiness" else "RunSucceeded")
    assert states["RunFailed"] == {**states["RunFailed"], "ErrorPath": "$.finished.error.Error",
                                   "CausePath": "$.finished.error.Cause"}
    assert states["RunSucceeded"]["OutputPath"] == "$.finished.report", "the output is the report"
    (catch,) = finish["Catch"]
    assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.finish_error", "Next": "PublishPlain"}
    plain = states["PublishPlain"]
    assert plain["Next"] == "ReportNotPublished" and [c["Next"] for c in plain["Catch"]] == ["ReportNotPublished"]
    fallback = states["ReportNotPublished"]
    assert fallback["Type"] == "Fail" and fallback["Error"] == "DrFailover.ReportNotPublished"
    assert "$.end.outcome" in fallback["CausePath"] and "$.finish_error.Cause" in fallback["CausePath"]


@pytest.mark.parametrize("machine", MACHINES)
def test_the_finishing_step_gets_the_whole_state_and_the_run_and_retries_lambdas_transient_errors(machine, template):
    finish = load(machine)["States"][FINISH]
    assert finish["Resource"] == "arn:aws:states:::lambda:invoke"
    assert finish["Parameters"]["FunctionName"] == "${FinishRunFunctionArn}"
    payload = finish["Parameters"]["Payload"]
    assert payload["machine"] == machine and payload["state.$"] == "$"
    assert payload["run"] == {
        "execution.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "started.$": "$$.Execution.StartTime",
        "finished.$": "$$.State.EnteredTime", "state_machine.$": "$$.StateMachine.Id",
        "attempt.$": "$$.State.RetryCount",
    }
    assert finish["ResultSelector"] == {"report.$": "$.Payload.report", "error.$": "$.Payload.error"}
    (retry,) = finish["Retry"]
    assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException", "Sandbox.Timedout"} <= set(retry["ErrorEquals"])
    assert "States.ALL" not in retry["ErrorEquals"], "an invalid request is not retried"
    resource = template["Resources"][STATE_MACHINE_RESOURCE[machine]]
    assert resource["Properties"]["DefinitionSubstitutions"]["FinishRunFunctionArn"] == {
        "Fn::GetAtt": ["FinishRunFunction", "Arn"]}


@pytest.mark.parametrize("machine", MACHINES)
def test_no_report_is_built_stored_or_published_in_the_asl(machine):
    """The report is a type in shared::finish: no state builds, stores or measures one."""
    for state in walk(load(machine)):
        assert state.get("Resource") != "arn:aws:states:::aws-sdk:s3:putObject"
        parameters = state.get("Parameters")
        if isinstance(parameters, dict):
            assert "report_object" not in parameters and "report" not in parameters
            payload = parameters.get("Payload")
            assert not isinstance(payload, dict) or payload.get("action") != "measure"


@pytest.mark.parametrize("machine", MACHINES)
def test_a_failure_marker_carries_no_copy_of_the_state(machine):
    for name, marker in end_markers(load(machine)).items():
        body = marker.get("Parameters") or marker.get("Result")
        assert "$" not in body.values() and set(body) <= {"outcome", "stage", "stage.$", "cause", "input.$",
                                                          "running.$", "blocked_by.$", "paused.$",
                                                          # AlarmPaused: the hold's answer says which
                                                          # of its two outcomes, and why.
                                                          "outcome.$", "witness.$"}, name


@pytest.mark.parametrize("machine", MACHINES)
def test_every_state_is_reachable_as_step_functions_requires(machine):
    """CreateStateMachine refuses a definition with a state no transition reaches (the stand-in
    does not): every state of the machine and of each branch is reached from its StartAt."""

    def unreachable(definition: dict) -> set:
        states = definition["States"]
        lost = set(states) - reachable(definition)
        for state in states.values():
            for branch in state.get("Branches", []):
                lost |= unreachable(branch)
        return lost

    assert unreachable(load(machine)) == set()


def test_only_a_failovers_stored_report_is_measured_once_per_run():
    """finish-run measures a failover's report that is stored (it has a report_object), on its
    first attempt only: a retried FinishRun does not count the run twice, and a fail back is not a
    failover in the run metrics."""
    source = rust_source(SHARED_SRC / "finish" / "mod.rs")
    assert re.search(r'if report\.get\("report_object"\)\.is_some\(\) \{\s*(//[^\n]*\n\s*)*'
                     r'if request\.machine == Machine::Failover && request\.run\.attempt == 0 \{\s*measure\(', source)


@pytest.mark.parametrize("machine", MACHINES)
def test_the_state_machine_role_may_invoke_the_finishing_step_and_stores_nothing_itself(machine, template):
    role = template["Resources"][STATE_MACHINE_RESOURCE[machine]]["Properties"]["Role"]["Fn::GetAtt"][0]
    role_statements = statements(template, role)
    (invoke,) = [s for s in role_statements if "lambda:InvokeFunction" in actions(s)]
    assert {"Fn::GetAtt": ["FinishRunFunction", "Arn"]} in invoke["Resource"]
    assert not any("s3:PutObject" in actions(s) for s in role_statements), "finish-run stores the reports"


PUBLISHES = ("arn:aws:states:::sns:publish", "arn:aws:states:::sns:publish.waitForTaskToken")


@pytest.mark.parametrize("machine", MACHINES)
def test_every_message_the_state_machine_publishes_starts_with_a_paragraph_and_its_console_link(machine):
    """What a person reads first (README, "What the messages look like"): every publish of the
    ASL is a States.Format text naming the run and its console link; one that carries JSON puts it
    after an empty line (the blank_line piece: States.Format writes no line break itself), last,
    so that readers take the report as the message's last line (infra/drill/drill/messages.py)."""
    publishes = [s for s in walk(load(machine)) if s.get("Resource") in PUBLISHES]
    assert publishes
    for state in publishes:
        parameters = state["Parameters"]
        assert "Message" not in parameters, "a message is text first, never a bare JSON object"
        message = parameters["Message.$"]
        assert message.startswith("States.Format('"), message[:80]
        assert "console.aws.amazon.com/states/home" in message or "Console: {}" in message, message[:200]
        if "JsonToString" in message:
            text, _, rest = message.partition("blank_line")
            assert "JsonToString" not in text.replace("States.JsonToString($.request.reason)", ""), (
                "no JSON before the empty line but the quoted reason")
            assert rest.count("blank_line") == 0


@pytest.mark.parametrize("machine", MACHINES)
def test_the_line_breaks_of_a_message_come_from_the_state_never_from_an_intrinsic_literal(machine):
    """States.Format's literal writes no escape but \\' \\{ \\} \\\\ (and the stand-in's interpreter,
    unlike Step Functions, would read \\n): a line break is a value of the state."""
    for value in walk(load(machine)):
        for key, text in value.items():
            if key.endswith(".$") and isinstance(text, str):
                assert "\n" not in text and "\\n" not in text, (key, text[:120])
