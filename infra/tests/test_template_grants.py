"""Every AWS operation a function binary can call is granted to its role, and every action a
function's role grants is called, or the template says next to it why not (issue 22).

What a binary can call is read from the Rust code (sdk_calls.py says how); what its role grants,
from infra/template.yaml as written, each `!If` taken both ways. An action the code calls that the
role does not grant is AccessDenied on AWS, and on the failover path that is a run ended half way
(the drill's IAM enforcement finds it only on the paths a drill takes; this check covers every
path). A call the role deliberately does not grant is listed in NOT_GRANTED with why it cannot
happen in that binary, and each reason is checked against the code or the template.
"""

from __future__ import annotations

import fnmatch
import json
import re

import pytest
import sdk_calls
from template_support import INFRA, ROOT, SHARED_SRC, binary, functions, role_statements, rust_source, walk
from template_support import template  # noqa: F401  (a fixture)

# A grant the code never calls says so in a comment just above it, starting with this.
NOT_CALLED_MARK = "Not called by the code:"


def function_variables(template: dict, binary_name: str) -> dict:
    (function,) = [f for f in functions(template).values() if binary(f) == binary_name]
    return function["Properties"]["Environment"]["Variables"]


def failback_compute_never_suspends(template: dict) -> bool:
    main = rust_source(ROOT / "functions" / "failback-compute" / "src" / "main.rs")
    return "config.suspend_scheduled_actions = false;" in main


def reprotect_never_retires(template: dict) -> bool:
    code = sdk_calls.product_code(SHARED_SRC / "reprotect" / "instance.rs")
    return (function_variables(template, "reprotect-database")["REPROTECT_RETIRE_FORMER_WRITER"] == "false"
            and "config.retire_former_writer &&" in code)


def failback_switches_over(template: dict) -> bool:
    code = sdk_calls.product_code(SHARED_SRC / "failback.rs")
    return "DatabaseConfig::AuroraGlobal" in code and "switchover" in code.lower()


def failback_standby_finds_the_aurora_secondary(template: dict) -> bool:
    variables = function_variables(template, "failback-standby")
    return variables["FAILBACK_REPROTECT_CLUSTER_ID"] == {"Ref": "DbDrClusterId"}


def backup_requests_change_nothing(template: dict) -> bool:
    """verify-backup-copy's requests never ask the exclusivity check (their `Traced::changes` is the
    default, false) and no state machine sends it a hold."""
    for path in sdk_calls.module_files("backup") + sdk_calls.module_files("alarm_state"):
        if re.search(r"fn changes\s*\(", sdk_calls.product_code(path)):
            return False
    for path in (INFRA / "statemachine").glob("*.asl.json"):
        for state in walk(json.loads(path.read_text())):
            parameters = json.dumps(state.get("Parameters", {}))
            if '"hold"' in parameters and "VerifyBackupCopy" in parameters:
                return False
    return True


def dns_reads_the_database_with_status_only(template: dict) -> bool:
    """shared::dns reaches the database's clients only through `database::writable`, which sends the
    database step a `status` request: it describes, never promotes nor reads the lag metric."""
    dns = "".join(sdk_calls.product_code(p) for p in sdk_calls.module_files("dns"))
    uses = set(re.findall(r"\bdatabase::(\w+)\s*\(", dns))
    writable = sdk_calls.body_of(sdk_calls.product_code(SHARED_SRC / "database" / "mod.rs"), "writable")
    return uses == {"writable"} and "StepRequest::new(Action::Status)" in writable


def failback_dns_never_records(template: dict) -> bool:
    """failback-dns's clients record nothing (`RecordingConfig::Off`, DnsClients::new's default,
    never changed by `recording_to`): it reads what flip-dns recorded, never writes it."""
    main = rust_source(ROOT / "functions" / "failback-dns" / "src" / "main.rs")
    new = sdk_calls.body_of(sdk_calls.product_code(SHARED_SRC / "dns" / "clients.rs"), "new")
    return "recording_to" not in main and "RecordingConfig::Off" in new


def template_text() -> str:
    return (INFRA / "template.yaml").read_text()


# (binary, action) -> (why the binary never makes the call, the check that it still holds)
NOT_GRANTED = {
    ("failback-compute", "autoscaling:SuspendProcesses"): (
        "failback-compute raises the primary groups with suspend_scheduled_actions off", failback_compute_never_suspends),
    ("failback-compute", "autoscaling:CreateOrUpdateTags"): (
        "it tags a group only when it suspends its scheduled actions, which it never does", failback_compute_never_suspends),
    ("reprotect-database", "rds:ModifyDBInstance"): (
        "re-protect never renames (retires) a former writer: REPROTECT_RETIRE_FORMER_WRITER is false", reprotect_never_retires),
    ("failback-database", "rds:FailoverGlobalCluster"): (
        "fail back moves an Aurora writer by switchover (shared::failback), never by failover", failback_switches_over),
    ("failback-standby", "rds:CreateDBCluster"): (
        "after fail back's switchover the DR cluster is the Aurora secondary: the step finds it and creates none",
        failback_standby_finds_the_aurora_secondary),
    ("failback-standby", "rds:CreateDBInstance"): (
        "as for CreateDBCluster: the secondary's instance exists", failback_standby_finds_the_aurora_secondary),
    ("failback-dns", "s3:PutObject"): (
        "failback-dns reads the recorded targets and never records (shared::dns::recording)", failback_dns_never_records),
    ("verify-backup-copy", "states:ListExecutions"): (
        "its requests change nothing, so the exclusivity check never reads the runs", backup_requests_change_nothing),
    ("verify-backup-copy", "states:DescribeExecution"): (
        "as for ListExecutions", backup_requests_change_nothing),
}
for _binary in ("flip-dns", "failback-dns"):
    for _action in ("rds:PromoteReadReplica", "rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster",
                    "cloudwatch:GetMetricStatistics"):
        NOT_GRANTED[(_binary, _action)] = (
            "it reads the database's state with a status request only (the DNS safety rule)",
            dns_reads_the_database_with_status_only)


def granted_statements(template: dict, role: str) -> list[dict]:
    """A role's Allow statements, each `!If [condition, statement, AWS::NoValue]` taken both ways."""
    found = []
    for item in role_statements(template, role):
        branches = item["Fn::If"][1:] if isinstance(item, dict) and "Fn::If" in item else [item]
        found += [b for b in branches if isinstance(b, dict) and b.get("Effect") == "Allow"]
    return found


def granted(template: dict, role: str) -> dict[str, list[dict]]:
    actions: dict[str, list[dict]] = {}
    for statement in granted_statements(template, role):
        listed = statement["Action"]
        for action in listed if isinstance(listed, list) else [listed]:
            actions.setdefault(action, []).append(statement)
    return actions


def role_of(function: dict) -> str:
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def comment_above(role: str, sid: str) -> str:
    """The comment lines just above a statement (`- Sid: X`) of a role in the template's text,
    skipping an enclosing `- !If` and its condition name."""
    lines = template_text().splitlines()
    start = lines.index(f"  {role}:")
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"^  \S", lines[i]))
    (at,) = [i for i in range(start, end) if re.match(rf"^\s*- Sid: {sid}\s*$", lines[i])]
    comment: list[str] = []
    index = at - 1
    while index > start:
        line = lines[index].strip()
        if line.startswith("#"):
            comment.insert(0, line.lstrip("# "))
        elif line in ("- !If",) or re.fullmatch(r"- [A-Za-z0-9]+", line):
            pass
        else:
            break
        index -= 1
    return " ".join(comment)


def unexplained_grants(template: dict, role: str, called: set[str]) -> list[str]:
    """The role's granted actions no call matches and no comment above the statement explains."""
    unexplained = []
    for pattern, statements in sorted(granted(template, role).items()):
        if any(fnmatch.fnmatchcase(action, pattern) for action in called):
            continue
        for statement in statements:
            sid = statement.get("Sid")
            if sid is None or NOT_CALLED_MARK not in comment_above(role, sid):
                unexplained.append(f"{pattern} ({sid or 'no Sid'})")
    return unexplained


FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "src" / "main.rs").exists())


def test_every_binary_is_a_function_of_the_template(template):
    assert sorted(binary(f) for f in functions(template).values()) == FUNCTIONS


def test_the_reading_of_the_code_finds_what_the_functions_are_known_to_call():
    """The check is only as good as its reading of the code: these calls are known."""
    assert {"rds:PromoteReadReplica", "rds:DescribeDBInstances", "cloudwatch:GetMetricStatistics",
            "states:ListExecutions"} <= set(sdk_calls.actions_called_by("promote-replica"))
    assert {"autoscaling:DescribeScalingActivities", "autoscaling:ResumeProcesses",
            "autoscaling:UpdateAutoScalingGroup"} <= set(sdk_calls.actions_called_by("scale-asg"))
    assert {"route53:ChangeResourceRecordSets", "route53:GetChange", "rds:DescribeDBInstances"} \
        <= set(sdk_calls.actions_called_by("flip-dns"))
    assert {"sts:AssumeRole", "backup:ListRecoveryPointsByBackupVault", "cloudwatch:DescribeAlarms"} \
        <= set(sdk_calls.actions_called_by("verify-backup-copy"))
    assert set(sdk_calls.actions_called_by("finish-run")) == {"s3:PutObject", "sns:Publish"}
    # pilot-capacity reaches two of shared::compute's functions, not the whole module.
    assert set(sdk_calls.actions_called_by("pilot-capacity")) == {
        "autoscaling:DescribeAutoScalingGroups", "autoscaling:UpdateAutoScalingGroup", "autoscaling:ResumeProcesses",
        "autoscaling:DeleteTags", "states:ListExecutions", "states:DescribeExecution"}


def test_without_test_code_leaves_out_test_items_only():
    code = "fn a() { x.b(); }\n#[cfg(test)]\nmod tests;\n#[cfg(test)]\nmod inline { fn t() { y.c(); } }\nfn d() {}"
    kept = sdk_calls.without_test_code(code)
    assert "fn a()" in kept and "fn d()" in kept and "mod tests" not in kept and "y.c()" not in kept


@pytest.mark.parametrize("binary_name", FUNCTIONS)
def test_every_operation_a_binary_can_call_is_granted_to_its_role(template, binary_name):
    (function,) = [f for f in functions(template).values() if binary(f) == binary_name]
    role = role_of(function)
    grants = granted(template, role)
    missing = {}
    for action, where in sorted(sdk_calls.actions_called_by(binary_name).items()):
        if any(fnmatch.fnmatchcase(action, pattern) for pattern in grants):
            assert (binary_name, action) not in NOT_GRANTED, f"{action} is granted: remove it from NOT_GRANTED"
            continue
        if (binary_name, action) in NOT_GRANTED:
            reason, holds = NOT_GRANTED[(binary_name, action)]
            assert holds(template), f"{binary_name} {action}: no longer true that {reason}"
            continue
        missing[action] = sorted(where)
    assert not missing, f"{role} does not grant what {binary_name} calls (action: where): {missing}"


@pytest.mark.parametrize("binary_name", FUNCTIONS)
def test_every_action_a_functions_role_grants_is_called_or_says_why_not(template, binary_name):
    (function,) = [f for f in functions(template).values() if binary(f) == binary_name]
    role = role_of(function)
    unexplained = unexplained_grants(template, role, set(sdk_calls.actions_called_by(binary_name)))
    assert not unexplained, (f"{role} grants what {binary_name} never calls; remove it, or say why just above "
                             f"the statement in a comment starting {NOT_CALLED_MARK!r}: {unexplained}")


def test_a_comment_above_a_statement_is_found_through_an_if():
    assert NOT_CALLED_MARK in comment_above("ReprotectDatabaseRole", "EncryptTheReplica")


# ------------------------------------------------------------------ the state machines' roles


def asl_actions(definition: dict) -> set[str]:
    """The IAM actions a state machine's Task states need (Step Functions' "IAM policies for
    integrated services"): Lambda invocations, SNS publishes, and each AWS SDK integration
    (`arn:aws:states:::aws-sdk:<service>:<operation>`) as `<IAM prefix>:<Operation>`."""
    prefixes = {"eventbridge": "events", "sfn": "states", "cloudwatch": "cloudwatch"}
    actions = set()
    for state in walk(definition):
        if state.get("Type") != "Task":
            continue
        resource = state["Resource"]
        if resource.startswith("${") or resource.startswith("arn:aws:states:::lambda:invoke"):
            actions.add("lambda:InvokeFunction")
        elif resource.startswith("arn:aws:states:::sns:publish"):
            actions.add("sns:Publish")
        else:
            match = re.fullmatch(r"arn:aws:states:::aws-sdk:(\w+):(\w+)", resource)
            assert match, f"unknown Task resource {resource}: teach asl_actions its IAM action"
            service, operation = match.groups()
            actions.add(f"{prefixes[service]}:{operation[0].upper()}{operation[1:]}")
    return actions


def state_machines(template: dict) -> dict[str, tuple[str, dict]]:
    """Logical id -> (its role, its definition)."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::StateMachine":
            properties = resource["Properties"]
            definition = json.loads((INFRA / properties["DefinitionUri"]).read_text())
            found[logical_id] = (properties["Role"]["Fn::GetAtt"][0], definition)
    return found


def test_the_reading_of_the_state_machines_finds_their_integrations(template):
    machines = state_machines(template)
    assert len(machines) == 4
    (readiness_role, readiness) = machines["ReadinessStateMachine"]
    assert {"cloudwatch:PutMetricData", "sns:Publish", "lambda:InvokeFunction"} <= asl_actions(readiness)


@pytest.mark.parametrize("machine", ["StateMachine", "ReadinessStateMachine", "ReprotectStateMachine",
                                     "FailbackStateMachine"])
def test_every_integration_a_state_machine_calls_is_granted_and_every_grant_is_called_or_says_why_not(template, machine):
    role, definition = state_machines(template)[machine]
    called = asl_actions(definition)
    grants = granted(template, role)
    missing = sorted(a for a in called if not any(fnmatch.fnmatchcase(a, pattern) for pattern in grants))
    assert not missing, f"{role} does not grant what {machine} calls: {missing}"
    unexplained = unexplained_grants(template, role, called)
    assert not unexplained, (f"{role} grants what {machine} never calls; remove it, or say why just above "
                             f"the statement in a comment starting {NOT_CALLED_MARK!r}: {unexplained}")


# ------------------------------------------------------------------ the state machines' requests


BOTOCORE_NAMES = {"eventbridge": "events", "sfn": "stepfunctions", "cloudwatch": "cloudwatch"}


def sdk_integration_requests(definition: dict):
    """(state, service, operation model, parameters) of every AWS SDK integration Task."""
    import botocore.session

    session = botocore.session.get_session()
    for state in walk(definition):
        match = re.fullmatch(r"arn:aws:states:::aws-sdk:(\w+):(\w+)", str(state.get("Resource", "")))
        if state.get("Type") == "Task" and match:
            service, operation = match.groups()
            model = session.get_service_model(BOTOCORE_NAMES[service])
            yield state, service, model.operation_model(operation[0].upper() + operation[1:]), state.get("Parameters", {})


@pytest.mark.parametrize("machine", ["StateMachine", "ReadinessStateMachine", "ReprotectStateMachine",
                                     "FailbackStateMachine"])
def test_every_aws_sdk_integration_sends_only_members_its_operation_has_and_every_required_one(template, machine):
    """Step Functions passes an AWS SDK integration's Parameters to the API as its members: a
    member the operation does not have is refused, and one it requires must be there. "Parameters
    in Step Functions are expressed in PascalCase, even if the native service API is in camelCase"
    ("AWS SDK service integrations",
    https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html): each
    botocore member with its first letter upper-cased, the rest as the API spells it
    (EventBridge's `ResourceARN`, not `ResourceArn`). `.$` names a member whose value is a path."""
    _, definition = state_machines(template)[machine]
    checked = 0
    for state, service, operation, parameters in sdk_integration_requests(definition):
        pascal = lambda name: name[:1].upper() + name[1:]  # noqa: E731
        members = {pascal(m) for m in operation.input_shape.members} if operation.input_shape else set()
        given = {key.removesuffix(".$") for key in parameters}
        unknown = {key for key in given if key not in members}
        assert not unknown, f"{service}:{operation.name} has no member {sorted(unknown)} (members: {sorted(members)})"
        required = {pascal(m) for m in operation.input_shape.required_members} if operation.input_shape else set()
        assert required <= given, f"{service}:{operation.name} misses required {sorted(required - given)}"
        checked += 1
    # The re-protect machine calls AWS only through its functions; the failover reads the trigger
    # rule's tags (ReadPause) and nothing else itself.
    assert bool(checked) == (machine in ("ReadinessStateMachine", "FailbackStateMachine", "StateMachine"))


def test_the_reading_of_the_command_line_finds_what_its_commands_call():
    by_role = sdk_calls.cli_actions_by_role()
    assert {"states:StartExecution", "states:GetExecutionHistory", "events:TagResource",
            "events:UntagResource", "events:EnableRule"} <= set(by_role["OperatorRole"])
    assert {"states:SendTaskSuccess", "states:SendTaskFailure", "states:GetExecutionHistory"} <= set(
        by_role["ApproverRole"])
    assert "states:SendTaskSuccess" not in by_role["OperatorRole"], "approving is the approver's"


@pytest.mark.parametrize("role", ["OperatorRole", "ApproverRole"])
def test_the_people_roles_grant_what_their_commands_call_and_nothing_else(template, role):
    """dr-failover's run-time commands (cli/src/ops) run as the template's OperatorRole (all but
    approve and deny) or ApproverRole (approve, deny): every call is granted, every grant called."""
    called = sdk_calls.cli_actions_by_role()[role]
    grants = granted(template, role)
    missing = {a: sorted(w) for a, w in called.items()
               if not any(fnmatch.fnmatchcase(a, p) for p in grants)}
    assert not missing, f"{role} does not grant what its commands call (action: where): {missing}"
    unexplained = unexplained_grants(template, role, set(called))
    assert not unexplained, f"{role} grants what no command calls: {unexplained}"
