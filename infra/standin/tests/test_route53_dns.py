"""The stand-in's authoritative name server (drstandin.route53_dns), queried with dnspython over UDP
and TCP: Route 53's routing and health, NXDOMAIN and NODATA, changes answered once INSYNC, and
answers while Route 53's API is unreachable."""

from __future__ import annotations

import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
from botocore.config import Config

NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})
ELB = {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": "primary-lb.us-east-1.elb.amazonaws.com.", "EvaluateTargetHealth": True}


def server(standin):
    status, body = standin.control("dns", method="GET")
    assert status == 200 and body["udp"] and body["tcp"], body
    return body["host"], body["port"]


def query(standin, name, rtype="A", tcp=False):
    host, port = server(standin)
    message = dns.message.make_query(name, rtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(message, host, port=port, timeout=5)


def data(response):
    return sorted(rd.to_text() for rrset in response.answer for rd in rrset)


def zone(standin, transition_seconds=0.0, name="example.com"):
    assert standin.control("settings", {"transition_seconds": transition_seconds})[0] == 200
    r53 = standin.client("route53", config=NO_RETRY)
    return r53, r53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]


def upsert(r53, zone_id, *sets):
    return r53.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": s} for s in sets]}
    )["ChangeInfo"]["Id"]


def a_set(name, value, **extra):
    return {"Name": name, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": value}], **extra}


def health_check(r53, name):
    return r53.create_health_check(CallerReference=name, HealthCheckConfig={
        "Type": "HTTPS", "FullyQualifiedDomainName": f"{name}.example.com", "Port": 443, "ResourcePath": "/health",
    })["HealthCheck"]["Id"]


def test_simple_records_nxdomain_nodata_and_refused(standin):
    r53, zone_id = zone(standin)
    upsert(
        r53, zone_id,
        a_set("www.example.com.", "192.0.2.1"),
        {"Name": "www.example.com.", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"v=spf1 -all"'}]},
        {"Name": "v6.example.com.", "Type": "AAAA", "TTL": 60, "ResourceRecords": [{"Value": "2001:db8::1"}]},
        {"Name": "alias.example.com.", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": "www.example.com"}]},
        a_set("deep.under.example.com.", "192.0.2.3"),
        a_set("*.wild.example.com.", "192.0.2.4"),
    )
    response = query(standin, "www.example.com")
    assert response.rcode() == dns.rcode.NOERROR and response.flags & dns.flags.AA
    assert data(response) == ["192.0.2.1"] and response.answer[0].ttl == 60
    assert data(query(standin, "www.example.com", "TXT", tcp=True)) == ['"v=spf1 -all"']
    assert data(query(standin, "v6.example.com", "AAAA")) == ["2001:db8::1"]
    assert data(query(standin, "alias.example.com", "A")) == ["www.example.com."]  # the CNAME
    assert data(query(standin, "x.wild.example.com")) == ["192.0.2.4"]

    nodata = query(standin, "www.example.com", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and nodata.answer == []
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA
    assert query(standin, "under.example.com").rcode() == dns.rcode.NOERROR  # a name with names below
    missing = query(standin, "nope.example.com")
    assert missing.rcode() == dns.rcode.NXDOMAIN and missing.authority[0].rdtype == dns.rdatatype.SOA
    assert query(standin, "example.org").rcode() == dns.rcode.REFUSED
    apex = query(standin, "example.com", "NS")
    assert len(data(apex)) == 4 and all("awsdns" in ns for ns in data(apex))


def test_failover_weighted_and_alias_answers_follow_health(standin):
    r53, zone_id = zone(standin)
    primary_hc, blue_hc = health_check(r53, "primary"), health_check(r53, "blue")
    upsert(
        r53, zone_id,
        a_set("app.example.com.", "192.0.2.10", SetIdentifier="primary", Failover="PRIMARY", HealthCheckId=primary_hc),
        a_set("app.example.com.", "198.51.100.10", SetIdentifier="secondary", Failover="SECONDARY"),
        a_set("api.example.com.", "192.0.2.20", SetIdentifier="blue", Weight=100, HealthCheckId=blue_hc),
        a_set("api.example.com.", "198.51.100.20", SetIdentifier="green", Weight=0),
        # An alias to the failover name, evaluating its health; and one to a load balancer.
        {"Name": "www.example.com.", "Type": "A", "SetIdentifier": "primary", "Failover": "PRIMARY",
         "AliasTarget": {"HostedZoneId": zone_id.split("/")[-1], "DNSName": "app.example.com.", "EvaluateTargetHealth": True}},
        {"Name": "www.example.com.", "Type": "A", "SetIdentifier": "secondary", "Failover": "SECONDARY",
         "AliasTarget": ELB},
    )
    assert data(query(standin, "app.example.com")) == ["192.0.2.10"]
    assert {data(query(standin, "api.example.com"))[0] for _ in range(5)} == {"192.0.2.20"}
    assert data(query(standin, "www.example.com")) == ["192.0.2.10"]  # the target's value, own name
    assert query(standin, "www.example.com").answer[0].name.to_text() == "www.example.com."

    standin.control(f"route53/health-checks/{primary_hc}", {"healthy": False})
    standin.control(f"route53/health-checks/{blue_hc}", {"healthy": False})
    assert data(query(standin, "app.example.com", tcp=True)) == ["198.51.100.10"]
    assert data(query(standin, "api.example.com")) == ["198.51.100.20"]
    # The alias target still answers (its secondary is healthy), so the alias stays primary.
    assert data(query(standin, "www.example.com")) == ["198.51.100.10"]

    # An alias whose target is unhealthy fails over to the load balancer (a CNAME to its name).
    upsert(r53, zone_id, a_set("app.example.com.", "198.51.100.10", SetIdentifier="secondary", Failover="SECONDARY",
                               HealthCheckId=blue_hc))
    time.sleep(0.2)
    answer = query(standin, "www.example.com")
    assert answer.answer[0].rdtype == dns.rdatatype.CNAME and data(answer) == [ELB["DNSName"]]

    # Weighted sets above 0 share the answers in proportion to their weights.
    standin.control(f"route53/health-checks/{blue_hc}", {"healthy": None})
    upsert(r53, zone_id, a_set("api.example.com.", "198.51.100.20", SetIdentifier="green", Weight=100))
    time.sleep(0.2)
    assert {data(query(standin, "api.example.com"))[0] for _ in range(40)} == {"192.0.2.20", "198.51.100.20"}


def test_a_change_is_answered_once_insync_and_answers_go_on_while_the_api_is_down(standin):
    r53, zone_id = zone(standin, transition_seconds=1.5)
    change = upsert(r53, zone_id, a_set("app.example.com.", "192.0.2.1"))
    assert query(standin, "app.example.com").rcode() == dns.rcode.NXDOMAIN  # PENDING
    while r53.get_change(Id=change)["ChangeInfo"]["Status"] != "INSYNC":
        time.sleep(0.2)
    assert data(query(standin, "app.example.com")) == ["192.0.2.1"]

    standin.control("outage", {"regions": ["us-east-1"], "global": True})
    assert data(query(standin, "app.example.com", tcp=True)) == ["192.0.2.1"]
