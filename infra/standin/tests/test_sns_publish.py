"""SNS Publish: at most 262,144 bytes of UTF-8, not characters ("Publish" API reference)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError


def test_a_message_past_256_kb_in_bytes_is_refused_though_it_has_fewer_characters(standin):
    sns = standin.client("sns")
    topic = sns.create_topic(Name="reports")["TopicArn"]
    sns.publish(TopicArn=topic, Message="x" * 262144)
    sns.publish(TopicArn=topic, Message="é" * 131072)  # 262,144 bytes

    with pytest.raises(ClientError) as err:
        sns.publish(TopicArn=topic, Message="é" * 131073)  # 131,073 characters, 262,146 bytes
    assert err.value.response["Error"]["Code"] == "InvalidParameter"
    assert err.value.response["Error"]["Message"] == "Invalid parameter: Message too long"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_json_structured_message_needs_a_default_string_even_with_no_subscriber(standin):
    """"Publish" API reference, MessageStructure: with json, Message "must: be a syntactically valid
    JSON object; and contain at least a top-level JSON key of "default" with a value that is a
    string". moto checked it only while delivering, and took a protocol's key for a missing default."""
    sns = standin.client("sns")
    topic = sns.create_topic(Name="structured")["TopicArn"]
    refused = {
        json.dumps({"https": "chat only"}): "No default entry in JSON message body",
        json.dumps({"default": {"not": "a string"}}): "No default entry in JSON message body",
        json.dumps({"default": "text", "email": 3}): "the value of email is not a string",
        "plain text": "JSON message body failed to parse",
        json.dumps(["default"]): "JSON message body failed to parse",
    }
    for message, reason in refused.items():
        with pytest.raises(ClientError) as err:
            sns.publish(TopicArn=topic, Message=message, MessageStructure="json")
        assert err.value.response["Error"]["Code"] == "InvalidParameter", message
        assert err.value.response["Error"]["Message"] == f"Invalid parameter: Message Structure - {reason}"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_json_structured_message_reaches_each_protocol_with_its_own_key_or_default(standin):
    sns, sqs = standin.client("sns"), standin.client("sqs")
    topic = sns.create_topic(Name="per-protocol")["TopicArn"]
    queue = sqs.create_queue(QueueName="reports")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    message = {"default": "what happened\n\n{\"outcome\": \"dry-run\"}", "https": json.dumps({"version": "1.0"})}
    sns.publish(TopicArn=topic, Message=json.dumps(message), MessageStructure="json", Subject="s")
    [received] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(received["Body"])["Message"] == message["default"]
