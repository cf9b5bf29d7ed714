"""Lambda invocations are forwarded to `cargo lambda watch`; function errors look like AWS's."""

from __future__ import annotations

import json
import re
import time

import pytest
from botocore.exceptions import ClientError
from standin_support import FunctionError, create_function, create_state_machine, history, run, wait_execution, wait_for


def test_invoke_over_http_is_forwarded(standin, lambda_runtime):
    lambda_runtime.handlers["test-fn"] = lambda event: {"seen": event, "ok": True}
    create_function(standin, "test-fn")

    response = standin.client("lambda").invoke(FunctionName="test-fn", Payload=b'{"action": "plan"}')

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"seen": {"action": "plan"}, "ok": True}
    assert lambda_runtime.calls["test-fn"] == [{"action": "plan"}]


def test_invoke_by_arn_is_forwarded_under_the_function_name(standin, lambda_runtime):
    arn = create_function(standin, "promote-replica")

    response = standin.client("lambda").invoke(FunctionName=arn, Payload=b'{"n": 1}')

    assert json.loads(response["Payload"].read()) == {"n": 1}
    assert lambda_runtime.calls["promote-replica"] == [{"n": 1}]


def test_function_error_is_unhandled_200_with_error_body(standin, lambda_runtime):
    def fail(event):
        raise FunctionError("DrFailover.Retryable", "rds throttled")

    lambda_runtime.handlers["test-fn"] = fail
    create_function(standin, "test-fn")

    response = standin.client("lambda").invoke(FunctionName="test-fn", Payload=b"{}")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read()) == {
        "errorType": "DrFailover.Retryable",
        "errorMessage": "rds throttled",
    }


def test_unknown_function_is_not_forwarded(standin, lambda_runtime):
    with pytest.raises(ClientError) as err:
        standin.client("lambda").invoke(FunctionName="scale-asg", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lambda_runtime.calls["scale-asg"] == []


def test_event_invocation_is_forwarded_in_background(standin, lambda_runtime):
    create_function(standin, "flip-dns")

    response = standin.client("lambda").invoke(
        FunctionName="flip-dns", InvocationType="Event", Payload=b'{"async": true}'
    )

    assert response["StatusCode"] == 202
    wait_for(lambda: lambda_runtime.calls["flip-dns"] == [{"async": True}], timeout=5)


def test_step_functions_optimized_and_plain_arn_lambda_tasks(standin, lambda_runtime):
    lambda_runtime.handlers["test-fn"] = lambda event: {"step": "done", "input": event}
    arn = create_function(standin, "test-fn")
    sfn = standin.client("stepfunctions")

    described = run(
        sfn,
        {
            "StartAt": "Optimized",
            "States": {
                "Optimized": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "test-fn", "Payload.$": "$"},
                    "ResultSelector": {"result.$": "$.Payload"},
                    "ResultPath": "$.optimized",
                    "Next": "Plain",
                },
                "Plain": {"Type": "Task", "Resource": arn, "ResultPath": "$.plain", "End": True},
            },
        },
        {"action": "apply"},
    )

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["optimized"] == {"result": {"step": "done", "input": {"action": "apply"}}}
    assert output["plain"]["step"] == "done"
    assert output["plain"]["input"]["action"] == "apply"
    assert len(lambda_runtime.calls["test-fn"]) == 2


def test_step_functions_retry_and_catch_on_function_error_type(standin, lambda_runtime):
    attempts = []

    def flaky(event):
        attempts.append(event)
        if event.get("mode") == "refuse":
            raise FunctionError("DrFailover.Refused", "replica lag 900s above 300s")
        if len(attempts) < 2:
            raise FunctionError("DrFailover.Retryable", "throttled")
        return {"ready": True}

    lambda_runtime.handlers["test-fn"] = flaky
    create_function(standin, "test-fn")
    sfn = standin.client("stepfunctions")
    definition = {
        "StartAt": "Step",
        "States": {
            "Step": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "test-fn", "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "Retry": [
                    {
                        "ErrorEquals": ["DrFailover.Retryable"],
                        "IntervalSeconds": 1,
                        "BackoffRate": 1.0,
                        "MaxAttempts": 3,
                    }
                ],
                "Catch": [{"ErrorEquals": ["DrFailover.Refused"], "ResultPath": "$.error", "Next": "Stopped"}],
                "End": True,
            },
            "Stopped": {"Type": "Pass", "End": True},
        },
    }
    machine = create_state_machine(sfn, definition)

    retried = sfn.start_execution(stateMachineArn=machine, input='{"mode": "apply"}')
    described = wait_execution(sfn, retried["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"ready": True}
    assert len(attempts) == 2
    failures = [e for e in history(sfn, retried["executionArn"]) if e["type"] == "TaskFailed"]
    assert [f["taskFailedEventDetails"]["error"] for f in failures] == ["DrFailover.Retryable"]
    assert json.loads(failures[0]["taskFailedEventDetails"]["cause"]) == {
        "errorType": "DrFailover.Retryable",
        "errorMessage": "throttled",
    }

    caught = sfn.start_execution(stateMachineArn=machine, input='{"mode": "refuse"}')
    described = wait_execution(sfn, caught["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["mode"] == "refuse"
    assert output["error"]["Error"] == "DrFailover.Refused"
    assert json.loads(output["error"]["Cause"]) == {
        "errorType": "DrFailover.Refused",
        "errorMessage": "replica lag 900s above 300s",
    }


def test_uncaught_function_error_fails_the_execution_with_error_and_cause(standin, lambda_runtime):
    def fail(event):
        raise FunctionError("DrFailover.InvalidInput", "unknown field dry-run")

    lambda_runtime.handlers["test-fn"] = fail
    create_function(standin, "test-fn")

    described = run(
        standin.client("stepfunctions"),
        {
            "StartAt": "Step",
            "States": {
                "Step": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "test-fn", "Payload.$": "$"},
                    "End": True,
                }
            },
        },
    )

    assert described["status"] == "FAILED"
    assert described["error"] == "DrFailover.InvalidInput"
    assert json.loads(described["cause"])["errorMessage"] == "unknown field dry-run"


def test_eventbridge_lambda_target_invokes_asynchronously_with_target_input(standin, lambda_runtime):
    arn = create_function(standin, "verify-backup-copy")
    events = standin.client("events")
    events.put_rule(Name="copy-jobs", EventPattern=json.dumps({"source": ["aws.backup"]}))
    events.put_targets(
        Rule="copy-jobs",
        Targets=[
            {"Id": "event", "Arn": arn},
            {"Id": "constant", "Arn": arn, "Input": '{"action": "verify"}'},
        ],
    )

    events.put_events(
        Entries=[{"Source": "aws.backup", "DetailType": "Copy Job State Change", "Detail": '{"state": "FAILED"}'}]
    )

    calls = lambda_runtime.calls["verify-backup-copy"]
    wait_for(lambda: len(calls) == 2, timeout=5)
    by_kind = {("event" if "detail" in call else "constant"): call for call in calls}
    assert by_kind["constant"] == {"action": "verify"}
    assert by_kind["event"]["detail-type"] == "Copy Job State Change"
    assert by_kind["event"]["detail"] == {"state": "FAILED"}


# --- Timeouts ("Configure Lambda function timeout"; "Troubleshoot invocation issues in Lambda").

TIMED_OUT = r"^RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds$"


def _slow_after_warm_up(lambda_runtime, name: str, seconds: float) -> None:
    """The first call (the cold start, not timed) answers at once; later ones take ``seconds``."""
    def handler(event):
        if event.get("warm_up"):
            return {"warm": True}
        time.sleep(seconds)
        return {"late": True}

    lambda_runtime.handlers[name] = handler


def test_invocation_past_the_function_timeout_is_sandbox_timedout(standin, lambda_runtime):
    _slow_after_warm_up(lambda_runtime, "test-fn", 2.5)
    create_function(standin, "test-fn", Timeout=1)
    client = standin.client("lambda")
    client.invoke(FunctionName="test-fn", Payload=b'{"warm_up": true}')

    started = time.monotonic()
    response = client.invoke(FunctionName="test-fn", Payload=b"{}")
    elapsed = time.monotonic() - started

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "Sandbox.Timedout"
    assert re.match(TIMED_OUT, payload["errorMessage"]), payload
    assert 1.0 <= elapsed < 2.0


def test_default_timeout_is_three_seconds_and_update_function_configuration_applies(standin, lambda_runtime):
    _slow_after_warm_up(lambda_runtime, "test-fn", 3.5)
    create_function(standin, "test-fn")
    client = standin.client("lambda")
    assert client.get_function_configuration(FunctionName="test-fn")["Timeout"] == 3
    client.invoke(FunctionName="test-fn", Payload=b'{"warm_up": true}')
    payload = json.loads(client.invoke(FunctionName="test-fn", Payload=b"{}")["Payload"].read())
    assert payload["errorMessage"].endswith("Task timed out after 3.00 seconds")

    time.sleep(1)  # let the runtime finish the timed-out call
    client.update_function_configuration(FunctionName="test-fn", Timeout=10)
    response = client.invoke(FunctionName="test-fn", Payload=b"{}")
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"late": True}


def test_step_functions_retry_and_catch_a_lambda_timeout(standin, lambda_runtime):
    _slow_after_warm_up(lambda_runtime, "test-fn", 1.5)
    create_function(standin, "test-fn", Timeout=1)
    standin.client("lambda").invoke(FunctionName="test-fn", Payload=b'{"warm_up": true}')
    sfn = standin.client("stepfunctions")

    def machine(retry_on: str, catch_on: str) -> dict:
        return {
            "StartAt": "Step",
            "States": {
                "Step": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "test-fn", "Payload.$": "$"},
                    "Retry": [{"ErrorEquals": [retry_on], "IntervalSeconds": 1, "MaxAttempts": 1}],
                    "Catch": [{"ErrorEquals": [catch_on], "ResultPath": "$.error", "Next": "TimedOut"}],
                    "End": True,
                },
                "TimedOut": {"Type": "Pass", "End": True},
            },
        }

    for retry_on, catch_on in (("Sandbox.Timedout", "States.TaskFailed"), ("States.ALL", "Sandbox.Timedout")):
        described = run(sfn, machine(retry_on, catch_on), {"go": True}, timeout=30)
        assert described["status"] == "SUCCEEDED", (given, described.get("error"), described.get("cause"))
        error = json.loads(described["output"])["error"]
        assert error["Error"] == "Sandbox.Timedout"
        assert json.loads(error["Cause"])["errorType"] == "Sandbox.Timedout"
        failures = [e for e in history(sfn, described["executionArn"]) if e["type"] == "TaskFailed"]
        assert [f["taskFailedEventDetails"]["error"] for f in failures] == ["Sandbox.Timedout"] * 2
        time.sleep(1)  # the runtime finishes the timed-out calls before the next round


def test_a_state_machine_task_given_null_invokes_its_function_with_null(standin, lambda_runtime):
    """"Invoke an AWS Lambda function with Step Functions": a task whose Resource is a function
    ARN passes the state's input as the payload; an input of null is null, not {}."""
    lambda_runtime.handlers["test-fn"] = lambda event: {"seen": event}
    arn = create_function(standin, "test-fn")
    sfn = standin.client("stepfunctions")
    machine = create_state_machine(sfn, {"StartAt": "Check", "States": {"Check": {"Type": "Task", "Resource": arn, "End": True}}})

    for given in ("null", '{"a": 1}', "[1]"):
        execution = sfn.start_execution(stateMachineArn=machine, input=given)["executionArn"]
        described = wait_execution(sfn, execution)
        assert described["status"] == "SUCCEEDED", (given, described.get("error"), described.get("cause"))
        assert json.loads(described["output"]) == {"seen": json.loads(given)}


def test_an_environment_past_4_kb_is_refused_as_lambda_refuses_it(standin):
    """"Lambda quotas": 4 KB of environment variables, measured as their JSON, keys included."""
    from botocore.exceptions import ClientError

    client = standin.client("lambda")
    create_function(standin, "env-fn")
    # {"AB":"<v>"}: 9 bytes of JSON around the value; 4096 in all passes, 4097 does not.
    client.update_function_configuration(FunctionName="env-fn", Environment={"Variables": {"AB": "x" * 4087}})
    with pytest.raises(ClientError) as err:
        client.update_function_configuration(FunctionName="env-fn", Environment={"Variables": {"AB": "x" * 4088}})
    response = err.value.response
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"].startswith(
        "Lambda was unable to configure your environment variables because the environment variables "
        'you have provided exceeded the 4KB limit. String measured: {"AB":"xxx'
    )
    with pytest.raises(ClientError) as err:
        create_function(standin, "big-fn", Environment={"Variables": {f"K{i}": "v" * 100 for i in range(40)}})
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "big-fn" not in [f["FunctionName"] for f in client.list_functions()["Functions"]]
