"""The AWS templates agree with the state machine definition and with the Rust code.

Nothing here deploys: the templates are read as data. What is checked is what would otherwise
drift silently: the ASL's substitutions and the template's DefinitionSubstitutions, the error
names the ASL matches and the ones the functions emit, the environment each function gets and the
variables its code reads, and the inputs every trigger sends and what the ASL accepts.
"""

from __future__ import annotations

import json
import sys
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
ASL_PATH = INFRA / "statemachine" / "failover.asl.json"
SHARED_SRC = ROOT / "shared" / "src"


# ------------------------------------------------------------------ reading CloudFormation YAML


class CfnLoader(yaml.SafeLoader):
    """A loader that turns CloudFormation's short tags into their long form."""


def _tag(long_name: str):
    def construct(loader: CfnLoader, node: yaml.Node) -> dict:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {long_name: value}

    return construct


for _short in (
    "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAtt", "GetAZs", "If", "ImportValue",
    "Join", "Not", "Or", "Select", "Split", "Sub", "Transform", "ToJsonString", "Length",
):
    CfnLoader.add_constructor(f"!{_short}", _tag(f"Fn::{_short}"))
CfnLoader.add_constructor("!Ref", _tag("Ref"))
CfnLoader.add_constructor("!Condition", _tag("Condition"))


def load_template(name: str) -> dict:
    return yaml.load((INFRA / name).read_text(), Loader=CfnLoader)


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template("template.yaml")


@pytest.fixture(scope="module")
def asl() -> dict:
    return json.loads(ASL_PATH.read_text())


def resources_of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def functions(template: dict) -> dict[str, dict]:
    return resources_of_type(template, "AWS::Serverless::Function")


def binary(function: dict) -> str:
    return function["Metadata"]["BuildProperties"]["Binary"]


def state_machine(template: dict) -> dict:
    """The failover state machine (the readiness one is ReadinessStateMachine; re-protect's and fail
    back's have their own tests: test_reprotect.py, test_failback.py)."""
    return template["Resources"]["StateMachine"]


def walk(value: Any):
    """Every dict inside a JSON-like value, depth first."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


# ------------------------------------------------------------------ reading the Rust code


def rust_source(path: Path) -> str:
    """A Rust file without its comments, so a name mentioned in a comment does not count."""
    text = path.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def emitted_error_names() -> set[str]:
    return set(re.findall(r'"(DrFailover\.[A-Za-z]+)"', rust_source(SHARED_SRC / "error.rs")))


CONFIG_CALL = re.compile(
    r"\b(?:config::)?(?:required|optional|parsed|json)(?:::<[^>]*>)?\(\s*source\s*,\s*"
    r'(?:"(?P<literal>[A-Z][A-Z0-9_]*)"|(?P<constant>[A-Z][A-Z0-9_]*))'
)


def variables_read_in(path: Path) -> set[str]:
    """The environment variables a module reads through shared::config, by literal or constant."""
    text = rust_source(path)
    constants = dict(re.findall(r'const\s+([A-Z][A-Z0-9_]*)\s*:\s*&str\s*=\s*"([^"]+)"', text))
    names = set()
    for match in CONFIG_CALL.finditer(text):
        names.add(match["literal"] or constants[match["constant"]])
    return names


def module_defining(type_name: str) -> Path:
    """The non-test source file with `impl <type_name> {` that defines `from_source`."""
    found = []
    for path in SHARED_SRC.rglob("*.rs"):
        if path.name == "tests.rs":
            continue
        text = rust_source(path)
        if re.search(rf"\bimpl\s+{type_name}\s*\{{", text) and "fn from_source" in text:
            found.append(path)
    assert len(found) == 1, f"{type_name}::from_source is defined in {found}"
    return found[0]


def variables_read_by(function_binary: str) -> set[str]:
    main = ROOT / "functions" / function_binary / "src" / "main.rs"
    types = set(re.findall(r"\b([A-Z][A-Za-z0-9]*)::from_source\(", rust_source(main)))
    assert types, f"{main} reads no configuration through from_source"
    names: set[str] = set()
    for type_name in types:
        names |= variables_read_in(module_defining(type_name))
    if re.search(r"\bPrefixed\(&ProcessEnv\)", rust_source(main)):
        # A fail back function reads every variable through shared::failback::Prefixed.
        assert "from_source(&ProcessEnv" not in rust_source(main), f"{main} mixes prefixed and plain reads"
        names = {f"FAILBACK_{name}" for name in names}
    return names


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


def test_every_function_arn_substitution_names_the_function_it_is_called_after(template):
    substitutions = {}
    for machine in resources_of_type(template, "AWS::Serverless::StateMachine").values():
        substitutions.update(machine["Properties"]["DefinitionSubstitutions"])
    by_binary = {binary(f): logical_id for logical_id, f in functions(template).items()}
    arn_keys = {k for k in substitutions if k.endswith("FunctionArn")}
    assert len(arn_keys) == len(by_binary), "one FunctionArn substitution per function, over the state machines"
    for key in arn_keys:
        value = substitutions[key]
        assert set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][1] == "Arn", (key, value)
        logical_id = value["Fn::GetAtt"][0]
        assert logical_id in functions(template), f"{key} points at {logical_id}, not a function"
        camel = "".join(part.capitalize() for part in binary(functions(template)[logical_id]).split("-"))
        assert key == f"{camel}FunctionArn", f"{key} is the ARN of {binary(functions(template)[logical_id])}"
        assert by_binary[binary(functions(template)[logical_id])] == logical_id


def test_settings_substitutions_come_from_the_parameters_of_the_same_name(template):
    substitutions = state_machine(template)["Properties"]["DefinitionSubstitutions"]
    for key in ("DeploymentName", "PollSeconds", "DatabaseBudgetSeconds", "ComputeBudgetSeconds", "DnsBudgetSeconds",
                "AlarmFailoverApproval", "ApprovalTimeoutSeconds", "ApprovalExpiryAction"):
        assert substitutions[key] == {"Ref": key}
        assert key in template["Parameters"]
    assert substitutions["ReportTopicArn"] == {"Ref": "ReportTopic"}
    assert template["Resources"]["ReportTopic"]["Type"] == "AWS::SNS::Topic"


def test_every_drfailover_error_the_asl_handles_is_one_that_is_emitted(asl):
    emitted = emitted_error_names()
    assert len(emitted) >= 6, f"parsed too few error names from error.rs: {emitted}"
    own = {s["Error"] for s in walk(asl) if s.get("Type") == "Fail" and "Error" in s}
    own |= {
        s["Parameters"]["Error"]
        for s in walk(asl)
        if s.get("Type") == "Pass" and isinstance(s.get("Parameters"), dict) and "Error" in s["Parameters"]
    }
    handled = set()
    for node in walk(asl):
        for handler in node.get("Retry", []) + node.get("Catch", []):
            handled |= {e for e in handler["ErrorEquals"] if e.startswith("DrFailover.")}
    assert handled, "the ASL handles no DrFailover error"
    assert handled - (emitted | own) == set(), "the ASL matches an error nobody raises"
    assert all(name.startswith("DrFailover.") for name in own)


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


# ------------------------------------------------------------------ functions


def test_each_function_gets_exactly_the_variables_its_code_reads(template):
    for logical_id, function in functions(template).items():
        given = set(function["Properties"]["Environment"]["Variables"])
        read = variables_read_by(binary(function))
        assert given == read, (
            f"{logical_id}: missing {sorted(read - given)}, not read by the code {sorted(given - read)}"
        )


def test_every_binary_is_a_workspace_member_built_by_cargo_lambda(template):
    globals_ = template["Globals"]["Function"]
    assert globals_["Runtime"] == "provided.al2023"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Handler"] == "bootstrap"
    binaries = set()
    for function in functions(template).values():
        assert function["Metadata"]["BuildMethod"] == "rust-cargolambda"
        code_uri = (INFRA / function["Properties"]["CodeUri"]).resolve()
        assert code_uri == ROOT and "[workspace]" in (code_uri / "Cargo.toml").read_text(), "CodeUri is the workspace root"
        name = binary(function)
        manifest = ROOT / "functions" / name / "Cargo.toml"
        assert re.search(rf'^name\s*=\s*"{re.escape(name)}"', manifest.read_text(), re.M), manifest
        binaries.add(name)
    members = {p.parent.name for p in (ROOT / "functions").glob("*/Cargo.toml")}
    assert binaries == members


def test_each_function_logs_as_json_to_its_own_group_with_the_retention_parameter(template):
    groups = resources_of_type(template, "AWS::Logs::LogGroup")
    used = set()
    for logical_id, function in functions(template).items():
        logging = function["Properties"]["LoggingConfig"]
        assert logging["LogFormat"] == "JSON"
        group = logging["LogGroup"]["Ref"]
        assert group in groups and group not in used, logical_id
        used.add(group)
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
        assert 128 <= function["Properties"].get("MemorySize", template["Globals"]["Function"]["MemorySize"]) <= 256
    assert template["Globals"]["Function"]["Timeout"] == 30


def test_every_function_bounds_its_aws_calls_below_its_own_timeout(template):
    for logical_id, function in functions(template).items():
        timeout = function["Properties"].get("Timeout", template["Globals"]["Function"]["Timeout"])
        variables = function["Properties"]["Environment"]["Variables"]
        bound = int(variables.get("SDK_OPERATION_TIMEOUT_SECONDS") or variables["FAILBACK_SDK_OPERATION_TIMEOUT_SECONDS"])
        assert 1 <= bound <= timeout // 2, f"{logical_id}: a stalled call must end with time left to answer"


# ------------------------------------------------------------------ the state machine's role


def role_statements(template: dict, role: str) -> list[dict]:
    statements = []
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        statements += policy["PolicyDocument"]["Statement"]
    return statements


def test_the_state_machine_may_list_only_its_own_executions(template):
    name = state_machine(template)["Properties"]["Name"]["Fn::Sub"]
    (statement,) = [
        s for s in role_statements(template, "StateMachineRole") if s.get("Action") == "states:ListExecutions"
    ]
    assert statement["Resource"]["Fn::Sub"].endswith(f":stateMachine:{name}")


def test_the_state_machine_may_describe_only_its_own_executions(template):
    name = state_machine(template)["Properties"]["Name"]["Fn::Sub"]
    (statement,) = [
        s for s in role_statements(template, "StateMachineRole") if s.get("Action") == "states:DescribeExecution"
    ]
    assert statement["Resource"]["Fn::Sub"].endswith(f":execution:{name}:*")


def test_a_dry_run_skips_the_concurrency_check_and_a_real_run_describes_what_runs(asl):
    states = top_level_states(asl)
    assert accepted(asl, {"dry_run": True, "reason": "rehearsal"}) == (True, "Plan")
    assert accepted(asl, {"dry_run": False, "reason": "outage"}) == (True, "CheckConcurrency")
    describe = states["DescribeCandidate"]
    assert describe["Resource"].endswith(":sfn:describeExecution")
    assert [c["Next"] for c in describe["Catch"]] == ["PublishConcurrencyUnchecked"]
    skips = [c for c in states["CandidateRealAndRunning?"]["Choices"] if c["Next"] == "NextCandidate"]
    assert len(skips) == 2, "an ended execution and a dry run are passed over"
    assert states["CandidateRealAndRunning?"]["Default"] == "BlockedByCandidate"


def test_only_the_state_machine_may_publish_to_the_report_topic_among_the_roles(template):
    """A function role that could publish to the report topic could forge a "failed over" mail:
    verify-backup-copy's dead-letter messages go to a topic of their own."""
    publishers = set()
    for logical_id, resource in resources_of_type(template, "AWS::IAM::Role").items():
        for statement in role_statements(template, logical_id):
            actions = statement.get("Action", [])
            if "sns:Publish" in (actions if isinstance(actions, list) else [actions]):
                if statement["Resource"] == {"Ref": "ReportTopic"}:
                    publishers.add(logical_id)
    assert publishers == {"StateMachineRole", "ReadinessRole", "ReprotectStateMachineRole", "FailbackStateMachineRole"}
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
    others = {"ReprotectDatabaseFunction", "PilotCapacityFunction"} | {f for f in functions(template) if f.startswith("Failback")}
    assert targets == set(functions(template)) - others


# ------------------------------------------------------------------ trigger inputs


class Choice:
    """Evaluates the Choice rules the ASL's ValidateRequest uses."""

    def __init__(self, document: dict):
        self.document = document

    def value(self, path: str) -> Any:
        node: Any = self.document
        for part in path.removeprefix("$.").split("."):
            if not isinstance(node, dict) or part not in node:
                return _MISSING
            node = node[part]
        return node

    def holds(self, rule: dict) -> bool:
        if "Not" in rule:
            return not self.holds(rule["Not"])
        if "Or" in rule:
            return any(self.holds(r) for r in rule["Or"])
        if "And" in rule:
            return all(self.holds(r) for r in rule["And"])
        value = self.value(rule["Variable"])
        if "IsBoolean" in rule:
            return isinstance(value, bool) == rule["IsBoolean"]
        if "IsString" in rule:
            return isinstance(value, str) == rule["IsString"]
        if "IsPresent" in rule:
            return (value is not _MISSING) == rule["IsPresent"]
        if "StringEquals" in rule:
            return isinstance(value, str) and value == rule["StringEquals"]
        if "BooleanEquals" in rule:
            return isinstance(value, bool) and value == rule["BooleanEquals"]
        raise AssertionError(f"the test does not know this Choice rule: {rule}")


_MISSING = object()


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
    refused = states[target]["Type"] == "Fail" or states[target].get("Next") == "BuildInvalidReport"
    return not refused, target


def statemachine_event(name: str) -> dict:
    return json.loads((ROOT / "events" / "statemachine" / name).read_text())


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
    cause = asl["States"]["InvalidDryRunMissing"]["Result"]["cause"]
    assert "manual-failover.json" in cause and "manual-dry-run.json" in cause
    assert "dry_run" not in asl["States"]["Defaults"]["Parameters"]["defaults"], "no default for dry_run"


def transform(event: dict, transformer: dict) -> dict:
    """EventBridge's InputTransformer: a placeholder inside a JSON string is replaced by the raw
    text, elsewhere by the value as JSON."""
    values = {}
    for key, path in transformer["InputPathsMap"].items():
        node: Any = event
        for part in path.removeprefix("$.").split("."):
            node = node[part]
        values[key] = node
    template_text = transformer["InputTemplate"]
    out, in_string, i = [], False, 0
    while i < len(template_text):
        char = template_text[i]
        match = re.match(r"<([A-Za-z0-9_.-]+)>", template_text[i:])
        if match and match.group(1) in values:
            value = values[match.group(1)]
            out.append(json.dumps(value)[1:-1] if in_string and isinstance(value, str) else json.dumps(value))
            i += match.end()
            continue
        if char == '"' and (i == 0 or template_text[i - 1] != "\\"):
            in_string = not in_string
        out.append(char)
        i += 1
    return json.loads("".join(out))


def matches(pattern: Any, event: Any, parameters: dict) -> bool:
    """EventBridge pattern matching for literal lists, with !Ref to a parameter's example value."""
    if isinstance(pattern, dict) and set(pattern) == {"Ref"}:
        return matches(parameters[pattern["Ref"]], event, parameters)
    if isinstance(pattern, dict) and "Fn::If" in pattern:
        return True  # the account: resolved only at deploy time
    if isinstance(pattern, dict) and set(pattern) == {"anything-but"}:
        return not matches(pattern["anything-but"], event, parameters)
    if isinstance(pattern, dict):
        return all(key in event and matches(value, event[key], parameters) for key, value in pattern.items())
    if isinstance(pattern, list):
        return any(matches(option, event, parameters) for option in pattern)
    return pattern == event


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
    assert accepted(asl, execution_input) == (True, "CheckConcurrency")


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


@pytest.mark.parametrize("state,published", [("FAILED", True), ("ABORTED", True), ("COMPLETED", False), ("RUNNING", False)])
def test_a_failed_or_aborted_copy_job_is_published_at_once(template, state, published):
    event = json.loads((ROOT / "events" / "verify-backup-copy" / "copy-job-failed.json").read_text())
    event["detail"]["state"] = state
    rule = template["Resources"]["CopyJobFailedRule"]["Properties"]
    assert matches(rule["EventPattern"], event, {}) is published
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "ReportTopic"}
    transformer = dict(target["InputTransformer"])
    transformer["InputTemplate"] = transformer["InputTemplate"]["Fn::Sub"].replace("${DeploymentName}", "app")
    message = transform(event, transformer)
    assert message.startswith("[dr-failover] app: backup copy job ")
    if published:
        assert f"{event['detail']['copyJobId']} {state}" in message and event["detail"]["resourceArn"] in message


def test_the_copy_job_rule_matches_the_sample_event(template):
    event = json.loads((ROOT / "events" / "verify-backup-copy" / "copy-job-failed.json").read_text())
    rule = template["Resources"]["CopyJobEventRule"]["Properties"]
    assert matches(rule["EventPattern"], event, {"CopyJobStates": ["FAILED"]})


# ------------------------------------------------------------------ backup: metric and vault role


def test_the_vault_role_expects_the_session_name_the_function_uses():
    code = rust_source(SHARED_SRC / "backup" / "mod.rs")
    (session_name,) = re.findall(r'SESSION_NAME\s*:\s*&str\s*=\s*"([^"]+)"', code)
    role = load_template("vault-account-role.yaml")["Resources"]["BackupReaderRole"]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"]["StringEquals"]["sts:RoleSessionName"] == session_name


def test_the_vault_role_is_named_per_deployment_unless_named_explicitly():
    vault = load_template("vault-account-role.yaml")
    assert vault["Parameters"]["RoleName"]["Default"] == ""
    name = vault["Resources"]["BackupReaderRole"]["Properties"]["RoleName"]
    assert name == {"Fn::If": ["RoleNamed", {"Ref": "RoleName"}, {"Fn::Sub": "${DeploymentName}-dr-failover-backup-reader"}]}
    assert vault["Parameters"]["DeploymentName"]["AllowedPattern"] == load_template("template.yaml")["Parameters"][
        "DeploymentName"]["AllowedPattern"]


NAME_PROPERTIES = ("RoleName", "FunctionName", "TopicName", "QueueName", "AlarmName", "LogGroupName",
                   "AliasName", "BucketName", "Name", "DashboardName", "ScheduleName")


@pytest.mark.parametrize("name", ["template.yaml", "us-east-1.yaml", "primary-region.yaml", "vault-account-role.yaml"])
def test_every_named_resource_carries_the_deployment_name_so_two_installs_do_not_collide(name):
    """A resource name given as a literal, or built without ${DeploymentName}, would collide when a
    second application is installed in the same account and region. A name taken from a parameter
    the operator chooses for exactly that resource (an existing alarm), and a reference to another
    resource of the template (a permission naming its function), are not new names."""
    doc = load_template(name)
    for logical_id, resource in doc["Resources"].items():
        for key in NAME_PROPERTIES:
            value = resource.get("Properties", {}).get(key)
            if value is None:
                continue
            text = json.dumps(value)
            reference = isinstance(value, dict) and (
                value.get("Ref") in doc["Resources"] or "Fn::GetAtt" in value or value.get("Ref") in doc["Parameters"]
            )
            assert "${DeploymentName}" in text or reference, f"{name}: {logical_id}.{key} = {text}"


def test_the_freshness_alarm_queries_the_metric_and_dimensions_the_function_emits(template):
    alarm = template["Resources"]["BackupFreshnessAlarm"]["Properties"]
    (query,) = alarm["Metrics"]
    sql = query["Expression"]["Fn::Sub"]
    found = re.fullmatch(
        r'SELECT MIN\((?P<metric>\w+)\) FROM SCHEMA\("\$\{MetricNamespace\}", (?P<dims>[\w, ]+)\)\s+'
        r"WHERE Deployment = '\$\{DeploymentName\}'",
        sql.strip(),
    )
    assert found, sql
    code = rust_source(SHARED_SRC / "backup" / "metrics.rs")
    assert f'"Name": "{found["metric"]}"' in code
    emitted_sets = [
        sorted(re.findall(r'"([A-Za-z]+)"', dimension_set))
        for block in re.findall(r'"Dimensions"\s*:\s*\[(.*?\])\s*\]', code, re.S)
        for dimension_set in re.findall(r"\[([^\[\]]*)\]", block + "]")
    ]
    queried = sorted(d.strip() for d in found["dims"].split(","))
    assert queried in emitted_sets, f"the query needs the dimension set {queried}; the code emits {emitted_sets}"
    env = functions(template)["VerifyBackupCopyFunction"]["Properties"]["Environment"]["Variables"]
    assert env["METRIC_NAMESPACE"] == {"Ref": "MetricNamespace"}
    assert env["DEPLOYMENT_NAME"] == {"Ref": "DeploymentName"}
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1


# ------------------------------------------------------------------ the other templates


def test_the_us_east_1_alarm_is_the_one_the_dr_stack_listens_for():
    east = load_template("us-east-1.yaml")
    alarm = east["Resources"]["HealthCheckAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/Route53" and alarm["MetricName"] == "HealthCheckStatus"
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmName"] == {"Ref": "AlarmName"}
    role = east["Resources"]["ForwardingRole"]["Properties"]
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement == {"Effect": "Allow", "Action": "events:PutEvents", "Resource": {"Ref": "DrEventBusArn"}}


# ------------------------------------------------------------------ the example recovery plan


def test_the_example_parameters_satisfy_the_templates_constraints(template):
    example = yaml.safe_load((INFRA / "parameters" / "dr-region.example.yaml").read_text())
    parameters = template["Parameters"]
    assert set(example) <= set(parameters), set(example) - set(parameters)
    required = {name for name, p in parameters.items() if "Default" not in p}
    assert required <= set(example), f"the example lacks {required - set(example)}"
    for name, value in example.items():
        spec = parameters[name]
        text = ",".join(value) if isinstance(value, list) else str(value)
        if "AllowedPattern" in spec and spec["Type"] == "String":
            assert re.fullmatch(spec["AllowedPattern"], text), (name, text)
        if "AllowedValues" in spec:
            assert text in [str(v) for v in spec["AllowedValues"]], (name, text)
        if "MinLength" in spec:
            assert len(text) >= spec["MinLength"], name
        if spec["Type"] == "Number":
            assert spec.get("MinValue", float("-inf")) <= float(text) <= spec.get("MaxValue", float("inf")), name


def test_the_example_lists_name_what_its_json_names(template):
    example = yaml.safe_load((INFRA / "parameters" / "dr-region.example.yaml").read_text())
    assert example["AsgGroupNames"] == [t["group"] for t in json.loads(example["AsgTargets"])]
    assert example["DnsRecordNames"] == [
        r["name"].rstrip(".").lower() for r in json.loads(example["DnsRecords"])
    ]
    assert example["DnsRecordTypes"] == sorted({r["type"] for r in json.loads(example["DnsRecords"])})
    for resource in json.loads(example["BackupResources"]):
        assert set(resource) == {"arn", "rpo_minutes"}


# ------------------------------------------------------------------ every end is heard

PUBLISH = "arn:aws:states:::sns:publish"
REPORT_PUBLISHES = {
    "PublishAlreadyRunning", "PublishRefused", "PublishDryRun", "PublishReport", "PublishDegraded",
    "PublishIncomplete", "PublishFailure", "PublishInvalidInput", "PublishApprovalDenied", "PublishApprovalAborted",
}


def test_no_end_but_a_published_one_or_the_report_not_published_fallback(asl):
    """Every Fail state is reached only from a publish (its Next), or is the fallback itself: no
    path ends unheard. (Succeed ends: only the publishes' own End.)"""
    states = top_level_states(asl)
    publish_next = {state.get("Next") for state in states.values() if state.get("Resource") == PUBLISH}
    for name, state in states.items():
        if state["Type"] == "Fail" and name != "ReportNotPublished":
            assert name in publish_next, f"{name} ends without a published message"
        if state.get("End") and state["Type"] != "Fail":
            assert state.get("Resource") == PUBLISH, f"{name} ends without a published message"
    assert not [n for n, s in states.items() if s["Type"] == "Succeed"]


def top_level_states(asl: dict) -> dict[str, dict]:
    return asl["States"]


def retry_seconds(retrier: dict) -> float:
    """The total wait of a retrier that retries every time: IntervalSeconds (default 1) times
    BackoffRate (default 2) per attempt, each wait at most MaxDelaySeconds."""
    total, wait = 0.0, retrier.get("IntervalSeconds", 1)
    for _ in range(retrier.get("MaxAttempts", 3)):
        total += min(wait, retrier.get("MaxDelaySeconds", wait))
        wait *= retrier.get("BackoffRate", 2.0)
    return total


def test_every_report_publish_retries_then_ends_at_report_not_published(asl):
    states = top_level_states(asl)
    publishes = {name for name, state in states.items() if state.get("Resource") == PUBLISH}
    nested = [s for s in walk(asl) if s.get("Resource") == PUBLISH]
    assert len(nested) == len(publishes), "no publish inside a Parallel branch"
    assert publishes == REPORT_PUBLISHES | {
        "PublishConcurrencyUnchecked", "PublishRequestRefused", "PublishRequestNotChecked", "PublishApprovalExpiredProceeding",
    }
    fallback = states["ReportNotPublished"]
    assert fallback["Type"] == "Fail" and fallback["Error"] == "DrFailover.ReportNotPublished"
    assert "$.report.outcome" in fallback["CausePath"] and "States.JsonToString($.report)" in fallback["CausePath"]
    for name in REPORT_PUBLISHES:
        state = states[name]
        *specific, catch_all = state["Retry"]
        assert catch_all["ErrorEquals"] == ["States.ALL"], name
        seconds = retry_seconds(catch_all)
        assert catch_all["MaxAttempts"] >= 4 and 60 <= seconds <= 150, f"{name} retries for {seconds} s"
        assert all(r["MaxAttempts"] == 0 and "States.ALL" not in r["ErrorEquals"] for r in specific), name
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        assert catch["ResultPath"] == "$.unpublished", f"{name}: the report must stay in the state"
        target = states[catch["Next"]]
        if target["Type"] == "Pass":  # the refusal of a second run names its report first
            assert target["ResultPath"] == "$.report" and target["Parameters"]["outcome"], name
            target = states[target["Next"]]
        assert target is fallback, name


def test_the_concurrency_check_publishes_a_warning_and_goes_on_when_it_fails(asl):
    states = top_level_states(asl)
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


# ------------------------------------------------------------------ bounded state: request check, report bucket


def test_the_request_is_checked_first_by_the_read_only_function_with_the_input_unchanged(template, asl):
    states = top_level_states(asl)
    assert asl["StartAt"] == "CheckRequest"
    check = states["CheckRequest"]
    assert check["Resource"] == "${VerifyBackupCopyFunctionArn}", "the function whose every request is read-only"
    assert "Parameters" not in check and "InputPath" not in check, "the input as StartExecution took it, no byte added"
    assert check["ResultPath"] is None and check["Next"] == "Defaults"
    invalid, other = check["Catch"]
    assert invalid["ErrorEquals"] == ["DrFailover.InvalidInput"] and other["ErrorEquals"] == ["States.ALL"]
    for catch in (invalid, other):
        assert catch["ResultPath"] == "$", "the refused input is not carried on"
    # A refusal is published (a report with the deployment, the execution and the check's message,
    # and the input only when the refusal is not about its size or type), then fails naming the
    # field, even when publishing fails.
    cause = states[invalid["Next"]]
    shown = states[cause["Next"]]
    assert shown["Type"] == "Choice"
    hidden = shown["Choices"][0]
    assert {rule["StringMatches"] for rule in hidden["Or"]} == {
        f"invalid request: field `{field}`*" for field in ("(request)", "reason", "input")
    }
    build = states[hidden["Next"]]
    assert "input" not in build["Parameters"]["report"] and "input.$" not in build["Parameters"]["report"]
    build_with_input = states[shown["Default"]]
    assert build_with_input["Parameters"]["report"]["input.$"] == "$$.Execution.Input"
    assert build_with_input["Next"] == build["Next"]
    refused = states[build["Next"]]
    assert refused["Resource"] == PUBLISH and refused["Parameters"]["Message.$"] == "States.JsonToString($.report)"
    assert refused["Next"] == "InvalidRequest" and [c["Next"] for c in refused["Catch"]] == ["InvalidRequest"]
    assert states["InvalidRequest"]["Error"] == "DrFailover.InvalidInput"
    # A check that could not run warns and goes on: the backup function never stands between an
    # alarm and its failover (only an input that is plainly not an object is refused there).
    unchecked = states[other["Next"]]
    assert unchecked["Resource"] == PUBLISH, "heard"
    gate = unchecked["Next"]
    assert states[gate]["Type"] == "Choice" and states[gate]["Default"] == "Defaults"
    assert [c["Next"] for c in unchecked["Catch"]] == [gate]
    *_, catch_all = unchecked["Retry"]
    assert retry_seconds(catch_all) <= 10


def test_every_report_is_stored_then_published_even_when_storing_fails(asl):
    states = top_level_states(asl)
    stores = {name: s for name, s in states.items() if s.get("Resource") == "arn:aws:states:::aws-sdk:s3:putObject"}
    assert len(stores) == 8, sorted(stores)
    published = set()
    for name, store in stores.items():
        assert store["Parameters"]["Bucket"] == "${ReportBucketName}"
        assert store["Parameters"]["Key.$"] == "$.report.report_object.key"
        assert store["Parameters"]["Body.$"] == "States.JsonToString($.report)"
        (catch,) = store["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == store["Next"], name
        assert catch["ResultPath"] == "$.report.report_object.not_stored", name
        assert states[store["Next"]]["Resource"] == PUBLISH
        published.add(store["Next"])
        builders = [n for n, s in states.items() if s.get("Next") == name]
        assert len(builders) == 1, name
        if builders[0].startswith("Measure"):  # the run is measured on its way (issue 9 §2)
            builders = [n for n, s in states.items() if s.get("Next") == builders[0]]
            assert len(builders) == 1, name
        params = states[builders[0]]["Parameters"]
        report = params.get("report", params)
        assert report["report_object"]["key.$"] == "States.Format('reports/{}.json', $$.Execution.Name)"
    assert published == REPORT_PUBLISHES - {"PublishAlreadyRunning", "PublishInvalidInput"}


def test_the_failure_report_replaces_the_state_rather_than_doubling_it(asl):
    record = top_level_states(asl)["RecordFailure"]
    assert record["ResultPath"] == "$"
    assert record["Parameters"]["report"]["state.$"] == "$"
    assert set(record["Parameters"]) == {"settings.$", "failed_stage.$", "report"}


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
    statements = [
        s for p in template["Resources"]["StateMachineRole"]["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"] if "s3" in json.dumps(s.get("Action"))
    ]
    assert statements == [{"Sid": "StoreReports", "Effect": "Allow", "Action": "s3:PutObject",
                           "Resource": {"Fn::Sub": "${ReportBucket.Arn}/reports/*"}}]
    assert state_machine(template)["Properties"]["DefinitionSubstitutions"]["ReportBucketName"] == {"Ref": "ReportBucket"}


def test_every_state_is_reachable_as_step_functions_requires(asl):
    """CreateStateMachine refuses a definition with a state no transition reaches (the stand-in
    does not): every state of the machine and of each branch is reached from its StartAt."""

    def unreachable(machine: dict) -> set:
        states, seen, stack = machine["States"], set(), [machine["StartAt"]]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            state = states[name]
            targets = [state.get("Next"), state.get("Default")]
            targets += [c.get("Next") for c in state.get("Choices", []) + state.get("Catch", [])]
            stack += [t for t in targets if t]
        lost = set(states) - seen
        for state in states.values():
            for branch in state.get("Branches", []):
                lost |= unreachable(branch)
        return lost

    assert unreachable(asl) == set()


def test_the_drill_reads_a_writable_rds_instance_as_promote_replica_does():
    code = rust_source(SHARED_SRC / "database" / "mod.rs")
    block = re.search(r"WRITABLE_INSTANCE_STATUSES: &\[&str\] = &\[(.*?)\];", code, re.S).group(1)
    rust = set(re.findall(r'"([a-z-]+)"', block))
    sys.path.insert(0, str(ROOT / "infra" / "drill"))
    from drill.snapshot import accepts_writes

    assert all(accepts_writes(status) for status in rust), rust
    assert not accepts_writes("creating") and not accepts_writes("rebooting") and not accepts_writes("stopped")


# ------------------------------------------------------------------ the input is an allow-list


def rust_string_array(path: Path, name: str) -> list[str]:
    """The strings of `pub const NAME: [&str; N] = [...]` in a Rust file."""
    text = rust_source(path)
    match = re.search(rf"const\s+{name}\s*:\s*\[&str;\s*\d+\]\s*=\s*\[(.*?)\];", text, flags=re.S)
    assert match, f"{path} defines no {name}"
    return re.findall(r'"([^"]+)"', match.group(1))


INPUT_FIELDS = rust_string_array(SHARED_SRC / "execution_input.rs", "EXECUTION_INPUT_FIELDS")
ALARM_FIELDS = rust_string_array(SHARED_SRC / "execution_input.rs", "ALARM_FIELDS")


def test_every_input_the_project_sends_uses_only_the_allowed_fields(template, asl):
    """CheckRequest refuses any field outside EXECUTION_INPUT_FIELDS: every input the project
    itself starts a run with (samples, the alarm rule, the schedules, the finishing input) and
    every default the state machine merges must stay inside it."""
    inputs = {name.name: json.loads(name.read_text()) for name in (ROOT / "events" / "statemachine").glob("*.json")}
    inputs.pop("alarm-event.json")  # the EventBridge event itself, which the rule transforms
    alarm_rule = template["Resources"]["AlarmTriggerRule"]["Properties"]["Targets"][0]
    inputs["AlarmTriggerRule"] = transform(statemachine_event("alarm-event.json"), alarm_rule["InputTransformer"])
    for name, resource in template["Resources"].items():
        for target in resource.get("Properties", {}).get("Targets", []) if resource["Type"] == "AWS::Events::Rule" else []:
            if "Input" in target and target["Arn"] == {"Ref": "StateMachine"}:
                inputs[name] = json.loads(target["Input"])
    inputs["FinishInput"] = asl["States"]["FinishInput"]["Result"]["input"]
    inputs["Defaults"] = asl["States"]["Defaults"]["Parameters"]["defaults"]
    assert {"DrillScheduleRule", "AlarmTriggerRule", "manual-failover.json"} <= set(inputs)
    for name, execution_input in inputs.items():
        assert set(execution_input) <= set(INPUT_FIELDS), (name, set(execution_input) - set(INPUT_FIELDS))
        assert set(execution_input.get("alarm", {})) <= set(ALARM_FIELDS), name
        if name != "Defaults":
            assert "dry_run" in execution_input, f"{name} must say dry_run explicitly"


def test_the_alarm_rule_stops_retrying_when_the_input_check_would_refuse_a_replay(template):
    resources = template["Resources"]
    retry = resources["AlarmTriggerRule"]["Properties"]["Targets"][0]["RetryPolicy"]
    env = resources["VerifyBackupCopyFunction"]["Properties"]["Environment"]["Variables"]
    assert retry["MaximumEventAgeInSeconds"] == {"Ref": "AlarmMaxAgeSeconds"}
    assert env["ALARM_MAX_AGE_SECONDS"] == {"Ref": "AlarmMaxAgeSeconds"}
    parameter = template["Parameters"]["AlarmMaxAgeSeconds"]
    # EventBridge's RetryPolicy takes 60..86400 seconds; the function takes the same range.
    assert (parameter["MinValue"], parameter["MaxValue"]) == (60, 86400)
    default = re.search(r"DEFAULT_ALARM_MAX_AGE_SECONDS: u64 = (\d+);", rust_source(SHARED_SRC / "execution_input.rs"))
    assert default and int(default.group(1)) == parameter["Default"]
    # The alarm rule fills in the field the age is read from.
    assert "<time>" in resources["AlarmTriggerRule"]["Properties"]["Targets"][0]["InputTransformer"]["InputTemplate"]


@pytest.mark.parametrize("execution_input", [
    {"action": "apply", "dry_run": False},
    {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "dry_run": False},
])
def test_a_step_request_or_an_event_given_to_the_state_machine_is_refused(asl, execution_input):
    """The second line, for a run whose CheckRequest could not run: a step request or an event
    never runs a failover, whatever dry_run it carries."""
    assert accepted(asl, execution_input) == (False, "InvalidNotAnExecutionInput")
    assert accepted(asl, statemachine_event("alarm-event.json")) == (False, "InvalidNotAnExecutionInput")


# ------------------------------------------------------------------ permissions and plan agree


def statement(template: dict, role: str, sid: str) -> dict:
    (found,) = [s for s in role_statements(template, role) if s.get("Sid") == sid]
    return found


def test_flip_dns_knows_the_names_and_types_its_role_may_change_from_the_same_parameters(template):
    env = template["Resources"]["FlipDnsFunction"]["Properties"]["Environment"]["Variables"]
    assert env["DNS_ALLOWED_RECORD_NAMES"] == {"Fn::Join": [",", {"Ref": "DnsRecordNames"}]}
    assert env["DNS_ALLOWED_RECORD_TYPES"] == {"Fn::Join": [",", {"Ref": "DnsRecordTypes"}]}
    condition = statement(template, "FlipDnsRole", "FlipTheRecords")["Condition"]["ForAllValues:StringEquals"]
    assert condition == {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": {"Ref": "DnsRecordNames"},
        "route53:ChangeResourceRecordSetsRecordTypes": {"Ref": "DnsRecordTypes"},
        "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
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


# ------------------------------------------------------------------ readiness (issue 9 §1)

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
                payloads[state["Parameters"]["FunctionName"]] = state["Parameters"]["Payload"]
    failover_plan = asl["States"]["Plan"]
    failover_functions = {
        s["Parameters"]["FunctionName"]
        for b in failover_plan["Branches"]
        for s in b["States"].values()
        if s.get("Resource") == "arn:aws:states:::lambda:invoke"
    }
    assert set(payloads) == failover_functions
    for function, payload in payloads.items():
        if function == "${VerifyBackupCopyFunctionArn}":
            assert payload["action"] == "verify"
            continue
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
    on a first run that is not ready); a publish that fails fails the run, so the next run
    compares with the last one that did publish and publishes again."""
    states = readiness_asl["States"]
    reaching = {name for name, s in states.items()
                if s.get("Default") == "PublishChange" or "PublishChange" in [c.get("Next") for c in s.get("Choices", [])]
                or s.get("Next") == "PublishChange"}
    assert reaching == {"Changed?", "ReadyOnFirstRun?"}
    assert "Catch" not in states["PublishChange"]
    assert states["PreviousRun"]["Parameters"]["StatusFilter"] == "SUCCEEDED"
    (same,) = states["Changed?"]["Choices"]
    assert same["Next"] == "Unchanged"


def test_the_readiness_heartbeat_is_put_last_so_a_run_that_fails_before_it_counts_as_missed(readiness_asl):
    states = readiness_asl["States"]
    beat = states["Heartbeat"]
    assert beat["Parameters"]["MetricData"][0]["MetricName"] == "ReadinessRun"
    assert {n for n, s in states.items() if s.get("Next") == "Heartbeat"} == {"Unchanged", "PublishChange"}
    ends = {n for n, s in states.items() if s.get("End")}
    assert ends == {"Heartbeat", "HeartbeatNotPut"}
    assert all(states[n]["OutputPath"] == "$.readiness" for n in ends), "the output the next run compares with"


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


def test_every_readiness_state_is_reachable(readiness_asl):
    states, seen, stack = readiness_asl["States"], set(), [readiness_asl["StartAt"]]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        targets = [state.get("Next"), state.get("Default")]
        targets += [c.get("Next") for c in state.get("Choices", []) + state.get("Catch", [])]
        stack += [t for t in targets if t]
    assert set(states) == seen


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


# ------------------------------------------------------------------ every run measured (issue 9 §2)


def test_every_stored_report_is_measured_first_and_a_failure_to_measure_never_stops_the_run(asl):
    states = top_level_states(asl)
    stores = {n for n, s in states.items() if s.get("Resource") == "arn:aws:states:::aws-sdk:s3:putObject"}
    measures = {n: s for n, s in states.items() if n.startswith("Measure")}
    assert {s["Next"] for s in measures.values()} == stores, "every report, whatever the outcome, is measured"
    for name, state in measures.items():
        assert state["Parameters"]["FunctionName"] == "${VerifyBackupCopyFunctionArn}", "the read-only function"
        assert state["Parameters"]["Payload"] == {"action": "measure", "report.$": "$.report"}
        assert state["ResultPath"] is None, f"{name} leaves the report as it is"
        (catch,) = state["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": state["Next"]}, name
        assert state["TimeoutSeconds"] <= 5 and all(r["MaxAttempts"] <= 1 for r in state["Retry"]), "seconds at most"
    # verify-backup-copy answers a measure request with its screen (shared::backup::Screen).
    main = rust_source(ROOT / "functions" / "verify-backup-copy" / "src" / "main.rs")
    assert re.search(r"\bserve_screened\(", main) and re.search(r"\bScreen::new\(", main)
    assert "is_measure_request(&event.payload)" in rust_source(SHARED_SRC / "backup" / "screen.rs")


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


def test_a_readiness_run_counts_only_the_failover_steps_refusals_and_a_failed_backup_check_warns(readiness_asl):
    (plan,) = [s for s in readiness_asl["States"].values() if s["Type"] == "Parallel"]
    failed = {name: state for branch in plan["Branches"] for name, state in branch["States"].items() if name.endswith("Failed")}
    assert failed["VerifyBackupFailed"]["Parameters"]["refusals"] == []
    assert "warnings.$" in failed["VerifyBackupFailed"]["Parameters"]
    for name in ("PlanDatabaseFailed", "PlanComputeFailed", "PlanDnsFailed"):
        assert "refusals.$" in failed[name]["Parameters"], f"{name}: a plan that cannot be made is not ready"
    counted = readiness_asl["States"]["Count"]["Parameters"]["refusals.$"]
    assert "backup" not in counted and all(f"$.plan.{s}.refusals" in counted for s in ("database", "compute", "dns"))


# ------------------------------------------------------------------ the approval gate


@pytest.mark.parametrize("required,trigger,waits", [
    ("required", "alarm", True), ("required", "manual", False), ("required", "schedule", False),
    ("none", "alarm", False),
])
def test_only_an_alarm_started_failover_waits_for_approval_and_only_when_required(asl, required, trigger, waits):
    gate = asl["States"]["Approval?"]
    choice = Choice({"settings": {"approval": {"required": required}}, "request": {"trigger": trigger}})
    target = next((rule["Next"] for rule in gate["Choices"] if choice.holds(rule)), gate["Default"])
    assert target == ("RequestApproval" if waits else "Failover")
    assert asl["States"]["Refused?"]["Default"] == "Approval?", "a dry run or a refused plan never asks"


def test_the_approval_request_gives_the_commands_and_only_an_approval_fails_over(asl, template):
    states = asl["States"]
    request = states["RequestApproval"]
    assert request["Resource"] == "arn:aws:states:::sns:publish.waitForTaskToken"
    assert request["TimeoutSecondsPath"] == "$.settings.approval.timeout_seconds"
    message = request["Parameters"]["Message"]
    assert "send-task-success" in message["approve_command.$"] and "$$.Task.Token" in message["approve_command.$"]
    assert "send-task-failure" in message["deny_command.$"] and "$$.Task.Token" in message["deny_command.$"]
    assert message["plan.$"] == "$.plan"
    assert request["Next"] == "Failover", "an approval (send-task-success) goes on"
    timeout, unpublished, anything_else = request["Catch"]
    assert timeout["ErrorEquals"] == ["States.Timeout"] and timeout["Next"] == "ApprovalExpired?"
    assert all(e.startswith("SNS.") for e in unpublished["ErrorEquals"]) and unpublished["Next"] == "ApprovalExpired?"
    assert anything_else["ErrorEquals"] == ["States.ALL"] and anything_else["Next"] == "BuildApprovalDeniedReport", (
        "any send-task-failure, whatever error it names, is a denial")
    assert all(e.startswith("SNS.") for r in request["Retry"] for e in r["ErrorEquals"]), (
        "a denial or a timeout is never retried into a second request")
    expired = states["ApprovalExpired?"]
    assert [c["Next"] for c in expired["Choices"]] == ["BuildApprovalAbortedReport"]
    assert expired["Default"] == "PublishApprovalExpiredProceeding"
    assert states["PublishApprovalExpiredProceeding"]["Next"] == "Failover"
    assert [c["Next"] for c in states["PublishApprovalExpiredProceeding"]["Catch"]] == ["Failover"]
    parameters = template["Parameters"]
    assert parameters["AlarmFailoverApproval"]["Default"] == "none"
    assert parameters["ApprovalExpiryAction"]["AllowedValues"] == ["proceed", "abort"]
    assert parameters["ApprovalExpiryAction"]["Default"] == "proceed"
