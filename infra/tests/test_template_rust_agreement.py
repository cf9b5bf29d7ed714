"""The templates and the ASL agree with the Rust code: the error names the ASL matches and the
ones the functions emit, the environment each function gets and the variables its code reads, the
binaries and their ARNs, the AWS call bound against each function's timeout, the drill's reading
of a writable database, and the fields an execution input may have."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from template_support import (
    INFRA,
    ROOT,
    SHARED_SRC,
    asl,  # noqa: F401  (a fixture)
    binary,
    emitted_error_names,
    functions,
    resources_of_type,
    rust_source,
    statemachine_event,
    template,  # noqa: F401  (a fixture)
    transform,
    walk,
)


# ------------------------------------------------------------------ error names


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


# ------------------------------------------------------------------ functions


CONFIG_CALL = re.compile(
    r"\b(?:config::)?(?:required|optional|parsed|json)(?:::<[^>]*>)?\(\s*source\s*,\s*"
    r'(?:"(?P<literal>[A-Z][A-Z0-9_]*)"|(?P<constant>[A-Z][A-Z0-9_]*))'
)


def variables_read_in(path: Path, seen: frozenset = frozenset()) -> set[str]:
    """The environment variables a module reads through shared::config, by literal or constant,
    and those of its submodules' configurations it reads in turn (`X::from_source(source)`, such
    as the DNS gate's inside the DNS configuration)."""
    text = rust_source(path)
    constants = dict(re.findall(r'const\s+([A-Z][A-Z0-9_]*)\s*:\s*&str\s*=\s*"([^"]+)"', text))
    names = set()
    for match in CONFIG_CALL.finditer(text):
        names.add(match["literal"] or constants[match["constant"]])
    for inner in set(re.findall(r"\b([A-Z][A-Za-z0-9]*)::from_source\(source\)", text)) - seen:
        inner_path = module_defining(inner)
        # Only a configuration of a submodule (dns::gate inside dns) is part of this one; a
        # sibling's or another concern's is read by the functions that name it themselves.
        if inner_path.parent != path.parent and path.parent in inner_path.parents:
            names |= variables_read_in(inner_path, seen | {inner})
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
    text = rust_source(main)
    # A setup that lives in the shared crate (`dispatch::setup`): its reads are the function's.
    for module in set(re.findall(r"\b([a-z_]+)::setup\b", text)):
        (path,) = [p for p in SHARED_SRC.rglob(f"{module}.rs") if "pub async fn setup(" in rust_source(p)]
        text += rust_source(path)
    types = set(re.findall(r"\b([A-Z][A-Za-z0-9]*)::from_source\(", text))
    assert types, f"{main} reads no configuration through from_source"
    if re.search(r"\bPrefixed\(&ProcessEnv\)", rust_source(main)):
        # A fail back function reads its variables through shared::failback::Prefixed, except a
        # type read from the plain environment that says itself which of the failover's variables
        # it reads as they are (FROM_THE_FAILOVER) and reads the rest of its inner configuration
        # prefixed (failback-dns: the failover's DNS_RECORDS).
        plain_types = set(re.findall(r"\b([A-Z][A-Za-z0-9]*)::from_source\(&ProcessEnv\)", text))
        names = {f"FAILBACK_{name}" for t in types - plain_types for name in variables_read_in(module_defining(t))}
        for type_name in plain_types:
            path = module_defining(type_name)
            module = rust_source(path)
            (listed,) = re.findall(r"FROM_THE_FAILOVER:\s*\[&str;\s*\d+\]\s*=\s*\[([^\]]*)\]", module)
            as_they_are = set(re.findall(r'"([A-Z][A-Z0-9_]*)"', listed))
            inner = set(re.findall(r"\b([A-Z][A-Za-z0-9]*)::from_source\(&FromTheFailover\(", module))
            assert inner, f"{path}: {type_name} reads nothing through FromTheFailover"
            names |= variables_read_in(path)
            for inner_type in inner:
                names |= {n if n in as_they_are else f"FAILBACK_{n}" for n in variables_read_in(module_defining(inner_type))}
        return names
    names: set[str] = set()
    for type_name in types:
        names |= variables_read_in(module_defining(type_name))
    return names


# What the functions read from the recovery plan in their layer (shared::config::ProcessEnv,
# shared::plan::render::environment) and the template no longer sets: the lists, which no
# parameter or environment could hold at size.
FROM_THE_PLAN_FILE = {"ASG_TARGETS", "DNS_RECORDS", "BACKUP_RESOURCES", "PILOT_CAPACITY", "FAILBACK_ASG_TARGETS"}


def test_each_function_gets_exactly_the_variables_its_code_reads(template):
    every_function = set(template["Globals"]["Function"]["Environment"]["Variables"])
    assert {"DR_PLAN_FILE", "PLAN_VERSION"} <= every_function
    for logical_id, function in functions(template).items():
        own = set(function["Properties"]["Environment"]["Variables"])
        assert not own & FROM_THE_PLAN_FILE, f"{logical_id} sets {own & FROM_THE_PLAN_FILE}: the plan file gives it"
        read = variables_read_by(binary(function))
        given = own | (read & (FROM_THE_PLAN_FILE | every_function))
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


def test_every_function_arn_substitution_names_the_function_it_is_called_after(template):
    substitutions = {}
    for machine in resources_of_type(template, "AWS::Serverless::StateMachine").values():
        substitutions.update(machine["Properties"]["DefinitionSubstitutions"])
    # The witness runs on its own schedule (WitnessScheduleRule); no state machine names it.
    by_binary = {binary(f): logical_id for logical_id, f in functions(template).items() if binary(f) != "witness"}
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


def test_every_function_bounds_its_aws_calls_below_its_own_timeout(template):
    for logical_id, function in functions(template).items():
        timeout = function["Properties"].get("Timeout", template["Globals"]["Function"]["Timeout"])
        variables = function["Properties"]["Environment"]["Variables"]
        bound = int(variables.get("SDK_OPERATION_TIMEOUT_SECONDS") or variables["FAILBACK_SDK_OPERATION_TIMEOUT_SECONDS"])
        assert 1 <= bound <= timeout // 2, f"{logical_id}: a stalled call must end with time left to answer"


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
    # The input an incomplete run's report gives to finish it (shared::finish::failover).
    block = re.search(r"let (?:mut )?finish_input = json!\((\{.*?\})\);", rust_source(SHARED_SRC / "finish" / "failover.rs"), re.S)
    inputs["FinishInput"] = json.loads(re.sub(r",\s*\}", "}", block.group(1)))
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
