"""What IAM authorizes for one HTTP request: the action, the resource ARNs and the condition context.

The action is ``<service prefix>:<operation>`` (Lambda's ``Invoke`` is ``lambda:InvokeFunction``;
S3's reads and lists are ``s3:GetObject``/``s3:ListBucket``); the resources and context keys are
those the "Actions, resources, and condition keys" page of each service lists for the operation
(Service Authorization Reference,
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html),
built from the request as AWS builds them:

* RDS (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html):
  ``db:<id>``, ``cluster:<id>``, ``global-cluster:<id>`` (no region), ``pg:<name>``,
  ``cluster-pg:<name>``, from the request's identifiers (an identifier that is already an ARN, as a
  cross-region source is, is used as is); a Describe without an identifier is authorized against
  ``db:*`` / ``cluster:*`` / ``global-cluster:*``. ``FailoverGlobalCluster`` and
  ``SwitchoverGlobalCluster`` need the global cluster, the target cluster and the writer being
  demoted. ``og:<name>`` and ``subgrp:<name>`` for an option group or DB subnet group the request
  names. A create with ``Tags`` (``CreateDBInstance``, ``CreateDBInstanceReadReplica``,
  ``CreateDBCluster``) also needs ``rds:AddTagsToResource`` on the resource it creates: "If tags
  are specified in the create action, RDS performs additional authorization on the
  rds:AddTagsToResource action" ("Grant permission to tag Amazon RDS resources during creation",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/security_iam_id-based-policy-examples-grant-permissions-tags-on-create.html).
* EC2 Auto Scaling (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html):
  ``autoScalingGroup:<uuid>:autoScalingGroupName/<name>``; Describe operations support no
  resource-level permissions (``*``); ``UpdateAutoScalingGroup`` carries
  ``autoscaling:LaunchConfigurationName``, ``autoscaling:LaunchTemplateVersionSpecified``,
  ``autoscaling:InstanceTypes`` and ``autoscaling:VPCZoneIdentifiers`` when the request sets them;
  tag operations carry ``aws:TagKeys``.
* Route 53 (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonroute53.html
  and "Using IAM policy conditions for fine-grained access control",
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-conditions-route53.html):
  ``hostedzone/<id>``, ``change/<id>``, ``healthcheck/<id>``; ``ChangeResourceRecordSets`` carries
  ``route53:ChangeResourceRecordSetsNormalizedRecordNames`` (lowercase, no final dot, characters
  other than a-z, 0-9, ``-``, ``_`` and ``.`` as ``\\`` and a three-digit octal code),
  ``...RecordTypes`` and ``...Actions``. ``TestDNSAnswer`` and listings: ``*``.
* AWS Backup: ``backup-vault:<name>``; ``ListCopyJobs``: ``*``.
* CloudWatch: ``alarm:<name>`` for alarm operations (``DescribeAlarms`` without names:
  ``alarm:*``); metric operations: ``*``, ``PutMetricData`` with ``cloudwatch:namespace``.
* SNS ``Publish``: the topic ARN. S3: ``arn:aws:s3:::<bucket>/<key>`` for object operations,
  the bucket ARN otherwise. Step Functions: the state machine or execution ARN the request
  names. Lambda ``Invoke``: the function ARN (with ``:<qualifier>`` when given). EventBridge:
  ``rule/<name>`` (``rule/<bus>/<name>`` on another bus) or the ARN a tag operation names.
  STS ``AssumeRole``: the role ARN, with ``sts:ExternalId`` and ``sts:RoleSessionName``.

Every request carries ``aws:RequestedRegion`` (the SigV4 scope's region). An operation this
module has no resource rule for is authorized against ``*``: only a ``Resource: "*"`` grant
allows it, so a missing rule shows as a denial, never as a silent allow.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from drstandin import cbor
from drstandin.control import read_body
from drstandin.faults import Call, s3_operation

PREFIXES = {"monitoring": "cloudwatch", "states": "states", "events": "events", "email": "ses"}
ACTION_NAMES = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeAsync"): "InvokeFunction",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "HeadBucket"): "ListBucket",
}


@dataclass
class Authorization:
    """One request, as IAM sees it."""

    action: str
    resources: list[str]
    context: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    # Further (action, resources) the request needs authorized too, after ``action``.
    dependent: list[tuple[str, list[str]]] = field(default_factory=list)


def _params(call: Call, environ: dict, body: bytes) -> dict[str, Any]:
    if call.protocol == "query":
        merged = parse_qs(environ.get("QUERY_STRING", ""))
        if body:
            for key, values in parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True).items():
                merged.setdefault(key, []).extend(values)
        return {key: values[0] for key, values in merged.items()}
    if call.protocol == "cbor":
        try:
            decoded = cbor.decode(body) if body else {}
        except Exception:
            decoded = {}
        return decoded if isinstance(decoded, dict) else {}
    if call.protocol in ("json", "rest-json"):
        try:
            decoded = json.loads(body or b"{}")
        except ValueError:
            decoded = {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


def _members(params: dict, prefix: str) -> list[str]:
    """Query protocol lists: ``Prefix.member.1``, ``Prefix.member.2``... in order."""
    found = []
    pattern = re.compile(rf"^{re.escape(prefix)}\.member\.(\d+)$")
    for key, value in params.items():
        match = pattern.match(key)
        if match:
            found.append((int(match.group(1)), value))
    return [value for _, value in sorted(found)]


def normalized_record_name(name: str) -> str:
    """Route 53's normalized form of a record name, as its IAM condition keys carry it."""
    name = name.lower()
    if name.endswith("."):
        name = name[:-1]
    out = []
    for char in name:
        if char.isascii() and (char.isalnum() or char in "-_."):
            out.append(char)
        else:
            out.append("\\" + format(ord(char), "03o"))
    return "".join(out)


def _route53_changes(body: bytes) -> tuple[list[str], list[str], list[str]]:
    names, types, actions = [], [], []
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return names, types, actions
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag != "Change":
            continue
        action = rrset_name = rrset_type = None
        for child in element:
            child_tag = child.tag.rsplit("}", 1)[-1]
            if child_tag == "Action":
                action = (child.text or "").strip()
            elif child_tag == "ResourceRecordSet":
                for part in child:
                    part_tag = part.tag.rsplit("}", 1)[-1]
                    if part_tag == "Name":
                        rrset_name = (part.text or "").strip()
                    elif part_tag == "Type":
                        rrset_type = (part.text or "").strip()
        if action:
            actions.append(action)
        if rrset_name is not None:
            # Route 53 reads the name's escape codes (\052 is "*") before normalizing it again.
            unescaped = re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1), 8)), rrset_name)
            names.append(normalized_record_name(unescaped))
        if rrset_type:
            types.append(rrset_type)
    return sorted(set(names)), sorted(set(types)), sorted(set(actions))


class _Arns:
    def __init__(self, partition: str, region: str, account: str):
        self.p, self.region, self.account = partition, region, account

    def rds(self, kind: str, ident: str) -> str:
        if ident.startswith("arn:"):
            return ident
        region = "" if kind == "global-cluster" else self.region
        return f"arn:{self.p}:rds:{region}:{self.account}:{kind}:{ident}"


def _rds(op: str, params: dict, arns: _Arns) -> list[str]:
    if op == "DescribeAccountAttributes":
        return ["*"]
    resources = []
    fields = {
        "DBInstanceIdentifier": "db",
        "SourceDBInstanceIdentifier": "db",
        "NewDBInstanceIdentifier": "db",
        "DBClusterIdentifier": "cluster",
        "TargetDbClusterIdentifier": "cluster",
        "GlobalClusterIdentifier": "global-cluster",
        "DBParameterGroupName": "pg",
        "DBClusterParameterGroupName": "cluster-pg",
        "DBSubnetGroupName": "subgrp",
        "OptionGroupName": "og",
    }
    for name, kind in fields.items():
        value = params.get(name)
        if value:
            resources.append(arns.rds(kind, str(value)))
    if op in ("FailoverGlobalCluster", "SwitchoverGlobalCluster"):
        writer = _global_writer(str(params.get("GlobalClusterIdentifier", "")))
        if writer:
            resources.append(writer)
    if not resources:
        kind = {"DescribeDBInstances": "db", "DescribeDBClusters": "cluster", "DescribeGlobalClusters": "global-cluster"}.get(op)
        resources = [arns.rds(kind, "*")] if kind else ["*"]
    return resources


# RDS creates that take Tags, and the kind of what each creates.
_TAGGED_CREATES = {"CreateDBInstance": ("db", "DBInstanceIdentifier"),
                   "CreateDBInstanceReadReplica": ("db", "DBInstanceIdentifier"),
                   "CreateDBCluster": ("cluster", "DBClusterIdentifier")}


def _rds_dependent(op: str, params: dict, arns: _Arns) -> list[tuple[str, list[str]]]:
    created = _TAGGED_CREATES.get(op)
    if created is None or not any(key.startswith("Tags.") for key in params):
        return []
    kind, name = created
    return [("rds:AddTagsToResource", [arns.rds(kind, str(params.get(name, "*")))])]


def _global_writer(global_id: str) -> str | None:
    """The ARN of the global cluster's current writer, from moto's state (every region)."""
    try:
        from moto.rds.models import rds_backends

        for account_backends in dict.values(rds_backends):
            for backend in dict.values(account_backends):
                cluster = getattr(backend, "global_clusters", {}).get(global_id)
                if cluster is None:
                    continue
                for member in getattr(cluster, "members", []):
                    if getattr(member, "is_writer", False) or getattr(member, "writer", False):
                        return getattr(member, "db_cluster_arn", None) or getattr(member, "arn", None)
    except Exception:
        return None
    return None


def _asg_arn(arns: _Arns, name: str) -> str:
    group_id = "00000000-0000-0000-0000-000000000000"
    try:
        from moto.autoscaling.models import autoscaling_backends

        # Only backends that exist: looking one up would create it (and its EC2 backend).
        accounts = dict.get(autoscaling_backends, arns.account)
        backend = dict.get(accounts, arns.region) if accounts is not None else None
        group = backend.autoscaling_groups.get(name) if backend is not None else None
        if group is not None and getattr(group, "arn", None):
            return group.arn
    except Exception:
        pass
    return f"arn:{arns.p}:autoscaling:{arns.region}:{arns.account}:autoScalingGroup:{group_id}:autoScalingGroupName/{name}"


def _autoscaling(op: str, params: dict, arns: _Arns, context: dict) -> list[str]:
    if op.startswith("Describe"):
        return ["*"]
    if op in ("CreateOrUpdateTags", "DeleteTags"):
        groups, keys = [], []
        index = 1
        while f"Tags.member.{index}.Key" in params or f"Tags.member.{index}.ResourceId" in params:
            resource_id = params.get(f"Tags.member.{index}.ResourceId")
            if resource_id and resource_id not in groups:
                groups.append(resource_id)
            if f"Tags.member.{index}.Key" in params:
                keys.append(params[f"Tags.member.{index}.Key"])
            index += 1
        context["aws:TagKeys"] = sorted(set(keys))
        return [_asg_arn(arns, name) for name in groups] or ["*"]
    name = params.get("AutoScalingGroupName")
    if op == "UpdateAutoScalingGroup":
        if params.get("LaunchConfigurationName"):
            context["autoscaling:LaunchConfigurationName"] = params["LaunchConfigurationName"]
        if any(k.startswith("LaunchTemplate.Version") or re.search(r"LaunchTemplateSpecification\.Version$", k) for k in params):
            context["autoscaling:LaunchTemplateVersionSpecified"] = "true"
        types = [v for k, v in params.items() if k.endswith(".InstanceType")]
        if types:
            context["autoscaling:InstanceTypes"] = types
        if params.get("VPCZoneIdentifier"):
            context["autoscaling:VPCZoneIdentifiers"] = [s.strip() for s in params["VPCZoneIdentifier"].split(",")]
    return [_asg_arn(arns, name)] if name else ["*"]


def _route53(op: str, path: str, body: bytes, arns: _Arns, context: dict) -> list[str]:
    zone = re.search(r"/hostedzone/([^/]+)", path)
    if op == "ChangeResourceRecordSets":
        names, types, actions = _route53_changes(body)
        context["route53:ChangeResourceRecordSetsNormalizedRecordNames"] = names
        context["route53:ChangeResourceRecordSetsRecordTypes"] = types
        context["route53:ChangeResourceRecordSetsActions"] = actions
    if op == "GetChange":
        change = re.search(r"/change/([^/]+)", path)
        return [f"arn:{arns.p}:route53:::change/{change.group(1) if change else '*'}"]
    if op and "HealthCheck" in op and op not in ("ListHealthChecks", "CreateHealthCheck"):
        check = re.search(r"/healthcheck/([^/]+)", path)
        return [f"arn:{arns.p}:route53:::healthcheck/{check.group(1) if check else '*'}"]
    if zone and op not in ("TestDNSAnswer",):
        return [f"arn:{arns.p}:route53:::hostedzone/{zone.group(1)}"]
    return ["*"]


def _cloudwatch(op: str, params: dict, arns: _Arns, context: dict) -> list[str]:
    alarm = f"arn:{arns.p}:cloudwatch:{arns.region}:{arns.account}:alarm:"
    if op == "PutMetricData" and params.get("Namespace"):
        context["cloudwatch:namespace"] = params["Namespace"]
    if op in ("DescribeAlarms", "DeleteAlarms"):
        names = params.get("AlarmNames")
        if not isinstance(names, list):
            names = _members(params, "AlarmNames")
        return [alarm + n for n in names] or [alarm + "*"]
    if op in ("SetAlarmState", "PutMetricAlarm", "DescribeAlarmHistory", "EnableAlarmActions", "DisableAlarmActions"):
        name = params.get("AlarmName")
        return [alarm + name] if name else [alarm + "*"]
    return ["*"]


def _backup(op: str, path: str, arns: _Arns) -> list[str]:
    vault = re.match(r"^/backup-vaults/([^/]+)", path)
    if vault:
        return [f"arn:{arns.p}:backup:{arns.region}:{arns.account}:backup-vault:{unquote(vault.group(1))}"]
    return ["*"]


def _s3(op: str, environ: dict, path: str) -> list[str]:
    host = environ.get("HTTP_HOST", "").split(":")[0]
    bucket, key = None, ""
    if host.endswith(".amazonaws.com") and host.split(".")[0] not in ("s3",) and ".s3" in host:
        bucket = host.split(".s3", 1)[0]
        key = path.lstrip("/")
    else:
        parts = path.lstrip("/").split("/", 1)
        bucket = parts[0] or None
        key = parts[1] if len(parts) > 1 else ""
    if not bucket:
        return ["*"]
    if op and "Object" in op and key:
        return [f"arn:aws:s3:::{bucket}/{unquote(key)}"]
    return [f"arn:aws:s3:::{bucket}"]


def _states(op: str, params: dict) -> list[str]:
    for name in ("executionArn", "stateMachineArn", "mapRunArn", "activityArn"):
        if params.get(name):
            return [str(params[name])]
    return ["*"]


def _lambda(op: str, path: str, environ: dict, arns: _Arns) -> list[str]:
    match = re.search(r"/functions/([^/]+)", path)
    if not match:
        return ["*"]
    name = unquote(match.group(1))
    qualifier = parse_qs(environ.get("QUERY_STRING", "")).get("Qualifier", [None])[0]
    if name.startswith("arn:"):
        arn = name
    elif ":" in name:  # account:function:name short forms are not used here; name:qualifier is
        base, _, qualifier = name.partition(":")
        arn = f"arn:{arns.p}:lambda:{arns.region}:{arns.account}:function:{base}"
    else:
        arn = f"arn:{arns.p}:lambda:{arns.region}:{arns.account}:function:{name}"
    return [f"{arn}:{qualifier}" if qualifier and arn.count(":") == 6 else arn]


def _events(op: str, params: dict, arns: _Arns, context: dict) -> list[str]:
    if params.get("ResourceARN"):
        if op == "TagResource":
            context["aws:TagKeys"] = sorted({t.get("Key") for t in params.get("Tags") or [] if isinstance(t, dict)})
        elif op == "UntagResource":
            context["aws:TagKeys"] = sorted(params.get("TagKeys") or [])
        return [str(params["ResourceARN"])]
    name = params.get("Name") or params.get("Rule")
    if name:
        bus = params.get("EventBusName")
        rule = f"rule/{bus}/{name}" if bus and bus != "default" else f"rule/{name}"
        return [f"arn:{arns.p}:events:{arns.region}:{arns.account}:{rule}"]
    return ["*"]


def authorization(call: Call, environ: dict, account: str, partition: str = "aws") -> Authorization:
    """What ``call`` (recognised by ``drstandin.faults.identify``) asks IAM to authorize."""
    service = call.service
    op = (s3_operation(call.operation, environ) if service == "s3" else call.operation) or "Unknown"
    prefix = PREFIXES.get(service, service)
    action = f"{prefix}:{ACTION_NAMES.get((service, op), op)}"
    region = call.region or "us-east-1"
    arns = _Arns(partition, region, account)
    body = read_body(environ)
    params = _params(call, environ, body)
    path = environ.get("PATH_INFO", "")
    context: dict[str, Any] = {"aws:RequestedRegion": region}
    if service == "rds":
        resources = _rds(op, params, arns)
    elif service == "autoscaling":
        resources = _autoscaling(op, params, arns, context)
    elif service == "route53":
        resources = _route53(op, path, body, arns, context)
    elif service == "monitoring":
        resources = _cloudwatch(op, params, arns, context)
    elif service == "backup":
        resources = _backup(op, path, arns)
    elif service == "s3":
        resources = _s3(op, environ, path)
    elif service == "states":
        resources = _states(op, params)
    elif service == "lambda":
        resources = _lambda(op, path, environ, arns)
    elif service == "events":
        resources = _events(op, params, arns, context)
    elif service == "sns" and op == "Publish":
        resources = [params.get("TopicArn") or params.get("TargetArn") or "*"]
    elif service == "sts" and op == "AssumeRole":
        resources = [params.get("RoleArn", "*")]
        if params.get("ExternalId") is not None:
            context["sts:ExternalId"] = params["ExternalId"]
        if params.get("RoleSessionName") is not None:
            context["sts:RoleSessionName"] = params["RoleSessionName"]
    else:
        resources = ["*"]
    dependent = _rds_dependent(op, params, arns) if service == "rds" else []
    return Authorization(action, resources, context, params, dependent)
