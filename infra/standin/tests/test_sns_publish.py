"""SNS Publish: at most 262,144 bytes of UTF-8, not characters ("Publish" API reference)."""

from __future__ import annotations

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
