"""EventBridge rules start Step Functions executions and forward events to other regions' buses."""

from __future__ import annotations

import json
import re

from standin_support import ACCOUNT, create_state_machine, executions, wait_for

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
PATTERN = json.dumps({"source": ["dr.test"], "detail-type": ["Failover Requested"]})


def execution_inputs(sfn, machine: str, count: int = 1) -> list:
    found = wait_for(lambda: len(executions(sfn, machine)) >= count and executions(sfn, machine), timeout=5)
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in found]


def put(events, detail: dict, resources: list[str] | None = None) -> str:
    response = events.put_events(
        Entries=[
            {
                "Source": "dr.test",
                "DetailType": "Failover Requested",
                "Detail": json.dumps(detail),
                "Resources": resources or [],
            }
        ]
    )
    assert response["FailedEntryCount"] == 0
    return response["Entries"][0]["EventId"]


def rule_to(events, name: str, targets: list[dict], pattern: str = PATTERN, state: str = "ENABLED", bus=None):
    kwargs = {"EventBusName": bus} if bus else {}
    events.put_rule(Name=name, EventPattern=pattern, State=state, **kwargs)
    events.put_targets(Rule=name, Targets=targets, **kwargs)


def test_state_machine_target_gets_the_event(standin):
    sfn, events = standin.client("stepfunctions"), standin.client("events")
    machine = create_state_machine(sfn, PASS)
    rule_to(events, "to-sfn", [{"Id": "sfn", "Arn": machine, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/events"}])

    event_id = put(events, {"reason": "drill"}, ["arn:aws:rds:us-east-1:123456789012:db:db-primary"])

    [event] = execution_inputs(sfn, machine)
    assert event["id"] == event_id
    assert event["source"] == "dr.test"
    assert event["detail-type"] == "Failover Requested"
    assert event["detail"] == {"reason": "drill"}
    assert event["account"] == ACCOUNT
    assert event["region"] == "us-east-1"
    assert event["resources"] == ["arn:aws:rds:us-east-1:123456789012:db:db-primary"]
    assert event["version"] == "0"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", event["time"])
    [execution] = executions(sfn, machine)
    assert re.match(r"^[0-9a-f-]{36}$", execution["name"])


def test_input_input_path_and_input_transformer(standin):
    sfn, events = standin.client("stepfunctions"), standin.client("events")
    constant, path, transformed = (create_state_machine(sfn, PASS) for _ in range(3))
    template = (
        '{"action": "apply", "reason": "<reason> (\\"<app>\\")", "app": <app>, "lag": <lag>, '
        '"lag_text": "<lag>", "flags": <flags>, "missing": <missing>, "missing_text": "<missing>", '
        '"rule": "<aws.events.rule-name>", "event_id": <id>}'
    )
    rule_to(
        events,
        "inputs",
        [
            {"Id": "constant", "Arn": constant, "Input": '{"action": "plan", "dry_run": true}'},
            {"Id": "path", "Arn": path, "InputPath": "$.detail.request"},
            {
                "Id": "transformed",
                "Arn": transformed,
                "InputTransformer": {
                    "InputPathsMap": {
                        "reason": "$.detail.reason",
                        "app": "$.detail.app",
                        "lag": "$.detail.lag",
                        "flags": "$.detail.flags",
                        "missing": "$.detail.nothing",
                        "id": "$.id",
                    },
                    "InputTemplate": template,
                },
            },
        ],
    )

    event_id = put(
        events,
        {"reason": "alarm", "app": "shop", "lag": 4, "flags": [True, "x"], "request": {"action": "status"}},
    )

    assert execution_inputs(sfn, constant) == [{"action": "plan", "dry_run": True}]
    assert execution_inputs(sfn, path) == [{"action": "status"}]
    assert execution_inputs(sfn, transformed) == [
        {
            "action": "apply",
            "reason": 'alarm ("shop")',
            "app": "shop",
            "lag": 4,
            "lag_text": "4",
            "flags": [True, "x"],
            "missing": None,
            "missing_text": "",
            "rule": "inputs",
            "event_id": event_id,
        }
    ]


def test_cross_region_bus_target_forwards_the_event_itself(standin):
    events_primary = standin.client("events", "us-east-1")
    events_dr = standin.client("events", "us-west-2")
    sfn_dr = standin.client("stepfunctions", "us-west-2")
    machine = create_state_machine(sfn_dr, PASS)
    rule_to(
        events_primary,
        "to-dr",
        [{"Id": "dr-bus", "Arn": f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/default"}],
    )
    # On the DR bus, a pattern on fields only the original event has.
    rule_to(
        events_dr,
        "start-failover",
        [{"Id": "sfn", "Arn": machine}],
        pattern=json.dumps(
            {
                "source": ["dr.test"],
                "region": ["us-east-1"],
                "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:app-primary-health"],
            }
        ),
    )

    event_id = put(
        events_primary, {"reason": "primary down"}, ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:app-primary-health"]
    )

    [event] = execution_inputs(sfn_dr, machine)
    assert event["id"] == event_id
    assert event["region"] == "us-east-1"
    assert event["detail"] == {"reason": "primary down"}
    assert event["resources"] == ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:app-primary-health"]


def test_disabled_and_schedule_only_rules_match_nothing_other_targets_still_work(standin):
    sfn, events, sqs = standin.client("stepfunctions"), standin.client("events"), standin.client("sqs")
    disabled_machine, enabled_machine = create_state_machine(sfn, PASS), create_state_machine(sfn, PASS)
    queue = sqs.create_queue(QueueName="audit")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_to(events, "disabled", [{"Id": "sfn", "Arn": disabled_machine}], state="DISABLED")
    events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")
    events.put_targets(Rule="nightly", Targets=[{"Id": "sfn", "Arn": disabled_machine}])
    # moto's own targets (SQS) still work next to a state machine on the same rule.
    # An SNS target moto cannot deliver to must not fail the put nor the other targets.
    topic = standin.client("sns").create_topic(Name="ops")["TopicArn"]
    rule_to(
        events,
        "enabled",
        [{"Id": "sns", "Arn": topic}, {"Id": "sfn", "Arn": enabled_machine}, {"Id": "sqs", "Arn": queue_arn}],
    )

    put(events, {"reason": "drill"})

    assert len(execution_inputs(sfn, enabled_machine)) == 1
    message = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"][0]
    assert json.loads(message["Body"])["detail"] == {"reason": "drill"}
    assert executions(sfn, disabled_machine) == []


def test_sns_topic_target_publishes_the_transformed_input_as_the_message(standin):
    events, sns, sqs = standin.client("events"), standin.client("sns"), standin.client("sqs")
    topic = sns.create_topic(Name="warnings")["TopicArn"]
    queue = sqs.create_queue(QueueName="warnings-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    transformer = {
        "InputPathsMap": {"reason": "$.detail.reason"},
        "InputTemplate": '"WARNING, <reason>: nothing was started"',
    }
    rule_to(events, "to-sns", [{"Id": "sns", "Arn": topic, "InputTransformer": transformer}])

    put(events, {"reason": "never healthy"})

    def received():
        return sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages")

    [message] = wait_for(received, timeout=5)
    envelope = json.loads(message["Body"])
    assert envelope["TopicArn"] == topic
    assert envelope["Message"] == '"WARNING, never healthy: nothing was started"'
    assert "Subject" not in envelope or envelope["Subject"] in (None, "")
