"""What fail back's approval gate and automation pause need of the interpreter: EventBridge's AWS SDK
integration by its Step Functions name, and a task token wait on an SNS publish that ends with
SendTaskSuccess, SendTaskFailure or the state's TimeoutSeconds (States.Timeout)."""

from __future__ import annotations

import json
import time

import pytest
from standin_support import create_state_machine, wait_execution, wait_for

REGION = "eu-central-1"


def gate(topic: str) -> dict:
    return {
        "StartAt": "Pause",
        "States": {
            "Pause": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:eventbridge:disableRule",
                      "Parameters": {"Name": "alarm-rule"}, "ResultPath": None, "Next": "Gate"},
            "Gate": {
                "Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken", "TimeoutSeconds": 2,
                "Parameters": {"TopicArn": topic, "Message.$": "States.JsonToString($$.Task)"},
                "ResultPath": "$.approval",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Resume"}],
                "Next": "Resume",
            },
            "Resume": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:eventbridge:enableRule",
                       "Parameters": {"Name": "alarm-rule"}, "ResultPath": None, "End": True},
        },
    }


@pytest.fixture
def world(standin):
    sns, sqs, events = (standin.client(s, REGION) for s in ("sns", "sqs", "events"))
    topic = sns.create_topic(Name="reports")["TopicArn"]
    queue = sqs.create_queue(QueueName="reports")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    events.put_rule(Name="alarm-rule", EventPattern=json.dumps({"source": ["aws.cloudwatch"]}), State="ENABLED")
    sfn = standin.client("stepfunctions", REGION)
    machine = create_state_machine(sfn, gate(topic))
    return {"sfn": sfn, "sqs": sqs, "queue": queue, "events": events, "machine": machine}


def token(world) -> str:
    def published():
        return world["sqs"].receive_message(QueueUrl=world["queue"], WaitTimeSeconds=0).get("Messages")

    message = json.loads(wait_for(published, 10)[0]["Body"])["Message"]
    return json.loads(message)["Token"]


def state(world) -> str:
    return world["events"].describe_rule(Name="alarm-rule")["State"]


def test_approval_given_resumes_with_its_output_and_the_rule_is_paused_meanwhile(world):
    execution = world["sfn"].start_execution(stateMachineArn=world["machine"], input="{}")["executionArn"]
    approval = token(world)
    assert state(world) == "DISABLED"

    world["sfn"].send_task_success(taskToken=approval, output=json.dumps({"approved_by": "sre"}))

    described = wait_execution(world["sfn"], execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["approval"] == {"approved_by": "sre"}
    assert state(world) == "ENABLED"


def test_approval_denied_fails_the_task_with_the_given_error(world):
    execution = world["sfn"].start_execution(stateMachineArn=world["machine"], input="{}")["executionArn"]
    world["sfn"].send_task_failure(taskToken=token(world), error="DrFailover.ApprovalDenied", cause="not today")

    output = json.loads(wait_execution(world["sfn"], execution)["output"])
    assert output["error"]["Error"] == "DrFailover.ApprovalDenied"
    assert output["error"]["Cause"] == "not today"


def test_approval_not_given_in_time_is_states_timeout(world):
    began = time.monotonic()
    execution = world["sfn"].start_execution(stateMachineArn=world["machine"], input="{}")["executionArn"]
    token(world)

    output = json.loads(wait_execution(world["sfn"], execution, timeout=20)["output"])
    assert output["error"]["Error"] == "States.Timeout"
    assert time.monotonic() - began >= 2


def test_a_task_token_answered_twice_is_task_timed_out(world):
    # "SendTaskSuccess"/"SendTaskFailure": TaskTimedOut, "the task token has either expired or the
    # task associated with the token has already been closed" (an approver's second click, a deny
    # after an approval, an answer after the gate timed out).
    execution = world["sfn"].start_execution(stateMachineArn=world["machine"], input="{}")["executionArn"]
    approval = token(world)
    world["sfn"].send_task_success(taskToken=approval, output=json.dumps({"approved_by": "sre"}))
    for answer in (lambda: world["sfn"].send_task_success(taskToken=approval, output="{}"),
                   lambda: world["sfn"].send_task_failure(taskToken=approval, error="DrFailover.ApprovalDenied")):
        with pytest.raises(world["sfn"].exceptions.TaskTimedOut):
            answer()
    assert wait_execution(world["sfn"], execution)["status"] == "SUCCEEDED"
    with pytest.raises(world["sfn"].exceptions.TaskTimedOut):
        world["sfn"].send_task_success(taskToken=approval, output="{}")
    # A token Step Functions never issued is InvalidToken.
    with pytest.raises(world["sfn"].exceptions.InvalidToken):
        world["sfn"].send_task_success(taskToken="not-a-token", output="{}")
