use std::sync::{Arc, Mutex};

use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::types::DbInstance;
use aws_sdk_route53::operation::change_resource_record_sets::{
    ChangeResourceRecordSetsError, ChangeResourceRecordSetsOutput,
};
use aws_sdk_route53::operation::get_change::{GetChangeError, GetChangeOutput};
use aws_sdk_route53::operation::list_resource_record_sets::{
    ListResourceRecordSetsError, ListResourceRecordSetsOutput,
};
use aws_sdk_route53::operation::test_dns_answer::TestDnsAnswerOutput;
use aws_sdk_route53::types::builders::ResourceRecordSetBuilder;
use aws_sdk_route53::types::error::{InvalidChangeBatch, NoSuchChange, NoSuchHostedZone};
use aws_sdk_route53::types::{
    AliasTarget, ChangeBatch, ChangeInfo, ChangeStatus, ResourceRecord, ResourceRecordSet,
    ResourceRecordSetFailover, ResourceRecordSetRegion, RrType,
};
use aws_sdk_route53::Client as Route53;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use serde_json::{json, Value};

use super::*;
use crate::config::ConfigError;
use crate::database::DatabaseClients;
use crate::dns::recording::RecordingConfig;
use crate::pace::Pacer;
use crate::request::parse_request;

const ZONE: &str = "Z0123456789";
const CHANGE_ID: &str = "/change/C0123456789";

/// `DNS_ALLOWED_RECORD_NAMES` and `DNS_ALLOWED_RECORD_TYPES` as the template fills them for
/// `records`: every name (IAM form) and type they list, comma separated.
pub(super) fn allowed(records: &Value) -> (String, String) {
    let list = |key: &str| -> String {
        let mut items: Vec<String> = records
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r[key].as_str())
            .map(|v| {
                if key == "name" {
                    iam_name(v)
                } else {
                    v.to_owned()
                }
            })
            .collect();
        items.sort();
        items.dedup();
        items.join(",")
    };
    (list("name"), list("type"))
}

fn config_from(records: Value) -> Result<DnsConfig, ConfigError> {
    let (names, types) = allowed(&records);
    let records = records.to_string();
    DnsConfig::from_source(&[
        ("DNS_HOSTED_ZONE_ID", ZONE),
        ("DNS_RECORDS", records.as_str()),
        ("DNS_ALLOWED_RECORD_NAMES", names.as_str()),
        ("DNS_ALLOWED_RECORD_TYPES", types.as_str()),
    ])
}

fn config(records: Value) -> DnsConfig {
    config_from(records).expect("valid DNS_RECORDS")
}

fn simple() -> Value {
    json!({"name": "app.example.com.", "type": "A", "routing": "simple",
           "dr": {"values": ["203.0.113.20"], "ttl": 30}})
}

fn weighted() -> Value {
    json!({"name": "api.example.com.", "type": "A", "routing": "weighted",
           "primary_set_identifier": "primary", "dr_set_identifier": "dr"})
}

fn failover() -> Value {
    json!({"name": "www.example.com.", "type": "A", "routing": "failover",
           "primary_set_identifier": "primary", "dr_set_identifier": "secondary",
           "dr": {"values": ["203.0.113.40"]}})
}

fn instance_database() -> DatabaseConfig {
    DatabaseConfig::Instance {
        replica_id: "db-dr".into(),
        max_lag_seconds: 300,
        backup_retention_days: 7,
    }
}

fn request(action: Action) -> StepRequest {
    StepRequest {
        execution_id: Some("exec-42".into()),
        ..StepRequest::new(action)
    }
}

/// A record set as Route 53 lists it: lower case, trailing dot, TTL 300 unless changed.
fn values(name: &str, values: &[&str]) -> ResourceRecordSetBuilder {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .ttl(300)
        .set_resource_records(Some(
            values
                .iter()
                .map(|v| ResourceRecord::builder().value(*v).build().unwrap())
                .collect(),
        ))
}

fn alias(name: &str, dns_name: &str) -> ResourceRecordSetBuilder {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id("Z35SXDOTRQ7X7K")
                .dns_name(dns_name)
                .evaluate_target_health(true)
                .build()
                .unwrap(),
        )
}

/// The zone as one page of `ListResourceRecordSets`, read from its start: `sets` and a set of
/// another name the step must ignore.
fn listing(sets: Vec<ResourceRecordSet>) -> Rule {
    mock!(Route53::list_resource_record_sets)
        .match_requests(move |r| {
            r.hosted_zone_id() == Some(ZONE)
                && r.start_record_name().is_none()
                && r.max_items() == Some(300)
        })
        .then_output(move || {
            let mut sets = sets.clone();
            sets.push(
                values("zzz.example.com.", &["192.0.2.250"])
                    .build()
                    .unwrap(),
            );
            ListResourceRecordSetsOutput::builder()
                .set_resource_record_sets(Some(sets))
                .is_truncated(false)
                .max_items(300)
                .build()
                .unwrap()
        })
}

fn answers(name: &'static str, data: &'static [&'static str]) -> Rule {
    mock!(Route53::test_dns_answer)
        .match_requests(move |r| r.hosted_zone_id() == Some(ZONE) && r.record_name() == Some(name))
        .then_output(move || answer(name, data))
}

fn answer(name: &str, data: &[&str]) -> TestDnsAnswerOutput {
    TestDnsAnswerOutput::builder()
        .nameserver("ns-1.awsdns-01.org")
        .record_name(name)
        .record_type(RrType::A)
        .set_record_data(Some(data.iter().map(|d| d.to_string()).collect()))
        .response_code("NOERROR")
        .protocol("UDP")
        .build()
        .unwrap()
}

fn change_info(status: ChangeStatus) -> ChangeInfo {
    ChangeInfo::builder()
        .id(CHANGE_ID)
        .status(status)
        .submitted_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
        .build()
        .unwrap()
}

/// Accepts any change batch and keeps it for the test to inspect.
fn change_recorder() -> (Rule, Arc<Mutex<Vec<ChangeBatch>>>) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let kept = sent.clone();
    let rule = mock!(Route53::change_resource_record_sets)
        .match_requests(|r| r.hosted_zone_id() == Some(ZONE))
        .then_compute_output(move |r| {
            kept.lock()
                .unwrap()
                .push(r.change_batch().cloned().expect("a change batch"));
            ChangeResourceRecordSetsOutput::builder()
                .change_info(change_info(ChangeStatus::Pending))
                .build()
        });
    (rule, sent)
}

fn replica(source: Option<&'static str>) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(|r| r.db_instance_identifier() == Some("db-dr"))
        .then_output(move || {
            DescribeDbInstancesOutput::builder()
                .db_instances(
                    DbInstance::builder()
                        .db_instance_identifier("db-dr")
                        .db_instance_status("available")
                        .set_read_replica_source_db_instance_identifier(source.map(str::to_owned))
                        .build(),
                )
                .build()
        })
}

fn clients(route53: &[&Rule]) -> DnsClients {
    clients_with_database(route53, &[])
}

fn clients_with_database(route53: &[&Rule], rds: &[&Rule]) -> DnsClients {
    clients_with_s3(route53, rds, &[], RecordingConfig::Off)
}

/// Clients whose S3 answers by `s3`'s rules, recording as `recording` says.
fn clients_with_s3(
    route53: &[&Rule],
    rds: &[&Rule],
    s3: &[&Rule],
    recording: RecordingConfig,
) -> DnsClients {
    DnsClients {
        route53: mock_client!(
            aws_sdk_route53,
            RuleMode::MatchAny,
            route53.iter().copied(),
            |c| c.retry_config(crate::testing::fast_retries())
        ),
        database: DatabaseClients {
            rds: mock_client!(aws_sdk_rds, RuleMode::MatchAny, rds.iter().copied(), |c| c
                .retry_config(crate::testing::no_retries())),
            cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, Vec::<&Rule>::new()),
        },
        pace: Pacer::new(std::time::Duration::ZERO),
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3.iter().copied(), |c| c
            .retry_config(crate::testing::no_retries())),
        recording,
        operation_timeout: std::time::Duration::from_secs(10),
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, Vec::<&Rule>::new()),
        cloudwatch_region: "eu-central-1".into(),
    }
}

/// One line per change, so a test states the whole batch it expects.
fn describe(batch: &ChangeBatch) -> Vec<String> {
    batch
        .changes()
        .iter()
        .map(|change| {
            let set = change.resource_record_set().expect("a record set");
            let mut parts = vec![
                change.action().as_str().to_owned(),
                set.name().to_owned(),
                set.r#type().as_str().to_owned(),
            ];
            parts.extend(set.set_identifier().map(|id| format!("set={id}")));
            parts.extend(set.weight().map(|w| format!("weight={w}")));
            parts.extend(set.failover().map(|f| format!("failover={}", f.as_str())));
            parts.extend(set.ttl().map(|t| format!("ttl={t}")));
            if !set.resource_records().is_empty() {
                let values: Vec<&str> = set.resource_records().iter().map(|r| r.value()).collect();
                parts.push(format!("values={}", values.join(",")));
            }
            parts.extend(set.alias_target().map(|a| {
                format!(
                    "alias={}/{}/{}",
                    a.hosted_zone_id(),
                    a.dns_name(),
                    a.evaluate_target_health()
                )
            }));
            parts.extend(set.health_check_id().map(|hc| format!("hc={hc}")));
            parts.join(" ")
        })
        .collect()
}

// Configuration

#[test]
fn dns_config_should_read_every_routing_type_with_its_defaults() {
    let config = config(json!([simple(), weighted(), failover()]));
    assert_eq!(config.zone_id, ZONE);
    assert_eq!(config.records.len(), 3);
    assert_eq!(config.records[0].record_type, RrType::A);
    assert_eq!(
        config.records[1].routing,
        Routing::Weighted {
            primary_set_identifier: "primary".into(),
            dr_set_identifier: "dr".into(),
            dr_weight: DEFAULT_DR_WEIGHT,
        }
    );
    assert_eq!(
        config.records[2].routing,
        Routing::Failover {
            primary_set_identifier: "primary".into(),
            dr_set_identifier: "secondary".into(),
            dr: Target::Values {
                values: vec!["203.0.113.40".into()],
                ttl: DEFAULT_TTL,
            },
        }
    );
}

#[test]
fn when_a_record_name_lacks_the_trailing_dot_config_should_name_dns_records_and_the_index() {
    let mut bad = weighted();
    bad["name"] = json!("api.example.com");
    let error = config_from(json!([simple(), bad])).unwrap_err();
    let text = error.to_string();
    assert!(matches!(
        error,
        ConfigError::Invalid {
            name: "DNS_RECORDS",
            ..
        }
    ));
    assert!(
        text.contains("[1]") && text.contains("api.example.com"),
        "{text}"
    );
}

#[test]
fn when_set_identifiers_are_equal_config_should_refuse() {
    let mut bad = weighted();
    bad["dr_set_identifier"] = json!("primary");
    let text = config_from(json!([bad])).unwrap_err().to_string();
    assert!(
        text.contains("DNS_RECORDS") && text.contains("[0]") && text.contains("primary"),
        "{text}"
    );
}

#[test]
fn when_a_failover_record_has_no_dr_target_config_should_say_it_is_required() {
    let mut bad = failover();
    bad.as_object_mut().unwrap().remove("dr");
    let text = config_from(json!([simple(), weighted(), bad]))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("DNS_RECORDS") && text.contains("[2]") && text.contains("\"dr\""),
        "{text}"
    );
}

#[test]
fn when_a_record_has_a_misspelt_field_config_should_refuse_rather_than_ignore_it() {
    let mut bad = weighted();
    bad["dr-weight"] = json!(50);
    let text = config_from(json!([bad])).unwrap_err().to_string();
    assert!(
        text.contains("DNS_RECORDS") && text.contains("dr-weight"),
        "{text}"
    );
}

#[test]
fn when_a_dr_target_has_both_values_and_alias_config_should_refuse() {
    let mut bad = simple();
    bad["dr"]["alias"] = json!({"hosted_zone_id": "Z1", "dns_name": "dr.example.com."});
    let text = config_from(json!([bad])).unwrap_err().to_string();
    assert!(
        text.contains("DNS_RECORDS") && text.contains("[0]") && text.contains("alias"),
        "{text}"
    );
}

#[test]
fn when_dns_records_is_empty_missing_or_repeats_a_record_config_should_name_it() {
    assert!(config_from(json!([]))
        .unwrap_err()
        .to_string()
        .contains("DNS_RECORDS"));
    let error = DnsConfig::from_source(&[("DNS_HOSTED_ZONE_ID", ZONE)]).unwrap_err();
    assert_eq!(error, ConfigError::Missing("DNS_RECORDS"));
    let mut again = simple();
    again["name"] = json!("APP.example.com.");
    let text = config_from(json!([simple(), again]))
        .unwrap_err()
        .to_string();
    assert!(text.contains("[1]") && text.contains("twice"), "{text}");
}

#[test]
fn every_flip_dns_event_parses_as_a_step_request() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/flip-dns");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let payload: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let request: StepRequest =
            parse_request(payload).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // A sample status asks about no particular change: a change id that does not exist would
        // make it answer NotFound as shipped (tests/e2e/test_events.py invokes every sample).
        if request.action == Action::Status {
            assert!(request.change_id.is_none(), "{}", path.display());
        }
        names.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    names.sort();
    assert_eq!(
        names,
        [
            "apply-dry-run.json",
            "apply.json",
            "plan.json",
            "status.json"
        ]
    );
}

#[test]
fn route53_names_compare_case_insensitively_with_escapes_and_trailing_dot() {
    assert_eq!(normalize("\\052.Example.COM."), normalize("*.example.com"));
    assert_eq!(normalize("dr-lb.example.com"), "dr-lb.example.com.");
    assert_ne!(normalize("\\999.example.com."), normalize("*.example.com."));
}

// plan

#[tokio::test]
async fn plan_should_show_current_and_dr_targets_and_the_change_without_making_it() {
    let list = listing(vec![values("app.example.com.", &["192.0.2.10"])
        .build()
        .unwrap()]);
    let (change, _) = change_recorder();
    let clients = clients(&[&list, &change]);
    let config = config(json!([simple()]));

    let result = handle(
        request(Action::Plan),
        &config,
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(change.num_calls(), 0);
    assert!(!result.ready && !result.changed && result.refusals.is_empty());
    assert_eq!(result.detail.database_writable, Some(true));
    let record = &result.detail.records[0];
    assert!(!record.at_dr);
    assert_eq!(
        record.current[0].target,
        Some(Target::Values {
            values: vec!["192.0.2.10".into()],
            ttl: 300
        })
    );
    assert_eq!(
        record.dr,
        Some(Target::Values {
            values: vec!["203.0.113.20".into()],
            ttl: 30
        })
    );
    assert_eq!(record.changes.len(), 1);
    assert_eq!(record.changes[0].target, record.dr);
    assert!(
        result.summary.contains("UPSERT 1 record set"),
        "{}",
        result.summary
    );
}

#[tokio::test]
async fn when_records_already_point_at_dr_plan_should_report_ready_and_no_change() {
    // Route 53 answers names in lower case; the configuration may not.
    let list = listing(vec![values("app.example.com.", &["203.0.113.20"])
        .build()
        .unwrap()]);
    let mut record = simple();
    record["name"] = json!("App.Example.com.");
    let (change, _) = change_recorder();
    let clients = clients(&[&list, &change]);

    let result = handle(
        request(Action::Plan),
        &config(json!([record])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(result.ready && result.refusals.is_empty());
    assert!(result.detail.records[0].at_dr && result.detail.records[0].changes.is_empty());
    assert!(
        result.summary.contains("change nothing"),
        "{}",
        result.summary
    );
    assert_eq!(change.num_calls(), 0);
}

#[tokio::test]
async fn when_the_database_is_not_writable_plan_should_report_it_without_refusing() {
    let list = listing(vec![values("app.example.com.", &["192.0.2.10"])
        .build()
        .unwrap()]);
    let db = replica(Some("db-primary"));
    let clients = clients_with_database(&[&list], &[&db]);

    let result = handle(
        request(Action::Plan),
        &config(json!([simple()])),
        &instance_database(),
        &clients,
    )
    .await
    .unwrap();

    assert!(result.refusals.is_empty());
    assert_eq!(result.detail.database_writable, Some(false));
    assert!(
        result.summary.contains("not writable"),
        "{}",
        result.summary
    );
    assert_eq!(db.num_calls(), 1);
}

#[tokio::test]
async fn when_a_weighted_record_lacks_its_dr_set_plan_should_refuse() {
    let list = listing(vec![values("api.example.com.", &["192.0.2.1"])
        .set_identifier("primary")
        .weight(100)
        .build()
        .unwrap()]);
    let clients = clients(&[&list]);

    let result = handle(
        request(Action::Plan),
        &config(json!([weighted()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(result.refusals.len(), 1);
    assert!(
        result.refusals[0].contains("\"dr\""),
        "{:?}",
        result.refusals
    );
    assert!(matches!(
        result.detail.records[0].problem,
        Some(Problem::Missing(_))
    ));
    assert!(!result.ready);
}

#[tokio::test]
async fn when_a_weighted_record_is_simple_plan_should_refuse_its_shape() {
    let list = listing(vec![values("api.example.com.", &["192.0.2.1"])
        .build()
        .unwrap()]);
    let clients = clients(&[&list]);

    let result = handle(
        request(Action::Plan),
        &config(json!([weighted()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(result.refusals.len(), 1, "{:?}", result.refusals);
    assert!(
        result.refusals[0].contains("without a set identifier"),
        "{:?}",
        result.refusals
    );
}

#[tokio::test]
async fn when_a_failover_set_has_the_wrong_role_plan_should_refuse() {
    let list = listing(vec![
        values("www.example.com.", &["192.0.2.30"])
            .set_identifier("primary")
            .failover(ResourceRecordSetFailover::Secondary)
            .build()
            .unwrap(),
        values("www.example.com.", &["203.0.113.40"])
            .set_identifier("secondary")
            .failover(ResourceRecordSetFailover::Secondary)
            .build()
            .unwrap(),
    ]);
    let clients = clients(&[&list]);

    let result = handle(
        request(Action::Plan),
        &config(json!([failover()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(result.refusals.len(), 1);
    assert!(
        result.refusals[0].contains("expected PRIMARY"),
        "{:?}",
        result.refusals
    );
    assert!(matches!(
        result.detail.records[0].problem,
        Some(Problem::Unexpected(_))
    ));
}

#[tokio::test]
async fn when_a_record_uses_latency_routing_plan_should_refuse_its_shape() {
    let list = listing(vec![
        values("api.example.com.", &["192.0.2.1"])
            .set_identifier("primary")
            .weight(100)
            .region(ResourceRecordSetRegion::EuWest1)
            .build()
            .unwrap(),
        values("api.example.com.", &["192.0.2.2"])
            .set_identifier("dr")
            .weight(0)
            .build()
            .unwrap(),
    ]);
    let clients = clients(&[&list]);

    let result = handle(
        request(Action::Plan),
        &config(json!([weighted()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(
        result.refusals[0].contains("latency"),
        "{:?}",
        result.refusals
    );
}

#[tokio::test]
async fn when_a_record_does_not_exist_plan_should_refuse() {
    let list = listing(Vec::new());
    let clients = clients(&[&list]);

    let result = handle(
        request(Action::Plan),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(result.refusals, ["app.example.com. A does not exist"]);
    assert!(result.detail.records[0].current.is_empty());
}

#[tokio::test]
async fn when_the_hosted_zone_does_not_exist_plan_should_fail_with_not_found() {
    let list = mock!(Route53::list_resource_record_sets).then_error(|| {
        ListResourceRecordSetsError::NoSuchHostedZone(NoSuchHostedZone::builder().build())
    });
    let clients = clients(&[&list]);

    let error = handle(
        request(Action::Plan),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();

    assert_eq!(error, DnsError::ZoneNotFound(ZONE.into()));
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn when_listing_is_throttled_once_plan_should_retry_and_succeed() {
    let list = mock!(Route53::list_resource_record_sets)
        .sequence()
        .http_status(503, None)
        .output(|| {
            ListResourceRecordSetsOutput::builder()
                .resource_record_sets(values("app.example.com.", &["192.0.2.10"]).build().unwrap())
                .is_truncated(false)
                .max_items(300)
                .build()
                .unwrap()
        })
        .build();
    let clients = clients(&[&list]);

    let result = handle(
        request(Action::Plan),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(list.num_calls(), 2);
    assert_eq!(result.detail.records[0].changes.len(), 1);
}

#[tokio::test]
async fn when_listing_stays_throttled_plan_should_fail_retryable() {
    let list = mock!(Route53::list_resource_record_sets).then_error(|| {
        ListResourceRecordSetsError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    });
    let clients = clients(&[&list]);

    let error = handle(
        request(Action::Plan),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Retryable, "{error}");
    assert_eq!(list.num_calls(), 3);
}

#[tokio::test]
async fn when_a_record_spans_two_pages_plan_should_read_both() {
    let first = mock!(Route53::list_resource_record_sets)
        .match_requests(|r| r.start_record_identifier().is_none())
        .then_output(|| {
            ListResourceRecordSetsOutput::builder()
                .resource_record_sets(
                    values("api.example.com.", &["192.0.2.2"])
                        .set_identifier("dr")
                        .weight(0)
                        .build()
                        .unwrap(),
                )
                .is_truncated(true)
                .next_record_name("api.example.com.")
                .next_record_type(RrType::A)
                .next_record_identifier("primary")
                .max_items(1)
                .build()
                .unwrap()
        });
    let second = mock!(Route53::list_resource_record_sets)
        .match_requests(|r| {
            r.start_record_name() == Some("api.example.com.")
                && r.start_record_identifier() == Some("primary")
        })
        .then_output(|| {
            ListResourceRecordSetsOutput::builder()
                .resource_record_sets(
                    values("api.example.com.", &["192.0.2.1"])
                        .set_identifier("primary")
                        .weight(100)
                        .build()
                        .unwrap(),
                )
                .is_truncated(false)
                .max_items(1)
                .build()
                .unwrap()
        });
    let clients = clients(&[&first, &second]);

    let result = handle(
        request(Action::Plan),
        &config(json!([weighted()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(result.refusals.is_empty(), "{:?}", result.refusals);
    assert_eq!(result.detail.records[0].current.len(), 2);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

// apply

#[tokio::test]
async fn apply_should_upsert_a_simple_record_with_the_dr_values_and_ttl_in_one_change() {
    let list = listing(vec![values("app.example.com.", &["192.0.2.10"])
        .build()
        .unwrap()]);
    let (change, sent) = change_recorder();
    let clients = clients(&[&list, &change]);

    let result = handle(
        request(Action::Apply),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(result.changed && !result.ready);
    assert_eq!(result.detail.change_id.as_deref(), Some(CHANGE_ID));
    assert_eq!(result.detail.change_status.as_deref(), Some("PENDING"));
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        describe(&sent[0]),
        ["UPSERT app.example.com. A ttl=30 values=203.0.113.20"]
    );
    assert!(
        sent[0].comment().unwrap().contains("exec-42"),
        "{:?}",
        sent[0].comment()
    );
}

#[tokio::test]
async fn apply_should_upsert_a_simple_record_with_the_dr_alias() {
    let list = listing(vec![alias(
        "app.example.com.",
        "primary-lb.eu-west-1.elb.amazonaws.com.",
    )
    .build()
    .unwrap()]);
    let (change, sent) = change_recorder();
    let clients = clients(&[&list, &change]);
    let mut record = simple();
    record["dr"] = json!({"alias": {"hosted_zone_id": "Z32O12XQLNTSW2",
                                    "dns_name": "dr-lb.eu-central-1.elb.amazonaws.com.",
                                    "evaluate_target_health": true}});

    handle(
        request(Action::Apply),
        &config(json!([record])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(
        describe(&sent.lock().unwrap()[0]),
        ["UPSERT app.example.com. A alias=Z32O12XQLNTSW2/dr-lb.eu-central-1.elb.amazonaws.com./true"]
    );
}

#[tokio::test]
async fn apply_should_flip_every_routing_type_in_one_atomic_change() {
    let simple_sets = std::convert::identity(vec![values("app.example.com.", &["192.0.2.10"])
        .build()
        .unwrap()]);
    let weighted_sets = std::convert::identity(vec![
        values("api.example.com.", &["192.0.2.1"])
            .set_identifier("primary")
            .weight(100)
            .health_check_id("hc-api-primary")
            .build()
            .unwrap(),
        alias("api.example.com.", "dr-api.example.com.")
            .set_identifier("dr")
            .weight(0)
            .build()
            .unwrap(),
    ]);
    let failover_sets = std::convert::identity(vec![
        values("www.example.com.", &["192.0.2.30", "192.0.2.31"])
            .set_identifier("primary")
            .failover(ResourceRecordSetFailover::Primary)
            .health_check_id("hc-www-primary")
            .build()
            .unwrap(),
        values("www.example.com.", &["203.0.113.40"])
            .ttl(60)
            .set_identifier("secondary")
            .failover(ResourceRecordSetFailover::Secondary)
            .health_check_id("hc-www-dr")
            .build()
            .unwrap(),
    ]);
    let (change, sent) = change_recorder();
    let clients = clients(&[
        &listing([simple_sets, weighted_sets, failover_sets].concat()),
        &change,
    ]);
    let mut weighted = weighted();
    weighted["dr_weight"] = json!(200);

    let result = handle(
        request(Action::Apply),
        &config(json!([simple(), weighted, failover()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(result.changed);
    assert_eq!(change.num_calls(), 1);
    assert_eq!(
        describe(&sent.lock().unwrap()[0]),
        [
            "UPSERT app.example.com. A ttl=30 values=203.0.113.20",
            "UPSERT api.example.com. A set=dr weight=200 alias=Z35SXDOTRQ7X7K/dr-api.example.com./true",
            "UPSERT api.example.com. A set=primary weight=0 ttl=300 values=192.0.2.1 hc=hc-api-primary",
            "UPSERT www.example.com. A set=primary failover=PRIMARY ttl=60 values=203.0.113.40 hc=hc-www-dr",
            "UPSERT www.example.com. A set=secondary failover=SECONDARY ttl=300 values=192.0.2.30,192.0.2.31 hc=hc-www-primary",
        ]
    );
}

#[tokio::test]
async fn apply_should_swap_failover_alias_targets_and_move_a_missing_health_check_too() {
    let list = listing(vec![
        alias("www.example.com.", "primary-lb.example.com.")
            .set_identifier("primary")
            .failover(ResourceRecordSetFailover::Primary)
            .health_check_id("hc-primary")
            .build()
            .unwrap(),
        alias("www.example.com.", "DR-LB.example.com")
            .set_identifier("secondary")
            .failover(ResourceRecordSetFailover::Secondary)
            .build()
            .unwrap(),
    ]);
    let (change, sent) = change_recorder();
    let clients = clients(&[&list, &change]);
    let mut record = failover();
    record["dr"] =
        json!({"alias": {"hosted_zone_id": "Z35SXDOTRQ7X7K", "dns_name": "dr-lb.example.com."}});

    handle(
        request(Action::Apply),
        &config(json!([record])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(
        describe(&sent.lock().unwrap()[0]),
        [
            "UPSERT www.example.com. A set=primary failover=PRIMARY alias=Z35SXDOTRQ7X7K/DR-LB.example.com/true",
            "UPSERT www.example.com. A set=secondary failover=SECONDARY alias=Z35SXDOTRQ7X7K/primary-lb.example.com./true hc=hc-primary",
        ]
    );
}

#[tokio::test]
async fn when_records_already_point_at_dr_and_their_change_is_insync_apply_should_change_nothing() {
    let weighted_sets = std::convert::identity(vec![
        values("api.example.com.", &["192.0.2.1"])
            .set_identifier("primary")
            .weight(0)
            .build()
            .unwrap(),
        values("api.example.com.", &["203.0.113.2"])
            .set_identifier("dr")
            .weight(100)
            .build()
            .unwrap(),
    ]);
    let failover_sets = std::convert::identity(vec![
        values("www.example.com.", &["203.0.113.40"])
            .set_identifier("primary")
            .failover(ResourceRecordSetFailover::Primary)
            .build()
            .unwrap(),
        values("www.example.com.", &["192.0.2.30"])
            .set_identifier("secondary")
            .failover(ResourceRecordSetFailover::Secondary)
            .build()
            .unwrap(),
    ]);
    let api_answer = answers("api.example.com.", &["203.0.113.2"]);
    let www_answer = answers("www.example.com.", &["203.0.113.40"]);
    let (change, _) = change_recorder();
    let insync = get_change(ChangeStatus::Insync);
    // The database is asked only before a change; a replica here proves it is not asked at all.
    let db = replica(Some("db-primary"));
    let clients = clients_with_database(
        &[
            &listing([weighted_sets, failover_sets].concat()),
            &api_answer,
            &www_answer,
            &change,
            &insync,
        ],
        &[&db],
    );
    let config = config(json!([weighted(), failover()]));
    let request = |action| StepRequest {
        change_id: Some(CHANGE_ID.into()),
        ..request(action)
    };

    let first = handle(
        request(Action::Apply),
        &config,
        &instance_database(),
        &clients,
    )
    .await
    .unwrap();
    let second = handle(
        request(Action::Apply),
        &config,
        &instance_database(),
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(first, second);
    assert!(!first.changed && first.ready);
    assert!(first
        .detail
        .records
        .iter()
        .all(|r| r.at_dr && r.changes.is_empty()));
    assert_eq!((change.num_calls(), db.num_calls()), (0, 0));
    assert_eq!(first.detail.change_status.as_deref(), Some("INSYNC"));
}

#[tokio::test]
async fn when_the_database_is_not_writable_apply_should_fail_not_ready_without_changing_dns() {
    let list = listing(vec![values("app.example.com.", &["192.0.2.10"])
        .build()
        .unwrap()]);
    let (change, _) = change_recorder();
    let db = replica(Some("db-primary"));
    let clients = clients_with_database(&[&list, &change], &[&db]);
    let forced = StepRequest {
        force: true,
        ..request(Action::Apply)
    };

    let error = handle(
        forced,
        &config(json!([simple()])),
        &instance_database(),
        &clients,
    )
    .await
    .unwrap_err();

    assert!(matches!(error, DnsError::DatabaseNotWritable(_)), "{error}");
    assert_eq!(error.kind(), ErrorKind::NotReady);
    assert_eq!(change.num_calls(), 0);
}

#[tokio::test]
async fn when_the_database_is_writable_apply_should_change_dns() {
    let list = listing(vec![values("app.example.com.", &["192.0.2.10"])
        .build()
        .unwrap()]);
    let (change, _) = change_recorder();
    let db = replica(None);
    let clients = clients_with_database(&[&list, &change], &[&db]);

    let result = handle(
        request(Action::Apply),
        &config(json!([simple()])),
        &instance_database(),
        &clients,
    )
    .await
    .unwrap();

    assert!(result.changed);
    assert_eq!(result.detail.database_writable, Some(true));
    assert_eq!((db.num_calls(), change.num_calls()), (1, 1));
}

#[tokio::test]
async fn when_apply_is_a_dry_run_should_never_call_change_resource_record_sets() {
    let list = listing(vec![values("app.example.com.", &["192.0.2.10"])
        .build()
        .unwrap()]);
    let (change, _) = change_recorder();
    let clients = clients(&[&list, &change]);
    let dry_run = StepRequest {
        dry_run: true,
        ..request(Action::Apply)
    };

    let result = handle(
        dry_run,
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(change.num_calls(), 0);
    assert_eq!(result.action, Action::Plan);
    assert!(result.dry_run && !result.changed);
    assert_eq!(result.detail.records[0].changes.len(), 1);
}

#[tokio::test]
async fn when_a_record_does_not_exist_apply_should_fail_not_found_without_changing_dns() {
    let simple_sets = std::convert::identity(vec![values("app.example.com.", &["192.0.2.10"])
        .build()
        .unwrap()]);
    let weighted_sets = std::convert::identity(Vec::new());
    let (change, _) = change_recorder();
    let clients = clients(&[&listing([simple_sets, weighted_sets].concat()), &change]);

    let error = handle(
        request(Action::Apply),
        &config(json!([simple(), weighted()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();

    assert!(matches!(error, DnsError::RecordMissing(_)), "{error}");
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(change.num_calls(), 0);
}

#[tokio::test]
async fn when_the_failover_secondary_does_not_hold_the_dr_target_apply_should_refuse() {
    let list = listing(vec![
        values("www.example.com.", &["192.0.2.30"])
            .set_identifier("primary")
            .failover(ResourceRecordSetFailover::Primary)
            .build()
            .unwrap(),
        values("www.example.com.", &["198.51.100.7"])
            .set_identifier("secondary")
            .failover(ResourceRecordSetFailover::Secondary)
            .build()
            .unwrap(),
    ]);
    let (change, _) = change_recorder();
    let clients = clients(&[&list, &change]);

    let error = handle(
        request(Action::Apply),
        &config(json!([failover()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();

    assert!(matches!(error, DnsError::UnexpectedShape(_)), "{error}");
    assert_eq!(error.kind(), ErrorKind::Refused);
    assert_eq!(change.num_calls(), 0);
}

#[tokio::test]
async fn when_route53_rejects_the_change_batch_apply_should_refuse_with_its_messages() {
    let list = listing(vec![values("app.example.com.", &["192.0.2.10"])
        .build()
        .unwrap()]);
    let change = mock!(Route53::change_resource_record_sets).then_error(|| {
        ChangeResourceRecordSetsError::InvalidChangeBatch(
            InvalidChangeBatch::builder()
                .messages("Invalid Resource Record: FATAL problem: ARRDATAIllegalIPv4Address")
                .build(),
        )
    });
    let clients = clients(&[&list, &change]);

    let error = handle(
        request(Action::Apply),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Refused);
    assert!(
        error.to_string().contains("ARRDATAIllegalIPv4Address"),
        "{error}"
    );
    assert_eq!(change.num_calls(), 1);
}

#[tokio::test]
async fn when_the_hosted_zone_does_not_exist_apply_should_fail_with_not_found() {
    let list = mock!(Route53::list_resource_record_sets).then_error(|| {
        ListResourceRecordSetsError::NoSuchHostedZone(NoSuchHostedZone::builder().build())
    });
    let (change, _) = change_recorder();
    let clients = clients(&[&list, &change]);

    let error = handle(
        request(Action::Apply),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(change.num_calls(), 0);
}

#[tokio::test]
async fn when_the_change_is_throttled_once_apply_should_retry_and_succeed() {
    let list = listing(vec![values("app.example.com.", &["192.0.2.10"])
        .build()
        .unwrap()]);
    let change = mock!(Route53::change_resource_record_sets)
        .sequence()
        .http_status(503, None)
        .output(|| {
            ChangeResourceRecordSetsOutput::builder()
                .change_info(change_info(ChangeStatus::Pending))
                .build()
        })
        .build();
    let clients = clients(&[&list, &change]);

    let result = handle(
        request(Action::Apply),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(change.num_calls(), 2);
    assert!(result.changed);
    assert_eq!(result.detail.change_id.as_deref(), Some(CHANGE_ID));
}

// status

fn get_change(status: ChangeStatus) -> Rule {
    mock!(Route53::get_change)
        // The SDK strips the "/change/" prefix before the request is sent.
        .match_requests(|r| {
            r.id().map(|id| id.trim_start_matches("/change/")) == Some("C0123456789")
        })
        .then_output(move || {
            GetChangeOutput::builder()
                .change_info(change_info(status.clone()))
                .build()
        })
}

fn flipped_simple() -> Rule {
    listing(vec![values("app.example.com.", &["203.0.113.20"])
        .build()
        .unwrap()])
}

fn status_request() -> StepRequest {
    StepRequest {
        change_id: Some(CHANGE_ID.into()),
        ..request(Action::Status)
    }
}

#[tokio::test]
async fn when_the_change_is_insync_and_every_record_answers_dr_status_should_be_ready() {
    let list = flipped_simple();
    let change = get_change(ChangeStatus::Insync);
    let answer = answers("app.example.com.", &["203.0.113.20"]);
    let clients = clients(&[&list, &change, &answer]);

    let result = handle(
        status_request(),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(result.ready, "{}", result.summary);
    assert_eq!(result.detail.change_status.as_deref(), Some("INSYNC"));
    let answer = result.detail.records[0].answer.as_ref().unwrap();
    assert!(answer.answers_dr);
    assert_eq!(answer.record_data, ["203.0.113.20"]);
}

#[tokio::test]
async fn when_the_change_is_pending_status_should_not_be_ready() {
    let list = flipped_simple();
    let change = get_change(ChangeStatus::Pending);
    let answer = answers("app.example.com.", &["203.0.113.20"]);
    let clients = clients(&[&list, &change, &answer]);

    let result = handle(
        status_request(),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(!result.ready);
    assert_eq!(result.detail.change_status.as_deref(), Some("PENDING"));
}

#[tokio::test]
async fn when_a_record_still_answers_primary_status_should_not_be_ready() {
    let list = flipped_simple();
    let change = get_change(ChangeStatus::Insync);
    let answer = answers("app.example.com.", &["192.0.2.10"]);
    let clients = clients(&[&list, &change, &answer]);

    let result = handle(
        status_request(),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(!result.ready);
    assert!(!result.detail.records[0].answer.as_ref().unwrap().answers_dr);
    assert!(result.summary.contains("0 of 1"), "{}", result.summary);
}

#[tokio::test]
async fn status_without_a_change_id_should_judge_by_the_answers_alone() {
    let list = listing(vec![alias("app.example.com.", "dr-lb.example.com.")
        .build()
        .unwrap()]);
    let answer = answers("app.example.com.", &["DR-LB.example.com"]);
    let clients = clients(&[&list, &answer]);
    let mut record = simple();
    record["dr"] = json!({"alias": {"hosted_zone_id": "/hostedzone/Z35SXDOTRQ7X7K", "dns_name": "dr-lb.example.com."}});

    let result = handle(
        request(Action::Status),
        &config(json!([record])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(result.ready, "{}", result.summary);
    assert!(result.detail.records[0].at_dr);
    assert_eq!(result.detail.change_id, None);
}

#[tokio::test]
async fn when_the_change_does_not_exist_status_should_fail_with_not_found() {
    let list = flipped_simple();
    let change = mock!(Route53::get_change)
        .then_error(|| GetChangeError::NoSuchChange(NoSuchChange::builder().build()));
    let clients = clients(&[&list, &change]);

    let error = handle(
        status_request(),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();

    assert_eq!(error, DnsError::ChangeNotFound(CHANGE_ID.into()));
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn when_the_hosted_zone_does_not_exist_status_should_fail_with_not_found() {
    let list = mock!(Route53::list_resource_record_sets).then_error(|| {
        ListResourceRecordSetsError::NoSuchHostedZone(NoSuchHostedZone::builder().build())
    });
    let clients = clients(&[&list]);

    let error = handle(
        status_request(),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn when_get_change_is_throttled_once_status_should_retry_and_succeed() {
    let list = flipped_simple();
    let change = mock!(Route53::get_change)
        .sequence()
        .http_status(503, None)
        .output(|| {
            GetChangeOutput::builder()
                .change_info(change_info(ChangeStatus::Insync))
                .build()
        })
        .build();
    let answer = answers("app.example.com.", &["203.0.113.20"]);
    let clients = clients(&[&list, &change, &answer]);

    let result = handle(
        status_request(),
        &config(json!([simple()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(change.num_calls(), 2);
    assert!(result.ready);
}

#[test]
fn dns_detail_round_trips_through_json_in_the_configured_shape() {
    let record = RecordDetail {
        name: "www.example.com.".into(),
        record_type: "A".into(),
        routing: RoutingKind::Failover,
        current: Vec::new(),
        dr: Some(Target::Values {
            values: vec!["203.0.113.40".into()],
            ttl: 60,
        }),
        at_dr: false,
        changes: Vec::new(),
        problem: Some(Problem::Missing("www.example.com. A does not exist".into())),
        answer: None,
    };
    let value = serde_json::to_value(&record).unwrap();
    assert_eq!(value["dr"], json!({"values": ["203.0.113.40"], "ttl": 60}));
    assert_eq!(value["routing"], "failover");
    let back: RecordDetail = serde_json::from_value(value).unwrap();
    assert_eq!(back, record);
}

fn simple_alias() -> Value {
    json!({"name": "app.example.com.", "type": "A", "routing": "simple",
           "dr": {"alias": {"hosted_zone_id": "Z35SXDOTRQ7X7K", "dns_name": "dr-lb.eu-central-1.elb.amazonaws.com.",
                            "evaluate_target_health": true}}})
}

#[tokio::test]
async fn when_an_alias_at_dr_answers_with_addresses_status_should_be_ready() {
    // Real Route 53 answers an alias with the target's addresses, not the alias name.
    let list = listing(vec![alias(
        "app.example.com.",
        "dr-lb.eu-central-1.elb.amazonaws.com.",
    )
    .build()
    .unwrap()]);
    let change = get_change(ChangeStatus::Insync);
    let answer = answers("app.example.com.", &["198.51.100.7", "198.51.100.8"]);
    let clients = clients(&[&list, &change, &answer]);

    let result = handle(
        status_request(),
        &config(json!([simple_alias()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(result.ready, "{}", result.summary);
}

#[tokio::test]
async fn when_an_alias_still_at_primary_answers_status_should_not_be_ready() {
    let list = listing(vec![alias(
        "app.example.com.",
        "primary-lb.eu-west-1.elb.amazonaws.com.",
    )
    .build()
    .unwrap()]);
    let change = get_change(ChangeStatus::Insync);
    let answer = answers("app.example.com.", &["192.0.2.7"]);
    let clients = clients(&[&list, &change, &answer]);

    let result = handle(
        status_request(),
        &config(json!([simple_alias()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(!result.ready, "{}", result.summary);
}

mod checks;
mod gate;
mod recording;
mod scale;
