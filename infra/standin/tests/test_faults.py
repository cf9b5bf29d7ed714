"""Fault injection answers in each protocol's wire format, for exactly N matching calls."""

from __future__ import annotations

import datetime
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from standin_support import cbor_call, create_function

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def control(standin, method: str, body=None) -> tuple[int, dict]:
    return standin.control("faults", body, method)


def error_of(call) -> dict:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response


def test_query_protocol_throttle_for_n_calls_then_moto_answers(standin):
    rds = standin.client("rds", config=NO_RETRY)
    status, armed = control(
        standin, "POST", {"service": "rds", "operation": "PromoteReadReplica", "count": 2, "kind": "throttle"}
    )
    assert status == 201 and armed["faults"][0]["remaining"] == 2

    for _ in range(2):
        response = error_of(lambda: rds.promote_read_replica(DBInstanceIdentifier="db-dr"))
        assert response["Error"]["Code"] == "Throttling"
        assert response["Error"]["Type"] == "Sender"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400

    # Count used up: moto answers (the replica does not exist).
    response = error_of(lambda: rds.promote_read_replica(DBInstanceIdentifier="db-dr"))
    assert response["Error"]["Code"] == "DBInstanceNotFound"
    assert control(standin, "GET") == (200, {"faults": []})


def test_other_operations_services_and_regions_are_untouched(standin):
    control(standin, "POST", {"service": "rds", "operation": "PromoteReadReplica", "region": "us-west-2"})
    standin.client("rds", "us-east-1", config=NO_RETRY).describe_db_instances()
    standin.client("rds", "us-west-2", config=NO_RETRY).describe_db_instances()
    standin.client("autoscaling", "us-west-2", config=NO_RETRY).describe_auto_scaling_groups()
    with pytest.raises(ClientError):
        standin.client("rds", "us-east-1", config=NO_RETRY).promote_read_replica(DBInstanceIdentifier="x")
    response = error_of(
        lambda: standin.client("rds", "us-west-2", config=NO_RETRY).promote_read_replica(DBInstanceIdentifier="x")
    )
    assert response["Error"]["Code"] == "Throttling"


def test_fault_without_operation_hits_any_operation_of_the_service(standin):
    control(standin, "POST", {"service": "autoscaling", "count": 2})
    asg = standin.client("autoscaling", config=NO_RETRY)
    assert error_of(asg.describe_auto_scaling_groups)["Error"]["Code"] == "Throttling"
    assert error_of(lambda: asg.set_desired_capacity(AutoScalingGroupName="web-dr", DesiredCapacity=2))[
        "Error"
    ]["Code"] == "Throttling"
    asg.describe_auto_scaling_groups()


def test_json_protocol_throttle_and_5xx(standin):
    control(
        standin,
        "POST",
        [
            {"service": "stepfunctions", "operation": "ListStateMachines", "kind": "throttle"},
            {"service": "events", "operation": "PutEvents", "kind": "5xx"},
        ],
    )
    throttled = error_of(standin.client("stepfunctions", config=NO_RETRY).list_state_machines)
    assert throttled["Error"]["Code"] == "ThrottlingException"
    assert throttled["ResponseMetadata"]["HTTPStatusCode"] == 400
    headers = throttled["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == "ThrottlingException"
    assert headers["content-type"].startswith("application/x-amz-json-1.0")

    unavailable = error_of(
        lambda: standin.client("events", config=NO_RETRY).put_events(
            Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}]
        )
    )
    assert unavailable["ResponseMetadata"]["HTTPStatusCode"] == 500  # "Common Errors": InternalFailure, 500
    assert unavailable["Error"]["Code"] == "InternalFailure"


def test_cloudwatch_throttle_in_json_and_rpcv2_cbor_is_query_compatible(standin):
    control(standin, "POST", {"service": "cloudwatch", "operation": "GetMetricStatistics", "count": 2})
    # boto3 speaks CloudWatch's JSON protocol ...
    response = error_of(
        lambda: standin.client("cloudwatch", config=NO_RETRY).get_metric_statistics(
            Namespace="AWS/RDS",
            MetricName="ReplicaLag",
            StartTime=datetime.datetime(2024, 1, 1),
            EndTime=datetime.datetime(2024, 1, 2),
            Period=60,
            Statistics=["Maximum"],
        )
    )
    assert response["Error"]["Code"] == "Throttling"
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-query-error"] == "Throttling;Sender"

    # ... the Rust SDK RPCv2-CBOR.
    status, headers, body = cbor_call(standin, "GetMetricStatistics", {"Namespace": "AWS/RDS"})
    assert status == 400
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["content-type"] == "application/cbor"
    assert headers["x-amzn-query-error"] == "Throttling;Sender"
    assert body == {"__type": "Throttling", "message": "Rate exceeded"}


def test_rest_protocols_by_method_and_path(standin):
    create_function(standin, "test-fn")
    control(
        standin,
        "POST",
        [
            {"service": "route53", "operation": "ChangeResourceRecordSets"},
            {"service": "lambda", "operation": "Invoke"},
            {"service": "route53", "operation": "GetChange", "kind": "5xx"},
            {"service": "backup", "operation": "ListBackupVaults"},
        ],
    )
    route53 = standin.client("route53", config=NO_RETRY)
    changed = error_of(
        lambda: route53.change_resource_record_sets(
            HostedZoneId="Z123",
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": "app.example.com.",
                            "Type": "A",
                            "TTL": 60,
                            "ResourceRecords": [{"Value": "203.0.113.20"}],
                        },
                    }
                ]
            },
        )
    )
    assert changed["Error"]["Code"] == "Throttling"
    assert changed["ResponseMetadata"]["HTTPStatusCode"] == 400

    change = error_of(lambda: route53.get_change(Id="C123"))
    assert change["Error"]["Code"] == "ServiceUnavailable"
    assert change["ResponseMetadata"]["HTTPStatusCode"] == 503

    invoked = error_of(lambda: standin.client("lambda", config=NO_RETRY).invoke(FunctionName="test-fn"))
    assert invoked["Error"]["Code"] == "TooManyRequestsException"
    assert invoked["ResponseMetadata"]["HTTPStatusCode"] == 429

    vaults = error_of(standin.client("backup", config=NO_RETRY).list_backup_vaults)
    assert vaults["Error"]["Code"] == "ThrottlingException"
    # Not an operation with a fault: moto answers.
    standin.client("lambda", config=NO_RETRY).list_functions()


def test_an_s3_put_of_a_key_is_put_object_and_a_resource_narrows_it_to_a_prefix(standin):
    # PutObject and CopyObject share "PUT /{Bucket}/{Key+}" in S3's model; S3 tells them apart by
    # the x-amz-copy-source header ("CopyObject", Amazon S3 API Reference,
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
    s3 = standin.client("s3", "eu-central-1", config=NO_RETRY)
    s3.create_bucket(Bucket="reports", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    control(standin, "POST", {"service": "s3", "operation": "PutObject", "resource": "/failback/",
                              "count": 5, "kind": "denied"})

    bodies = []
    s3.meta.events.register("before-parse.s3.PutObject", lambda **kw: bodies.append(kw["response_dict"]["body"]))
    denied = error_of(lambda: s3.put_object(Bucket="reports", Key="failback/x.json", Body=b"{}"))
    assert denied["Error"]["Code"] == "AccessDenied" and "s3:PutObject" in denied["Error"]["Message"]
    assert denied["ResponseMetadata"]["HTTPStatusCode"] == 403
    # S3's own error shape: <Error> at the root, no ErrorResponse wrapper ("Error responses").
    assert bodies[0].split(b"?>")[-1].startswith(b"<Error><Code>AccessDenied</Code>"), bodies[0]
    s3.put_object(Bucket="reports", Key="reports/run.json", Body=b"{}")
    s3.copy_object(Bucket="reports", Key="failback/copy.json", CopySource={"Bucket": "reports", "Key": "reports/run.json"})
    assert control(standin, "GET")[1]["faults"][0]["remaining"] == 4


def test_list_clear_validate_and_overrides(standin):
    assert control(standin, "POST", {"service": "rds", "kind": "melt"})[0] == 400
    assert control(standin, "POST", {"operation": "PromoteReadReplica"})[0] == 400
    control(
        standin,
        "POST",
        {"service": "sts", "operation": "GetCallerIdentity", "status": 400, "code": "RequestLimitExceeded"},
    )
    control(standin, "POST", {"service": "rds", "operation": "PromoteReadReplica", "count": 3})
    status, listed = control(standin, "GET")
    assert status == 200
    assert [(f["service"], f["operation"], f["remaining"]) for f in listed["faults"]] == [
        ("sts", "GetCallerIdentity", 1),
        ("rds", "PromoteReadReplica", 3),
    ]
    response = error_of(standin.client("sts", config=NO_RETRY).get_caller_identity)
    assert response["Error"]["Code"] == "RequestLimitExceeded"

    assert control(standin, "DELETE") == (200, {"cleared": 1})
    assert control(standin, "GET") == (200, {"faults": []})
    with pytest.raises(ClientError) as err:
        standin.client("rds", config=NO_RETRY).promote_read_replica(DBInstanceIdentifier="db-dr")
    assert err.value.response["Error"]["Code"] == "DBInstanceNotFound"


def test_sdk_retries_through_a_throttle(standin):
    """With its default retries the SDK classifies the fault as throttling and gets through."""
    control(standin, "POST", {"service": "rds", "operation": "DescribeDBInstances", "count": 1})
    rds = standin.client("rds", config=Config(retries={"max_attempts": 3, "mode": "standard"}))
    response = rds.describe_db_instances()
    assert response["ResponseMetadata"]["RetryAttempts"] == 1


def test_hang_delays_the_call_then_moto_answers(standin):
    control(standin, "POST", {"service": "autoscaling", "kind": "hang", "seconds": 1})
    asg = standin.client("autoscaling", "us-east-1", config=NO_RETRY)
    started = time.monotonic()
    asg.describe_auto_scaling_groups()
    assert time.monotonic() - started >= 1.0
    started = time.monotonic()
    asg.describe_auto_scaling_groups()
    assert time.monotonic() - started < 1.0


def test_lambda_5xx_is_lambdas_service_exception(standin):
    """Lambda's transient fault is HTTP 500 ServiceException (Step Functions: Lambda.ServiceException)."""
    create_function(standin, "test-fn")
    control(standin, "POST", {"service": "lambda", "operation": "Invoke", "kind": "5xx"})
    invoked = error_of(lambda: standin.client("lambda", config=NO_RETRY).invoke(FunctionName="test-fn"))
    assert invoked["Error"]["Code"] == "ServiceException"
    assert invoked["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_a_fault_with_a_resource_hits_only_calls_naming_it(standin):
    create_function(standin, "test-fn")
    create_function(standin, "other-fn")
    control(standin, "POST", {"service": "lambda", "operation": "Invoke", "kind": "5xx", "resource": "test-fn"})
    client = standin.client("lambda", config=NO_RETRY)
    assert control(standin, "GET")[1]["faults"][0]["resource"] == "test-fn"
    client.invoke(FunctionName="other-fn", InvocationType="DryRun")
    arn = client.get_function(FunctionName="test-fn")["Configuration"]["FunctionArn"]
    assert error_of(lambda: client.invoke(FunctionName=arn))["Error"]["Code"] == "ServiceException"
    client.invoke(FunctionName="test-fn", InvocationType="DryRun")


@pytest.mark.parametrize(
    "service, call, status, code, action",
    [
        ("autoscaling", lambda c: c.describe_scaling_activities(), 403, "AccessDenied",
         "autoscaling:DescribeScalingActivities"),
        ("rds", lambda c: c.describe_db_instances(), 403, "AccessDenied", "rds:DescribeDBInstances"),
        ("route53", lambda c: c.get_change(Id="C1"), 403, "AccessDenied", "route53:GetChange"),
        ("sns", lambda c: c.list_topics(), 403, "AuthorizationError", "sns:ListTopics"),
        ("stepfunctions", lambda c: c.list_state_machines(), 400, "AccessDeniedException",
         "states:ListStateMachines"),
        ("backup", lambda c: c.list_backup_vaults(), 400, "AccessDeniedException", "backup:ListBackupVaults"),
        ("lambda", lambda c: c.list_functions(), 403, "AccessDeniedException", "lambda:ListFunctions"),
        ("cloudwatch", lambda c: c.describe_alarms(), 403, "AccessDenied", "cloudwatch:DescribeAlarms"),
    ],
)
def test_denied_answers_each_services_access_denied_naming_the_action(standin, service, call, status, code, action):
    signing = {"stepfunctions": "states", "cloudwatch": "monitoring"}.get(service, service)
    operation = action.split(":")[1]
    control(standin, "POST", {"service": signing, "operation": operation, "kind": "denied"})
    denied = error_of(lambda: call(standin.client(service, config=NO_RETRY)))
    assert denied["Error"]["Code"] == code
    assert denied["ResponseMetadata"]["HTTPStatusCode"] == status
    assert f"is not authorized to perform: {action} because" in denied["Error"]["Message"]


def test_denied_lambda_invoke_names_invoke_function(standin):
    create_function(standin, "test-fn")
    control(standin, "POST", {"service": "lambda", "operation": "Invoke", "kind": "denied"})
    denied = error_of(lambda: standin.client("lambda", config=NO_RETRY).invoke(FunctionName="test-fn"))
    assert denied["Error"]["Code"] == "AccessDeniedException"
    assert "lambda:InvokeFunction" in denied["Error"]["Message"]


def test_denied_over_rpcv2_cbor_carries_the_query_code(standin):
    control(standin, "POST", {"service": "monitoring", "operation": "GetMetricStatistics", "kind": "denied"})
    status, headers, body = cbor_call(standin, "GetMetricStatistics", {})
    assert status == 403
    assert headers["x-amzn-query-error"] == "AccessDenied;Sender"
    assert body["__type"] == "AccessDenied"
