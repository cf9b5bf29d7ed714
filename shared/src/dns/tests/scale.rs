//! Route 53 at scale: one zone read per call, paced requests, batch limits, the bounded read-back,
//! and confirming records already at DR.

use std::time::{Duration, Instant};

use aws_sdk_route53::types::error::PriorRequestNotComplete;

use super::*;

/// `count` simple records `host-N.example.com.`, DR value 203.0.113.x (configuration) and their
/// record sets with `current` values (Route 53).
fn hosts(count: usize, current: impl Fn(usize) -> String) -> (Value, Vec<ResourceRecordSet>) {
    let records = (0..count)
        .map(|i| {
            json!({"name": format!("host-{i}.example.com."), "type": "A", "routing": "simple",
                   "dr": {"values": [dr_value(i)]}})
        })
        .collect();
    let sets = (0..count)
        .map(|i| {
            values(&format!("host-{i}.example.com."), &[current(i).as_str()])
                .build()
                .unwrap()
        })
        .collect();
    (Value::Array(records), sets)
}

fn dr_value(i: usize) -> String {
    format!("203.0.113.{}", i % 250)
}

/// The zone in pages of `per_page` sets, chained by name and type the way Route 53 does.
fn paged_listing(sets: Vec<ResourceRecordSet>, per_page: usize) -> Rule {
    mock!(Route53::list_resource_record_sets).then_compute_output(move |r| {
        let start = match r.start_record_name() {
            None => 0,
            Some(name) => sets.iter().position(|s| s.name() == name).expect("a start"),
        };
        let page: Vec<_> = sets.iter().skip(start).take(per_page).cloned().collect();
        let next = sets.get(start + per_page);
        ListResourceRecordSetsOutput::builder()
            .set_resource_record_sets(Some(page))
            .is_truncated(next.is_some())
            .set_next_record_name(next.map(|s| s.name().to_owned()))
            .set_next_record_type(next.map(|s| s.r#type().clone()))
            .max_items(per_page as i32)
            .build()
            .unwrap()
    })
}

fn any_answer(data: &'static [&'static str]) -> Rule {
    mock!(Route53::test_dns_answer)
        .then_compute_output(move |r| answer(r.record_name().unwrap_or_default(), data))
}

#[tokio::test]
async fn plan_should_read_the_whole_zone_once_not_once_per_record() {
    let (records, sets) = hosts(700, |_| "192.0.2.1".into());
    let list = paged_listing(sets, 300);
    let clients = clients(&[&list]);

    let result = handle(
        request(Action::Plan),
        &config(records),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(list.num_calls(), 3, "700 record sets are 3 pages of 300");
    assert!(result.refusals.is_empty(), "{:?}", result.refusals);
    assert!(result.detail.records.iter().all(|r| r.changes.len() == 1));
    assert_eq!(
        (result.detail.records.len(), result.detail.record_count),
        (MAX_DETAIL_RECORDS, 700),
        "a result lists only the first records in full (Step Functions' 256 KiB)"
    );
    assert!(
        result.summary.contains("in 2 changes"),
        "700 UPSERTed values pass 1,000 counted twice: {}",
        result.summary
    );
}

#[tokio::test]
async fn a_set_listed_again_on_the_next_page_should_count_once() {
    // A store that ignores StartRecordIdentifier starts the next page at the name and type again.
    let primary = values("api.example.com.", &["192.0.2.1"])
        .set_identifier("primary")
        .weight(100)
        .build()
        .unwrap();
    let dr = values("api.example.com.", &["203.0.113.2"])
        .set_identifier("dr")
        .weight(0)
        .build()
        .unwrap();
    let first = primary.clone();
    let list = mock!(Route53::list_resource_record_sets)
        .sequence()
        .output(move || {
            ListResourceRecordSetsOutput::builder()
                .resource_record_sets(first.clone())
                .is_truncated(true)
                .next_record_name("api.example.com.")
                .next_record_type(RrType::A)
                .next_record_identifier("dr")
                .max_items(1)
                .build()
                .unwrap()
        })
        .output(move || {
            ListResourceRecordSetsOutput::builder()
                .set_resource_record_sets(Some(vec![primary.clone(), dr.clone()]))
                .is_truncated(false)
                .max_items(1)
                .build()
                .unwrap()
        })
        .build();
    let clients = clients(&[&list]);

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
}

#[tokio::test]
async fn apply_should_split_past_route53s_batch_limit_and_send_one_batch_per_call() {
    // 600 single-value UPSERTs count 1,200 ResourceRecord elements: 500 fit in one batch.
    let (records, before) = hosts(600, |_| "192.0.2.1".into());
    let config = config(records);
    let (change, sent) = change_recorder();

    let first_list = paged_listing(before, 300);
    let clients_before = clients(&[&first_list, &change]);
    let first = handle(
        request(Action::Apply),
        &config,
        &DatabaseConfig::None,
        &clients_before,
    )
    .await
    .unwrap_err();

    assert!(
        matches!(
            first,
            DnsError::MoreBatches {
                batches: 2,
                sets: 500,
                remaining: 100,
                ..
            }
        ),
        "{first}"
    );
    assert_eq!(
        first.kind(),
        ErrorKind::NotReady,
        "the state machine calls apply again"
    );

    // The next call finds the first 500 at DR and sends the other 100.
    let (_, after) = hosts(600, |i| {
        if i < 500 {
            dr_value(i)
        } else {
            "192.0.2.1".into()
        }
    });
    let second_list = paged_listing(after, 300);
    let clients_after = clients(&[&second_list, &change]);
    let second = handle(
        request(Action::Apply),
        &config,
        &DatabaseConfig::None,
        &clients_after,
    )
    .await
    .unwrap();

    assert!(second.changed && !second.ready);
    assert_eq!(second.detail.change_id.as_deref(), Some(CHANGE_ID));
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].changes().len(), 500);
    assert_eq!(sent[1].changes().len(), 100);
    assert!(sent[0].comment().unwrap().ends_with("(batch 1 of 2)"));
    assert_eq!(
        sent[1].changes()[0].resource_record_set().unwrap().name(),
        "host-500.example.com."
    );
}

#[test]
fn batches_should_keep_within_32000_value_characters_counted_twice() {
    // 3 values of 6,000 characters: 36,000 counted twice, so one per batch... two fit (24,000).
    let long = "x".repeat(6_000);
    let specs: Vec<RecordSpec> = (0..3)
        .map(|i| RecordSpec {
            name: format!("txt-{i}.example.com."),
            record_type: RrType::Txt,
            routing: Routing::Simple {
                dr: Target::Values {
                    values: vec![long.clone()],
                    ttl: 60,
                },
            },
        })
        .collect();
    let sets: Vec<Vec<RecordSet>> = specs
        .iter()
        .map(|spec| {
            let Routing::Simple { dr } = &spec.routing else {
                unreachable!()
            };
            vec![RecordSet {
                set_identifier: None,
                weight: None,
                failover: None,
                target: Some(dr.clone()),
                health_check_id: None,
            }]
        })
        .collect();
    let records: Vec<RecordChanges<'_>> = specs
        .iter()
        .zip(&sets)
        .map(|(spec, sets)| RecordChanges { spec, sets })
        .collect();

    let batches = change_batches(&records, Some("exec-42")).unwrap();

    let sizes: Vec<usize> = batches.iter().map(|b| b.changes().len()).collect();
    assert_eq!(sizes, [2, 1]);
    assert_eq!(MAX_VALUE_CHARS_PER_BATCH, 32_000);
}

#[tokio::test]
async fn status_should_read_back_at_most_the_bound_and_judge_the_rest_by_the_listing() {
    let (records, sets) = hosts(45, dr_value);
    let list = paged_listing(sets, 300);
    // Whatever is asked answers DR for the records asked about (all answer 203.0.113.x).
    let answer = mock!(Route53::test_dns_answer).then_compute_output(|r| {
        let name = r.record_name().unwrap_or_default().to_owned();
        let i: usize = name
            .trim_start_matches("host-")
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        answer(&name, &[dr_value(i).as_str()])
    });
    let insync = get_change(ChangeStatus::Insync);
    let clients = clients(&[&list, &answer, &insync]);

    let result = handle(
        status_request(),
        &config(records),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(answer.num_calls(), MAX_ANSWER_CHECKS);
    assert!(result.ready, "{}", result.summary);
    assert!(result.detail.records.iter().all(|r| r.answer.is_some()));
    assert!(
        result.summary.contains("45 of 45 point at DR"),
        "{}",
        result.summary
    );
}

#[tokio::test]
async fn status_should_not_be_ready_when_a_record_past_the_bound_is_not_at_dr_in_the_listing() {
    let (records, sets) = hosts(25, |i| {
        if i == 24 {
            "192.0.2.1".into()
        } else {
            dr_value(i)
        }
    });
    let list = paged_listing(sets, 300);
    let answer = any_answer(&["203.0.113.0"]);
    let insync = get_change(ChangeStatus::Insync);
    let clients = clients(&[&list, &answer, &insync]);

    let result = handle(
        status_request(),
        &config(records),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();

    assert!(!result.ready);
    assert!(
        result.summary.contains("24 of 25 point at DR"),
        "{}",
        result.summary
    );
    assert_eq!(
        (result.detail.record_count, result.detail.records_at_dr),
        (25, 24)
    );
}

/// The weighted and failover records of the drill, already at DR.
fn at_dr() -> Vec<ResourceRecordSet> {
    vec![
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
        values("www.example.com.", &["203.0.113.40"])
            .set_identifier("primary")
            .failover(ResourceRecordSetFailover::Primary)
            .health_check_id("hc-www-dr")
            .build()
            .unwrap(),
        values("www.example.com.", &["192.0.2.30"])
            .set_identifier("secondary")
            .failover(ResourceRecordSetFailover::Secondary)
            .build()
            .unwrap(),
    ]
}

#[tokio::test]
async fn when_records_are_at_dr_and_no_change_id_is_known_apply_should_upsert_them_unchanged_and_wait_for_that_change(
) {
    let list = listing(at_dr());
    let (change, sent) = change_recorder();
    let api_answer = answers("api.example.com.", &["203.0.113.2"]);
    let www_answer = answers("www.example.com.", &["203.0.113.40"]);
    // No database check: the UPSERT changes no answer. A replica here proves it is not asked.
    let db = replica(Some("db-primary"));
    let clients = clients_with_database(&[&list, &change, &api_answer, &www_answer], &[&db]);

    let result = handle(
        request(Action::Apply),
        &config(json!([weighted(), failover()])),
        &instance_database(),
        &clients,
    )
    .await
    .unwrap();

    assert!(!result.ready, "the new change is PENDING");
    assert!(
        result.summary.contains("UPSERTed them unchanged"),
        "{}",
        result.summary
    );
    assert_eq!(result.detail.change_id.as_deref(), Some(CHANGE_ID));
    assert_eq!(result.detail.change_status.as_deref(), Some("PENDING"));
    assert_eq!(db.num_calls(), 0);
    assert_eq!(
        describe(&sent.lock().unwrap()[0]),
        [
            "UPSERT api.example.com. A set=primary weight=0 ttl=300 values=192.0.2.1",
            "UPSERT api.example.com. A set=dr weight=100 ttl=300 values=203.0.113.2",
            "UPSERT www.example.com. A set=primary failover=PRIMARY ttl=300 values=203.0.113.40 hc=hc-www-dr",
            "UPSERT www.example.com. A set=secondary failover=SECONDARY ttl=300 values=192.0.2.30",
        ]
    );
}

#[tokio::test]
async fn when_the_unchanged_upsert_meets_a_pending_change_apply_should_wait() {
    let list = listing(at_dr());
    let change = mock!(Route53::change_resource_record_sets).then_error(|| {
        ChangeResourceRecordSetsError::PriorRequestNotComplete(
            PriorRequestNotComplete::builder()
                .message("The request was rejected because Route 53 was still processing a prior request.")
                .meta(ErrorMetadata::builder().code("PriorRequestNotComplete").build())
                .build(),
        )
    });
    let clients = clients(&[&list, &change]);

    let error = handle(
        request(Action::Apply),
        &config(json!([weighted(), failover()])),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Retryable, "{error}");
    assert!(
        error.to_string().contains("PriorRequestNotComplete"),
        "{error}"
    );
}

#[tokio::test]
async fn every_route53_request_of_a_call_should_wait_its_turn_on_the_pacer() {
    let (records, sets) = hosts(4, dr_value);
    let list = paged_listing(sets, 2);
    let answer = any_answer(&["203.0.113.0"]);
    let insync = get_change(ChangeStatus::Insync);
    let clients = DnsClients {
        pace: Pacer::new(Duration::from_millis(50)),
        ..clients(&[&list, &answer, &insync])
    };

    let begin = Instant::now();
    handle(
        status_request(),
        &config(records),
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();
    let elapsed = begin.elapsed();

    // 2 pages, 1 GetChange, 4 TestDNSAnswer: 7 requests, the first at once.
    let requests = list.num_calls() + insync.num_calls() + answer.num_calls();
    assert_eq!(requests, 7);
    assert!(elapsed >= Duration::from_millis(6 * 50 - 10), "{elapsed:?}");
}

#[test]
fn route53_requests_per_second_should_default_to_5_and_refuse_a_bad_value_by_name() {
    let (names, types) = allowed(&json!([simple()]));
    let records = json!([simple()]).to_string();
    let with = |rate: &'static str| {
        DnsConfig::from_source(&[
            ("DNS_HOSTED_ZONE_ID", ZONE),
            ("DNS_RECORDS", records.as_str()),
            ("ROUTE53_REQUESTS_PER_SECOND", rate),
            ("DNS_ALLOWED_RECORD_NAMES", names.as_str()),
            ("DNS_ALLOWED_RECORD_TYPES", types.as_str()),
        ])
    };
    assert_eq!(
        with("").unwrap().route53_request_interval,
        Duration::from_millis(200)
    );
    assert_eq!(
        with("2.5").unwrap().route53_request_interval,
        Duration::from_millis(400)
    );
    for bad in ["fast", "0", "-1", "11", "NaN"] {
        let error = with(bad).unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    name: "ROUTE53_REQUESTS_PER_SECOND",
                    ..
                }
            ),
            "{bad}: {error}"
        );
    }
}
