"""What each function binary can call of AWS, read from the Rust code, for the grant checks in
test_template_grants.py.

How it reads the code:

* **Operations**: every `.operation_name()` call in a shared module's files (comments and
  `#[cfg(test)]` items left out) whose name is an operation of a service the product uses, named
  as aws-sdk-rust names it (botocore's `xform_name` of the operation, the same snake case), and
  mapped to its IAM action (`<service prefix>:<Operation>`). A credentials provider that assumes
  a role (`AssumeRoleProvider`) calls `sts:AssumeRole`.
* **Which modules a binary reaches**: the shared modules its `main.rs` names (`shared::<module>`),
  the exclusivity check (`shared::exclusive`) for every binary served by `shared::lambda::serve`,
  and, from each reached module, every module whose client bundle (`<Module>Clients`, the SDK
  clients it calls with) the reached module's code handles, or, for a module without a bundle
  (the alarm read, the exclusivity check), whose functions it calls by path. A module that uses
  another's types or pure helpers only (re-protect's use of the database's naming rules) does not
  reach its calls, as it has no clients to call them with.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from template_support import ROOT, SHARED_SRC, rust_source

# The service models (botocore's names) of every SDK crate the workspace depends on, and their IAM
# action prefix ("Service Authorization Reference": the prefix is the service's namespace).
SERVICES = {
    "autoscaling": "autoscaling",
    "backup": "backup",
    "cloudwatch": "cloudwatch",
    "rds": "rds",
    "route53": "route53",
    "s3": "s3",
    "sns": "sns",
    "stepfunctions": "states",
    "sts": "sts",
}

FUNCTIONS = ROOT / "functions"


def without_test_code(text: str) -> str:
    """Rust source without its `#[cfg(test)]` items: a `mod tests;` declaration up to its `;`, an
    inline module or function through its matching brace."""
    kept: list[str] = []
    position = 0
    for match in re.finditer(r"#\[cfg\(test\)\]", text):
        if match.start() < position:
            continue
        kept.append(text[position:match.start()])
        semicolon, brace = text.find(";", match.end()), text.find("{", match.end())
        if brace == -1 or (semicolon != -1 and semicolon < brace):
            position = semicolon + 1
            continue
        depth, index = 0, brace
        while index < len(text):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                break
            index += 1
        position = index + 1
    kept.append(text[position:])
    return "".join(kept)


@functools.cache
def operations_by_method() -> dict[str, frozenset[str]]:
    """`describe_db_instances` -> {"rds:DescribeDBInstances"}, for every service the product uses."""
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    found: dict[str, set[str]] = {}
    for service, prefix in SERVICES.items():
        for operation in session.get_service_model(service).operation_names:
            found.setdefault(xform_name(operation), set()).add(f"{prefix}:{operation}")
    return {method: frozenset(actions) for method, actions in found.items()}


@functools.cache
def product_code(path: Path) -> str:
    return without_test_code(rust_source(path))


def module_files(module: str) -> list[Path]:
    """A top-level shared module's files, its tests left out."""
    single = SHARED_SRC / f"{module}.rs"
    files = [single] if single.exists() else []
    directory = SHARED_SRC / module
    if directory.is_dir():
        files += sorted(p for p in directory.rglob("*.rs") if "tests" not in p.name)
    return files


# EventBridge's operations share names with other services' (TagResource, ListTagsForResource), so
# a shared module calls them only through a client named `events` (`clients.events.tag_resource()`,
# shared::witness), and each such call is read with that client.
RECEIVER_SERVICES = {"events": ("events", "events")}


def receiver_calls(code: str) -> tuple[str, set[str]]:
    """The code without its `events.<operation>()` calls, and the IAM actions of those calls."""
    import botocore.session
    from botocore import xform_name

    actions: set[str] = set()
    for receiver, (service, prefix) in RECEIVER_SERVICES.items():
        operations = {xform_name(op): op for op in botocore.session.get_session().get_service_model(service).operation_names}
        pattern = rf"\b{receiver}\s*\.\s*([a-z][a-z0-9_]*)\(\)"
        for method in re.findall(pattern, code):
            if method not in operations:
                raise AssertionError(f"{receiver}.{method}() is no operation of {service}")
            actions.add(f"{prefix}:{operations[method]}")
        code = re.sub(pattern, "", code)
    return code, actions


def actions_called_in(path: Path) -> set[str]:
    """The IAM actions a file's product code calls; an operation name two used services share is
    an error (the check would not know which service it calls), unless it is called through a
    client of RECEIVER_SERVICES."""
    code, actions = receiver_calls(product_code(path))
    for method in set(re.findall(r"\.([a-z][a-z0-9_]*)\(\)", code)):
        candidates = operations_by_method().get(method, frozenset())
        if len(candidates) > 1:
            raise AssertionError(f"{path}: .{method}() is an operation of {sorted(candidates)}: "
                                 "teach sdk_calls which client it is called on")
        actions |= candidates
    if "AssumeRoleProvider" in code:
        actions.add("sts:AssumeRole")
    return actions


@functools.cache
def calling_modules() -> dict[str, frozenset[str]]:
    """Every top-level shared module whose code calls AWS, with the actions it calls."""
    modules = {p.stem for p in SHARED_SRC.glob("*.rs")} | {p.name for p in SHARED_SRC.iterdir() if p.is_dir()}
    found = {}
    for module in sorted(modules - {"lib", "testing"}):
        actions = set().union(*(actions_called_in(p) for p in module_files(module)), set())
        if actions:
            found[module] = frozenset(actions)
    return found


def client_bundle(module: str) -> str | None:
    """The struct holding the SDK clients a module calls with (`ComputeClients`), if it has one."""
    for path in module_files(module):
        match = re.search(r"pub struct (\w+Clients)\b", product_code(path))
        if match:
            return match.group(1)
    return None


def reaches(code: str, module: str) -> bool:
    """Whether code handles a calling module's clients (its bundle) or, for a module without a
    bundle, calls it by path."""
    bundle = client_bundle(module)
    if bundle is not None:
        return re.search(rf"\b{bundle}\b", code) is not None
    return re.search(rf"\b(?:crate|shared)::{module}\b", code) is not None


def body_of(code: str, function: str) -> str:
    """A function's parameters and body, from `fn name` through its matching brace."""
    match = re.search(rf"\bfn {function}\b", code)
    if match is None:
        return ""
    depth, index = 0, code.index("{", match.end())
    start = index
    while index < len(code):
        depth += {"{": 1, "}": -1}.get(code[index], 0)
        if depth == 0:
            break
        index += 1
    return code[match.start():index + 1]


def client_functions(module: str) -> dict[str, str]:
    """A calling module's functions that take an SDK client (`client: &aws_sdk_autoscaling::Client`),
    by name, with their bodies: what another module can call without the module's bundle."""
    found = {}
    for path in module_files(module):
        code = product_code(path)
        for match in re.finditer(r"\bfn (\w+)\s*(?:<[^>]*>)?\(([^)]*)\)", code):
            if re.search(r"aws_sdk_\w+::Client\b", match.group(2)):
                found[match.group(1)] = body_of(code, match.group(1))
    return found


def actions_in(text: str) -> set[str]:
    actions: set[str] = set()
    for method in set(re.findall(r"\.([a-z][a-z0-9_]*)\(\)", text)):
        actions |= operations_by_method().get(method, frozenset())
    return actions


def modules_reached_by(binary: str) -> set[str]:
    """The calling modules a function binary reaches (see the module's doc)."""
    main = product_code(FUNCTIONS / binary / "src" / "main.rs")
    calling = calling_modules()
    reached = {m for m in calling if re.search(rf"\bshared::{m}\b", main)}
    if re.search(r"\blambda::(?:\{[^}]*\bserve\b|serve\b)", main) or "shared::lambda::serve" in main:
        reached.add("exclusive")
    todo = list(reached)
    while todo:
        code = "".join(product_code(p) for p in module_files(todo.pop()))
        for module in calling:
            if module not in reached and reaches(code, module):
                reached.add(module)
                todo.append(module)
    return reached


def actions_called_by(binary: str) -> dict[str, set[str]]:
    """IAM action -> where the binary calls it: a reached module (`compute`), or a client-taking
    function of another module a reached module calls by path (`compute::update_sizes`)."""
    found: dict[str, set[str]] = {}
    reached = modules_reached_by(binary)
    for module in reached:
        for action in calling_modules()[module]:
            found.setdefault(action, set()).add(module)
        code = "".join(product_code(p) for p in module_files(module))
        for other in set(calling_modules()) - reached:
            for function, body in client_functions(other).items():
                if re.search(rf"\b{other}::(?:\w+::)*{function}\s*\(", code):
                    for action in actions_in(body):
                        found.setdefault(action, set()).add(f"{other}::{function}")
    return found


# ---- the dr-failover command line's run-time commands (cli/src/ops) --------------------------

CLI_OPS = ROOT / "cli" / "src" / "ops"
# The clients a command calls through (`deployment.sfn`, `deployment.events`): each call is read
# with its client, as several services share operation names (TagResource, ListTagsForResource).
CLI_CLIENTS = {"sfn": ("stepfunctions", "states"), "events": ("events", "events")}
# A function that takes a client (`client: &aws_sdk_sfn::Client`) calls through that name.
CLI_CRATES = {"sfn": "sfn", "eventbridge": "events"}
# What needs no grant: "GetCallerIdentity" (STS API reference: no permission is required).
CLI_UNGRANTED = {"sts:GetCallerIdentity"}


def cli_actions_called_in(path: Path) -> set[str]:
    """The IAM actions a file of cli/src/ops calls, read as `.<client>...<operation>()` chains."""
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    code = product_code(path)
    # The deployment's clients are fields (`deployment.sfn`); a function's parameter is a name.
    calls = [(field, field, method) for field, method in
             re.findall(r"\.(sfn|events)\s*\.\s*([a-z][a-z0-9_]*)\(\)", code)]
    for variable, crate in re.findall(r"\b([a-z_][a-z0-9_]*)\s*:\s*&aws_sdk_([a-z0-9]+)::Client\b", code):
        calls += [(variable, CLI_CRATES[crate], method) for method in
                  re.findall(rf"(?<![.\w]){variable}\s*\.\s*([a-z][a-z0-9_]*)\(\)", code)]
    actions: set[str] = set()
    for variable, client, method in calls:
        service, prefix = CLI_CLIENTS[client]
        operations = {xform_name(op): op for op in session.get_service_model(service).operation_names}
        if method not in operations:
            raise AssertionError(f"{path}: {variable}.{method}() is no operation of {service}")
        actions.add(f"{prefix}:{operations[method]}")
    if "get_caller_identity()" in code:
        actions.add("sts:GetCallerIdentity")
    return actions


def cli_actions_by_role() -> dict[str, dict[str, set[str]]]:
    """role -> IAM action -> the files that call it: `approve.rs` is ApproverRole's, the other
    commands OperatorRole's, and the shared reading (`mod.rs`, `history.rs`) both roles'."""
    roles: dict[str, dict[str, set[str]]] = {"OperatorRole": {}, "ApproverRole": {}}
    for path in sorted(CLI_OPS.glob("*.rs")):
        if path.name in ("mod.rs", "history.rs"):
            owners = ["OperatorRole", "ApproverRole"]
        elif path.name == "approve.rs":
            owners = ["ApproverRole"]
        else:
            owners = ["OperatorRole"]
        for action in cli_actions_called_in(path) - CLI_UNGRANTED:
            for owner in owners:
                roles[owner].setdefault(action, set()).add(path.name)
    return roles
