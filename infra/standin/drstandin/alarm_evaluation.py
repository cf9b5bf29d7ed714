"""CloudWatch: metric alarms evaluated when data arrives, and their SNS actions run.

What moto lacks: moto stores ``PutMetricData`` datapoints and alarms, but never evaluates an alarm
against its metric and never runs an alarm's actions. AWS, "Using Amazon CloudWatch alarms"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html): an
alarm compares its metric's statistic over each period with the threshold and changes state when
the evaluated periods breach (or stop breaching); it invokes its actions only when its state
changes (an ``AlarmActions`` topic on ALARM, an ``OKActions`` topic on OK), not while the state
holds. The SNS notification is a JSON message with ``AlarmName``, ``AlarmDescription``,
``AWSAccountId``, ``NewStateValue``, ``NewStateReason``, ``StateChangeTime``, ``Region``,
``AlarmArn``, ``OldStateValue`` and ``Trigger`` (the metric, statistic, period, threshold and
comparison), its subject ``<STATE>: "<alarm name>" in <region>``.

The stand-in evaluates when a datapoint arrives rather than on a clock: after each
``PutMetricData`` it evaluates every single-metric alarm of that account and region on the same
namespace, metric name and dimensions, over the newest period that holds data (its statistic of
the datapoints whose timestamps fall in that period). An alarm with ``EvaluationPeriods`` above 1,
a metric-math alarm, and missing data ("Configuring how CloudWatch alarms treat missing data",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html) are
not evaluated: without a clock nothing is ever missing, and the drill's and tests' waits are
seconds, not periods. Only metrics of the product's own namespaces are evaluated: ``AWS/...``
metrics (Route 53's ``HealthCheckStatus``) are what AWS itself publishes, and the drill drives
their alarms by hand with ``SetAlarmState``, as before. An alarm in a region that
``drstandin.outage`` has made unreachable is not evaluated (its metrics cannot arrive either:
the region refuses ``PutMetricData``).

A state change goes through moto's ``Alarm.update_state``, so ``drstandin.cloudwatch`` emits its
"CloudWatch Alarm State Change" event as for any change. Builds on ``drstandin.cloudwatch``.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any, Iterable, List

LOG = logging.getLogger(__name__)

_COMPARE = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
_WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


def _utc(value: Any) -> datetime.datetime:
    if value is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if isinstance(value, str):
        from dateutil import parser

        value = parser.parse(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def statistic(name: str, values: List[float]) -> float:
    """One of CloudWatch's basic statistics over a period's values (at least one)."""
    if name == "Minimum":
        return min(values)
    if name == "Maximum":
        return max(values)
    if name == "Sum":
        return sum(values)
    if name == "SampleCount":
        return float(len(values))
    if name == "Average":
        return sum(values) / len(values)
    raise ValueError(f"statistic {name} is not evaluated by the stand-in")


def _dimensions(items: Iterable[Any]) -> dict:
    out = {}
    for item in items or []:
        if isinstance(item, dict):
            out[item.get("Name")] = item.get("Value")
        else:
            out[item.name] = item.value
    return out


def _evaluable(alarm: Any) -> bool:
    return (
        bool(alarm.metric_name)
        and not alarm.metric_data_queries
        and not str(alarm.namespace).startswith("AWS/")
        and int(alarm.evaluation_periods) == 1
        and alarm.statistic in ("Minimum", "Maximum", "Sum", "SampleCount", "Average")
        and alarm.comparison_operator in _COMPARE
    )


def evaluate(backend: Any, alarm: Any) -> None:
    """Evaluates ``alarm`` over the newest period of its metric holding data; changes its state,
    and runs its actions, only when the state differs."""
    period = int(alarm.period)
    wanted = _dimensions(alarm.dimensions)
    points = [
        d
        for d in backend.metric_data
        if d.namespace == alarm.namespace and d.name == alarm.metric_name and _dimensions(d.dimensions) == wanted
        and hasattr(d, "value")
    ]
    if not points:
        return
    newest = max(_utc(d.timestamp) for d in points)
    start = newest.timestamp() - (newest.timestamp() % period)
    values = [float(d.value) for d in points if start <= _utc(d.timestamp).timestamp() < start + period]
    value = statistic(alarm.statistic, values)
    threshold = float(alarm.threshold)
    breaching = _COMPARE[alarm.comparison_operator](value, threshold)
    state = "ALARM" if breaching else "OK"
    if state == alarm.state_value:
        return
    reason = (
        f"Threshold Crossed: 1 datapoint [{value}] was {'' if breaching else 'not '}"
        f"{_WORDS[alarm.comparison_operator]} the threshold ({threshold})."
    )
    reason_data = json.dumps(
        {
            "version": "1.0",
            "queryDate": _timestamp(datetime.datetime.now(datetime.timezone.utc)),
            "statistic": alarm.statistic,
            "period": period,
            "recentDatapoints": [value],
            "threshold": threshold,
        }
    )
    old = alarm.state_value
    alarm.update_state(reason, reason_data, state)
    if alarm.actions_enabled in (False, "false", "False"):
        return
    actions = alarm.alarm_actions if state == "ALARM" else alarm.ok_actions
    for action in actions or []:
        if ":sns:" in action:
            _notify(alarm, action, old)


def _timestamp(value: datetime.datetime) -> str:
    value = _utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def notification(alarm: Any, old_state: str) -> dict:
    """The JSON message CloudWatch publishes to an alarm's SNS action."""
    _, _, _, region, account, _ = alarm.alarm_arn.split(":", 5)
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account,
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _timestamp(alarm.state_updated_timestamp),
        "Region": region,
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "Trigger": {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": "Statistic",
            "Statistic": str(alarm.statistic).upper(),
            "Unit": alarm.unit,
            "Dimensions": [{"value": v, "name": k} for k, v in _dimensions(alarm.dimensions).items()],
            "Period": int(alarm.period),
            "EvaluationPeriods": int(alarm.evaluation_periods),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing_data or "missing",
        },
    }


def _notify(alarm: Any, topic_arn: str, old_state: str) -> None:
    from moto.sns.models import sns_backends
    from moto.utilities.arns import parse_arn

    arn = parse_arn(topic_arn)
    _, _, _, region, _, _ = alarm.alarm_arn.split(":", 5)
    try:
        sns_backends[arn.account][arn.region].publish(
            message=json.dumps(notification(alarm, old_state)),
            arn=topic_arn,
            subject=f'{alarm.state_value}: "{alarm.name}" in {region}',
        )
    except Exception as err:  # AWS records a failed action in the alarm history; we log it
        LOG.warning("alarm %s: could not publish to %s: %s", alarm.name, topic_arn, err)


def install(settings: Any) -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    from drstandin import outage

    original = CloudWatchBackend.put_metric_data
    if getattr(original, "_drstandin", False):
        return

    def put_metric_data(self: Any, namespace: str, metric_data: list) -> None:
        original(self, namespace, metric_data)
        if outage.unreachable(self.region_name):
            return  # a region that is down evaluates nothing (drstandin.outage)
        names = {m["MetricName"] for m in metric_data}
        for alarm in list(self.alarms.values()):
            if alarm.namespace == namespace and alarm.metric_name in names and _evaluable(alarm):
                try:
                    evaluate(self, alarm)
                except Exception as err:
                    LOG.warning("alarm %s: not evaluated: %s", alarm.name, err)

    put_metric_data._drstandin = True  # type: ignore[attr-defined]
    CloudWatchBackend.put_metric_data = put_metric_data  # type: ignore[method-assign]
