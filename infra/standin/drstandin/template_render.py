"""CloudFormation templates rendered as a stack would be: parameters, conditions, intrinsic functions.

What the stand-in needs it for: IAM (``drstandin.iam``) authorizes each function and state machine
against the policies ``infra/template.yaml`` gives its role, with the drill's parameters, and the
vault account's role against ``infra/vault-account-role.yaml``. So this renders those templates
the way CloudFormation would, and no further than IAM needs: the roles (inline policies and trust
policies) and which role each function and state machine runs as.

Followed pages:

* "Intrinsic function reference"
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference.html):
  ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` (both forms; ``${!Literal}`` stays ``${Literal}``),
  ``Fn::Join``, ``Fn::Split``, ``Fn::Select``, ``Fn::If``, ``Fn::Equals``, ``Fn::And``,
  ``Fn::Or``, ``Fn::Not``, ``Condition``; the YAML short forms (``!Ref``...) are the same.
* "Pseudo parameters reference"
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/pseudo-parameter-reference.html):
  ``AWS::Region``, ``AWS::AccountId``, ``AWS::Partition``, ``AWS::StackName``, ``AWS::URLSuffix``,
  ``AWS::NoValue`` (removes the property or list item it stands for).
* "Conditions syntax" (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/conditions-section-structure.html):
  a resource whose ``Condition`` is false does not exist.
* Parameters: a value not given takes the ``Default``; ``CommaDelimitedList`` and ``List<...>``
  values are lists (a given string is split at commas).
* What ``Ref`` and ``Fn::GetAtt ... .Arn`` answer per resource type is each type's "Return
  values" section of its CloudFormation page (``AWS::IAM::Role``: the name; ``AWS::SNS::Topic``:
  the ARN; ``AWS::S3::Bucket``: the name; ``AWS::Lambda::Function``: the name;
  ``AWS::StepFunctions::StateMachine``: the ARN; ``AWS::KMS::Key``: the key id;
  ``AWS::Logs::LogGroup``: the name, its ``Arn`` ending ``:*``; ``AWS::SQS::Queue``: the URL).
  SAM's ``AWS::Serverless::Function`` and ``AWS::Serverless::StateMachine`` answer as the
  resources they become.

A resource whose name CloudFormation generates (no ``RoleName``, ``BucketName``...) gets the
physical name the caller passes in ``physical_names``, else ``<stack>-<LogicalId>``. An
intrinsic function this module does not know fails loudly (``TemplateError``), never renders as
something else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


# "IAM and AWS STS quotas" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html):
# a role's inline policies together hold at most 10,240 characters; IAM does not count white space.
MAX_ROLE_INLINE_POLICY_CHARACTERS = 10_240


def policy_characters(document: dict) -> int:
    """A policy's size as IAM counts it: its JSON without white space."""
    return len(re.sub(r"\s", "", json.dumps(document, separators=(",", ":"))))


class TemplateError(ValueError):
    """The template cannot be rendered: the message names the resource path and what is wrong."""


_NO_VALUE = object()

# Type -> (name property, how Ref answers: "name" | "arn" | "id" | "url").
_NAMES = {
    "AWS::IAM::Role": ("RoleName", "name"),
    "AWS::Lambda::Function": ("FunctionName", "name"),
    "AWS::Serverless::Function": ("FunctionName", "name"),
    "AWS::SNS::Topic": ("TopicName", "arn"),
    "AWS::S3::Bucket": ("BucketName", "name"),
    "AWS::StepFunctions::StateMachine": ("StateMachineName", "arn"),
    "AWS::Serverless::StateMachine": ("Name", "arn"),
    "AWS::KMS::Key": (None, "id"),
    "AWS::KMS::Alias": ("AliasName", "name"),
    "AWS::Logs::LogGroup": ("LogGroupName", "name"),
    "AWS::SQS::Queue": ("QueueName", "url"),
    "AWS::Events::Rule": ("Name", "name"),
    "AWS::CloudWatch::Alarm": ("AlarmName", "name"),
}


def _arn(kind: str, name: str, partition: str, region: str, account: str) -> str:
    prefix = f"arn:{partition}"
    return {
        "AWS::IAM::Role": f"{prefix}:iam::{account}:role/{name}",
        "AWS::Lambda::Function": f"{prefix}:lambda:{region}:{account}:function:{name}",
        "AWS::Serverless::Function": f"{prefix}:lambda:{region}:{account}:function:{name}",
        "AWS::SNS::Topic": f"{prefix}:sns:{region}:{account}:{name}",
        "AWS::S3::Bucket": f"{prefix}:s3:::{name}",
        "AWS::StepFunctions::StateMachine": f"{prefix}:states:{region}:{account}:stateMachine:{name}",
        "AWS::Serverless::StateMachine": f"{prefix}:states:{region}:{account}:stateMachine:{name}",
        "AWS::KMS::Key": f"{prefix}:kms:{region}:{account}:key/{name}",
        "AWS::Logs::LogGroup": f"{prefix}:logs:{region}:{account}:log-group:{name}:*",
        "AWS::SQS::Queue": f"{prefix}:sqs:{region}:{account}:{name}",
        "AWS::Events::Rule": f"{prefix}:events:{region}:{account}:rule/{name}",
        "AWS::CloudWatch::Alarm": f"{prefix}:cloudwatch:{region}:{account}:alarm:{name}",
    }.get(kind, f"{prefix}:unknown:{region}:{account}:{name}")


# AWS managed policies the templates attach, as "AWS managed policy reference" shows them
# (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXRayDaemonWriteAccess.html).
MANAGED_POLICIES = {
    "AWSXRayDaemonWriteAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": ["*"],
            }
        ],
    }
}


def parse(text: str) -> dict:
    """A template's YAML, short-form intrinsics (``!Ref x``) read as their long form (``{"Ref": x}``)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "Condition":
            return {"Condition": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", intrinsic)
    return yaml.load(text, Loader=Loader)


@dataclass
class Role:
    """One ``AWS::IAM::Role`` as deployed: its name, ARN, inline policy documents and trust policy."""

    logical_id: str
    name: str
    arn: str
    policies: list[dict] = field(default_factory=list)
    trust: dict = field(default_factory=dict)


@dataclass
class Stack:
    """What IAM needs of a rendered template.

    ``roles``: logical id -> Role; ``runs_as``: the physical name of each function and state
    machine -> the ARN of the role it runs as; ``binaries``: function physical name -> the cargo
    binary its ``Metadata.BuildProperties.Binary`` builds.
    """

    roles: dict[str, Role]
    runs_as: dict[str, str]
    binaries: dict[str, str]
    account: str
    region: str
    partition: str

    def role_by_arn(self, arn: str) -> Role | None:
        for role in self.roles.values():
            if role.arn == arn:
                return role
        return None


class _Renderer:
    def __init__(
        self,
        template: dict,
        parameters: dict[str, Any],
        region: str,
        account: str,
        partition: str,
        stack_name: str,
        physical_names: dict[str, str],
    ):
        self.template = template
        self.region, self.account, self.partition = region, account, partition
        self.stack_name = stack_name
        self.physical_names = physical_names
        self.resources: dict[str, dict] = template.get("Resources") or {}
        self.parameters = self._parameters(parameters)
        self._conditions: dict[str, bool] = {}
        self._condition_defs: dict[str, Any] = template.get("Conditions") or {}

    def _parameters(self, given: dict[str, Any]) -> dict[str, Any]:
        declared = self.template.get("Parameters") or {}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise TemplateError(f"parameter(s) {unknown} are not declared by the template")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in given:
                value = given[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no value and no Default")
            kind = str(spec.get("Type", "String"))
            if kind == "CommaDelimitedList" or kind.startswith("List<"):
                if isinstance(value, str):
                    value = [item.strip() for item in value.split(",")] if value != "" else []
                value = [str(item) for item in value]
            elif not isinstance(value, str):
                value = str(value).lower() if isinstance(value, bool) else str(value)
            values[name] = value
        return values

    # ---- conditions

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self._condition_defs:
                raise TemplateError(f"condition {name} is not defined")
            self._conditions[name] = bool(self.value(self._condition_defs[name], f"Conditions.{name}"))
        return self._conditions[name]

    def exists(self, logical_id: str) -> bool:
        resource = self.resources.get(logical_id)
        if resource is None:
            return False
        condition = resource.get("Condition")
        return condition is None or self.condition(condition)

    # ---- physical names

    def physical_name(self, logical_id: str) -> str:
        if logical_id in self.physical_names:
            return self.physical_names[logical_id]
        resource = self.resources[logical_id]
        kind = resource.get("Type", "")
        name_property = _NAMES.get(kind, (None, "name"))[0]
        properties = resource.get("Properties") or {}
        if name_property and properties.get(name_property) is not None:
            return str(self.value(properties[name_property], f"{logical_id}.{name_property}"))
        if kind == "AWS::KMS::Key":
            import uuid

            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack_name}/{logical_id}"))
        return f"{self.stack_name}-{logical_id}"

    def resource_arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id].get("Type", "")
        return _arn(kind, self.physical_name(logical_id), self.partition, self.region, self.account)

    def ref(self, name: str, where: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": _NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            kind = self.resources[name].get("Type", "")
            answer = _NAMES.get(kind, (None, "name"))[1]
            if answer == "arn":
                return self.resource_arn(name)
            if answer == "url":
                return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.physical_name(name)}"
            return self.physical_name(name)
        raise TemplateError(f"{where}: Ref to {name!r}, which is no parameter, pseudo parameter or resource")

    def get_att(self, logical_id: str, attribute: str, where: str) -> Any:
        if logical_id not in self.resources:
            raise TemplateError(f"{where}: Fn::GetAtt of unknown resource {logical_id!r}")
        if attribute == "Arn":
            return self.resource_arn(logical_id)
        if attribute in ("Name", "RoleId", "KeyId", "QueueName", "TopicName"):
            return self.physical_name(logical_id)
        raise TemplateError(f"{where}: Fn::GetAtt {logical_id}.{attribute} is not modelled")

    # ---- values

    def value(self, node: Any, where: str) -> Any:
        if isinstance(node, list):
            out = [self.value(item, f"{where}[{i}]") for i, item in enumerate(node)]
            return [item for item in out if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg, where)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self.function(key, arg, where)
        out = {}
        for key, item in node.items():
            rendered = self.value(item, f"{where}.{key}")
            if rendered is not _NO_VALUE:
                out[key] = rendered
        return out

    def function(self, key: str, arg: Any, where: str) -> Any:
        here = f"{where}.{key}"
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.value(when_true if self.condition(name) else when_false, here)
        if key == "Fn::Equals":
            left, right = (self.value(item, here) for item in arg)
            return str(left) == str(right) if not isinstance(left, list) else left == right
        if key == "Fn::And":
            return all(self.value(item, here) for item in arg)
        if key == "Fn::Or":
            return any(self.value(item, here) for item in arg)
        if key == "Fn::Not":
            return not self.value(arg[0], here)
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical_id, attribute, here)
        if key == "Fn::Join":
            delimiter, items = arg
            items = self.value(items, here)
            if not isinstance(items, list):
                raise TemplateError(f"{here}: Fn::Join needs a list, got {items!r}")
            return str(delimiter).join(str(item) for item in items)
        if key == "Fn::Split":
            delimiter, text = arg
            text = self.value(text, here)
            return str(text).split(str(delimiter))
        if key == "Fn::Select":
            index, items = arg
            index, items = int(self.value(index, here)), self.value(items, here)
            if not isinstance(items, list) or not 0 <= index < len(items):
                raise TemplateError(f"{here}: Fn::Select index {index} outside {items!r}")
            return items[index]
        if key == "Fn::Sub":
            if isinstance(arg, list):
                text, variables = arg
                variables = {name: self.value(v, f"{here}.{name}") for name, v in variables.items()}
            else:
                text, variables = arg, {}
            return self.sub(str(text), variables, here)
        raise TemplateError(f"{here}: intrinsic function {key} is not modelled")

    def sub(self, text: str, variables: dict[str, Any], where: str) -> str:
        def replace(match: re.Match) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                value = variables[inner]
            elif "." in inner and inner.split(".", 1)[0] in self.resources:
                value = self.get_att(*inner.split(".", 1), where)
            else:
                value = self.ref(inner, where)
            if isinstance(value, list) or value is _NO_VALUE:
                raise TemplateError(f"{where}: ${{{inner}}} is not a string")
            return str(value)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def render(
    path: Path | str,
    parameters: dict[str, Any],
    region: str,
    account: str,
    partition: str = "aws",
    stack_name: str | None = None,
    physical_names: dict[str, str] | None = None,
) -> Stack:
    """The roles of the template at ``path``, with ``parameters``, deployed in ``region`` of ``account``.

    Raises ``TemplateError`` for an undeclared parameter, a parameter with no value, or an
    intrinsic function, condition or reference it cannot resolve.
    """
    template = parse(Path(path).read_text())
    renderer = _Renderer(
        template,
        parameters,
        region,
        account,
        partition,
        stack_name or str(parameters.get("DeploymentName", "stack")),
        physical_names or {},
    )
    roles: dict[str, Role] = {}
    for logical_id, resource in renderer.resources.items():
        if resource.get("Type") != "AWS::IAM::Role" or not renderer.exists(logical_id):
            continue
        properties = renderer.value(resource.get("Properties") or {}, f"Resources.{logical_id}.Properties")
        policies = [p["PolicyDocument"] for p in properties.get("Policies") or []]
        for managed in properties.get("ManagedPolicyArns") or []:
            name = str(managed).rsplit("/", 1)[-1]
            if name not in MANAGED_POLICIES:
                raise TemplateError(f"Resources.{logical_id}: managed policy {managed} is not modelled")
            policies.append(MANAGED_POLICIES[name])
        roles[logical_id] = Role(
            logical_id=logical_id,
            name=renderer.physical_name(logical_id),
            arn=renderer.resource_arn(logical_id),
            policies=policies,
            trust=properties.get("AssumeRolePolicyDocument") or {},
        )
    for logical_id, resource in renderer.resources.items():
        if resource.get("Type") not in ("AWS::IAM::Policy",) or not renderer.exists(logical_id):
            continue
        properties = renderer.value(resource.get("Properties") or {}, f"Resources.{logical_id}.Properties")
        for role_name in properties.get("Roles") or []:
            for role in roles.values():
                if role.name == role_name:
                    role.policies.append(properties["PolicyDocument"])
    for role in roles.values():
        inline = [p for p in role.policies if not any(p is m for m in MANAGED_POLICIES.values())]
        size = sum(policy_characters(p) for p in inline)
        if size > MAX_ROLE_INLINE_POLICY_CHARACTERS:
            raise TemplateError(
                f"Resources.{role.logical_id}: its inline policies are {size} characters; IAM allows "
                f"{MAX_ROLE_INLINE_POLICY_CHARACTERS} for a role's inline policies together, and would "
                "refuse the stack (LimitExceeded)"
            )
    runs_as: dict[str, str] = {}
    binaries: dict[str, str] = {}
    for logical_id, resource in renderer.resources.items():
        kind = resource.get("Type")
        if kind not in (
            "AWS::Serverless::Function",
            "AWS::Lambda::Function",
            "AWS::Serverless::StateMachine",
            "AWS::StepFunctions::StateMachine",
        ) or not renderer.exists(logical_id):
            continue
        where = f"Resources.{logical_id}.Properties"
        properties = resource.get("Properties") or {}
        if "Policies" in properties:
            raise TemplateError(f"{where}.Policies: SAM policy templates are not modelled; use Role")
        key = "RoleArn" if kind == "AWS::StepFunctions::StateMachine" else "Role"
        role_arn = renderer.value(properties.get(key), f"{where}.{key}")
        name = renderer.physical_name(logical_id)
        runs_as[name] = str(role_arn)
        binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if binary:
            binaries[name] = str(binary)
    return Stack(roles, runs_as, binaries, account, region, partition)
