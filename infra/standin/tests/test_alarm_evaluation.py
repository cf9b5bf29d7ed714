"""A metric alarm is evaluated when its data arrives and notifies its SNS actions once per state
change, as "Using Amazon CloudWatch alarms" describes (drstandin/alarm_evaluation.py)."""

from __future__ import annotations

import json

from standin_support import ACCOUNT

REGION = "eu-central-1"


def subscribed_queue(standin) -> tuple:
    sns, sqs = standin.client("sns", REGION), standin.client("sqs", REGION)
    topic = sns.create_topic(Name="reports")["TopicArn"]
    url = sqs.create_queue(QueueName="reports")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, url


def drain(standin, url: str) -> list:
    sqs = standin.client("sqs", REGION)
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return out
        for message in got:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def put_alarm(cloudwatch, topic: str, namespace: str = "DrFailover", **extra) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName="not-ready",
        AlarmDescription="a step refuses",
        Namespace=namespace,
        MetricName="Ready",
        Dimensions=[{"Name": "Deployment", "Value": "drill"}],
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
        TreatMissingData="ignore",
        AlarmActions=[topic],
        OKActions=[topic],
        **extra,
    )


def put(cloudwatch, value: float, namespace: str = "DrFailover", deployment: str = "drill") -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "Ready", "Dimensions": [{"Name": "Deployment", "Value": deployment}], "Value": value}],
    )


def state(cloudwatch) -> str:
    return cloudwatch.describe_alarms(AlarmNames=["not-ready"])["MetricAlarms"][0]["StateValue"]


def test_a_breaching_datapoint_turns_the_alarm_and_notifies_once_per_change(standin):
    cloudwatch = standin.client("cloudwatch", REGION)
    topic, url = subscribed_queue(standin)
    put_alarm(cloudwatch, topic)

    put(cloudwatch, 0.0)
    assert state(cloudwatch) == "ALARM"
    [alarmed] = drain(standin, url)
    assert alarmed["Subject"] == f'ALARM: "not-ready" in {REGION}'
    message = json.loads(alarmed["Message"])
    assert message["NewStateValue"] == "ALARM" and message["OldStateValue"] == "OK"
    assert message["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:not-ready"
    assert message["AWSAccountId"] == ACCOUNT and message["AlarmDescription"] == "a step refuses"
    assert message["Trigger"]["MetricName"] == "Ready" and message["Trigger"]["Threshold"] == 1.0
    assert message["Trigger"]["Dimensions"] == [{"value": "drill", "name": "Deployment"}]
    assert "was less than the threshold" in message["NewStateReason"]

    put(cloudwatch, 0.0)
    assert state(cloudwatch) == "ALARM"
    assert drain(standin, url) == [], "no action while the state holds"

    put(cloudwatch, 1.0)
    # The newest period now holds 0, 0 and 1: its Minimum is still 0.
    assert state(cloudwatch) == "ALARM"
    assert drain(standin, url) == []


def test_a_period_that_no_longer_breaches_returns_the_alarm_to_ok_with_its_ok_action(standin):
    cloudwatch = standin.client("cloudwatch", REGION)
    topic, url = subscribed_queue(standin)
    put_alarm(cloudwatch, topic)
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    cloudwatch.put_metric_data(
        Namespace="DrFailover",
        MetricData=[{"MetricName": "Ready", "Dimensions": [{"Name": "Deployment", "Value": "drill"}],
                     "Value": 0.0, "Timestamp": now - datetime.timedelta(minutes=2)}],
    )
    assert state(cloudwatch) == "ALARM"
    put(cloudwatch, 1.0)

    assert state(cloudwatch) == "OK"
    messages = [json.loads(m["Message"]) for m in drain(standin, url)]
    assert [m["NewStateValue"] for m in messages] == ["ALARM", "OK"]


def test_other_dimensions_aws_namespaces_and_disabled_actions_are_left_alone(standin):
    cloudwatch = standin.client("cloudwatch", REGION)
    topic, url = subscribed_queue(standin)
    put_alarm(cloudwatch, topic)

    put(cloudwatch, 0.0, deployment="other")
    assert state(cloudwatch) == "OK", "another deployment's datapoint is another metric"

    cloudwatch.delete_alarms(AlarmNames=["not-ready"])
    put_alarm(cloudwatch, topic, namespace="AWS/Route53")
    put(cloudwatch, 0.0, namespace="AWS/Route53")
    assert state(cloudwatch) == "OK", "AWS's own metrics' alarms are driven by SetAlarmState"

    cloudwatch.delete_alarms(AlarmNames=["not-ready"])
    put_alarm(cloudwatch, topic, ActionsEnabled=False)
    put(cloudwatch, 0.0)
    assert state(cloudwatch) == "ALARM"
    assert drain(standin, url) == [], "actions disabled: the state changes, nobody is told"
