"""Route 53's per-account token bucket: Throttling in REST-XML past the burst, refilled per second."""

from __future__ import annotations

import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def rate(standin, method: str = "GET", body=None) -> tuple[int, dict]:
    return standin.control("route53/rate", body, method)


def route53(standin, account: str | None = None, config=NO_RETRY):
    client = standin.client("route53", config=config)
    if account:
        def add_account(request, **_):
            request.headers["x-moto-account-id"] = account

        client.meta.events.register("before-sign.route53.*", add_account)
    return client


def throttled(call) -> dict:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response


def test_default_is_aws_account_bucket(standin):
    assert rate(standin) == (200, {"requests_per_second": 10.0, "burst": 50.0, "throttled": 0})


def test_burst_then_throttling_in_rest_xml_then_refill(standin):
    assert rate(standin, "POST", {"requests_per_second": 1, "burst": 3})[1]["burst"] == 3.0
    client = route53(standin)
    zone = client.create_hosted_zone(Name="example.com", CallerReference="r1")["HostedZone"]["Id"]
    client.list_resource_record_sets(HostedZoneId=zone)
    client.test_dns_answer(HostedZoneId=zone, RecordName="example.com", RecordType="SOA")

    # Every Route 53 operation takes a token, GetChange included.
    response = throttled(lambda: client.get_change(Id="C123"))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"] == {"Type": "Sender", "Code": "Throttling", "Message": "Rate exceeded"}
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"].startswith("text/xml")
    assert rate(standin)[1]["throttled"] == 1

    time.sleep(1.1)  # one token back
    client.list_hosted_zones()
    assert throttled(client.list_hosted_zones)["Error"]["Code"] == "Throttling"


def test_buckets_are_per_account_and_other_services_are_free(standin):
    rate(standin, "POST", {"requests_per_second": 0.5, "burst": 1})
    route53(standin).list_hosted_zones()
    assert throttled(route53(standin).list_hosted_zones)["Error"]["Code"] == "Throttling"
    route53(standin, account="210987654321").list_hosted_zones()
    for _ in range(5):
        standin.client("rds", config=NO_RETRY).describe_db_instances()


def test_sdk_retries_get_through(standin):
    rate(standin, "POST", {"requests_per_second": 5, "burst": 1})
    client = route53(standin, config=Config(retries={"max_attempts": 10, "mode": "standard"}))
    attempts = [client.list_hosted_zones()["ResponseMetadata"]["RetryAttempts"] for _ in range(4)]
    assert sum(attempts) >= 1


def test_zero_disables_and_validation(standin):
    assert rate(standin, "POST", {"requests_per_second": -1})[0] == 400
    assert rate(standin, "POST", {"per_second": 1})[0] == 400
    assert rate(standin, "POST", {"requests_per_second": 2}) == (
        200,
        {"requests_per_second": 2.0, "burst": 10.0, "throttled": 0},
    )
    rate(standin, "POST", {"requests_per_second": 0})
    client = route53(standin)
    for _ in range(60):
        client.list_hosted_zones()
    assert rate(standin)[1]["throttled"] == 0


def test_flag_sets_the_rate():
    from conftest import start_standin

    server = start_standin(["--route53-rps", "0"])
    try:
        assert rate(server)[1]["requests_per_second"] == 0.0
        client = route53(server)
        for _ in range(60):
            client.list_hosted_zones()
    finally:
        server.process.kill()
        server.process.wait(timeout=10)
