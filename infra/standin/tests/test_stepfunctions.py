"""moto's ASL interpreter runs for every client, with the fixes the failover state machine needs."""

from __future__ import annotations

import datetime
import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from standin_support import create_state_machine, executions, history, run, wait_execution, wait_for

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_executions_run_without_moto_api_config(standin):
    described = run(
        standin.client("stepfunctions"),
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ran": True}, "End": True}}},
    )
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"ran": True}


def test_nameless_start_execution_gets_a_unique_uuid_name(standin):
    sfn = standin.client("stepfunctions")
    machine = create_state_machine(
        sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, name="dr-failover"
    )
    first = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

    assert first != second
    for arn in (first, second):
        prefix, name = arn.rsplit(":", 1)
        assert prefix.endswith(":execution:dr-failover")
        assert UUID.match(name), arn
        assert wait_execution(sfn, arn)["status"] == "SUCCEEDED"
    assert len(executions(sfn, machine)) == 2


def test_aws_sdk_list_executions_takes_and_returns_pascal_case(standin):
    sfn = standin.client("stepfunctions")
    machine = create_state_machine(
        sfn,
        {
            "StartAt": "Running",
            "States": {
                "Running": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:sfn:listExecutions",
                    "Parameters": {"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING"},
                    "ResultSelector": {"count.$": "States.ArrayLength($.Executions)", "executions.$": "$.Executions"},
                    "End": True,
                }
            },
        },
    )
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    described = wait_execution(sfn, execution)

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["count"] == 1
    listed = output["executions"][0]
    assert listed["ExecutionArn"] == execution
    assert listed["StateMachineArn"] == machine
    assert listed["Status"] == "RUNNING"
    assert UUID.match(listed["Name"])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", listed["StartDate"])


def test_context_format_wait_parallel_choice_and_sns_publish(standin):
    sfn = standin.client("stepfunctions")
    sns = standin.client("sns")
    sqs = standin.client("sqs")
    topic = sns.create_topic(Name="dr-failover-notify")["TopicArn"]
    queue = sqs.create_queue(QueueName="notify")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    started = time.monotonic()
    described = run(
        sfn,
        {
            "StartAt": "Context",
            "States": {
                "Context": {
                    "Type": "Pass",
                    "Parameters": {
                        "execution_id.$": "$$.Execution.Id",
                        "started.$": "$$.Execution.StartTime",
                        "entered.$": "$$.State.EnteredTime",
                        "summary.$": "States.Format('failover of {} started by {}', $.app, $$.Execution.Name)",
                        "wait": 1,
                        "app.$": "$.app",
                    },
                    "Next": "Wait",
                },
                "Wait": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Both"},
                "Both": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "db", "End": True}}},
                        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "dns", "End": True}}},
                    ],
                    "ResultPath": "$.steps",
                    "Next": "Decide",
                },
                "Decide": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.steps[1]", "StringEquals": "dns", "Next": "Notify"}],
                    "Default": "Wrong",
                },
                "Wrong": {"Type": "Fail", "Error": "Wrong"},
                "Notify": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish",
                    "Parameters": {
                        "TopicArn": topic,
                        "Subject": "DR failover",
                        "Message.$": "$.summary",
                        "MessageAttributes": {"step": {"DataType": "String", "StringValue": "notify"}},
                    },
                    "ResultPath": "$.published",
                    "End": True,
                },
            },
        },
        {"app": "shop"},
    )
    elapsed = time.monotonic() - started

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["execution_id"] == described["executionArn"]
    name = described["executionArn"].rsplit(":", 1)[1]
    assert output["summary"] == f"failover of shop started by {name}"
    started_at = datetime.datetime.strptime(output["started"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", output["entered"]), output["entered"]
    assert abs(started_at - described["startDate"].astimezone(datetime.timezone.utc).replace(tzinfo=None)) < (
        datetime.timedelta(seconds=1)
    )
    assert output["steps"] == ["db", "dns"]
    assert "MessageId" in output["published"]
    assert elapsed >= 1.0

    message = json.loads(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"][0]["Body"])
    assert message["Subject"] == "DR failover"
    assert message["Message"] == output["summary"]
    assert message["MessageAttributes"]["step"]["Value"] == "notify"


def test_retry_backoff_and_catch_with_result_path(standin):
    sfn = standin.client("stepfunctions")
    missing = "arn:aws:states:us-east-1:123456789012:execution:nope:missing"
    started = time.monotonic()
    described = run(
        sfn,
        {
            "StartAt": "Flaky",
            "States": {
                "Flaky": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
                    "Parameters": {"ExecutionArn": missing},
                    "Retry": [
                        {
                            "ErrorEquals": ["Sfn.ExecutionDoesNotExistException"],
                            "IntervalSeconds": 1,
                            "BackoffRate": 1.5,
                            "MaxAttempts": 2,
                        }
                    ],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Report"}],
                    "End": True,
                },
                "Report": {"Type": "Pass", "End": True},
            },
        },
        {"keep": "me"},
    )
    elapsed = time.monotonic() - started

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["keep"] == "me"
    assert output["error"]["Error"] == "Sfn.ExecutionDoesNotExistException"
    assert missing in output["error"]["Cause"]
    scheduled = [e for e in history(sfn, described["executionArn"]) if e["type"] == "TaskScheduled"]
    assert len(scheduled) == 3  # first try + MaxAttempts retries
    assert elapsed >= 2.5  # 1 s, then 1.5 s


def test_sdk_integration_request_members_reach_the_api(standin):
    """PascalCase parameters are mapped onto the API's members (camelCase for Step Functions)."""
    sfn = standin.client("stepfunctions")
    target = create_state_machine(
        sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}}}, name="target"
    )
    described = run(
        sfn,
        {
            "StartAt": "Start",
            "States": {
                "Start": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
                    "Parameters": {"StateMachineArn": target, "Name": "from-sdk", "Input": "{\"a\": 1}"},
                    "End": True,
                }
            },
        },
    )
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["ExecutionArn"].endswith(":execution:target:from-sdk")
    started = wait_for(lambda: executions(sfn, target))
    assert json.loads(sfn.describe_execution(executionArn=started[0]["executionArn"])["input"]) == {"a": 1}


# --- 256 KiB payload quota ("Step Functions service quotas"; "Handling errors in Step Functions
# workflows": States.ALL can't catch States.DataLimitExceeded).

LIMIT = 256 * 1024


def _padded_pass(size: int) -> dict:
    """A Pass state whose output is a JSON string of exactly ``size`` UTF-8 bytes."""
    return {"Type": "Pass", "Result": "x" * (size - 2)}


def test_state_output_at_256_kib_passes_one_byte_more_fails_the_execution(standin):
    sfn = standin.client("stepfunctions")
    ok = run(sfn, {"StartAt": "P", "States": {"P": {**_padded_pass(LIMIT), "Next": "Q"}, "Q": {"Type": "Pass", "Result": 1, "End": True}}})
    assert ok["status"] == "SUCCEEDED", ok

    failed = run(sfn, {"StartAt": "P", "States": {"P": {**_padded_pass(LIMIT + 1), "End": True}}})
    assert failed["status"] == "FAILED"
    assert failed["error"] == "States.DataLimitExceeded"
    assert "returned a result with a size exceeding the maximum number of bytes service limit" in failed["cause"]


def _big_result_task(errors: list[str], big_machine: str) -> dict:
    """A task whose result (DescribeStateMachine of a 300 KB definition) is over the quota."""
    return {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:describeStateMachine",
                "Parameters": {"StateMachineArn": big_machine},
                "Retry": [{"ErrorEquals": errors, "MaxAttempts": 2, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": errors, "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def test_data_limit_exceeded_is_not_caught_by_states_all_or_task_failed(standin):
    sfn = standin.client("stepfunctions")
    big = create_state_machine(
        sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "x" * (300 * 1024), "End": True}}}
    )
    for errors in (["States.ALL"], ["States.TaskFailed"]):
        described = run(sfn, _big_result_task(errors, big))
        assert described["status"] == "FAILED", (errors, described)
        assert described["error"] == "States.DataLimitExceeded"
        events = history(sfn, described["executionArn"])
        assert [e["type"] for e in events if e["type"] == "TaskScheduled"] == ["TaskScheduled"]  # no retry
        failed = [e for e in events if e["type"] == "TaskFailed"][0]["taskFailedEventDetails"]
        assert failed["error"] == "States.DataLimitExceeded"
        assert events[-1]["type"] == "ExecutionFailed"

    # Named explicitly, it is matched.
    described = run(sfn, _big_result_task(["States.DataLimitExceeded"], big), timeout=20)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["error"]["Error"] == "States.DataLimitExceeded"


def test_start_execution_rejects_input_that_is_not_json_or_over_256_kib(standin):
    import pytest
    from botocore.exceptions import ClientError

    sfn = standin.client("stepfunctions")
    machine = create_state_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    for bad in ("not json", json.dumps({"s": "y" * LIMIT})):
        with pytest.raises(ClientError) as err:
            sfn.start_execution(stateMachineArn=machine, input=bad)
        assert err.value.response["Error"]["Code"] == "InvalidExecutionInput"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert executions(sfn, machine) == []

    # Exactly 256 KiB of UTF-8 (multi-byte characters count as their bytes) is accepted.
    text = "é" * ((LIMIT - 10) // 2)
    at_limit = json.dumps({"s": text}, ensure_ascii=False)
    at_limit += " " * (LIMIT - len(at_limit.encode()))
    assert len(at_limit.encode()) == LIMIT
    started = sfn.start_execution(stateMachineArn=machine, input=at_limit)["executionArn"]
    assert wait_execution(sfn, started)["status"] == "SUCCEEDED"


def test_a_task_token_wait_takes_send_task_success_output_or_send_task_failure_error_and_cause(standin):
    """"SendTaskSuccess" / "SendTaskFailure" (Step Functions API reference): the task waiting with
    .waitForTaskToken ends with the output given, or fails with the error and cause given."""
    sfn, sns, sqs = standin.client("stepfunctions"), standin.client("sns"), standin.client("sqs")
    topic = sns.create_topic(Name="approvals")["TopicArn"]
    queue = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    machine = create_state_machine(sfn, {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                "TimeoutSeconds": 30,
                "Parameters": {"TopicArn": topic, "Message": {"token.$": "$$.Task.Token"}},
                "ResultPath": "$.answer",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.answer", "Next": "Denied"}],
                "End": True,
            },
            "Denied": {"Type": "Pass", "End": True},
        },
    })

    def token() -> str:
        def received():
            messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
            return messages and json.loads(json.loads(messages[0]["Body"])["Message"])["token"]
        return wait_for(received, timeout=15)

    approved = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    sfn.send_task_success(taskToken=token(), output="true")
    described = wait_execution(sfn, approved)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"answer": True}

    denied = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    sfn.send_task_failure(taskToken=token(), error="Denied", cause="a false alarm")
    described = wait_execution(sfn, denied)
    assert json.loads(described["output"]) == {"answer": {"Error": "Denied", "Cause": "a false alarm"}}


def test_list_executions_misses_an_execution_started_within_the_listing_lag(standin):
    # "ListExecutions": eventually consistent, may not reflect very recent changes.
    sfn = standin.client("stepfunctions")
    machine = create_state_machine(
        sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}, name="lagged"
    )
    assert standin.control("settings", {"list_executions_lag_seconds": 1.5})[0] == 200
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

    running = lambda: [e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]]
    assert running() == [], "just started: not listed yet"
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING", "described at once"
    time.sleep(1.6)
    assert running() == [arn]
    sfn.stop_execution(executionArn=arn)


def test_execution_history_comes_a_page_at_a_time_oldest_first_or_newest_first(standin):
    """GetExecutionHistory: at most maxResults events a page (default 100), nextToken while more
    remain, reverseOrder newest first; a token not issued for the execution is InvalidToken."""
    sfn = standin.client("stepfunctions")
    states = {f"P{i}": {"Type": "Pass", "Next": f"P{i + 1}"} for i in range(60)}
    states["P60"] = {"Type": "Pass", "End": True}
    described = run(sfn, {"StartAt": "P0", "States": states})
    arn = described["executionArn"]
    everything = history(sfn, arn)
    assert len(everything) > 100  # 61 states entered and exited, the execution's start and end
    first = sfn.get_execution_history(executionArn=arn)
    assert len(first["events"]) == 100 and first["nextToken"]
    assert first["events"] == everything[:100]
    rest = sfn.get_execution_history(executionArn=arn, nextToken=first["nextToken"])
    assert rest["events"] == everything[100:] and "nextToken" not in rest
    newest = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=3)
    assert newest["events"] == everything[::-1][:3] and newest["nextToken"]
    with pytest.raises(ClientError) as caught:
        sfn.get_execution_history(executionArn=arn, nextToken="not-a-token")
    assert caught.value.response["Error"]["Code"] == "InvalidToken"
