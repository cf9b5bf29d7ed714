//! What the failover records for fail back before it flips (`recording`), and how fail back
//! derives its records from the failover's and refuses those it cannot (`failback`).

use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::error::NoSuchKey;

use super::*;
use crate::dns::failback::{derive, handle_failback, FailbackDnsConfig, Read};
use crate::dns::recording::{Recording, RecordingConfig, RECORDING_KEY};
use crate::error::ErrorKind;

const BUCKET: &str = "app-reports";
const PRIMARY_ALIAS: &str = "app-primary-1.eu-west-1.elb.amazonaws.com.";
const DR_ALIAS: &str = "app-dr-1.eu-central-1.elb.amazonaws.com.";

fn to_bucket() -> RecordingConfig {
    RecordingConfig::To {
        bucket: BUCKET.into(),
        deployment: Some("app".into()),
    }
}

/// The three records of the failover (simple alias, weighted, failover with a health check on
/// the SECONDARY set) as Route 53 holds them before the flip.
fn before_failover() -> Vec<ResourceRecordSet> {
    vec![
        alias("app.example.com.", PRIMARY_ALIAS).build().unwrap(),
        values("api.example.com.", &["198.51.100.11"])
            .set_identifier("primary")
            .weight(100)
            .build()
            .unwrap(),
        values("api.example.com.", &["203.0.113.21"])
            .set_identifier("dr")
            .weight(0)
            .build()
            .unwrap(),
        values("www.example.com.", &["198.51.100.40"])
            .set_identifier("primary")
            .failover(ResourceRecordSetFailover::Primary)
            .build()
            .unwrap(),
        values("www.example.com.", &["203.0.113.40"])
            .set_identifier("secondary")
            .failover(ResourceRecordSetFailover::Secondary)
            .health_check_id("hc-dr")
            .build()
            .unwrap(),
    ]
}

fn simple_to_dr_alias() -> Value {
    json!({"name": "app.example.com.", "type": "A", "routing": "simple",
           "dr": {"alias": {"hosted_zone_id": "Z35SXDOTRQ7X7K", "dns_name": DR_ALIAS,
                            "evaluate_target_health": true}}})
}

fn three_records() -> DnsConfig {
    config(json!([simple_to_dr_alias(), weighted(), failover()]))
}

/// Route 53's and S3's calls in the order they were made.
type Calls = Arc<Mutex<Vec<String>>>;

fn no_object(calls: &Calls) -> Rule {
    let calls = calls.clone();
    mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.bucket() == Some(BUCKET) && r.key() == Some(RECORDING_KEY))
        .then_error(move || {
            calls.lock().unwrap().push("GetObject".into());
            GetObjectError::NoSuchKey(NoSuchKey::builder().build())
        })
}

fn object(recording: Value) -> Rule {
    mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.bucket() == Some(BUCKET) && r.key() == Some(RECORDING_KEY))
        .then_output(move || {
            GetObjectOutput::builder()
                .body(ByteStream::from(recording.to_string().into_bytes()))
                .build()
        })
}

fn s3_answers(operation: &str, status: u16, code: &str) -> Rule {
    let body =
        format!("<Error><Code>{code}</Code><Message>{code} on {operation}</Message></Error>");
    let response = move || {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
            aws_smithy_types::body::SdkBody::from(body.clone()),
        )
    };
    match operation {
        "GetObject" => mock!(aws_sdk_s3::Client::get_object).then_http_response(response),
        _ => mock!(aws_sdk_s3::Client::put_object).then_http_response(response),
    }
}

/// Accepts every PutObject of the recording and keeps the objects written.
fn writes(calls: &Calls) -> (Rule, Arc<Mutex<Vec<Value>>>) {
    let written = Arc::new(Mutex::new(Vec::new()));
    let (kept, calls) = (written.clone(), calls.clone());
    let rule = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| {
            r.bucket() == Some(BUCKET)
                && r.key() == Some(RECORDING_KEY)
                && r.content_type() == Some("application/json")
        })
        .then_compute_output(move |r| {
            calls.lock().unwrap().push("PutObject".into());
            let body = r.body().bytes().expect("an in-memory body");
            kept.lock()
                .unwrap()
                .push(serde_json::from_slice(body).unwrap());
            PutObjectOutput::builder().build()
        });
    (rule, written)
}

/// Accepts every change batch, noting it in `calls`.
fn changes(calls: &Calls) -> Rule {
    let calls = calls.clone();
    mock!(Route53::change_resource_record_sets).then_compute_output(move |_| {
        calls
            .lock()
            .unwrap()
            .push("ChangeResourceRecordSets".into());
        ChangeResourceRecordSetsOutput::builder()
            .change_info(change_info(ChangeStatus::Pending))
            .build()
    })
}

async fn apply(
    config: &DnsConfig,
    zone: Vec<ResourceRecordSet>,
    s3: &[&Rule],
    recording: RecordingConfig,
    calls: &Calls,
) -> DnsResult {
    let list = listing(zone);
    let change = changes(calls);
    let clients = clients_with_s3(&[&list, &change], &[], s3, recording);
    handle(
        request(Action::Apply),
        config,
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .expect("the flip goes on")
}

#[tokio::test]
async fn apply_records_what_each_record_answers_before_it_flips_it() {
    let calls = Calls::default();
    let (get, (put, written)) = (no_object(&calls), writes(&calls));
    let result = apply(
        &three_records(),
        before_failover(),
        &[&get, &put],
        to_bucket(),
        &calls,
    )
    .await;

    assert!(result.changed);
    assert_eq!(result.warnings, Vec::<String>::new());
    assert_eq!(
        *calls.lock().unwrap(),
        ["GetObject", "PutObject", "ChangeResourceRecordSets"],
        "recorded first, then flipped"
    );
    let written = written.lock().unwrap();
    let object = &written[0];
    assert_eq!(object["deployment"], "app");
    assert_eq!(object["hosted_zone_id"], ZONE);
    assert_eq!(object["execution_id"], "exec-42");
    assert!(object["updated_at"].as_str().unwrap().ends_with('Z'));
    let records = object["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["name"], "app.example.com.");
    assert_eq!(records[0]["routing"], "simple");
    assert_eq!(records[0]["primary"]["alias"]["dns_name"], PRIMARY_ALIAS);
    assert_eq!(records[1]["routing"], "weighted");
    assert_eq!(
        records[1]["primary"],
        json!({"values": ["198.51.100.11"], "ttl": 300})
    );
    assert_eq!(records[1]["sets"][0]["weight"], 100);
    assert_eq!(records[2]["routing"], "failover");
    assert_eq!(
        records[2]["primary"],
        json!({"values": ["198.51.100.40"], "ttl": 300})
    );
    assert_eq!(records[2]["sets"][1]["set_identifier"], "secondary");
    assert_eq!(records[2]["sets"][1]["health_check_id"], "hc-dr");
    assert_eq!(records[2]["execution_id"], "exec-42");
    let outcome = result.detail.failback_recording.expect("an outcome");
    assert_eq!((outcome.recorded, outcome.not_recorded), (3, 0));
    assert_eq!(
        outcome.object.as_deref(),
        Some("s3://app-reports/failback/dns-before-failover.json")
    );
}

fn flipped_simple_alias() -> ResourceRecordSet {
    alias("app.example.com.", DR_ALIAS).build().unwrap()
}

/// The object as the first run wrote it: the simple record's primary target.
fn first_run_recording() -> Value {
    json!({"deployment": "app", "hosted_zone_id": ZONE, "updated_at": "2026-12-06T10:00:00Z",
           "execution_id": "exec-1",
           "records": [{"name": "app.example.com.", "type": "A", "routing": "simple",
                        "primary": {"alias": {"hosted_zone_id": "Z35SXDOTRQ7X7K",
                                              "dns_name": PRIMARY_ALIAS,
                                              "evaluate_target_health": true}},
                        "recorded_at": "2026-12-06T10:00:00Z", "execution_id": "exec-1"}]})
}

#[tokio::test]
async fn a_rerun_keeps_what_the_first_run_recorded_for_records_it_already_flipped() {
    let calls = Calls::default();
    let mut zone = before_failover();
    zone[0] = flipped_simple_alias();
    let (get, (put, written)) = (object(first_run_recording()), writes(&calls));
    let result = apply(&three_records(), zone, &[&get, &put], to_bucket(), &calls).await;

    assert_eq!(result.warnings, Vec::<String>::new());
    let written = written.lock().unwrap();
    let records = written[0]["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[0]["primary"]["alias"]["dns_name"], PRIMARY_ALIAS,
        "not the flipped DR alias"
    );
    assert_eq!(records[0]["execution_id"], "exec-1");
    assert_eq!(records[1]["execution_id"], "exec-42");
    let outcome = result.detail.failback_recording.unwrap();
    assert_eq!((outcome.recorded, outcome.kept), (2, 1));
}

#[tokio::test]
async fn an_object_that_already_holds_the_same_entries_is_not_written_again() {
    let calls = Calls::default();
    let config = config(json!([simple_to_dr_alias()]));
    let mut same = first_run_recording();
    let target = same["records"][0]["primary"].clone();
    same["records"][0]["sets"] = json!([{ "target": target }]);
    let (get, (put, _)) = (object(same), writes(&calls));
    let zone = vec![alias("app.example.com.", PRIMARY_ALIAS).build().unwrap()];
    let result = apply(&config, zone, &[&get, &put], to_bucket(), &calls).await;

    assert_eq!(put.num_calls(), 0);
    assert!(result.changed);
    assert_eq!(result.detail.failback_recording.unwrap().unchanged, 1);
}

#[tokio::test]
async fn when_the_write_is_denied_the_flip_goes_on_with_a_warning_naming_what_was_not_recorded() {
    let calls = Calls::default();
    let get = no_object(&calls);
    let denied = s3_answers("PutObject", 403, "AccessDenied");
    let result = apply(
        &three_records(),
        before_failover(),
        &[&get, &denied],
        to_bucket(),
        &calls,
    )
    .await;

    assert!(result.changed, "the failover flipped anyway");
    assert_eq!(
        calls.lock().unwrap().last().unwrap(),
        "ChangeResourceRecordSets"
    );
    let [warning] = result.warnings.as_slice() else {
        panic!("one warning: {:?}", result.warnings)
    };
    for part in [
        "NOT recorded",
        "app.example.com. A",
        "www.example.com. A",
        "AccessDenied",
        "Fail back's plan refuses",
        "s3://app-reports/failback/dns-before-failover.json",
    ] {
        assert!(warning.contains(part), "{part}: {warning}");
    }
    assert!(
        !warning.contains("api.example.com."),
        "a weighted record needs no entry: {warning}"
    );
    assert!(
        warning.len() <= 512,
        "within a result's bound: {}",
        warning.len()
    );
    let outcome = result.detail.failback_recording.unwrap();
    assert_eq!((outcome.recorded, outcome.not_recorded), (0, 3));
}

#[tokio::test]
async fn when_the_object_cannot_be_read_nothing_is_overwritten_and_the_flip_goes_on() {
    for (status, code) in [(500, "InternalError"), (403, "AccessDenied")] {
        let calls = Calls::default();
        let failing = s3_answers("GetObject", status, code);
        let (put, _) = writes(&calls);
        let result = apply(
            &three_records(),
            before_failover(),
            &[&failing, &put],
            to_bucket(),
            &calls,
        )
        .await;

        assert!(result.changed);
        assert_eq!(
            put.num_calls(),
            0,
            "{code}: a merge it cannot read is never written over"
        );
        assert!(
            result.warnings[0].contains(code) && result.warnings[0].contains("NOT recorded"),
            "{:?}",
            result.warnings
        );
    }
}

#[tokio::test]
async fn an_object_that_is_not_a_recording_is_left_as_it_is() {
    let calls = Calls::default();
    let get = object(json!({"hosted_zone_id": ZONE, "records": [], "note": "mine"}));
    let (put, _) = writes(&calls);
    let result = apply(
        &three_records(),
        before_failover(),
        &[&get, &put],
        to_bucket(),
        &calls,
    )
    .await;

    assert!(result.changed);
    assert_eq!(put.num_calls(), 0);
    assert!(
        result.warnings[0].contains("not a recording"),
        "{:?}",
        result.warnings
    );
}

#[tokio::test]
async fn without_report_bucket_name_the_flip_goes_on_and_warns() {
    let calls = Calls::default();
    let result = apply(
        &three_records(),
        before_failover(),
        &[],
        RecordingConfig::Unset,
        &calls,
    )
    .await;

    assert!(result.changed);
    assert!(
        result.warnings[0].contains("REPORT_BUCKET_NAME is not set"),
        "{:?}",
        result.warnings
    );
}

#[tokio::test]
async fn a_record_already_at_dr_with_no_entry_is_named_in_a_warning() {
    let calls = Calls::default();
    let mut zone = before_failover();
    zone[0] = flipped_simple_alias();
    let (get, (put, _)) = (no_object(&calls), writes(&calls));
    let result = apply(&three_records(), zone, &[&get, &put], to_bucket(), &calls).await;

    assert_eq!(put.num_calls(), 1);
    let [warning] = result.warnings.as_slice() else {
        panic!("{:?}", result.warnings)
    };
    assert!(
        warning.contains("app.example.com. A") && warning.contains("already answered DR"),
        "{warning}"
    );
}

#[tokio::test]
async fn an_object_of_another_zone_is_replaced() {
    let calls = Calls::default();
    let mut other = first_run_recording();
    other["hosted_zone_id"] = json!("ZOTHER");
    let (get, (put, written)) = (object(other), writes(&calls));
    let result = apply(
        &three_records(),
        before_failover(),
        &[&get, &put],
        to_bucket(),
        &calls,
    )
    .await;

    assert!(
        result.warnings[0].contains("ZOTHER"),
        "{:?}",
        result.warnings
    );
    assert_eq!(written.lock().unwrap()[0]["hosted_zone_id"], ZONE);
}

#[tokio::test]
async fn a_dry_run_and_a_plan_record_nothing() {
    let calls = Calls::default();
    let (get, (put, _)) = (no_object(&calls), writes(&calls));
    let list = listing(before_failover());
    let clients = clients_with_s3(&[&list], &[], &[&get, &put], to_bucket());
    for request in [
        request(Action::Plan),
        StepRequest {
            dry_run: true,
            ..request(Action::Apply)
        },
    ] {
        handle(request, &three_records(), &DatabaseConfig::None, &clients)
            .await
            .unwrap();
    }
    assert_eq!((get.num_calls(), put.num_calls()), (0, 0));
}

// ---- fail back: the records derived from the failover's and the recording ----

/// What the first failover recorded for the three records.
fn recorded() -> Recording {
    serde_json::from_value(json!({
        "hosted_zone_id": ZONE,
        "records": [
            {"name": "app.example.com.", "type": "A", "routing": "simple",
             "primary": {"alias": {"hosted_zone_id": "Z35SXDOTRQ7X7K", "dns_name": PRIMARY_ALIAS,
                                   "evaluate_target_health": true}}},
            {"name": "API.example.com", "type": "A", "routing": "weighted",
             "primary": {"values": ["198.51.100.11"], "ttl": 300},
             "sets": [{"set_identifier": "primary", "weight": 255,
                       "target": {"values": ["198.51.100.11"], "ttl": 300}},
                      {"set_identifier": "dr", "weight": 0,
                       "target": {"values": ["203.0.113.21"], "ttl": 300}}]},
            {"name": "www.example.com.", "type": "A", "routing": "failover",
             "primary": {"values": ["198.51.100.40"], "ttl": 300},
             "sets": [{"set_identifier": "primary", "failover": "PRIMARY",
                       "target": {"values": ["198.51.100.40"], "ttl": 300}},
                      {"set_identifier": "secondary", "failover": "SECONDARY",
                       "health_check_id": "hc-dr",
                       "target": {"values": ["203.0.113.40"], "ttl": 300}}]}
        ]
    }))
    .unwrap()
}

#[test]
fn fail_back_swaps_weighted_identifiers_and_restores_the_recorded_targets() {
    let (records, refusals) = derive(&three_records(), &Read::Found(recorded()), BUCKET);
    assert_eq!(refusals, Vec::<String>::new());
    assert_eq!(
        records[0].routing,
        Routing::Simple {
            dr: Target::Alias {
                alias: Alias {
                    hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
                    dns_name: PRIMARY_ALIAS.into(),
                    evaluate_target_health: true
                }
            }
        }
    );
    assert_eq!(
        records[1].routing,
        Routing::Weighted {
            primary_set_identifier: "dr".into(),
            dr_set_identifier: "primary".into(),
            dr_weight: 255,
        },
        "the set identifiers swapped, the primary's recorded weight back"
    );
    assert_eq!(
        records[2].routing,
        Routing::FailoverRestore {
            primary_set_identifier: "primary".into(),
            secondary_set_identifier: "secondary".into(),
            primary: Target::Values {
                values: vec!["198.51.100.40".into()],
                ttl: 300
            },
            primary_health_check_id: None,
            secondary: Target::Values {
                values: vec!["203.0.113.40".into()],
                ttl: 300
            },
            secondary_health_check_id: Some("hc-dr".into()),
        }
    );
}

#[test]
fn a_weighted_record_needs_no_recording_and_the_others_are_refused_by_name_saying_what_is_missing()
{
    for (read, why) in [
        (Read::Missing, "the object does not exist"),
        (
            Read::Unreadable("GetObject failed: AccessDenied: no".into()),
            "cannot be read: GetObject failed: AccessDenied",
        ),
        (
            Read::Found(Recording {
                records: Vec::new(),
                ..recorded()
            }),
            "has no entry for it",
        ),
        (
            Read::Found(Recording {
                hosted_zone_id: "ZOTHER".into(),
                ..recorded()
            }),
            "records hosted zone ZOTHER",
        ),
    ] {
        let (records, refusals) = derive(&three_records(), &read, BUCKET);
        assert_eq!(records.len(), 1, "{why}");
        assert_eq!(records[0].name, "api.example.com.");
        assert_eq!(refusals.len(), 2, "{why}");
        assert!(
            refusals[0].starts_with("app.example.com. A: ")
                && refusals[1].starts_with("www.example.com. A: ")
        );
        for refusal in &refusals {
            for part in [
                why,
                "s3://app-reports/failback/dns-before-failover.json",
                "Add the entry by hand",
                "\"primary\"",
            ] {
                assert!(refusal.contains(part), "{part}: {refusal}");
            }
        }
    }
}

#[test]
fn an_entry_of_another_routing_or_holding_the_dr_target_is_refused() {
    let mut wrong = recorded();
    wrong.records[0].routing = RoutingKind::Failover;
    wrong.records[2].primary = Target::Values {
        values: vec!["203.0.113.40".into()],
        ttl: 60,
    };
    let (_, refusals) = derive(&three_records(), &Read::Found(wrong), BUCKET);
    assert!(
        refusals[0].contains("its entry is for Failover routing"),
        "{}",
        refusals[0]
    );
    assert!(
        refusals[1].contains("primary target is the DR target"),
        "{}",
        refusals[1]
    );
}

#[test]
fn a_hand_written_failover_entry_without_sets_swaps_the_sets_back() {
    let mut by_hand = recorded();
    by_hand.records[2].sets.clear();
    let (records, _) = derive(&three_records(), &Read::Found(by_hand), BUCKET);
    assert_eq!(
        records[2].routing,
        Routing::Failover {
            primary_set_identifier: "primary".into(),
            dr_set_identifier: "secondary".into(),
            dr: Target::Values {
                values: vec!["198.51.100.40".into()],
                ttl: 300
            },
        }
    );
}

fn failback_config() -> FailbackDnsConfig {
    FailbackDnsConfig {
        failover: three_records(),
        bucket: BUCKET.into(),
    }
}

/// The zone after the failover, and after someone pointed the failover record's SECONDARY set at
/// a maintenance address: a fail back that read the zone would put that address on the PRIMARY.
fn after_failover_and_a_later_change() -> Vec<ResourceRecordSet> {
    vec![
        flipped_simple_alias(),
        values("api.example.com.", &["198.51.100.11"])
            .set_identifier("primary")
            .weight(0)
            .build()
            .unwrap(),
        values("api.example.com.", &["203.0.113.21"])
            .set_identifier("dr")
            .weight(100)
            .build()
            .unwrap(),
        values("www.example.com.", &["203.0.113.40"])
            .set_identifier("primary")
            .failover(ResourceRecordSetFailover::Primary)
            .health_check_id("hc-dr")
            .build()
            .unwrap(),
        values("www.example.com.", &["192.0.2.99"])
            .set_identifier("secondary")
            .failover(ResourceRecordSetFailover::Secondary)
            .build()
            .unwrap(),
    ]
}

#[tokio::test]
async fn fail_back_writes_the_recorded_targets_whatever_the_zone_holds_now() {
    let get = object(serde_json::to_value(recorded()).unwrap());
    let list = listing(after_failover_and_a_later_change());
    let (change, sent) = change_recorder();
    let clients = clients_with_s3(&[&list, &change], &[], &[&get], RecordingConfig::Off);
    let result = handle_failback(
        request(Action::Apply),
        &failback_config(),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(result.changed);
    assert_eq!(
        describe(&sent.lock().unwrap()[0]),
        [
            "UPSERT app.example.com. A alias=Z35SXDOTRQ7X7K/app-primary-1.eu-west-1.elb.amazonaws.com./true",
            "UPSERT api.example.com. A set=primary weight=255 ttl=300 values=198.51.100.11",
            "UPSERT api.example.com. A set=dr weight=0 ttl=300 values=203.0.113.21",
            "UPSERT www.example.com. A set=primary failover=PRIMARY ttl=300 values=198.51.100.40",
            "UPSERT www.example.com. A set=secondary failover=SECONDARY ttl=300 values=203.0.113.40 hc=hc-dr",
        ]
    );
}

#[tokio::test]
async fn fail_back_plan_refuses_unrecorded_records_by_name_and_apply_changes_nothing() {
    let calls = Calls::default();
    let get = no_object(&calls);
    let list = listing(after_failover_and_a_later_change());
    let change = changes(&calls);
    let clients = clients_with_s3(&[&list, &change], &[], &[&get], RecordingConfig::Off);

    let plan = handle_failback(
        request(Action::Plan),
        &failback_config(),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();
    assert!(!plan.ready);
    assert_eq!(plan.refusals.len(), 2, "{:?}", plan.refusals);
    assert!(plan.refusals[0].starts_with("app.example.com. A: fail back does not know"));
    assert!(
        plan.summary
            .starts_with("apply would refuse: 2 record(s) with no recorded primary target"),
        "{}",
        plan.summary
    );
    assert_eq!(plan.detail.record_count, 3);
    assert_eq!(
        plan.detail.failback_recording.unwrap().error.as_deref(),
        Some("the object does not exist")
    );

    let error = handle_failback(
        request(Action::Apply),
        &failback_config(),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Refused);
    assert!(error.to_string().contains("www.example.com. A"), "{error}");
    assert_eq!(change.num_calls(), 0);
}

#[tokio::test]
async fn a_transient_failure_reading_the_recording_is_retryable_not_a_refusal() {
    let failing = s3_answers("GetObject", 503, "SlowDown");
    let clients = clients_with_s3(&[], &[], &[&failing], RecordingConfig::Off);
    let error = handle_failback(
        request(Action::Plan),
        &failback_config(),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Retryable, "{error}");
}

#[test]
fn failback_dns_reads_the_failovers_records_and_fail_backs_own_zone_and_permissions() {
    let records = json!([simple_to_dr_alias(), weighted(), failover()]).to_string();
    let (names, types) = allowed(&serde_json::from_str(&records).unwrap());
    let env = [
        ("DNS_RECORDS", records.as_str()),
        ("REPORT_BUCKET_NAME", BUCKET),
        ("FAILBACK_DNS_HOSTED_ZONE_ID", ZONE),
        ("FAILBACK_DNS_ALLOWED_RECORD_NAMES", names.as_str()),
        ("FAILBACK_DNS_ALLOWED_RECORD_TYPES", types.as_str()),
        ("DNS_HOSTED_ZONE_ID", "ZNOTTHIS"),
    ];
    let config = FailbackDnsConfig::from_source(&env).unwrap();
    assert_eq!(config, failback_config());
    // The failover's DNS_RECORDS, never a FAILBACK_DNS_RECORDS.
    let without_records = [
        ("REPORT_BUCKET_NAME", BUCKET),
        ("FAILBACK_DNS_HOSTED_ZONE_ID", ZONE),
        ("FAILBACK_DNS_RECORDS", records.as_str()),
    ];
    assert_eq!(
        FailbackDnsConfig::from_source(&without_records),
        Err(ConfigError::Missing("DNS_RECORDS"))
    );
}

#[tokio::test]
async fn the_recordings_s3_calls_are_bounded_to_a_third_of_the_functions_call_bound() {
    // A stalled S3 must not hold the flip: the SDK for Rust sets no operation timeout by itself.
    let sdk = crate::aws::load("eu-central-1", crate::aws::SdkTimeouts::default()).await;
    let bound = crate::dns::recording::call_timeout(std::time::Duration::from_secs(10));
    assert_eq!(bound, std::time::Duration::from_secs(10) / 3);
    let client = crate::dns::recording::s3_client(&sdk, bound);
    let timeouts = client.config().timeout_config().cloned().expect("timeouts");
    assert_eq!(timeouts.operation_timeout(), Some(bound));
    assert_eq!(
        crate::dns::recording::call_timeout(std::time::Duration::from_secs(2)),
        std::time::Duration::from_secs(1),
        "at least 1 s"
    );
}
