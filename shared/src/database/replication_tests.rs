//! The lag gate ([`super::replication`]) through the step, on mocked RDS and CloudWatch answers.

use aws_smithy_mocks::{mock, Rule};

use super::tests::{
    clients, forced, instance_config, lag_rule, promote_rule, replica_rule, request, SOURCE,
};
use super::*;
use crate::error::StepFailure;

/// The source's `OldestReplicationSlotLag`: (seconds ago, bytes).
fn wal_rule(points: &'static [(u64, f64)]) -> Rule {
    super::tests::metric_rule(
        "OldestReplicationSlotLag",
        ("DBInstanceIdentifier", "app-db"),
        points,
    )
}

const STOPPED: Option<(&str, bool, &str)> = Some(("error", false, "IO thread stopped"));
const REPLICATING: Option<(&str, bool, &str)> = Some(("replicating", true, ""));

#[tokio::test]
async fn replication_stopped_ten_minutes_ago_refuses_the_failover_naming_rds_and_the_age() {
    // The case: replication in error for 660 s, a 40 s lag 665 s old, -1 since.
    let describe = replica_rule("available", Some(SOURCE), STOPPED, "mysql");
    let lag = lag_rule(&[(665, 40.0), (600, -1.0), (420, -1.0)]);
    let promote = promote_rule();
    let clients = clients(&[&describe, &promote], &[&lag]);

    let plan = handle(request(Action::Plan), &instance_config(300), &clients)
        .await
        .unwrap();
    let apply = handle(request(Action::Apply), &instance_config(300), &clients)
        .await
        .unwrap_err();

    let refusal = &plan.refusals[0];
    assert!(
        refusal.contains("RDS reports read replication error (not normal): IO thread stopped")
            && refusal.contains("last valid ReplicaLag (40s) is 665s old")
            && refusal.contains("up to 705s of writes")
            && refusal.ends_with("(the refused report's force_command)"),
        "{refusal}"
    );
    assert_eq!(plan.detail.replication_status.as_deref(), Some("error"));
    assert_eq!(plan.detail.replication_normal, Some(false));
    assert_eq!(plan.detail.replica_lag_age_seconds, Some(665));
    assert!(!plan.summary.contains("lag 40s"), "{}", plan.summary);
    assert!(plan.summary.contains("665s old"), "{}", plan.summary);
    assert_eq!(
        StepFailure::from(apply).kind.error_name(),
        "DrFailover.Refused"
    );
    assert_eq!(promote.num_calls(), 0, "re-checked at apply: not promoted");
}

#[tokio::test]
async fn replication_stopped_just_now_passes_the_failover_within_the_limit_with_a_warning() {
    // A regional outage: replication broke 90 s ago at a lag of 3 s; the writes since are lost.
    let describe = replica_rule("available", Some(SOURCE), STOPPED, "mysql");
    let lag = lag_rule(&[(90, 3.0), (30, -1.0)]);
    let clients = clients(&[&describe], &[&lag]);

    let plan = handle(request(Action::Plan), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("read replication error") && w.contains("up to 93s")),
        "{:?}",
        plan.warnings
    );
}

#[tokio::test]
async fn force_overrides_a_stopped_replication_and_says_what_it_forced_past() {
    let describe = replica_rule("available", Some(SOURCE), STOPPED, "mysql");
    let lag = lag_rule(&[(665, 40.0)]);
    let promote = promote_rule();
    let clients = clients(&[&describe, &promote], &[&lag]);

    let out = handle(forced(Action::Apply), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(out.changed);
    assert_eq!(promote.num_calls(), 1);
    assert!(
        out.warnings
            .iter()
            .any(|w| w.starts_with("forced past: RDS reports read replication error")),
        "{:?}",
        out.warnings
    );
}

#[tokio::test]
async fn a_stale_datapoint_is_lag_unknown_even_while_rds_reports_replicating() {
    let describe = replica_rule("available", Some(SOURCE), REPLICATING, "mysql");
    let lag = lag_rule(&[(400, 2.0)]);
    let clients = clients(&[&describe], &[&lag]);

    let plan = handle(request(Action::Plan), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(
        plan.refusals[0].contains("newest ReplicaLag datapoint of app-db-dr is 400s old (more than 300s): the lag is unknown"),
        "{:?}",
        plan.refusals
    );
}

#[tokio::test]
async fn no_datapoint_or_no_replication_status_refuses_as_unknown() {
    let replicating = replica_rule("available", Some(SOURCE), REPLICATING, "mysql");
    let silent = lag_rule(&[]);
    let plan = handle(
        request(Action::Plan),
        &instance_config(300),
        &clients(&[&replicating], &[&silent]),
    )
    .await
    .unwrap();
    assert!(
        plan.refusals[0].contains("but no ReplicaLag datapoint in the last 15 minutes"),
        "{:?}",
        plan.refusals
    );

    let unknown = replica_rule("available", Some(SOURCE), None, "mysql");
    let fresh = lag_rule(&[(30, 1.0)]);
    let plan = handle(
        request(Action::Plan),
        &instance_config(300),
        &clients(&[&unknown], &[&fresh]),
    )
    .await
    .unwrap();
    assert!(
        plan.refusals[0].contains("RDS reports no read replication status for app-db-dr"),
        "{:?}",
        plan.refusals
    );
}

#[tokio::test]
async fn the_write_freeze_refuses_a_twelve_minute_old_zero_of_a_stopped_replica() {
    // Fail back's case: max lag 0, a 0 720 s old, replication stopped since.
    let describe = replica_rule("available", Some(SOURCE), STOPPED, "postgres");
    let lag = lag_rule(&[(720, 0.0), (650, -1.0)]);
    let promote = promote_rule();
    let clients = clients(&[&describe, &promote], &[&lag]);

    let plan = handle(request(Action::Plan), &instance_config(0), &clients)
        .await
        .unwrap();
    let apply = handle(request(Action::Apply), &instance_config(0), &clients).await;

    assert!(!plan.ready);
    assert!(
        plan.refusals[0].contains("read replication error")
            && plan.refusals[0].ends_with("the write freeze waits until RDS reports read replication replicating with a fresh ReplicaLag of 0"),
        "{:?}",
        plan.refusals
    );
    assert!(!plan.summary.contains("lag 0s"), "{}", plan.summary);
    assert!(apply.is_err());
    assert_eq!(promote.num_calls(), 0);
}

#[tokio::test]
async fn an_idle_postgresql_source_passes_the_freeze_by_its_wal_position_in_its_region() {
    // ReplicaLag grows while the source is idle; the source's OldestReplicationSlotLag is 0.
    let describe = replica_rule("available", Some(SOURCE), REPLICATING, "postgres");
    let lag = lag_rule(&[(120, 120.0), (60, 180.0), (5, 240.0)]);
    let wal = wal_rule(&[(65, 0.0), (5, 0.0)]);
    let promote = promote_rule();
    let clients = clients(&[&describe, &promote], &[&lag, &wal]);

    let plan = handle(request(Action::Plan), &instance_config(0), &clients)
        .await
        .unwrap();
    let apply = handle(request(Action::Apply), &instance_config(0), &clients)
        .await
        .unwrap();

    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert!(
        plan.summary
            .contains("OldestReplicationSlotLag 0 bytes, 5s old"),
        "{}",
        plan.summary
    );
    assert_eq!(plan.detail.replica_lag_seconds, Some(0.0));
    assert_eq!(plan.detail.source_wal_lag_bytes, Some(0.0));
    assert!(apply.changed);
    assert_eq!(promote.num_calls(), 1);
    assert_eq!(wal.num_calls(), 2, "read at plan and again at apply");
}

#[tokio::test]
async fn wal_behind_or_a_non_postgresql_engine_keeps_the_lag_refusal() {
    let postgres = replica_rule("available", Some(SOURCE), REPLICATING, "postgres");
    let lag = lag_rule(&[(5, 240.0)]);
    let behind = wal_rule(&[(5, 16384.0)]);
    let plan = handle(
        request(Action::Plan),
        &instance_config(0),
        &clients(&[&postgres], &[&lag, &behind]),
    )
    .await
    .unwrap();
    assert!(
        plan.refusals[0].contains("replica lag 240s is above the limit of 0s; the source's OldestReplicationSlotLag is 16384 bytes, 5s old"),
        "{:?}",
        plan.refusals
    );

    let mysql = replica_rule("available", Some(SOURCE), REPLICATING, "mysql");
    let unused = wal_rule(&[(5, 0.0)]);
    let plan = handle(
        request(Action::Plan),
        &instance_config(0),
        &clients(&[&mysql], &[&lag, &unused]),
    )
    .await
    .unwrap();
    assert!(plan.refusals[0].starts_with("replica lag 240s is above the limit of 0s; "));
    assert_eq!(
        unused.num_calls(),
        0,
        "MySQL's lag does not grow while idle"
    );
}

#[test]
fn a_source_is_read_in_its_own_region() {
    assert_eq!(
        replication::source_of("arn:aws:rds:eu-west-1:111111111111:db:app-db"),
        (Some("eu-west-1"), "app-db")
    );
    assert_eq!(replication::source_of("app-db"), (None, "app-db"));
}

#[tokio::test]
async fn a_source_wal_read_that_is_denied_is_a_warning_and_the_gate_judges_the_lag_it_has() {
    // Issue 22: the source is in the primary region, which may be the one down; its WAL position
    // is evidence only. Denied, the gate judges the ReplicaLag it read (not "lag unknown").
    let postgres = replica_rule("available", Some(SOURCE), REPLICATING, "postgres");
    let lag = lag_rule(&[(5, 240.0)]);
    let denied = mock!(aws_sdk_cloudwatch::Client::get_metric_statistics)
        .match_requests(|r| r.metric_name() == Some("OldestReplicationSlotLag"))
        .then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: cloudwatch:GetMetricStatistics</Message></Error></ErrorResponse>",
                ),
            )
        });
    let plan = handle(
        request(Action::Plan),
        &instance_config(0),
        &clients(&[&postgres], &[&denied, &lag]),
    )
    .await
    .unwrap();

    assert_eq!(denied.num_calls(), 1);
    assert!(
        plan.refusals[0].starts_with("replica lag 240s is above the limit of 0s; "),
        "{:?}",
        plan.refusals
    );
    assert_eq!(plan.detail.replica_lag_seconds, Some(240.0));
    assert!(
        plan.warnings.iter().any(|w| w
            .starts_with("the source's OldestReplicationSlotLag could not be read")
            && w.contains("AccessDenied")),
        "{:?}",
        plan.warnings
    );
}
