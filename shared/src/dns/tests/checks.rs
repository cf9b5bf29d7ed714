//! What is refused before anything moves: record values that do not fit their type, names and
//! TTLs Route 53 would reject, records the role may not change, and the health checks that would
//! move DNS before the failover does.

use super::*;

fn record_with(record_type: &str, values: Value) -> Value {
    json!([{"name": "app.example.com.", "type": record_type, "routing": "simple",
            "dr": {"values": values}}])
}

fn refusal_of(records: Value) -> String {
    config_from(records).unwrap_err().to_string()
}

#[test]
fn a_value_that_does_not_fit_its_record_type_is_refused_naming_it() {
    for (record_type, values, expected) in [
        ("A", json!(["2001:db8::1"]), "not an IPv4 address"),
        ("A", json!(["app.example.com."]), "not an IPv4 address"),
        ("A", json!(["203.0.113.300"]), "not an IPv4 address"),
        ("AAAA", json!(["203.0.113.20"]), "not an IPv6 address"),
        (
            "CNAME",
            json!(["a.example.com.", "b.example.com."]),
            "exactly one value",
        ),
        ("CNAME", json!(["not a name"]), "not a domain name"),
        (
            "MX",
            json!(["mail.example.com."]),
            "a priority and a domain name",
        ),
        ("TXT", json!(["v=spf1 -all"]), "a string in double quotes"),
    ] {
        let text = refusal_of(record_with(record_type, values));
        assert!(
            text.contains("DNS_RECORDS") && text.contains("[0]") && text.contains(expected),
            "{text}"
        );
    }
    for (record_type, values) in [
        ("A", json!(["203.0.113.20", "203.0.113.21"])),
        ("AAAA", json!(["2001:db8::1"])),
        ("CNAME", json!(["dr-lb.example.com."])),
        ("MX", json!(["10 mail.example.com."])),
        ("TXT", json!(["\"v=spf1 -all\""])),
        ("SRV", json!(["1 10 5269 xmpp.example.com."])),
    ] {
        let records = record_with(record_type, values);
        assert!(config_from(records.clone()).is_ok(), "{records}");
    }
}

#[test]
fn a_ttl_outside_route53s_range_and_a_name_that_is_not_a_domain_name_are_refused() {
    for ttl in [-1, MAX_TTL + 1] {
        let records = json!([{"name": "app.example.com.", "type": "A", "routing": "simple",
                              "dr": {"values": ["203.0.113.20"], "ttl": ttl}}]);
        assert!(refusal_of(records).contains("outside Route 53's 0..=2147483647"));
    }
    for name in [
        "app..example.com.",
        "a b.example.com.",
        &format!("{}.example.com.", "x".repeat(64)),
    ] {
        let records = json!([{"name": name, "type": "A", "routing": "simple", "dr": {"values": ["203.0.113.20"]}}]);
        assert!(
            refusal_of(records).contains("is not a domain name"),
            "{name}"
        );
    }
    let wildcard = json!([{"name": "*.example.com.", "type": "A", "routing": "simple", "dr": {"values": ["203.0.113.20"]}}]);
    assert!(config_from(wildcard).is_ok());
}

#[test]
fn iam_names_are_lowercase_without_the_final_dot_with_special_characters_escaped() {
    assert_eq!(iam_name("App.Example.COM."), "app.example.com");
    assert_eq!(iam_name("*.example.com."), "\\052.example.com");
    assert_eq!(iam_name("\\052.example.com."), "\\052.example.com");
    assert_eq!(iam_name("_dmarc.example.com"), "_dmarc.example.com");
}

#[test]
fn allowed_names_not_in_the_iam_form_are_refused_with_the_form_to_write() {
    let records = json!([simple()]).to_string();
    for (written, wanted) in [
        ("App.example.com", "app.example.com"),
        ("app.example.com.", "app.example.com"),
        ("*.example.com", "\\\\052.example.com"),
    ] {
        let error = DnsConfig::from_source(&[
            ("DNS_HOSTED_ZONE_ID", ZONE),
            ("DNS_RECORDS", records.as_str()),
            ("DNS_ALLOWED_RECORD_NAMES", written),
            ("DNS_ALLOWED_RECORD_TYPES", "A"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("DNS_ALLOWED_RECORD_NAMES") && error.contains(wanted),
            "{error}"
        );
    }
    let error = DnsConfig::from_source(&[
        ("DNS_HOSTED_ZONE_ID", ZONE),
        ("DNS_RECORDS", records.as_str()),
        ("DNS_ALLOWED_RECORD_NAMES", "app.example.com"),
        ("DNS_ALLOWED_RECORD_TYPES", "A,ALIAS"),
    ])
    .unwrap_err();
    assert!(
        error.to_string().contains("DNS_ALLOWED_RECORD_TYPES")
            && error.to_string().contains("ALIAS")
    );
    let missing = DnsConfig::from_source(&[
        ("DNS_HOSTED_ZONE_ID", ZONE),
        ("DNS_RECORDS", records.as_str()),
    ]);
    assert_eq!(
        missing.unwrap_err(),
        ConfigError::Missing("DNS_ALLOWED_RECORD_NAMES")
    );
}

/// The plan's records, with the role allowed only `names` and `types`.
fn config_allowing(records: Value, names: &str, types: &str) -> DnsConfig {
    let records = records.to_string();
    DnsConfig::from_source(&[
        ("DNS_HOSTED_ZONE_ID", ZONE),
        ("DNS_RECORDS", records.as_str()),
        ("DNS_ALLOWED_RECORD_NAMES", names),
        ("DNS_ALLOWED_RECORD_TYPES", types),
    ])
    .unwrap()
}

#[tokio::test]
async fn plan_refuses_a_record_the_role_may_not_change_and_apply_sends_nothing() {
    let list = listing(vec![
        values("app.example.com.", &["192.0.2.10"]).build().unwrap(),
        values("api.example.com.", &["192.0.2.20"])
            .set_identifier("primary")
            .weight(100)
            .build()
            .unwrap(),
        values("api.example.com.", &["198.51.100.20"])
            .set_identifier("dr")
            .weight(0)
            .build()
            .unwrap(),
    ]);
    let (change, _) = change_recorder();
    let clients = clients(&[&list, &change]);
    // The template's DnsRecordNames forgot api.example.com.
    let config = config_allowing(json!([simple(), weighted()]), "app.example.com", "A");

    let plan = handle(
        request(Action::Plan),
        &config,
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();
    assert!(!plan.ready);
    assert_eq!(plan.refusals.len(), 1, "{:?}", plan.refusals);
    assert!(
        plan.refusals[0].starts_with("api.example.com. A: this function's role may not change it")
            && plan.refusals[0].contains("\"api.example.com\" is not in DNS_ALLOWED_RECORD_NAMES"),
        "{:?}",
        plan.refusals
    );

    let error = handle(
        request(Action::Apply),
        &config,
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, DnsError::NotPermitted(_)), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::Refused);
    assert_eq!(change.num_calls(), 0, "nothing is sent that IAM would deny");

    // A type outside DnsRecordTypes is refused the same way.
    let config = config_allowing(json!([simple()]), "app.example.com", "AAAA");
    let plan = handle(
        request(Action::Plan),
        &config,
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();
    assert!(
        plan.refusals[0].contains("its type A is not in DNS_ALLOWED_RECORD_TYPES"),
        "{:?}",
        plan.refusals
    );
}

#[tokio::test]
async fn plan_warns_when_route53_would_fail_a_record_over_by_itself() {
    let primary_with_check = |check: Option<&str>| {
        let mut set = values("www.example.com.", &["192.0.2.30"])
            .set_identifier("primary")
            .failover(ResourceRecordSetFailover::Primary);
        if let Some(check) = check {
            set = set.health_check_id(check);
        }
        set.build().unwrap()
    };
    let secondary = values("www.example.com.", &["203.0.113.40"])
        .set_identifier("secondary")
        .failover(ResourceRecordSetFailover::Secondary)
        .build()
        .unwrap();

    let list = listing(vec![
        primary_with_check(Some("hc-primary")),
        secondary.clone(),
    ]);
    let plan = handle(
        request(Action::Plan),
        &config(json!([failover()])),
        &DatabaseConfig::None,
        &clients(&[&list]),
    )
    .await
    .unwrap();
    assert!(
        plan.refusals.is_empty(),
        "a warning, not a refusal: {:?}",
        plan.refusals
    );
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0]
            .starts_with("www.example.com. A: its PRIMARY set carries health check hc-primary")
            && plan.warnings[0].contains("by itself"),
        "{:?}",
        plan.warnings
    );

    let list = listing(vec![primary_with_check(None), secondary]);
    let plan = handle(
        request(Action::Plan),
        &config(json!([failover()])),
        &DatabaseConfig::None,
        &clients(&[&list]),
    )
    .await
    .unwrap();
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}
