"""Small helpers shared by the stand-in tests (Step Functions, Lambda, EventBridge)."""

from __future__ import annotations

import io
import json
import sys
import time
import uuid
import zipfile
from pathlib import Path

# The tests use the stand-in's CBOR codec to speak RPCv2-CBOR like the Rust SDK.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/standin-test"


class FunctionError(Exception):
    """Raise from a `lambda_runtime` handler to fail the invocation as a Lambda runtime does."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll until predicate() is truthy; return its value, or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


def create_state_machine(sfn, definition: dict, name: str | None = None) -> str:
    return sfn.create_state_machine(
        name=name or f"sm-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=ROLE,
    )["stateMachineArn"]


def wait_execution(sfn, execution_arn: str, timeout: float = 15.0) -> dict:
    def done():
        described = sfn.describe_execution(executionArn=execution_arn)
        return described if described["status"] != "RUNNING" else None

    return wait_for(done, timeout)


def run(sfn, definition: dict, execution_input: dict | None = None, timeout: float = 15.0) -> dict:
    arn = create_state_machine(sfn, definition)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input or {}))
    return wait_execution(sfn, execution["executionArn"], timeout)


def executions(sfn, state_machine_arn: str) -> list[dict]:
    return sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]


def history(sfn, execution_arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\n")
    return buffer.getvalue()


def ensure_role(iam) -> str:
    """moto's CreateFunction wants the execution role to exist in IAM."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    try:
        return iam.create_role(RoleName="standin-test", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName="standin-test")["Role"]["Arn"]


def create_function(standin, name: str, region: str = "us-east-1", **config) -> str:
    """``config``: more CreateFunction parameters, e.g. ``Timeout=1``."""
    role = ensure_role(standin.client("iam"))
    return standin.client("lambda", region).create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=role,
        Handler="bootstrap",
        Code={"ZipFile": dummy_zip()},
        **config,
    )["FunctionArn"]


def cbor_call(
    standin, operation: str, body: dict, region: str = "us-east-1", access_key: str = "testing"
) -> tuple[int, dict, object]:
    """A CloudWatch call as the AWS SDK for Rust sends it (Smithy RPCv2-CBOR), signed with
    ``access_key``; (status, headers, body)."""
    import urllib.error
    import urllib.request

    from drstandin import cbor

    request = urllib.request.Request(
        f"{standin.url}/service/GraniteServiceVersion20100801/operation/{operation}",
        data=cbor.encode(body),
        method="POST",
        headers={
            "Content-Type": "application/cbor",
            "Accept": "application/cbor",
            "smithy-protocol": "rpc-v2-cbor",
            "x-amzn-query-mode": "true",
            # moto does not check signatures; the credential scope routes the call.
            "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/20240101/{region}/monitoring/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        status, headers, raw = err.code, dict(err.headers), err.read()
    headers = {k.lower(): v for k, v in headers.items()}
    return status, headers, cbor.decode(raw) if raw else None
