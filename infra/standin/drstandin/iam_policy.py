"""IAM policy evaluation: does a set of identity-based policies allow one request?

Followed pages:

* "Policy evaluation logic"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html) and
  its "Determining whether a request is allowed or denied within an account": an explicit
  ``Deny`` in any statement that applies wins; otherwise an ``Allow`` that applies allows; with
  neither the request is implicitly denied. A statement applies when its action, its resource and
  every one of its conditions match.
* "IAM JSON policy elements: Action" / "NotAction"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html):
  ``service:Action``, case-insensitive, ``*`` and ``?`` wildcards anywhere.
* "IAM JSON policy elements: Resource" / "NotResource"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html):
  ARNs, case-sensitive, ``*`` and ``?`` wildcards that match any characters, ``/`` and ``:``
  included.
* "IAM JSON policy elements: Condition operators"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
  ``StringEquals``, ``StringNotEquals``, ``StringEqualsIgnoreCase``, ``StringNotEqualsIgnoreCase``,
  ``StringLike``, ``StringNotLike``, ``ArnEquals``, ``ArnLike``, ``ArnNotEquals``, ``ArnNotLike``,
  ``Bool``, ``Null`` and the ``...IfExists`` forms; several values for one key match when any
  matches (OR), several keys and several operators must all match (AND). A key the request does
  not carry makes the operator false, except the negated operators (``StringNotEquals``,
  ``StringNotLike``, ``ArnNotLike``...) and ``...IfExists``, which are true then; ``Null`` asks
  exactly whether it is absent.
* "Multivalued context keys"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html):
  ``ForAllValues:`` is true when every value of the request's key matches some policy value, and
  also when the key is absent or empty; ``ForAnyValue:`` when at least one does.

An operator or a condition key this module does not model makes ``compile_policies`` raise
``PolicyError``: a policy the stand-in cannot evaluate is refused, never read as allowing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

# Condition keys the stand-in puts in a request's context (drstandin.iam_request), exact or by
# prefix ("aws:ResourceTag/" and "aws:RequestTag/" take any tag key after the slash).
KNOWN_KEYS = {
    "aws:RequestedRegion",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:SecureTransport",
    "aws:TagKeys",
    "kms:ViaService",
    "sts:ExternalId",
    "sts:RoleSessionName",
    "route53:ChangeResourceRecordSetsNormalizedRecordNames",
    "route53:ChangeResourceRecordSetsRecordTypes",
    "route53:ChangeResourceRecordSetsActions",
    "autoscaling:LaunchConfigurationName",
    "autoscaling:LaunchTemplateVersionSpecified",
    "autoscaling:InstanceTypes",
    "autoscaling:VPCZoneIdentifiers",
    "autoscaling:ResourceTag/",
    "cloudwatch:namespace",
    "aws:ResourceTag/",
    "aws:RequestTag/",
}


class PolicyError(ValueError):
    """A policy the evaluator cannot read: the message names the statement and the element."""


def _key_known(key: str) -> bool:
    if key in KNOWN_KEYS:
        return True
    return any(k.endswith("/") and key.startswith(k) and len(key) > len(k) for k in KNOWN_KEYS)


def _glob(pattern: str, ignore_case: bool) -> re.Pattern:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character, nothing else special."""
    text = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{text}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _arn_like(pattern: str) -> Callable[[str], bool]:
    """ArnLike: each of the six colon-separated parts matched on its own, with wildcards."""
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        whole = _glob(pattern, False)
        return lambda value: bool(whole.match(value))
    compiled = [_glob(part, False) for part in parts]

    def match(value: str) -> bool:
        values = value.split(":", 5)
        return len(values) == 6 and all(c.match(v) for c, v in zip(compiled, values))

    return match


def _value_matcher(base: str, policy_value: str) -> Callable[[str], bool]:
    if base in ("StringEquals", "StringNotEquals"):
        return lambda value: value == policy_value
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        lowered = policy_value.lower()
        return lambda value: value.lower() == lowered
    if base in ("StringLike", "StringNotLike"):
        pattern = _glob(policy_value, False)
        return lambda value: bool(pattern.match(value))
    if base in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        return _arn_like(policy_value)
    if base == "Bool":
        wanted = policy_value.lower()
        return lambda value: value.lower() == wanted
    raise PolicyError(f"condition operator {base} is not modelled")


_BASES = {
    "StringEquals": False,
    "StringNotEquals": True,
    "StringEqualsIgnoreCase": False,
    "StringNotEqualsIgnoreCase": True,
    "StringLike": False,
    "StringNotLike": True,
    "ArnEquals": False,
    "ArnLike": False,
    "ArnNotEquals": True,
    "ArnNotLike": True,
    "Bool": False,
    "Null": False,
}


@dataclass
class _Condition:
    """One operator on one key: ``test(context) -> bool``."""

    operator: str
    key: str
    test: Callable[[dict], bool]


def _compile_condition(operator: str, key: str, values: Any, where: str) -> _Condition:
    qualifier = None
    base = operator
    if ":" in operator:
        qualifier, base = operator.split(":", 1)
        if qualifier not in ("ForAllValues", "ForAnyValue"):
            raise PolicyError(f"{where}: condition set operator {qualifier} is not modelled")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    if base not in _BASES:
        raise PolicyError(f"{where}: condition operator {operator} is not modelled")
    if not _key_known(key):
        raise PolicyError(f"{where}: condition key {key} is not modelled")
    values = values if isinstance(values, list) else [values]
    values = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    negated = _BASES[base]

    if base == "Null":
        wanted = [v.lower() == "true" for v in values]

        def null_test(context: dict) -> bool:
            absent = context.get(key) in (None, [], "")
            return absent in wanted

        return _Condition(operator, key, null_test)

    matchers = [_value_matcher(base, v) for v in values]

    def single(value: str) -> bool:
        hit = any(m(value) for m in matchers)
        return not hit if negated else hit

    def test(context: dict) -> bool:
        present = context.get(key)
        if present is None or present == []:
            # Absent: ForAllValues is vacuously true, ForAnyValue false; otherwise only
            # ...IfExists and the negated operators ("...NotEquals", "...NotLike") are true.
            if qualifier == "ForAllValues":
                return True
            if qualifier == "ForAnyValue":
                return False
            return if_exists or negated
        request_values = present if isinstance(present, list) else [present]
        request_values = [str(v).lower() if isinstance(v, bool) else str(v) for v in request_values]
        if qualifier == "ForAllValues":
            return all(single(v) for v in request_values)
        if qualifier == "ForAnyValue":
            return any(single(v) for v in request_values)
        if negated:
            return all(single(v) for v in request_values)
        return any(single(v) for v in request_values)

    return _Condition(operator, key, test)


@dataclass
class Statement:
    sid: str
    effect: str
    actions: list[re.Pattern]
    not_actions: list[re.Pattern]
    resources: list[re.Pattern]
    not_resources: list[re.Pattern]
    conditions: list[_Condition]

    def applies(self, action: str, resource: str, context: dict) -> bool:
        if self.actions and not any(p.match(action) for p in self.actions):
            return False
        if self.not_actions and any(p.match(action) for p in self.not_actions):
            return False
        if self.resources and not any(p.match(resource) for p in self.resources):
            return False
        if self.not_resources and any(p.match(resource) for p in self.not_resources):
            return False
        return all(condition.test(context) for condition in self.conditions)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def compile_statement(statement: dict, where: str) -> Statement:
    """One policy statement, ready to evaluate; ``PolicyError`` for what cannot be evaluated."""
    known = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Principal", "NotPrincipal"}
    unknown = sorted(set(statement) - known)
    if unknown:
        raise PolicyError(f"{where}: statement element(s) {unknown} are not modelled")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be Allow or Deny, not {effect!r}")
    if ("Action" in statement) == ("NotAction" in statement):
        raise PolicyError(f"{where}: a statement has exactly one of Action and NotAction")
    conditions = []
    for operator, block in (statement.get("Condition") or {}).items():
        if not isinstance(block, dict):
            raise PolicyError(f"{where}: Condition {operator} must map keys to values")
        for key, values in block.items():
            conditions.append(_compile_condition(operator, key, values, f"{where}.Condition.{operator}"))
    return Statement(
        sid=str(statement.get("Sid", "")),
        effect=effect,
        actions=[_glob(a, True) for a in _as_list(statement.get("Action"))],
        not_actions=[_glob(a, True) for a in _as_list(statement.get("NotAction"))],
        resources=[_glob(r, False) for r in _as_list(statement.get("Resource"))],
        not_resources=[_glob(r, False) for r in _as_list(statement.get("NotResource"))],
        conditions=conditions,
    )


@dataclass
class Decision:
    """``allowed``; else ``resource`` (the one denied) and ``explicit`` (a Deny statement matched)."""

    allowed: bool
    resource: str = ""
    explicit: bool = False
    statement: str = ""


@dataclass
class CompiledPolicies:
    """Every statement of an identity's policies, compiled once."""

    statements: list[Statement] = field(default_factory=list)

    def evaluate(self, action: str, resources: Iterable[str], context: dict) -> Decision:
        """Every one of ``resources`` must be allowed (an action authorized against several
        resource types, such as Aurora's FailoverGlobalCluster, needs each)."""
        for resource in resources:
            allowed = False
            for statement in self.statements:
                if not statement.applies(action, resource, context):
                    continue
                if statement.effect == "Deny":
                    return Decision(False, resource, True, statement.sid)
                allowed = True
            if not allowed:
                return Decision(False, resource, False)
        return Decision(True)


def compile_policies(documents: Iterable[dict], where: str = "policy") -> CompiledPolicies:
    statements = []
    for d, document in enumerate(documents):
        body = document.get("Statement", [])
        for s, statement in enumerate(body if isinstance(body, list) else [body]):
            statements.append(compile_statement(statement, f"{where}[{d}].Statement[{s}]"))
    return CompiledPolicies(statements)


def principal_matches(principal: Any, caller_arn: str, caller_account: str, service: str | None) -> bool:
    """A trust policy's ``Principal``: ``"*"``, ``{"AWS": ...}`` (an account id, ``...:root`` for
    the whole account, or a role/user ARN) or ``{"Service": ...}``
    ("AWS JSON policy elements: Principal",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html)."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for value in _as_list(principal.get("AWS")):
        if value == "*" or value in (caller_account, f"arn:aws:iam::{caller_account}:root"):
            return True
        if value == caller_arn:
            return True
    return service is not None and service in _as_list(principal.get("Service"))


def fnmatch_arn(pattern: str, value: str) -> bool:
    """For callers that hold one pattern: IAM's wildcard match of ``value``."""
    return bool(_glob(pattern, False).match(value)) if any(c in pattern for c in "*?") else pattern == value


__all__ = [
    "PolicyError",
    "Decision",
    "CompiledPolicies",
    "compile_policies",
    "compile_statement",
    "principal_matches",
    "fnmatch_arn",
]
