"""What the template tests share: the templates and the failover ASL read as data, the Rust code
read as text, the evaluation of a state machine's and EventBridge's inputs, and the graph and role
helpers re-protect's and fail back's tests share.

Nothing here deploys: the templates are read as data. What the tests check is what would
otherwise drift silently, one concern a file: the failover state machine
(test_template_failover.py), readiness and the dashboard (test_template_readiness.py), roles and
resource policies (test_template_iam.py), the templates' and the ASL's agreement with the Rust code
(test_template_rust_agreement.py), the backup checks (test_template_backup.py), what installing
the stack takes (test_template_deployment.py), re-protect (test_reprotect.py) and fail back
(test_failback.py).

A test file imports the fixtures it uses (`template`, `asl`) from here, explicitly.
"""

from __future__ import annotations

import json
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


def role_statements(template: dict, role: str) -> list[dict]:
    statements = []
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        statements += policy["PolicyDocument"]["Statement"]
    return statements


# ------------------------------------------------------------------ reading the Rust code


def rust_source(path: Path) -> str:
    """A Rust file without its comments, so a name mentioned in a comment does not count."""
    text = path.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def emitted_error_names() -> set[str]:
    return set(re.findall(r'"(DrFailover\.[A-Za-z]+)"', rust_source(SHARED_SRC / "error.rs")))


# ------------------------------------------------------------------ the inputs of a state machine and of EventBridge


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


def statemachine_event(name: str) -> dict:
    return json.loads((ROOT / "events" / "statemachine" / name).read_text())


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


# ------------------------------------------------------------------ re-protect's and fail back's machines


def successors(state: dict) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [c.get("Next") for c in state.get("Choices", []) + state.get("Catch", [])]
    return [t for t in targets if t]


def reachable(asl: dict, without: set[str] = frozenset()) -> set[str]:
    states, seen, stack = asl["States"], set(), [asl["StartAt"]]
    while stack:
        name = stack.pop()
        if name in seen or name in without:
            continue
        seen.add(name)
        stack += successors(states[name])
    return seen


def is_end(state: dict) -> bool:
    return state["Type"] in ("Succeed", "Fail") or state.get("End") is True


def validate(asl: dict, execution_input) -> str:
    """The state ValidateRequest sends an input to."""
    rules = asl["States"]["ValidateRequest"]
    choice = Choice({"input": execution_input})
    for rule in rules["Choices"]:
        if choice.holds(rule):
            return rule["Next"]
    return rules["Default"]


def actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def statements(template: dict, role: str) -> list[dict]:
    """The role's statements, each conditional one taken as present (its true branch)."""
    out = []
    for statement in role_statements(template, role):
        if "Fn::If" in statement:
            statement = statement["Fn::If"][1]
        out.append(statement)
    return out


def end_outcome(state: dict):
    """The outcome an end marker writes to $.end (None for any other state): every end of a run
    is such a Pass, followed by the one finishing step."""
    if state["Type"] != "Pass" or state.get("ResultPath") != "$.end":
        return None
    body = state.get("Result") or state.get("Parameters") or {}
    return body.get("outcome") or body.get("outcome.$")


# An end marker whose outcome is a path (`outcome.$`) writes one of these: the hold's answer says
# which (shared::exclusive::hold: alarm-paused or alarm-unconfirmed, through AlarmPaused).
OUTCOME_PATHS = {"$.concurrency.held_back": {"alarm-paused", "alarm-unconfirmed"}}


def end_outcomes(state: dict) -> set:
    """Every outcome an end marker can write."""
    outcome = end_outcome(state)
    return OUTCOME_PATHS[outcome] if outcome in OUTCOME_PATHS else {outcome}


def end_markers(asl: dict) -> dict[str, dict]:
    return {name: s for name, s in asl["States"].items() if end_outcome(s) is not None}
