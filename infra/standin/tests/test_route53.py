"""Route 53 TestDNSAnswer, health check status, change status and record-set changes
(drstandin.route53). The ``standin`` fixture runs with transition_seconds = 1; ``setup_zone``
shortens it (a change to a zone is refused while the previous one is PENDING, so tests that make
many changes wait for INSYNC between them)."""

from __future__ import annotations

import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})

PRIMARY_LB = {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": "primary-lb.example.com.", "EvaluateTargetHealth": True}
DR_LB = {"HostedZoneId": "Z1H1FL5HABSF5", "DNSName": "dr-lb.example.com.", "EvaluateTargetHealth": True}


def setup_zone(standin, transition_seconds=0.2, name="example.com"):
    if transition_seconds is not None:
        settings(standin, {"transition_seconds": transition_seconds})
    r53 = standin.client("route53", config=NO_RETRY)
    zone = r53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]
    return r53, zone


def settings(standin, body):
    status, answer = standin.control("settings", body)
    assert status == 200, answer
    return answer


def health_check(r53, name):
    return r53.create_health_check(CallerReference=name, HealthCheckConfig={
        "Type": "HTTPS", "FullyQualifiedDomainName": f"{name}.example.com", "Port": 443, "ResourcePath": "/health",
    })["HealthCheck"]["Id"]


def set_health(standin, health_check_id, healthy, path=None):
    route = "route53/health-checks" + ("" if path == "collection" else f"/{health_check_id}")
    body = {"healthy": healthy, **({"id": health_check_id} if path == "collection" else {})}
    return standin.control(route, body)


def change(r53, zone, *changes):
    """Submit one batch and wait until it is INSYNC (so the zone takes the next change)."""
    info = r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": list(changes)})["ChangeInfo"]
    deadline = time.monotonic() + 10
    while r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] != "INSYNC":
        assert time.monotonic() < deadline, "change not INSYNC within 10 s"
        time.sleep(0.15)  # well under Route 53's request rate
    return info


def upsert(rrset):
    return {"Action": "UPSERT", "ResourceRecordSet": rrset}


def answer(r53, zone, name, rtype="A"):
    result = r53.test_dns_answer(HostedZoneId=zone, RecordName=name, RecordType=rtype)
    return result["ResponseCode"], result["RecordData"]


def test_change_is_pending_then_insync_and_record_sets_round_trip(standin):
    # Long enough that the calls below, on a loaded machine, all see the first change PENDING.
    r53, zone = setup_zone(standin, transition_seconds=3)
    hc = health_check(r53, "primary")
    failover_primary = {
        "Name": "app.example.com.", "Type": "A", "SetIdentifier": "primary", "Failover": "PRIMARY",
        "AliasTarget": PRIMARY_LB, "HealthCheckId": hc,
    }
    failover_secondary = {
        "Name": "app.example.com.", "Type": "A", "SetIdentifier": "secondary", "Failover": "SECONDARY",
        "AliasTarget": DR_LB,
    }
    weighted = {
        "Name": "api.example.com.", "Type": "A", "SetIdentifier": "primary", "Weight": 100, "TTL": 60,
        "ResourceRecords": [{"Value": "203.0.113.10"}], "HealthCheckId": hc,
    }
    first = r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={
        "Comment": "seed", "Changes": [upsert(failover_primary), upsert(failover_secondary), upsert(weighted)],
    })["ChangeInfo"]
    assert first["Status"] == "PENDING"
    assert first["Id"].startswith("/change/C")
    assert first["Comment"] == "seed"

    # While the first change is PENDING the zone takes no other change (another zone does).
    with pytest.raises(ClientError) as e:
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [upsert({**weighted, "Weight": 0})]})
    assert e.value.response["Error"]["Code"] == "PriorRequestNotComplete"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    other = r53.create_hosted_zone(Name="example.org", CallerReference="other")["HostedZone"]["Id"]
    assert r53.change_resource_record_sets(HostedZoneId=other, ChangeBatch={"Changes": [upsert(
        {"Name": "www.example.org.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}
    )]})["ChangeInfo"]["Status"] == "PENDING"
    # A refused batch changed nothing.
    listed = {
        (rs["Name"], rs.get("SetIdentifier")): rs
        for rs in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    }
    assert listed[("api.example.com.", "primary")] == weighted

    assert r53.get_change(Id=first["Id"])["ChangeInfo"]["Status"] == "PENDING"
    deadline = time.monotonic() + 10
    while (info := r53.get_change(Id=first["Id"])["ChangeInfo"])["Status"] == "PENDING" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert info["Status"] == "INSYNC"
    assert info["Id"] == first["Id"]
    assert info["SubmittedAt"] == first["SubmittedAt"]

    second = r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [upsert({**weighted, "Weight": 0})]})["ChangeInfo"]
    assert second["Id"] != first["Id"]
    assert second["Status"] == "PENDING"
    listed = {
        (rs["Name"], rs.get("SetIdentifier")): rs
        for rs in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    }
    assert listed[("app.example.com.", "primary")] == failover_primary
    assert listed[("app.example.com.", "secondary")] == failover_secondary
    assert listed[("api.example.com.", "primary")] == {**weighted, "Weight": 0}
    with pytest.raises(ClientError) as e:
        r53.get_change(Id="/change/CDOESNOTEXIST")
    assert e.value.response["Error"]["Code"] == "NoSuchChange"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_sdk_retries_prior_request_not_complete_until_the_zone_is_in_sync(standin):
    """boto3 classifies PriorRequestNotComplete as throttling and retries it."""
    setup_zone(standin, transition_seconds=0.3)
    r53 = standin.client("route53", config=Config(retries={"mode": "standard", "max_attempts": 10}))
    zone = r53.list_hosted_zones()["HostedZones"][0]["Id"]
    record = {"Name": "www.example.com.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [upsert(record)]})
    second = r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [upsert({**record, "ResourceRecords": [{"Value": "192.0.2.2"}]})]}
    )
    assert second["ResponseMetadata"]["RetryAttempts"] >= 1
    assert answer(r53, zone, "www.example.com") == ("NOERROR", ["192.0.2.2"])


def test_test_dns_answer_simple_alias_and_missing_names(standin):
    r53, zone = setup_zone(standin)
    change(
        r53, zone,
        upsert({"Name": "www.example.com.", "Type": "A", "TTL": 60,
                "ResourceRecords": [{"Value": "203.0.113.1"}, {"Value": "203.0.113.2"}]}),
        upsert({"Name": "lb.example.com.", "Type": "A", "AliasTarget": DR_LB}),
        upsert({"Name": "docs.example.com.", "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": "www.example.com"}]}),
        upsert({"Name": "a.b.example.com.", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": '"x"'}]}),
    )
    result = r53.test_dns_answer(HostedZoneId=zone, RecordName="www.example.com", RecordType="A")
    assert result["Nameserver"] == "ns-2048.awsdns-64.com"
    assert result["RecordName"] == "www.example.com"
    assert result["RecordType"] == "A"
    assert result["Protocol"] == "UDP"
    assert (result["ResponseCode"], result["RecordData"]) == ("NOERROR", ["203.0.113.1", "203.0.113.2"])
    assert answer(r53, zone, "WWW.example.com.") == ("NOERROR", ["203.0.113.1", "203.0.113.2"])
    assert answer(r53, zone, "lb.example.com") == ("NOERROR", ["dr-lb.example.com."])
    assert answer(r53, zone, "docs.example.com") == ("NOERROR", ["www.example.com"])
    assert answer(r53, zone, "www.example.com", "AAAA") == ("NOERROR", [])
    assert answer(r53, zone, "b.example.com", "A") == ("NOERROR", [])  # empty non-terminal
    assert answer(r53, zone, "nothing.example.com") == ("NXDOMAIN", [])
    with pytest.raises(ClientError) as e:
        r53.test_dns_answer(HostedZoneId="ZNOSUCHZONE", RecordName="www.example.com", RecordType="A")
    assert e.value.response["Error"]["Code"] == "NoSuchHostedZone"


def test_failover_records_follow_health_checks(standin):
    r53, zone = setup_zone(standin)
    primary_hc, secondary_hc = health_check(r53, "primary"), health_check(r53, "secondary")
    change(
        r53, zone,
        upsert({"Name": "app.example.com.", "Type": "A", "SetIdentifier": "primary", "Failover": "PRIMARY",
                "AliasTarget": PRIMARY_LB, "HealthCheckId": primary_hc}),
        upsert({"Name": "app.example.com.", "Type": "A", "SetIdentifier": "secondary", "Failover": "SECONDARY",
                "TTL": 60, "ResourceRecords": [{"Value": "198.51.100.20"}], "HealthCheckId": secondary_hc}),
    )
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["primary-lb.example.com."])
    status = r53.get_health_check_status(HealthCheckId=primary_hc)["HealthCheckObservations"]
    assert status[0]["StatusReport"]["Status"].startswith("Success")

    assert set_health(standin, primary_hc, False) == (200, {"id": primary_hc, "healthy": False, "source": "control"})
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["198.51.100.20"])
    status = r53.get_health_check_status(HealthCheckId=primary_hc)["HealthCheckObservations"]
    assert status[0]["StatusReport"]["Status"].startswith("Failure")

    # Both unhealthy: Route 53 answers the primary.
    assert set_health(standin, secondary_hc, False, path="collection")[0] == 200
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["primary-lb.example.com."])

    # A disabled health check counts as healthy; an inverted one flips.
    r53.update_health_check(HealthCheckId=secondary_hc, Disabled=True)
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["198.51.100.20"])
    r53.update_health_check(HealthCheckId=primary_hc, Inverted=True)
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["primary-lb.example.com."])

    assert set_health(standin, primary_hc, True)[0] == 200
    r53.update_health_check(HealthCheckId=primary_hc, Inverted=False)
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["primary-lb.example.com."])


def test_weighted_records_answer_the_heaviest_healthy_set(standin):
    r53, zone = setup_zone(standin)
    hc = health_check(r53, "primary")

    def weighted(ident, weight, **target):
        return upsert({"Name": "app.example.com.", "Type": "A", "SetIdentifier": ident, "Weight": weight, **target})

    primary_values = {"TTL": 60, "ResourceRecords": [{"Value": "203.0.113.10"}], "HealthCheckId": hc}
    change(r53, zone, weighted("primary", 100, **primary_values), weighted("dr", 0, AliasTarget=DR_LB))
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["203.0.113.10"])

    # The flip: DR 100, primary 0.
    change(r53, zone, weighted("primary", 0, **primary_values), weighted("dr", 100, AliasTarget=DR_LB))
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["dr-lb.example.com."])

    # All weigh 0: answered (first set); ties go to the first set.
    change(r53, zone, weighted("dr", 0, AliasTarget=DR_LB))
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["203.0.113.10"])
    change(r53, zone, weighted("primary", 50, **primary_values), weighted("dr", 50, AliasTarget=DR_LB))
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["203.0.113.10"])

    # An unhealthy set is skipped; zero-weight sets stand in when no set above 0 is healthy.
    assert set_health(standin, hc, False)[0] == 200
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["dr-lb.example.com."])
    change(r53, zone, weighted("dr", 0, AliasTarget=DR_LB))
    assert answer(r53, zone, "app.example.com") == ("NOERROR", ["dr-lb.example.com."])


def test_change_batches_are_atomic_and_match_set_identifiers(standin):
    r53, zone = setup_zone(standin)

    def rrset(name, ident, value):
        return {"Name": name, "Type": "A", "SetIdentifier": ident, "Weight": 10, "TTL": 60,
                "ResourceRecords": [{"Value": value}]}

    app_primary = rrset("app.example.com.", "primary", "203.0.113.10")
    api_primary = rrset("api.example.com.", "primary", "203.0.113.11")
    change(r53, zone, upsert(app_primary), upsert(api_primary))

    def names():
        return sorted(
            (rs["Name"], rs.get("SetIdentifier"))
            for rs in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
            if rs["Type"] == "A"
        )

    # DELETE removes only the set with that name, type and set identifier.
    change(r53, zone, {"Action": "DELETE", "ResourceRecordSet": app_primary})
    assert names() == [("api.example.com.", "primary")]

    # A batch with one failing change applies nothing.
    with pytest.raises(ClientError) as e:
        change(
            r53, zone,
            upsert(rrset("new.example.com.", "primary", "203.0.113.12")),
            {"Action": "DELETE", "ResourceRecordSet": app_primary},
        )
    assert e.value.response["Error"]["Code"] == "InvalidChangeBatch"
    assert "but it was not found" in e.value.response["Error"]["Message"]
    assert names() == [("api.example.com.", "primary")]

    with pytest.raises(ClientError) as e:
        change(r53, zone, {"Action": "CREATE", "ResourceRecordSet": api_primary})
    assert "already exists" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        change(r53, zone, {"Action": "DELETE", "ResourceRecordSet": {**api_primary, "TTL": 300}})
    assert "do not match" in e.value.response["Error"]["Message"]

    # DELETE + CREATE in one batch replaces the set.
    change(
        r53, zone,
        {"Action": "DELETE", "ResourceRecordSet": api_primary},
        {"Action": "CREATE", "ResourceRecordSet": rrset("api.example.com.", "primary", "198.51.100.11")},
    )
    assert answer(r53, zone, "api.example.com") == ("NOERROR", ["198.51.100.11"])


def test_health_control_refuses_unknown_checks_and_bad_bodies(standin):
    r53, _ = setup_zone(standin)
    hc = health_check(r53, "primary")
    assert set_health(standin, "no-such-check", False, path="collection")[0] == 404
    assert set_health(standin, hc, "no")[0] == 400
    assert standin.control(f"route53/health-checks/{hc}", method="GET") == (200, {"id": hc, "healthy": True, "source": "default"})


def hosts(count, start=0, value="192.0.2.1"):
    return [
        upsert({"Name": f"host-{i}.example.com.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": value}]})
        for i in range(start, start + count)
    ]


def test_a_batch_past_1000_resource_records_counting_upserts_twice_is_refused_whole(standin):
    r53, zone = setup_zone(standin)
    change(r53, zone, *hosts(500))  # 500 UPSERTed values count 1,000: at the limit

    with pytest.raises(ClientError) as e:
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": hosts(501, value="203.0.113.1")})

    assert e.value.response["Error"]["Code"] == "InvalidChangeBatch"
    assert e.value.response["Error"]["Message"] == "Number of records limit of 1000 exceeded."
    sets = r53.list_resource_record_sets(HostedZoneId=zone, StartRecordName="host-0.example.com.")["ResourceRecordSets"]
    assert sets[0]["ResourceRecords"] == [{"Value": "192.0.2.1"}], "nothing of the refused batch applied"
    # CREATE counts once: 600 values in one batch are within the limit.
    creates = [dict(c, Action="CREATE") for c in hosts(600, start=1000)]
    change(r53, zone, *creates)


def test_a_batch_past_32000_value_characters_counting_upserts_twice_is_refused(standin):
    r53, zone = setup_zone(standin)
    # Each Value at most 4,000 characters (the API's own limit, which request validation plays).
    txt = lambda i, *n: upsert({  # noqa: E731
        "Name": f"txt-{i}.example.com.", "Type": "TXT", "TTL": 60,
        "ResourceRecords": [{"Value": '"' + "x" * k + '"'} for k in n],
    })
    change(r53, zone, txt(0, 3998, 3998), txt(1, 3998, 3998))  # 4 x 4,000 characters, twice: 32,000

    with pytest.raises(ClientError) as e:
        r53.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Changes": [txt(0, 3998, 3998), txt(1, 3998, 3998), txt(2, 1)]}
        )

    assert e.value.response["Error"]["Code"] == "InvalidChangeBatch"
    assert "32006 characters" in e.value.response["Error"]["Message"]


def test_listing_pages_hold_at_most_300_sets_and_resume_inside_a_weighted_record(standin):
    r53, zone = setup_zone(standin)
    # The zone's own sets (NS, SOA) and the aaa-N records sort before "api" (labels reversed:
    # com.example < com.example.aaa-N < com.example.api), 299 in all, so the page boundary at 300
    # falls between api's two weighted sets.
    own = len(r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"])
    simple = [
        upsert({"Name": f"aaa-{i:03}.example.com.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]})
        for i in range(299 - own)
    ]
    weighted = [
        upsert({"Name": "api.example.com.", "Type": "A", "SetIdentifier": ident, "Weight": weight, "TTL": 60,
                "ResourceRecords": [{"Value": value}]})
        for ident, weight, value in (("primary", 100, "192.0.2.2"), ("dr", 0, "203.0.113.2"))
    ]
    change(r53, zone, *simple, *weighted)

    first = r53.list_resource_record_sets(HostedZoneId=zone, MaxItems="1000")
    assert len(first["ResourceRecordSets"]) == 300 and first["IsTruncated"] is True
    assert first["ResourceRecordSets"][-1]["Name"] == "api.example.com."
    assert (first["NextRecordName"], first["NextRecordType"]) == ("api.example.com.", "A")
    next_identifier = first["NextRecordIdentifier"]
    assert next_identifier != first["ResourceRecordSets"][-1]["SetIdentifier"]

    second = r53.list_resource_record_sets(
        HostedZoneId=zone, StartRecordName=first["NextRecordName"], StartRecordType=first["NextRecordType"],
        StartRecordIdentifier=next_identifier,
    )
    assert [s.get("SetIdentifier") for s in second["ResourceRecordSets"]] == [next_identifier]
    assert second["IsTruncated"] is False


def test_each_change_takes_the_transition_set_when_it_was_submitted(standin):
    """A change propagates in the time set when it was submitted: shortening the setting afterwards
    does not end a change already PENDING (nor does it let the zone take another change early)."""
    r53, zone = setup_zone(standin, transition_seconds=30)
    first = r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": "slow.example.com.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}}]})["ChangeInfo"]["Id"]
    settings(standin, {"transition_seconds": 0})
    assert r53.get_change(Id=first)["ChangeInfo"]["Status"] == "PENDING"
    with pytest.raises(ClientError) as refused:
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "next.example.com.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.2"}]}}]})
    assert refused.value.response["Error"]["Code"] == "PriorRequestNotComplete"
