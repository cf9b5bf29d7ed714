"""Route 53 health checks of type CLOUDWATCH_METRIC follow their alarm (drstandin.route53_health):
OK healthy, ALARM unhealthy, INSUFFICIENT_DATA as InsufficientDataHealthStatus says, the last
known status while the alarm's region is unreachable; a status set by the control wins."""

from __future__ import annotations

from botocore.config import Config

NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})


def alarm(standin, name, region="us-west-2"):
    cloudwatch = standin.client("cloudwatch", region, config=NO_RETRY)
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="DrFailover/Gate", MetricName="Open", Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    return cloudwatch


def set_alarm(cloudwatch, name, value):
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=value, StateReason="test")


def metric_check(r53, name, alarm_name, region="us-west-2", insufficient="LastKnownStatus", inverted=False):
    return r53.create_health_check(CallerReference=name, HealthCheckConfig={
        "Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": region, "Name": alarm_name},
        "InsufficientDataHealthStatus": insufficient, "Inverted": inverted,
    })["HealthCheck"]["Id"]


def health(standin, check):
    status, body = standin.control(f"route53/health-checks/{check}", method="GET")
    assert status == 200, body
    return body["healthy"], body["source"]


def reported(r53, check):
    return r53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"][0]["StatusReport"]["Status"]


def test_a_metric_health_check_follows_its_alarm_and_keeps_its_configuration(standin):
    r53 = standin.client("route53", config=NO_RETRY)
    cloudwatch = alarm(standin, "gate")
    check = metric_check(r53, "gate", "gate")
    config = r53.get_health_check(HealthCheckId=check)["HealthCheck"]["HealthCheckConfig"]
    assert config["AlarmIdentifier"] == {"Region": "us-west-2", "Name": "gate"}
    assert config["InsufficientDataHealthStatus"] == "LastKnownStatus"

    assert health(standin, check) == (True, "alarm")  # moto's alarms start OK
    assert reported(r53, check).startswith("Success: CloudWatch alarm gate in us-west-2 is OK")
    # Evaluated from its metric (drstandin.alarm_evaluation): ALARM, unhealthy.
    cloudwatch.put_metric_data(Namespace="DrFailover/Gate", MetricData=[{"MetricName": "Open", "Value": 1}])
    assert health(standin, check) == (False, "alarm")
    assert reported(r53, check).startswith("Failure: CloudWatch alarm gate in us-west-2 is ALARM")
    set_alarm(cloudwatch, "gate", "OK")
    assert health(standin, check) == (True, "alarm")

    # A status set by the control wins over the alarm until it is cleared with null.
    standin.control(f"route53/health-checks/{check}", {"healthy": False})
    assert health(standin, check) == (False, "control")
    assert reported(r53, check).startswith("Failure")
    standin.control(f"route53/health-checks/{check}", {"healthy": None})
    assert health(standin, check) == (True, "alarm")

    # UpdateHealthCheck moves it to another alarm, in another region.
    east = alarm(standin, "gate-east", region="us-east-2")
    set_alarm(east, "gate-east", "ALARM")
    r53.update_health_check(HealthCheckId=check, AlarmIdentifier={"Region": "us-east-2", "Name": "gate-east"})
    assert health(standin, check) == (False, "alarm")


def test_insufficient_data_is_healthy_unhealthy_or_the_last_known_status(standin):
    r53 = standin.client("route53", config=NO_RETRY)
    cloudwatch = alarm(standin, "gate")
    checks = {rule: metric_check(r53, rule, "gate", insufficient=rule) for rule in ("Healthy", "Unhealthy", "LastKnownStatus")}
    inverted = metric_check(r53, "inverted", "gate", insufficient="LastKnownStatus", inverted=True)
    missing = metric_check(r53, "missing", "no-such-alarm", insufficient="Unhealthy")

    set_alarm(cloudwatch, "gate", "ALARM")
    set_alarm(cloudwatch, "gate", "INSUFFICIENT_DATA")
    assert {rule: health(standin, c)[0] for rule, c in checks.items()} == {
        "Healthy": True, "Unhealthy": False, "LastKnownStatus": False,
    }
    assert health(standin, inverted)[0] is True  # last known unhealthy, inverted
    assert health(standin, missing)[0] is False  # no alarm: no data

    set_alarm(cloudwatch, "gate", "OK")
    set_alarm(cloudwatch, "gate", "INSUFFICIENT_DATA")
    assert health(standin, checks["LastKnownStatus"])[0] is True


def test_failover_answers_follow_the_alarm_and_keep_the_last_known_status_through_an_outage(standin):
    r53 = standin.client("route53", config=NO_RETRY)
    cloudwatch = alarm(standin, "gate", region="us-east-1")
    check = metric_check(r53, "gate", "gate", region="us-east-1")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="zone")["HostedZone"]["Id"]
    sets = [
        {"Name": "app.example.com.", "Type": "A", "SetIdentifier": "primary", "Failover": "PRIMARY", "TTL": 60,
         "ResourceRecords": [{"Value": "192.0.2.10"}], "HealthCheckId": check},
        {"Name": "app.example.com.", "Type": "A", "SetIdentifier": "secondary", "Failover": "SECONDARY", "TTL": 60,
         "ResourceRecords": [{"Value": "198.51.100.10"}]},
    ]
    r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": s} for s in sets]}
    )

    def answer():
        return r53.test_dns_answer(HostedZoneId=zone, RecordName="app.example.com", RecordType="A")["RecordData"]

    assert answer() == ["192.0.2.10"]
    set_alarm(cloudwatch, "gate", "ALARM")
    assert answer() == ["198.51.100.10"]

    # us-east-1 goes down: the alarm cannot be read; the health check keeps its last status.
    standin.control("outage", {"regions": ["us-east-1"], "exempt_access_keys": ["inspector"]})
    inspector = standin.client("cloudwatch", "us-east-1", aws_access_key_id="inspector")
    set_alarm(inspector, "gate", "OK")
    assert health(standin, check) == (False, "outage")
    standin.control("outage", method="DELETE")
    assert health(standin, check) == (True, "alarm")
    assert answer() == ["192.0.2.10"]


def test_an_alarm_identifier_is_refused_on_a_basic_health_check_and_required_on_a_metric_one(standin):
    import botocore.exceptions
    import pytest

    r53 = standin.client("route53", config=NO_RETRY)
    with pytest.raises(botocore.exceptions.ClientError) as basic:
        r53.create_health_check(CallerReference="basic", HealthCheckConfig={
            "Type": "TCP", "IPAddress": "198.51.100.10", "Port": 443,
            "AlarmIdentifier": {"Region": "us-west-2", "Name": "gate"},
        })
    assert basic.value.response["Error"]["Code"] == "InvalidInput"
    assert "must not have an metric region" in basic.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as bare:
        r53.create_health_check(CallerReference="bare", HealthCheckConfig={
            "Type": "CLOUDWATCH_METRIC", "InsufficientDataHealthStatus": "LastKnownStatus",
        })
    assert bare.value.response["Error"]["Code"] == "InvalidInput"
    assert not r53.list_health_checks()["HealthChecks"]
