"""EventBridge: Step Functions targets, faithful cross-region bus forwarding, and an emit helper.

What moto 5.2.5 does: matches rule patterns on ``PutEvents`` and delivers to CloudWatch Logs,
SQS, archives, API destinations and other event buses; applies ``InputTransformer`` (loosely).

What it lacks, and the AWS behaviour followed here (a wrapper around ``Rule.send_to_targets``,
which every delivery path goes through; moto's own code still handles its own target kinds):

* **Step Functions targets** (``arn:aws:states:REGION:ACCOUNT:stateMachine:NAME``): moto raises
  ``NotImplementedError``. We start an execution (UUID name) in that machine's region and account
  with the target's input: the whole event (AWS's event JSON, ``time`` as ISO 8601), or ``Input``
  (constant JSON text, used verbatim), or ``InputPath`` (a JSONPath into the event), or
  ``InputTransformer`` (see ``apply_input_transformer``). A failed start (machine missing,
  input not JSON) is dropped, as a failed invocation is on AWS.
* **Event bus targets** (``arn:aws:events:REGION:ACCOUNT:event-bus/NAME``): moto re-puts only
  source, detail-type and detail, so the receiving bus sees a new id, time, region, account and
  no ``resources``, and applies the input transformer first. AWS forwards the event itself; rules
  on the receiving bus see the original ``id``, ``time``, ``region``, ``account`` and
  ``resources``. We forward that way (at most 5 hops, to stop loops).
* **Lambda targets**: moto raises ``NotImplementedError`` (the caller's ``PutEvents`` or
  ``SetAlarmState`` then fails with a 500). We invoke the function asynchronously
  (``InvocationType=Event``, so through ``lambda_forward`` when it is on) with the target's input.
* **SNS topic targets**: moto raises ``NotImplementedError``. "Amazon EventBridge targets"
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html) lists SNS topics,
  and "Amazon EventBridge input transformation"
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html) says
  the transformed input is what is sent to the target instead of the event. We publish the
  target's input (the event JSON, ``Input``, ``InputPath`` or the transformed text) as the
  message, without a subject, to the topic in its own region and account.
* **Delivery failures**: an error delivering to one target (moto's unsupported kinds included) is
  logged and skipped; on AWS it never fails ``PutEvents`` nor stops the other targets.
* **Disabled rules** and **schedule-only rules** (no event pattern) match every event in moto;
  on AWS they match none. They are skipped.

``emit(account, region, source, detail_type, detail, resources, bus)`` puts an AWS-service event
(``aws.cloudwatch`` ...) on a bus, exactly as AWS would deliver it; ``cloudwatch`` uses it.

``InputTransformer`` rules followed (AWS "Amazon EventBridge input transformation"): each
``InputPathsMap`` variable is a JSONPath into the event (dot notation, ``[n]`` indices, ``*``);
predefined ``aws.events.rule-arn``, ``aws.events.rule-name``, ``aws.events.event.ingestion-time``,
``aws.events.event`` (the event without ``detail``) and ``aws.events.event.json`` (the whole event).
If the template is JSON (starts with ``{``, ``[`` or ``"``), a placeholder inside a JSON string
gets the value's text (strings unquoted and JSON-escaped, anything else as JSON text), and a
placeholder outside a string gets the value as JSON (strings quoted). A path that matches nothing
gives ``null`` (outside a string) or empty text (inside one). Otherwise the template is plain
text and values are inserted as text.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import re
import threading
import uuid
from typing import Any

LOG = logging.getLogger("drstandin.events")
MAX_HOPS = 5
EVENT_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")

_depth = threading.local()


# ---------------------------------------------------------------------------------------------
# Event shape


def _iso(value: Any) -> Any:
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(float(value), tz=datetime.timezone.utc)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def aws_event(event: dict) -> dict:
    """moto's internal event message -> the JSON a target receives."""
    out = {
        key: copy.deepcopy(event[key])
        for key in EVENT_FIELDS
        if key in event
    }
    if "replay-name" in event:
        out["replay-name"] = event["replay-name"]
    out["time"] = _iso(out.get("time"))
    return out


# ---------------------------------------------------------------------------------------------
# JSONPath (the subset EventBridge supports)

_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[\*\]|\.\*")


def json_path(document: Any, path: str) -> tuple[bool, Any]:
    """(found, value). ``$``, ``.key`` (dashes allowed), ``[n]``, ``[*]``/``.*`` (list result)."""
    path = path.strip()
    if not path.startswith("$"):
        return False, None
    values = [document]
    position = 1
    wildcard = False
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match:
            return False, None
        position = match.end()
        next_values = []
        for value in values:
            if match.group(1) is not None:
                if isinstance(value, dict) and match.group(1) in value:
                    next_values.append(value[match.group(1)])
            elif match.group(2) is not None:
                index = int(match.group(2))
                if isinstance(value, list) and index < len(value):
                    next_values.append(value[index])
            else:
                wildcard = True
                if isinstance(value, dict):
                    next_values.extend(value.values())
                elif isinstance(value, list):
                    next_values.extend(value)
        values = next_values
    if wildcard:
        return True, values
    if not values:
        return False, None
    return True, values[0]


# ---------------------------------------------------------------------------------------------
# Input for a target


def apply_input_transformer(transformer: dict, event: dict, rule: Any) -> str:
    """Apply an InputTransformer to the (AWS-shaped) event; returns the target input text."""
    template = transformer.get("InputTemplate", "")
    variables: dict[str, tuple[bool, Any]] = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        variables[name] = json_path(event, path)
    event_without_detail = {k: v for k, v in event.items() if k != "detail"}
    variables.update(
        {
            "aws.events.rule-arn": (True, rule.arn),
            "aws.events.rule-name": (True, rule.name),
            "aws.events.event.ingestion-time": (True, _iso(datetime.datetime.now(datetime.timezone.utc))),
            "aws.events.event": (True, event_without_detail),
            "aws.events.event.json": (True, event),
        }
    )
    json_mode = template.lstrip()[:1] in ("{", "[", '"')

    def as_text(found: bool, value: Any) -> str:
        if not found or value is None:
            return "" if found is False else "null"
        if isinstance(value, str):
            return value
        return json.dumps(value)

    out = []
    in_string = False
    position = 0
    placeholder = re.compile(r"<([^<>\s]+)>")
    while position < len(template):
        char = template[position]
        if char == "<":
            match = placeholder.match(template, position)
            if match and match.group(1) in variables:
                found, value = variables[match.group(1)]
                if not json_mode:
                    out.append(as_text(found, value))
                elif in_string:
                    out.append(json.dumps(as_text(found, value))[1:-1])
                else:
                    out.append(json.dumps(value if found else None))
                position = match.end()
                continue
        if json_mode and char == "\\" and in_string:
            out.append(template[position : position + 2])
            position += 2
            continue
        if json_mode and char == '"':
            in_string = not in_string
        out.append(char)
        position += 1
    return "".join(out)


def target_input(target: dict, event: dict, rule: Any) -> str:
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        found, value = json_path(event, target["InputPath"])
        return json.dumps(value if found else None)
    if target.get("InputTransformer"):
        return apply_input_transformer(target["InputTransformer"], event, rule)
    return json.dumps(event)


# ---------------------------------------------------------------------------------------------
# Delivery


def _start_execution(target: dict, event: dict, rule: Any) -> None:
    from moto.stepfunctions.responses import get_backend
    from moto.utilities.arns import parse_arn

    arn = parse_arn(target["Arn"])
    try:
        execution_input = target_input(target, event, rule)
        json.loads(execution_input)
        get_backend(arn.account, arn.region).start_execution(
            target["Arn"], str(uuid.uuid4()), execution_input
        )
    except Exception as err:  # AWS counts it as a failed invocation; nothing reaches the caller
        LOG.warning("rule %s: could not start %s: %s", rule.arn, target["Arn"], err)


def _invoke_function(target: dict, event: dict, rule: Any) -> None:
    """EventBridge invokes Lambda asynchronously (InvocationType=Event)."""
    from moto.awslambda.utils import get_backend
    from moto.utilities.arns import parse_arn

    arn = parse_arn(target["Arn"])
    try:
        payload = target_input(target, event, rule)
        function = get_backend(arn.account, arn.region).get_function(target["Arn"])
        function.invoke(payload, {"X-Amz-Invocation-Type": "Event"}, {})
    except Exception as err:
        LOG.warning("rule %s: could not invoke %s: %s", rule.arn, target["Arn"], err)


def _publish_to_topic(target: dict, event: dict, rule: Any) -> None:
    from moto.sns.models import sns_backends
    from moto.utilities.arns import parse_arn

    arn = parse_arn(target["Arn"])
    try:
        message = target_input(target, event, rule)
        sns_backends[arn.account][arn.region].publish(message=message, arn=target["Arn"])
    except Exception as err:
        LOG.warning("rule %s: could not publish to %s: %s", rule.arn, target["Arn"], err)


def deliver(account: str, region: str, bus_name: str, event: dict) -> None:
    """Deliver an internal event message to every rule of a bus (any region, any account)."""
    from moto.events.models import events_backends

    depth = getattr(_depth, "value", 0)
    if depth >= MAX_HOPS:
        LOG.warning("event %s: more than %d bus hops, dropped", event.get("id"), MAX_HOPS)
        return
    try:
        bus = events_backends[account][region].describe_event_bus(bus_name)
    except Exception as err:
        LOG.warning("event %s: no bus %s in %s/%s: %s", event.get("id"), bus_name, account, region, err)
        return
    _depth.value = depth + 1
    try:
        for rule in list(bus.rules.values()):
            rule.send_to_targets(copy.deepcopy(event))
    finally:
        _depth.value = depth


def emit(
    account: str,
    region: str,
    source: str,
    detail_type: str,
    detail: dict,
    resources: list[str] | None = None,
    bus: str = "default",
    time: datetime.datetime | None = None,
) -> dict:
    """Put an AWS-service event on a bus as AWS delivers it; returns the internal message."""
    from moto.core.utils import unix_time

    when = time or datetime.datetime.now(datetime.timezone.utc)
    if isinstance(when, datetime.datetime) and when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)  # moto keeps naive UTC datetimes
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": when.timestamp() if isinstance(when, datetime.datetime) else float(when),
        "region": region,
        "resources": list(resources or []),
        "detail": detail,
        "ingestion-time": unix_time(),
    }
    deliver(account, region, bus, event)
    return event


def install(settings: Any) -> None:
    from moto.events.models import Rule
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets
    if getattr(original, "_drstandin", False):
        return

    def send_to_targets(self: Any, original_event: dict, transform_input: bool = True) -> None:
        if self.state == "DISABLED" or not self.event_pattern._pattern:
            return
        if not self.event_pattern.matches_event(original_event):
            return
        for target in list(self.targets):
            arn = parse_arn(target["Arn"])
            if arn.service == "states":
                _start_execution(target, aws_event(original_event), self)
            elif arn.service == "lambda":
                _invoke_function(target, aws_event(original_event), self)
            elif arn.service == "sns":
                _publish_to_topic(target, aws_event(original_event), self)
            elif arn.service == "events" and arn.resource_type == "event-bus":
                deliver(arn.account, arn.region, arn.resource_id, copy.deepcopy(original_event))
            else:
                # moto's own target kinds, one at a time: a failed delivery never fails the put.
                single = copy.copy(self)
                single.targets = [target]
                try:
                    original(single, original_event, transform_input)
                except Exception as err:
                    LOG.warning("rule %s: could not deliver to %s: %s", self.arn, target["Arn"], err)

    send_to_targets._drstandin = True  # type: ignore[attr-defined]
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]
