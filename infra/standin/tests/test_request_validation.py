"""Request validation: what AWS refuses for its shape gets the service's own validation error,
naming the member, in the service's wire format; a valid request reaches moto."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from standin_support import cbor_call, create_function

# botocore checks some of the model itself (required members, minimum lengths, types); with its
# checks off, the request reaches the stand-in as a client that does not check would send it.
UNCHECKED = Config(parameter_validation=False, retries={"total_max_attempts": 1, "mode": "standard"})


def refused(call) -> dict:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response


def test_query_protocol_answers_validation_error_naming_the_member(standin):
    asg = standin.client("autoscaling", config=UNCHECKED)
    response = refused(lambda: asg.describe_scaling_activities(AutoScalingGroupName="g" * 256))
    assert response["Error"]["Code"] == "ValidationError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"] == (
        f"1 validation error detected: Value '{'g' * 200}...' at 'autoScalingGroupName' failed to satisfy "
        "constraint: Member must have length less than or equal to 255"
    )
    # Within the model: moto answers.
    asg.describe_scaling_activities(AutoScalingGroupName="g" * 255)


def test_a_missing_required_member_is_refused_before_anything_changes(standin):
    rds = standin.client("rds", config=UNCHECKED)
    response = refused(lambda: rds.promote_read_replica())
    assert response["Error"]["Code"] == "ValidationError"
    assert "Value null at 'dBInstanceIdentifier' failed to satisfy constraint: Member must not be null" in (
        response["Error"]["Message"]
    )


def test_json_protocol_answers_validation_exception_with_every_violation(standin):
    sfn = standin.client("stepfunctions", config=UNCHECKED)
    response = refused(lambda: sfn.list_executions(stateMachineArn="", statusFilter="SLEEPING", maxResults=1001))
    assert response["Error"]["Code"] == "ValidationException"
    text = response["Error"]["Message"]
    assert text.startswith("3 validation errors detected: "), text
    assert "Value '' at 'stateMachineArn' failed to satisfy constraint: Member must have length greater than or equal to 1" in text
    assert "at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING," in text
    assert "Value 1001 at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000" in text


def test_a_json_value_of_the_wrong_type_is_a_serialization_exception(standin):
    sfn = standin.client("stepfunctions", config=UNCHECKED)
    response = refused(lambda: sfn.list_executions(stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:x",
                                                   maxResults="ten"))
    assert response["Error"]["Code"] == "SerializationException"
    assert "maxResults" in response["Error"]["Message"]


def test_route53_answers_invalid_input_naming_the_nested_member(standin):
    route53 = standin.client("route53", config=UNCHECKED)
    zone = route53.create_hosted_zone(Name="example.com.", CallerReference="r1")["HostedZone"]["Id"]
    response = refused(lambda: route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "MOVE", "ResourceRecordSet": {
            "Name": "a.example.com.", "Type": "A", "TTL": -1, "ResourceRecords": [{"Value": "192.0.2.1"}]}}]},
    ))
    assert response["Error"]["Code"] == "InvalidInput"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    text = response["Error"]["Message"]
    assert "at 'changeBatch.changes.1.member.action' failed to satisfy constraint: Member must satisfy enum value set" in text
    assert "Value -1 at 'changeBatch.changes.1.member.resourceRecordSet.tTL' failed to satisfy constraint" in text


def test_lambda_checks_the_path_label_and_the_body(standin):
    client = standin.client("lambda", config=UNCHECKED)
    response = refused(lambda: client.invoke(FunctionName="not a name!"))
    assert response["Error"]["Code"] == "ValidationException"
    assert "at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern" in (
        response["Error"]["Message"]
    )
    create_function(standin, "test-fn")
    response = refused(lambda: client.update_function_configuration(FunctionName="test-fn", Timeout=0))
    assert response["Error"]["Code"] == "ValidationException"
    assert "Value 0 at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1" in (
        response["Error"]["Message"]
    )


def test_cloudwatch_answers_its_query_codes_over_json_and_cbor(standin):
    cloudwatch = standin.client("cloudwatch", config=UNCHECKED)
    response = refused(lambda: cloudwatch.describe_alarms(MaxRecords=101))
    assert response["Error"]["Code"] == "InvalidParameterValue"
    assert "at 'maxRecords'" in response["Error"]["Message"]

    status, headers, body = cbor_call(standin, "PutMetricData", {"MetricData": []})
    assert status == 400
    assert headers["x-amzn-query-error"] == "MissingParameter;Sender"
    assert body["__type"] == "MissingParameter"
    assert "Value null at 'namespace'" in body["message"]


def test_sns_answers_invalid_parameter(standin):
    sns = standin.client("sns", config=UNCHECKED)
    response = refused(lambda: sns.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:t"))
    assert response["Error"]["Code"] == "InvalidParameter"
    assert "'message'" in response["Error"]["Message"]


def test_validation_can_be_turned_off_and_counts_what_it_refused(standin):
    asg = standin.client("autoscaling", config=UNCHECKED)
    asg.describe_scaling_activities(AutoScalingGroupName="web")
    refused(lambda: asg.describe_scaling_activities(AutoScalingGroupName="g" * 256))
    assert standin.control("validation", method="GET") == (200, {"enabled": True, "checked": 2, "refused": 1})
    assert standin.control("validation", {"enabled": "no"})[0] == 400
    assert standin.control("validation", {"enabled": False}) == (200, {"enabled": False, "checked": 2, "refused": 1})
    asg.describe_scaling_activities(AutoScalingGroupName="g" * 256)
