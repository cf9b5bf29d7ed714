"""Region outages (drstandin.outage): a listed region, and the global services whose control plane
is in us-east-1, answer nothing; other regions keep working; what was refused is listed."""

from __future__ import annotations

import socket

import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

ONE_TRY = Config(retries={"mode": "standard", "max_attempts": 1})
UNREACHABLE = (ConnectionClosedError, EndpointConnectionError)


def client(standin, service, region, **kwargs):
    return standin.client(service, region, config=ONE_TRY, **kwargs)


def test_a_region_down_and_the_global_control_planes_answer_nothing_other_regions_work(standin):
    assert standin.control("outage", {"regions": ["us-east-1"], "global": True})[0] == 201

    refused = [
        lambda: client(standin, "route53", "us-east-1").list_hosted_zones(),
        lambda: client(standin, "iam", "us-east-1").list_roles(),
        lambda: client(standin, "sts", "us-east-1").get_caller_identity(),  # the global endpoint
        lambda: client(standin, "rds", "us-east-1").describe_db_instances(),
        lambda: client(standin, "cloudwatch", "us-east-1").describe_alarms(),
    ]
    for call in refused:
        with pytest.raises(UNREACHABLE):
            call()
    assert client(standin, "sts", "us-west-2").get_caller_identity()["Account"]
    assert client(standin, "rds", "us-west-2").describe_db_instances()["DBInstances"] == []
    assert client(standin, "cloudwatch", "us-west-2").describe_alarms()["MetricAlarms"] == []

    status, report = standin.control("outage", method="GET")
    assert status == 200 and report["regions"] == ["us-east-1"] and report["global"] is True
    assert set(report["refused_endpoints"]) == {
        "route53.amazonaws.com", "iam.amazonaws.com", "sts.amazonaws.com",
        "rds.us-east-1.amazonaws.com", "monitoring.us-east-1.amazonaws.com",
    }
    first = report["refused"][0]
    assert (first["service"], first["region"], first["operation"]) == ("route53", "us-east-1", "ListHostedZones")

    # Ended: us-east-1 answers again; the log stays until the next outage.
    assert standin.control("outage", method="DELETE")[1]["regions"] == []
    assert client(standin, "route53", "us-east-1").list_hosted_zones()["HostedZones"] == []
    assert standin.control("outage", method="GET")[1]["refused_endpoints"]["route53.amazonaws.com"] >= 1


def test_global_only_leaves_us_east_1_up_and_a_refused_connection_is_reset_without_an_http_answer(standin):
    standin.control("outage", {"global": True})
    with pytest.raises(UNREACHABLE):
        client(standin, "route53", "us-east-1").list_hosted_zones()
    assert client(standin, "rds", "us-east-1").describe_db_instances()["DBInstances"] == []
    assert client(standin, "sts", "eu-west-1").get_caller_identity()["Account"]

    host, port = standin.url.removeprefix("http://").split(":")
    request = (
        "GET /2013-04-01/hostedzone HTTP/1.1\r\nHost: route53.amazonaws.com\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/route53/aws4_request, "
        "SignedHeaders=host, Signature=0\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        try:
            received = sock.recv(1024)
        except ConnectionResetError:
            received = b""
    assert received == b""  # no status line: an unreachable endpoint, not an HTTP error


def test_exempt_keys_pass_an_unreachable_regions_alarms_stop_evaluating_and_bad_bodies_are_refused(standin):
    assert standin.control("outage", {})[0] == 400
    assert standin.control("outage", {"regions": "us-east-1"})[0] == 400
    assert standin.control("outage", {"regions": ["us-east-1"], "global": "yes"})[0] == 400
    assert standin.control("outage", {"regions": ["us-east-1"], "zones": []})[0] == 400
    cloudwatch = client(standin, "cloudwatch", "us-east-1")
    cloudwatch.put_metric_alarm(
        AlarmName="app-errors", Namespace="DrFailover/Test", MetricName="Errors", Statistic="Maximum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    standin.control("outage", {"regions": ["us-east-1"], "exempt_access_keys": ["inspector"]})
    inspector = client(standin, "cloudwatch", "us-east-1", aws_access_key_id="inspector")
    inspector.put_metric_data(Namespace="DrFailover/Test", MetricData=[{"MetricName": "Errors", "Value": 5}])
    assert inspector.describe_alarms()["MetricAlarms"][0]["StateValue"] == "OK"  # not evaluated

    standin.control("outage", method="DELETE")
    cloudwatch.put_metric_data(Namespace="DrFailover/Test", MetricData=[{"MetricName": "Errors", "Value": 5}])
    assert cloudwatch.describe_alarms()["MetricAlarms"][0]["StateValue"] == "ALARM"
    assert standin.control("outage", method="GET")[1]["refused"] == []
