"""Alarm state changes reach EventBridge as AWS sends them; the Rust SDK's CBOR protocol works."""

from __future__ import annotations

import datetime
import json
import re

from standin_support import ACCOUNT, cbor_call, create_state_machine, executions, wait_for

from drstandin import cbor

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
ALARM_EVENTS = {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}
ALARM_ARN = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:app-primary-health"


def put_alarm(cloudwatch) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName="app-primary-health",
        AlarmDescription="primary region health check failing",
        Namespace="AWS/Route53",
        MetricName="HealthCheckStatus",
        Dimensions=[{"Name": "HealthCheckId", "Value": "hc-123"}],
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
    )


def route_alarms(events, machine: str, pattern: dict = ALARM_EVENTS) -> None:
    events.put_rule(Name="alarms", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="alarms", Targets=[{"Id": "sfn", "Arn": machine}])


def inputs(sfn, machine: str) -> list[dict]:
    listed = sorted(executions(sfn, machine), key=lambda e: e["startDate"])
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in listed]


def test_set_alarm_state_emits_alarm_state_change_event(standin):
    cloudwatch, events, sfn = standin.client("cloudwatch"), standin.client("events"), standin.client("stepfunctions")
    machine = create_state_machine(sfn, PASS)
    route_alarms(events, machine, {**ALARM_EVENTS, "detail": {"state": {"value": ["ALARM"]}}})
    put_alarm(cloudwatch)

    cloudwatch.set_alarm_state(
        AlarmName="app-primary-health",
        StateValue="ALARM",
        StateReason="Threshold Crossed: 1 datapoint [0.0] was less than the threshold (1.0).",
        StateReasonData=json.dumps({"version": "1.0", "evaluatedDatapoints": [{"value": 0.0}]}),
    )

    [event] = wait_for(lambda: inputs(sfn, machine), timeout=5)
    assert event["source"] == "aws.cloudwatch"
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["resources"] == [ALARM_ARN]
    assert event["region"] == "us-east-1"
    assert event["account"] == ACCOUNT
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", event["time"])
    detail = event["detail"]
    assert detail["alarmName"] == "app-primary-health"
    state = detail["state"]
    assert state["value"] == "ALARM"
    assert state["reason"].startswith("Threshold Crossed")
    assert json.loads(state["reasonData"])["evaluatedDatapoints"] == [{"value": 0.0}]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$", state["timestamp"])
    assert detail["previousState"]["value"] == "OK"
    assert "reasonData" not in detail["previousState"]
    assert detail["configuration"]["description"] == "primary region health check failing"
    [metric] = detail["configuration"]["metrics"]
    assert metric["returnData"] is True
    assert metric["metricStat"] == {
        "metric": {"namespace": "AWS/Route53", "name": "HealthCheckStatus", "dimensions": {"HealthCheckId": "hc-123"}},
        "period": 60,
        "stat": "Minimum",
    }


def test_only_a_change_of_state_value_emits(standin):
    cloudwatch, events, sfn = standin.client("cloudwatch"), standin.client("events"), standin.client("stepfunctions")
    machine = create_state_machine(sfn, PASS)
    route_alarms(events, machine)
    put_alarm(cloudwatch)

    cloudwatch.set_alarm_state(AlarmName="app-primary-health", StateValue="OK", StateReason="still fine")
    cloudwatch.set_alarm_state(AlarmName="app-primary-health", StateValue="ALARM", StateReason="down")
    cloudwatch.set_alarm_state(AlarmName="app-primary-health", StateValue="ALARM", StateReason="still down")
    cloudwatch.set_alarm_state(AlarmName="app-primary-health", StateValue="OK", StateReason="back")

    seen = wait_for(lambda: len(inputs(sfn, machine)) >= 2 and inputs(sfn, machine), timeout=5)
    assert [(e["detail"]["previousState"]["value"], e["detail"]["state"]["value"]) for e in seen] == [
        ("OK", "ALARM"),
        ("ALARM", "OK"),
    ]
    assert seen[1]["detail"]["previousState"]["reason"] == "still down"
    assert seen[1]["detail"]["state"]["reason"] == "back"


def test_cross_region_alarm_path_starts_the_dr_state_machine(standin):
    """Alarm in us-east-1 -> rule there -> us-west-2 default bus -> rule -> state machine."""
    cloudwatch = standin.client("cloudwatch", "us-east-1")
    events_primary, events_dr = standin.client("events", "us-east-1"), standin.client("events", "us-west-2")
    sfn_dr = standin.client("stepfunctions", "us-west-2")
    machine = create_state_machine(sfn_dr, PASS, name="dr-failover")
    events_primary.put_rule(Name="alarm-to-dr", EventPattern=json.dumps(ALARM_EVENTS))
    events_primary.put_targets(
        Rule="alarm-to-dr", Targets=[{"Id": "dr", "Arn": f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/default"}]
    )
    events_dr.put_rule(
        Name="start-failover",
        EventPattern=json.dumps({**ALARM_EVENTS, "resources": [ALARM_ARN], "detail": {"state": {"value": ["ALARM"]}}}),
    )
    events_dr.put_targets(
        Rule="start-failover",
        Targets=[
            {
                "Id": "sfn",
                "Arn": machine,
                "InputTransformer": {
                    "InputPathsMap": {"alarm": "$.detail.alarmName", "region": "$.region"},
                    "InputTemplate": '{"action": "apply", "reason": "alarm <alarm> in <region>"}',
                },
            }
        ],
    )
    put_alarm(cloudwatch)

    cloudwatch.set_alarm_state(AlarmName="app-primary-health", StateValue="ALARM", StateReason="down")

    assert wait_for(lambda: inputs(sfn_dr, machine), timeout=5) == [
        {"action": "apply", "reason": "alarm app-primary-health in us-east-1"}
    ]


def test_rust_sdk_rpcv2_cbor_protocol(standin):
    cloudwatch, events, sfn = standin.client("cloudwatch"), standin.client("events"), standin.client("stepfunctions")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    cloudwatch.put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "ReplicaLag",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "db-dr"}],
                "Timestamp": now - datetime.timedelta(seconds=30),
                "Value": 4,
            }
        ],
    )

    status, headers, body = cbor_call(
        standin,
        "GetMetricStatistics",
        {
            "Namespace": "AWS/RDS",
            "MetricName": "ReplicaLag",
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "db-dr"}],
            "StartTime": cbor.Timestamp((now - datetime.timedelta(minutes=5)).timestamp()),
            "EndTime": cbor.Timestamp((now + datetime.timedelta(minutes=1)).timestamp()),
            "Period": 60,
            "Statistics": ["Maximum"],
        },
    )
    assert status == 200, body
    assert headers["content-type"] == "application/cbor"
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    [point] = body["Datapoints"]
    assert isinstance(point["Maximum"], float) and point["Maximum"] == 4.0  # a double, never an int
    assert isinstance(point["Timestamp"], cbor.Timestamp)  # tag 1, as the Rust decoder requires

    # Alarm state changes made over CBOR emit events too; errors carry the query error code.
    machine = create_state_machine(sfn, PASS)
    route_alarms(events, machine)
    put_alarm(cloudwatch)
    status, _, _ = cbor_call(
        standin, "SetAlarmState", {"AlarmName": "app-primary-health", "StateValue": "ALARM", "StateReason": "r"}
    )
    assert status == 200
    assert wait_for(lambda: inputs(sfn, machine), timeout=5)[0]["detail"]["state"]["value"] == "ALARM"
    status, headers, body = cbor_call(
        standin, "SetAlarmState", {"AlarmName": "nope", "StateValue": "ALARM", "StateReason": "r"}
    )
    assert status == 404
    assert headers["x-amzn-query-error"].startswith("ResourceNotFound;")
    assert body["__type"].endswith("ResourceNotFound")


def test_cbor_codec_against_rfc_8949_examples(standin):
    vectors = {
        "00": 0,
        "17": 23,
        "1818": 24,
        "1903e8": 1000,
        "3863": -100,
        "fb3ff199999999999a": 1.1,
        "f93c00": 1.0,
        "fa47c35000": 100000.0,
        "6449455446": "IETF",
        "83010203": [1, 2, 3],
        "a26161016162820203": {"a": 1, "b": [2, 3]},
        "9fff": [],
        "bf6346756ef563416d7421ff": {"Fun": True, "Amt": -2},
        "7f657374726561646d696e67ff": "streaming",
        "c11a514b67b0": cbor.Timestamp(1363896240.0),
        "f6": None,
    }
    for hex_bytes, value in vectors.items():
        assert cbor.decode(bytes.fromhex(hex_bytes)) == value, hex_bytes
    for hex_bytes in ("00", "1818", "1903e8", "3863", "fb3ff199999999999a", "6449455446", "83010203"):
        assert cbor.encode(cbor.decode(bytes.fromhex(hex_bytes))).hex() == hex_bytes
    assert cbor.encode(cbor.Timestamp(1363896240.5)).hex() == "c1fb41d452d9ec200000"


def test_describe_alarms_says_when_the_state_value_last_changed_apart_from_its_last_update(standin):
    """MetricAlarm's StateTransitionedTimestamp (the last change of StateValue) stays put when a
    SetAlarmState to the same value moves StateUpdatedTimestamp; both come over CBOR, as tag-1
    timestamps, to the Rust SDK's DescribeAlarms (shared::alarm_state reads "OK since when")."""
    cloudwatch = standin.client("cloudwatch")
    put_alarm(cloudwatch)
    [created] = cloudwatch.describe_alarms(AlarmNames=["app-primary-health"])["MetricAlarms"]
    assert created["StateTransitionedTimestamp"] == created["StateUpdatedTimestamp"]

    cloudwatch.set_alarm_state(AlarmName="app-primary-health", StateValue="ALARM", StateReason="down")
    [down] = cloudwatch.describe_alarms(AlarmNames=["app-primary-health"])["MetricAlarms"]
    assert down["StateTransitionedTimestamp"] == down["StateUpdatedTimestamp"] > created["StateTransitionedTimestamp"]

    cloudwatch.set_alarm_state(AlarmName="app-primary-health", StateValue="ALARM", StateReason="still down")
    [still] = cloudwatch.describe_alarms(AlarmNames=["app-primary-health"])["MetricAlarms"]
    assert still["StateReason"] == "still down"
    assert still["StateUpdatedTimestamp"] > still["StateTransitionedTimestamp"] == down["StateTransitionedTimestamp"]

    status, _, body = cbor_call(
        standin, "DescribeAlarms", {"AlarmNames": ["app-primary-health"], "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    )
    assert status == 200, body
    [alarm] = body["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    assert isinstance(alarm["StateTransitionedTimestamp"], cbor.Timestamp)
    assert abs(alarm["StateTransitionedTimestamp"].seconds - down["StateTransitionedTimestamp"].timestamp()) < 0.001
