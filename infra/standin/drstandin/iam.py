"""IAM: every request is authorized against the policies of the identity that signed it.

What moto lacks: moto authorizes nothing by default (its ``INITIAL_NO_AUTH_ACTION_COUNT``
mode knows IAM users only, not the roles a template deploys). So a function whose role lacks a
grant passes every drill here and fails on AWS. This module authorizes each request as IAM
would, against the roles ``infra/template.yaml`` (and ``infra/vault-account-role.yaml``)
render to with the drill's parameters (``drstandin.template_render``), evaluated by
``drstandin.iam_policy`` on what ``drstandin.iam_request`` reads from the request.

Who signed a request: the SigV4 ``Credential=`` access key id.

* A function's key is ``function_access_key(binary)`` (``lambda-<binary>``). On Lambda the runtime
  puts the role's credentials in the function's environment; under ``cargo lambda watch`` the
  workspace ``Cargo.toml`` gives each binary its key (``[workspace.metadata.lambda.bin.<binary>.env]``),
  and the stand-in maps it to the role of the template's function built from that binary
  (``Metadata.BuildProperties.Binary``), session name the function's name, as Lambda names it.
* A state machine's own calls (Lambda tasks, ``sns:publish``, ``aws-sdk:*`` integrations) are
  signed with a key the stand-in issues for the state machine's role (``state_machine_key``,
  patched into moto's interpreter), and authorized against that role's policies.
* ``AssumeRole`` by such an identity is checked twice, as IAM does ("Policy evaluation logic",
  cross-account: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html):
  the caller's policy must allow ``sts:AssumeRole`` on the role, and the role's trust policy
  (``AssumeRolePolicyDocument``) must allow the caller, with ``sts:ExternalId``,
  ``sts:RoleSessionName``, ``aws:PrincipalArn`` and ``aws:PrincipalAccount`` as context. The
  credentials STS then issues authorize as that role's session.
* Any other key (the drill's and the tests' own ``testing``, and keys STS issued to them) is an
  administrator: setting up the world and reading results is not what is under test. An
  administrator that assumes a role a loaded stack creates, and whose trust policy lets the
  account in (the template's ``OperatorRole`` and ``ApproverRole``), gets credentials that
  authorize as that role: how a person runs ``dr-failover`` with exactly what the role grants.
* ``sts:GetCallerIdentity`` needs no permission ("GetCallerIdentity", STS API reference).

A denial is answered as the service answers it: HTTP 403 ``AccessDenied`` (query protocol,
Route 53, S3, CloudWatch with ``x-amzn-query-error``), ``AccessDeniedException`` for JSON and
REST-JSON services (HTTP 400 for Step Functions and EventBridge, 403 for Lambda and Backup), with
AWS's message ("Troubleshoot access denied error messages",
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html): "User: <principal ARN> is not authorized to perform: <action> on resource:
<ARN> because no identity-based policy allows the <action> action" (or "with an explicit deny in
an identity-based policy"). Every denial is also kept for ``GET /moto-api/dr/iam``.

Control (JSON) at ``/moto-api/dr/iam``: ``POST {"enforce": bool, "stacks": [{"template": path,
"parameters": {...}, "region", "account", "physical_names": {...}}]}`` renders and compiles the
stacks once (a template that cannot be rendered or a policy that cannot be evaluated answers 400
and changes nothing); ``GET`` answers the identities and the denials so far. Enforcement is on
from the start; with no stack loaded only state machines' calls are restricted to nothing unknown
(they run as administrators then, for stand-in tests that build their own state machines).

Not modelled: service control policies, permission boundaries, session policies, resource-based
policies (topic, bucket, key and queue policies, Lambda permissions: a resource policy neither
adds nor removes access here), ``NotPrincipal``, condition keys other than ``iam_policy.KNOWN_KEYS``
(a template using one is refused when loaded), the permissions AWS services check on the
caller's behalf (RDS's and SNS's use of KMS keys, so ``kms:ViaService`` grants are compiled but
never asked), EventBridge targets' roles (a rule starts its state machine inside the stand-in,
unsigned), CloudWatch Logs and X-Ray (the functions log to stdout here), and the trust of
``lambda.amazonaws.com`` / ``states.amazonaws.com`` in the roles the functions and state machines
run as (taken as given, as CloudFormation would have refused a role that could not be assumed).
"""

from __future__ import annotations

import hashlib
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from drstandin import faults, iam_policy, iam_request, template_render
from drstandin.control import ControlError, json_object, register_control_route, register_request_hook, register_wsgi_middleware


def function_access_key(binary: str) -> str:
    """The access key id a function built from ``binary`` signs with."""
    return f"lambda-{binary}"


def state_machine_key(role_arn: str) -> str:
    """The access key id a state machine running as ``role_arn`` signs its own calls with."""
    return "states-" + hashlib.sha256(role_arn.encode()).hexdigest()[:20]


@dataclass
class Principal:
    """A restricted identity: the role session that signs with one access key."""

    arn: str  # arn:aws:sts::<account>:assumed-role/<role>/<session>
    role_arn: str
    account: str
    policies: iam_policy.CompiledPolicies


@dataclass
class _State:
    enforce: bool = True
    stacks: list[template_render.Stack] = field(default_factory=list)
    compiled: dict[str, iam_policy.CompiledPolicies] = field(default_factory=dict)  # role ARN ->
    trust: dict[str, iam_policy.CompiledPolicies] = field(default_factory=dict)  # role ARN ->
    keys: dict[str, Principal] = field(default_factory=dict)
    denials: list[dict] = field(default_factory=list)


_state = _State()
_lock = threading.Lock()


def _session_arn(role_arn: str, session: str) -> str:
    account = role_arn.split(":")[4]
    role_name = role_arn.split("/")[-1]
    return f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"


def load(stacks: list[dict], enforce: bool = True) -> _State:
    """Render and compile ``stacks``; the new state replaces the old one only when all succeed."""
    state = _State(enforce=enforce)
    for index, spec in enumerate(stacks):
        if not isinstance(spec, dict) or "template" not in spec:
            raise ValueError(f"stacks[{index}] needs at least a 'template'")
        stack = template_render.render(
            spec["template"],
            spec.get("parameters") or {},
            region=spec.get("region", "us-east-1"),
            account=spec.get("account", "123456789012"),
            physical_names=spec.get("physical_names") or {},
        )
        state.stacks.append(stack)
        for role in stack.roles.values():
            where = f"{spec['template']}:{role.logical_id}"
            state.compiled[role.arn] = iam_policy.compile_policies(role.policies, where)
            if role.trust:
                state.trust[role.arn] = iam_policy.compile_policies([role.trust], f"{where}.AssumeRolePolicyDocument")
        for name, binary in stack.binaries.items():
            role_arn = stack.runs_as[name]
            if role_arn not in state.compiled:
                raise ValueError(f"function {name} runs as {role_arn}, which the template does not create")
            state.keys[function_access_key(binary)] = Principal(
                _session_arn(role_arn, name), role_arn, stack.account, state.compiled[role_arn]
            )
    return state


def principal_for(access_key: str) -> Principal | None:
    """The restricted identity of ``access_key``; None: an administrator (or no stack loaded)."""
    with _lock:
        principal = _state.keys.get(access_key)
        if principal is not None or not access_key.startswith("states-"):
            return principal
        if not _state.stacks:
            return None
    # A state machine's key whose role no loaded stack creates: a role with no policy.
    return Principal(f"arn:aws:sts::unknown:assumed-role/unknown/{access_key}", "", "", iam_policy.CompiledPolicies())


def register_state_machine_role(role_arn: str) -> str:
    """The key for ``role_arn``'s state machine sessions (registered on first use)."""
    key = state_machine_key(role_arn)
    with _lock:
        if key not in _state.keys and role_arn in _state.compiled:
            _state.keys[key] = Principal(
                _session_arn(role_arn, key[7:23]), role_arn, role_arn.split(":")[4], _state.compiled[role_arn]
            )
    return key


def denial_message(principal_arn: str, action: str, resource: str, explicit: bool) -> str:
    reason = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {reason}"


def denied_response(call: faults.Call, message: str) -> Response:
    """AccessDenied in ``call``'s service's own wire format."""
    if call.service == "s3":
        from xml.sax.saxutils import escape

        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>AccessDenied</Code><Message>{escape(message)}</Message>"
            "<RequestId>0</RequestId></Error>"
        )
        return Response(body, status=403, content_type="application/xml")
    if call.protocol in ("query", "rest-xml") or faults.query_compatible(call.service):
        code, status = "AccessDenied", 403
    elif call.protocol == "json":
        code, status = "AccessDeniedException", 400
    else:
        code, status = "AccessDeniedException", 403
    fault = faults.Fault(call.service, call.operation, "5xx", 0, status=status, code=code, message=message)
    return faults.fault_response(fault, call)


_ACCESS_KEY = __import__("re").compile(r"Credential=([^/,\s]+)/")


def _trust_allows(caller: Principal, role_arn: str, context: dict) -> iam_policy.Decision:
    with _lock:
        trust = _state.trust.get(role_arn)
    if trust is None:
        return iam_policy.Decision(False, role_arn)
    for statement, raw in _trust_statements(role_arn):
        if not iam_policy.principal_matches(raw.get("Principal"), caller.role_arn, caller.account, None):
            continue
        if statement.applies("sts:AssumeRole", role_arn, context):
            if statement.effect == "Deny":
                return iam_policy.Decision(False, role_arn, True)
            return iam_policy.Decision(True)
    return iam_policy.Decision(False, role_arn)


def _trust_statements(role_arn: str) -> list[tuple[iam_policy.Statement, dict]]:
    for stack in _state.stacks:
        role = stack.role_by_arn(role_arn)
        if role is None:
            continue
        raw = role.trust.get("Statement", [])
        raw = raw if isinstance(raw, list) else [raw]
        compiled = _state.trust[role_arn].statements
        return list(zip(compiled, raw))
    return []


def _hook(environ: dict) -> Response | None:
    if not _state.enforce or environ.get("PATH_INFO", "").startswith("/moto-api"):
        return None
    match = _ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return None
    principal = principal_for(match.group(1))
    if principal is None:
        _administrator_assumes(environ)
        return None
    call = faults.identify(environ)
    if call is None:
        return None
    if call.service == "sts" and call.operation == "GetCallerIdentity":
        return None
    request = iam_request.authorization(call, environ, principal.account or "123456789012")
    decision = principal.policies.evaluate(request.action, request.resources, request.context)
    if decision.allowed and request.action == "sts:AssumeRole":
        role_arn = request.resources[0]
        context = dict(request.context)
        context["aws:PrincipalArn"] = principal.role_arn
        context["aws:PrincipalAccount"] = principal.account
        decision = _trust_allows(principal, role_arn, context)
        if decision.allowed:
            environ["drstandin.iam.assume"] = (role_arn, request.params.get("RoleSessionName", "session"))
        else:
            message = (
                f"User: {principal.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            )
            return _deny(call, principal, request.action, role_arn, message)
    if decision.allowed:
        for action, resources in request.dependent:
            needed = principal.policies.evaluate(action, resources, request.context)
            if not needed.allowed:
                message = denial_message(principal.arn, action, needed.resource, needed.explicit)
                return _deny(call, principal, action, needed.resource, message)
        return None
    message = denial_message(principal.arn, request.action, decision.resource, decision.explicit)
    return _deny(call, principal, request.action, decision.resource, message)


ADMINISTRATOR_ACCOUNT = "123456789012"


def _administrator_assumes(environ: dict) -> None:
    """An administrator (the drill's or a test's own key) assuming a role a loaded stack creates,
    whose trust policy lets the administrator's account in (the operator and approver roles trust
    ``arn:aws:iam::<account>:root``): the credentials STS issues authorize as that role, as they
    would on AWS, so a person's commands run with exactly what the role grants. Roles no loaded
    stack creates (the vault account's ``OrganizationAccountAccessRole``) keep the administrator's
    rights, as before."""
    call = faults.identify(environ)
    if call is None or (call.service, call.operation) != ("sts", "AssumeRole"):
        return
    request = iam_request.authorization(call, environ, ADMINISTRATOR_ACCOUNT)
    role_arn = request.resources[0] if request.resources else ""
    with _lock:
        known = role_arn in _state.trust
    if not known:
        return
    administrator = Principal(
        f"arn:aws:iam::{ADMINISTRATOR_ACCOUNT}:user/administrator",
        f"arn:aws:iam::{ADMINISTRATOR_ACCOUNT}:user/administrator",
        ADMINISTRATOR_ACCOUNT,
        iam_policy.CompiledPolicies(),
    )
    context = dict(request.context)
    context["aws:PrincipalArn"] = administrator.role_arn
    context["aws:PrincipalAccount"] = ADMINISTRATOR_ACCOUNT
    if _trust_allows(administrator, role_arn, context).allowed:
        environ["drstandin.iam.assume"] = (role_arn, request.params.get("RoleSessionName", "session"))


def _deny(call: faults.Call, principal: Principal, action: str, resource: str, message: str) -> Response:
    with _lock:
        _state.denials.append(
            {"time": time.time(), "principal": principal.arn, "action": action, "resource": resource, "message": message}
        )
    return denied_response(call, message)


def _capture_assumed(app: Any) -> Any:
    """After STS issued credentials to a restricted caller, they authorize as the assumed role."""

    def wrapped(environ: dict, start_response: Any) -> Any:
        assumed = environ.get("drstandin.iam.assume")
        if assumed is None:
            return app(environ, start_response)
        captured: dict = {}

        def capture_start(status: str, headers: list, exc_info: Any = None) -> Any:
            captured["status"] = status
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = b"".join(app(environ, capture_start))
        if str(captured.get("status", "")).startswith("200"):
            _register_assumed(body, *assumed)
        return [body]

    return wrapped


def _register_assumed(body: bytes, role_arn: str, session: str) -> None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return
    key = next((e.text for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "AccessKeyId"), None)
    with _lock:
        policies = _state.compiled.get(role_arn)
        if key and policies is not None:
            _state.keys[key] = Principal(_session_arn(role_arn, session), role_arn, role_arn.split(":")[4], policies)


def _control(request: Request) -> Any:
    global _state
    if request.method == "GET":
        with _lock:
            return {
                "enforce": _state.enforce,
                "identities": {key: p.arn for key, p in _state.keys.items()},
                "denials": list(_state.denials),
            }
    if request.method != "POST":
        return 405, {"error": "use GET or POST"}
    body = json_object(request)
    unknown = sorted(set(body) - {"enforce", "stacks"})
    if unknown:
        raise ControlError(400, f"unknown field(s) {unknown}; known: enforce, stacks")
    enforce = body.get("enforce", True)
    if not isinstance(enforce, bool):
        raise ControlError(400, "enforce must be true or false")
    stacks = body.get("stacks")
    if stacks is None:
        with _lock:
            _state.enforce = enforce
        return {"enforce": enforce}
    if not isinstance(stacks, list):
        raise ControlError(400, "stacks must be a list")
    try:
        new = load(stacks, enforce)
    except (ValueError, OSError, KeyError, TypeError) as err:
        raise ControlError(400, f"{type(err).__name__}: {err}") from err
    with _lock:
        _state = new
    return {"enforce": enforce, "identities": {key: p.arn for key, p in new.keys.items()}}


def _patch_state_machine_clients() -> None:
    """moto's interpreter signs every call of a state machine with the key ``ak``: sign with the
    key of the execution's role instead (``state_credentials.role_arn``)."""
    import sys

    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    if getattr(original, "_drstandin", False):
        return

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region=region, service=service, state_credentials=state_credentials)
        role_arn = getattr(state_credentials, "role_arn", None)
        if role_arn:
            key = register_state_machine_role(str(role_arn))
            from botocore.credentials import Credentials

            client._request_signer._credentials = Credentials(key, "sk")
        return client

    boto_client_for._drstandin = True  # type: ignore[attr-defined]
    boto_client.boto_client_for = boto_client_for
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]


def install(settings: Any) -> None:
    import importlib
    import pkgutil

    import moto.stepfunctions.parser as parser

    # Import every interpreter module now, so each one's imported boto_client_for is rebound.
    for info in pkgutil.walk_packages(parser.__path__, parser.__name__ + "."):
        if "boto_client" in info.name or "state_task" in info.name or "resource_eval" in info.name:
            try:
                importlib.import_module(info.name)
            except Exception:
                pass
    _patch_state_machine_clients()
    register_control_route("iam", _control)
    register_request_hook(_hook)
    register_wsgi_middleware(_capture_assumed)
