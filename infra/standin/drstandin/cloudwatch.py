"""CloudWatch: alarm state changes emit "CloudWatch Alarm State Change" events to EventBridge.

What moto lacks: moto changes an alarm's state (``SetAlarmState``; every transition goes through
``Alarm.update_state``) but tells nobody. AWS sends an event to the default event bus of the
alarm's account and region whenever an alarm *changes* state. A ``SetAlarmState`` to the value
the alarm already has changes its reason but not its state, invokes no actions (SetAlarmState API
reference: actions run "when the updated state differs from the previous value") and, we take it,
emits no event: only a change of ``value`` emits.

Event shape (EventBridge user guide, "Alarm events and EventBridge")::

    {"version": "0", "id": "...", "source": "aws.cloudwatch",
     "detail-type": "CloudWatch Alarm State Change", "account": "...", "region": "...",
     "time": "2024-05-01T12:00:00Z", "resources": ["arn:aws:cloudwatch:...:alarm:NAME"],
     "detail": {"alarmName": "NAME",
                "state": {"value": "ALARM", "reason": "...", "reasonData": "{...}",
                          "timestamp": "2024-05-01T12:00:00.123+0000"},
                "previousState": {...same keys...},
                "configuration": {"description": "...", "metrics": [
                    {"id": "...", "metricStat": {"metric": {"namespace": "...", "name": "...",
                     "dimensions": {"Name": "Value"}}, "period": 60, "stat": "Average"},
                     "returnData": true}]}}}

``reasonData`` is present only when the state carries it. Metric-math alarms list their queries
(``expression``, ``label``); composite alarms give ``configuration.alarmRule``.

Third gap: ``DescribeAlarms`` answers ``StateTransitionedTimestamp``, "the date and time that the
alarm's StateValue most recently changed" (MetricAlarm and CompositeAlarm data types,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricAlarm.html), apart
from ``StateUpdatedTimestamp``, which a ``SetAlarmState`` to the same value (a new reason) moves
too. moto keeps only the latter; the stand-in sets the former when the alarm is created and at
each change of value, so "OK since when" reads as AWS answers it.

Delivery goes through ``drstandin.events.emit``, so rules, their targets and cross-region bus
forwarding apply as for any event. Note moto creates alarms in state ``OK`` (AWS:
``INSUFFICIENT_DATA``), so a new alarm's first change is from ``OK``.

Second gap: the AWS SDK for Rust speaks CloudWatch's Smithy RPCv2-CBOR protocol
(``POST /service/GraniteServiceVersion20100801/operation/<Op>``, CBOR bodies, header
``smithy-protocol: rpc-v2-cbor``); moto 5.2.5 serves only the JSON (and query) protocol, so every
Rust CloudWatch call (promote-replica's ``GetMetricStatistics``) would 404. A WSGI middleware
translates: CBOR request -> moto's JSON request (``X-Amz-Target``, tag-1 timestamps as epoch
seconds, blobs base64), and moto's JSON answer -> CBOR, typed by the botocore output shape
(timestamps as tag 1, doubles as floats, as the Rust decoder insists). Errors keep moto's
``x-amzn-query-error`` header, from which the SDK takes the (query) error code.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import io
import json
import re
import uuid
from typing import Any

from drstandin import cbor


def _timestamp(value: datetime.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def _state(value: str, reason: str | None, reason_data: str | None, when: datetime.datetime) -> dict:
    state: dict[str, Any] = {"value": value, "reason": reason or "", "timestamp": _timestamp(when)}
    if reason_data and reason_data != "{}":
        state["reasonData"] = reason_data
    return state


def _number(value: Any) -> Any:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if number.is_integer() else number


def _metric(namespace: Any, name: Any, dimensions: list) -> dict:
    return {
        "namespace": namespace,
        "name": name,
        "dimensions": {d.name: d.value for d in dimensions or []},
    }


def configuration(alarm: Any) -> dict:
    config: dict[str, Any] = {}
    if alarm.description:
        config["description"] = alarm.description
    if getattr(alarm, "rule", None):
        config["alarmRule"] = alarm.rule
        return config
    metrics = []
    if alarm.metric_data_queries:
        for query in alarm.metric_data_queries:
            item: dict[str, Any] = {"id": query.id}
            if query.expression:
                item["expression"] = query.expression
            if query.label:
                item["label"] = query.label
            if query.metric_stat is not None:
                stat = query.metric_stat
                item["metricStat"] = {
                    "metric": _metric(stat.metric.namespace, stat.metric.metric_name, stat.metric.dimensions),
                    "period": _number(stat.period),
                    "stat": stat.stat,
                }
                if stat.unit:
                    item["metricStat"]["unit"] = stat.unit
            item["returnData"] = query.return_data is None or str(query.return_data).lower() != "false"
            metrics.append(item)
    elif alarm.metric_name:
        # AWS gives a generated id for a single-metric alarm; ours is stable per alarm.
        metric_id = str(uuid.UUID(hashlib.sha1(alarm.alarm_arn.encode()).hexdigest()[:32]))
        metrics.append(
            {
                "id": metric_id,
                "metricStat": {
                    "metric": _metric(alarm.namespace, alarm.metric_name, alarm.dimensions),
                    "period": _number(alarm.period),
                    "stat": alarm.statistic or alarm.extended_statistic,
                },
                "returnData": True,
            }
        )
    config["metrics"] = metrics
    return config


def alarm_event_detail(alarm: Any, previous: dict) -> dict:
    return {
        "alarmName": alarm.name,
        "state": _state(
            alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp
        ),
        "previousState": previous,
        "configuration": configuration(alarm),
    }


# ---------------------------------------------------------------------------------------------
# RPCv2-CBOR <-> moto's JSON protocol

TARGET_PREFIX = "GraniteServiceVersion20100801"
_RPC_PATH = re.compile(rf"^/service/{TARGET_PREFIX}/operation/([A-Za-z0-9]+)$")


@functools.lru_cache(maxsize=None)
def _output_shape(operation: str) -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("cloudwatch")
    try:
        return model.operation_model(operation).output_shape
    except Exception:
        return None


def _to_json(value: Any) -> Any:
    if isinstance(value, cbor.Timestamp):
        return value.seconds
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value


def _epoch(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def _to_cbor(value: Any, shape: Any) -> Any:
    if value is None or shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _to_cbor(v, shape.members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_to_cbor(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _to_cbor(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        return cbor.Timestamp(_epoch(value))
    if kind in ("double", "float"):
        return float(value)
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


def cbor_middleware(app: Any) -> Any:
    def translate(environ: dict, start_response: Any) -> Any:
        match = _RPC_PATH.match(environ.get("PATH_INFO", ""))
        if not match:
            return app(environ, start_response)
        operation = match.group(1)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            request = cbor.decode(raw) if raw else {}
        except cbor.CborError as err:
            error = {"__type": "SerializationException", "message": str(err)}
            return _cbor_answer(start_response, "400 Bad Request", error, [])
        body = json.dumps(_to_json(request or {})).encode()
        inner = dict(environ)
        inner.update(
            {
                "PATH_INFO": "/",
                "HTTP_X_AMZ_TARGET": f"{TARGET_PREFIX}.{operation}",
                "HTTP_X_AMZN_QUERY_MODE": "true",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "CONTENT_LENGTH": str(len(body)),
                "wsgi.input": io.BytesIO(body),
            }
        )
        captured: dict = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = app(inner, capture)
        try:
            payload = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status = captured["status"]
        kept = [
            (k, v)
            for k, v in captured["headers"]
            if k.lower() in ("x-amzn-requestid", "x-amzn-query-error", "x-amzn-errortype")
        ]
        try:
            answer = json.loads(payload) if payload.strip() else {}
        except ValueError:
            answer = {"__type": "InternalFailure", "message": payload.decode(errors="replace")[:500]}
        if int(status.split()[0]) >= 300:
            error = {
                "__type": answer.get("__type", "InternalFailure"),
                "message": answer.get("message") or answer.get("Message") or "",
            }
            return _cbor_answer(start_response, status, error, kept)
        return _cbor_answer(start_response, status, _to_cbor(answer, _output_shape(operation)), kept)

    return translate


def _cbor_answer(start_response: Any, status: str, body: Any, headers: list) -> list:
    data = cbor.encode(body)
    start_response(
        status,
        [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Length", str(len(data))),
            *headers,
        ],
    )
    return [data]


def install(settings: Any) -> None:
    from moto.cloudwatch.models import Alarm

    from drstandin.control import register_wsgi_middleware

    register_wsgi_middleware(cbor_middleware)

    from drstandin import events

    original = Alarm.update_state
    if getattr(original, "_drstandin", False):
        return

    original_init = Alarm.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.state_transitioned_timestamp = self.state_updated_timestamp

    Alarm.__init__ = init  # type: ignore[method-assign]

    def update_state(self: Any, reason: str, reason_data: str, state_value: str) -> None:
        previous_value = self.state_value
        previous = _state(
            self.state_value, self.state_reason, self.state_reason_data, self.state_updated_timestamp
        )
        original(self, reason, reason_data, state_value)
        if self.state_value == previous_value:
            return
        self.state_transitioned_timestamp = self.state_updated_timestamp
        # arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME
        _, _, _, region, account, _ = self.alarm_arn.split(":", 5)
        events.emit(
            account=account,
            region=region,
            source="aws.cloudwatch",
            detail_type="CloudWatch Alarm State Change",
            detail=alarm_event_detail(self, previous),
            resources=[self.alarm_arn],
            time=self.state_updated_timestamp,
        )

    update_state._drstandin = True  # type: ignore[attr-defined]
    Alarm.update_state = update_state  # type: ignore[method-assign]
