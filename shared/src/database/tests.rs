use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::operation::get_metric_statistics::GetMetricStatisticsOutput;
use aws_sdk_cloudwatch::types::Datapoint;
use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
use aws_sdk_rds::operation::describe_db_instances::{
    DescribeDBInstancesError, DescribeDbInstancesOutput,
};
use aws_sdk_rds::operation::describe_global_clusters::DescribeGlobalClustersOutput;
use aws_sdk_rds::operation::failover_global_cluster::FailoverGlobalClusterOutput;
use aws_sdk_rds::operation::promote_read_replica::{
    PromoteReadReplicaError, PromoteReadReplicaOutput,
};
use aws_sdk_rds::operation::switchover_global_cluster::SwitchoverGlobalClusterOutput;
use aws_sdk_rds::types::error::{DbInstanceNotFoundFault, InvalidDbInstanceStateFault};
use aws_sdk_rds::types::{
    DbCluster, DbInstance, DbInstanceStatusInfo, FailoverState, FailoverStatus, GlobalCluster,
    GlobalClusterMember,
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::body::SdkBody;

use super::*;
use crate::error::StepFailure;
use crate::testing::{fast_retries, no_retries};

pub(super) const REPLICA: &str = "app-db-dr";
pub(super) const SOURCE: &str = "arn:aws:rds:eu-west-1:111111111111:db:app-db";
const GLOBAL: &str = "app-global";
const DR_CLUSTER: &str = "app-dr";
const DR_ARN: &str = "arn:aws:rds:eu-central-1:111111111111:cluster:app-dr";
const PRIMARY_ARN: &str = "arn:aws:rds:eu-west-1:111111111111:cluster:app-primary";

pub(super) fn instance_config(max_lag: u64) -> DatabaseConfig {
    DatabaseConfig::Instance {
        replica_id: REPLICA.into(),
        max_lag_seconds: max_lag,
        backup_retention_days: 7,
    }
}

fn aurora_config() -> DatabaseConfig {
    DatabaseConfig::AuroraGlobal {
        global_cluster_id: GLOBAL.into(),
        dr_cluster_id: DR_CLUSTER.into(),
    }
}

/// A DB instance as `DescribeDBInstances` shows it; an available replica reports its
/// replication `replicating`, as RDS does.
pub(super) fn described(status: &'static str, source: Option<&'static str>) -> Rule {
    let replication =
        (source.is_some() && status == "available").then_some(("replicating", true, ""));
    replica_rule(status, source, replication, "mysql")
}

/// A replica with the `StatusInfos` `read replication` entry `replication` (status, normal,
/// message) and `engine`.
pub(super) fn replica_rule(
    status: &'static str,
    source: Option<&'static str>,
    replication: Option<(&'static str, bool, &'static str)>,
    engine: &'static str,
) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(|r| r.db_instance_identifier() == Some(REPLICA))
        .then_output(move || {
            let mut instance = DbInstance::builder()
                .db_instance_identifier(REPLICA)
                .db_instance_status(status)
                .engine(engine)
                .set_read_replica_source_db_instance_identifier(source.map(str::to_owned));
            if let Some((status, normal, message)) = replication {
                let info = DbInstanceStatusInfo::builder()
                    .status_type("read replication")
                    .status(status)
                    .normal(normal);
                let info = if message.is_empty() {
                    info
                } else {
                    info.message(message)
                };
                instance = instance.status_infos(info.build());
            }
            DescribeDbInstancesOutput::builder()
                .db_instances(instance.build())
                .build()
        })
}

pub(super) fn promote_rule() -> Rule {
    mock!(aws_sdk_rds::Client::promote_read_replica)
        .match_requests(|r| {
            r.db_instance_identifier() == Some(REPLICA) && r.backup_retention_period() == Some(7)
        })
        .then_output(|| PromoteReadReplicaOutput::builder().build())
}

/// `metric` of the resource `dimension` names (`("DBInstanceIdentifier", REPLICA)`), its
/// datapoints each (seconds ago, value).
pub(super) fn metric_rule(
    metric: &'static str,
    (dimension, id): (&'static str, &'static str),
    points: &'static [(u64, f64)],
) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::get_metric_statistics)
        .match_requests(move |r| {
            r.namespace() == Some("AWS/RDS")
                && r.metric_name() == Some(metric)
                && r.dimensions()
                    .iter()
                    .any(|d| d.name() == Some(dimension) && d.value() == Some(id))
        })
        .then_output(move || {
            let now = SystemTime::now();
            GetMetricStatisticsOutput::builder()
                .set_datapoints(Some(
                    points
                        .iter()
                        .map(|(ago, value)| {
                            Datapoint::builder()
                                .timestamp((now - Duration::from_secs(*ago)).into())
                                .maximum(*value)
                                .build()
                        })
                        .collect(),
                ))
                .build()
        })
}

/// `points` are (seconds ago, lag); the newest valid one is the estimate.
pub(super) fn lag_rule(points: &'static [(u64, f64)]) -> Rule {
    metric_rule("ReplicaLag", ("DBInstanceIdentifier", REPLICA), points)
}

/// The DR cluster's `AuroraGlobalDBReplicationLag` datapoints: (seconds ago, milliseconds).
pub(super) fn global_lag_rule(points: &'static [(u64, f64)]) -> Rule {
    metric_rule(
        aurora::GLOBAL_LAG_METRIC,
        ("DBClusterIdentifier", DR_CLUSTER),
        points,
    )
}

pub(super) fn clients(rds: &[&Rule], cloudwatch: &[&Rule]) -> DatabaseClients {
    DatabaseClients {
        rds: mock_client!(aws_sdk_rds, RuleMode::MatchAny, rds.iter().copied(), |c| c
            .retry_config(fast_retries())),
        cloudwatch: mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            cloudwatch.iter().copied(),
            |c| c.retry_config(fast_retries())
        ),
    }
}

pub(super) fn request(action: Action) -> StepRequest {
    StepRequest::new(action)
}

fn dry_run() -> StepRequest {
    StepRequest {
        dry_run: true,
        ..StepRequest::new(Action::Apply)
    }
}

pub(super) fn forced(action: Action) -> StepRequest {
    StepRequest {
        force: true,
        ..StepRequest::new(action)
    }
}

// ---- RDS instance read replica: plan ----

#[tokio::test]
async fn when_replica_is_healthy_plan_should_report_source_and_lag_and_not_refuse() {
    let describe = described("available", Some(SOURCE));
    let lag = lag_rule(&[(300, 2.0), (60, 4.0), (120, 9.0)]);
    let promote = promote_rule();
    let clients = clients(&[&describe, &promote], &[&lag]);

    let out = handle(request(Action::Plan), &instance_config(300), &clients)
        .await
        .unwrap();

    assert_eq!(out.detail.replica_source.as_deref(), Some(SOURCE));
    assert_eq!(
        out.detail.replica_lag_seconds,
        Some(4.0),
        "the newest datapoint is the estimate"
    );
    assert!(out.refusals.is_empty());
    assert!(!out.ready && !out.changed);
    assert_eq!(promote.num_calls(), 0, "plan never promotes");
}

#[tokio::test]
async fn when_lag_is_above_the_limit_plan_should_refuse_naming_the_lag() {
    let describe = described("available", Some(SOURCE));
    let lag = lag_rule(&[(60, 900.0)]);
    let clients = clients(&[&describe], &[&lag]);

    let out = handle(request(Action::Plan), &instance_config(300), &clients)
        .await
        .unwrap();

    assert_eq!(out.refusals.len(), 1);
    assert!(
        out.refusals[0].contains("900") && out.refusals[0].contains("300"),
        "{:?}",
        out.refusals
    );
}

#[tokio::test]
async fn when_only_invalid_lag_points_exist_plan_should_refuse_as_lag_unknown() {
    let describe = described("available", Some(SOURCE));
    let lag = lag_rule(&[(60, -1.0), (120, -1.0)]);
    let clients = clients(&[&describe], &[&lag]);

    let out = handle(request(Action::Plan), &instance_config(300), &clients)
        .await
        .unwrap();

    // A -1 is RDS's "replication not active", not a datapoint to skip.
    assert_eq!(out.detail.replica_lag_seconds, None);
    assert_eq!(out.detail.replica_lag_age_seconds, Some(60));
    assert!(
        out.refusals[0].contains("is -1 (replication not active) 60s ago")
            && out.refusals[0].ends_with("(the refused report's force_command)"),
        "{:?}",
        out.refusals
    );
}

#[tokio::test]
async fn when_forced_plan_should_not_refuse_on_lag() {
    let describe = described("available", Some(SOURCE));
    let lag = lag_rule(&[(60, 900.0)]);
    let clients = clients(&[&describe], &[&lag]);

    let out = handle(forced(Action::Plan), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(out.refusals.is_empty());
    assert!(out.summary.contains("forced"));
}

#[tokio::test]
async fn when_replica_is_missing_plan_should_fail_as_not_found() {
    let describe = mock!(aws_sdk_rds::Client::describe_db_instances).then_error(|| {
        DescribeDBInstancesError::DbInstanceNotFoundFault(
            DbInstanceNotFoundFault::builder().message("nope").build(),
        )
    });
    let clients = clients(&[&describe], &[]);

    let error = handle(request(Action::Plan), &instance_config(300), &clients)
        .await
        .unwrap_err();

    assert_eq!(error, DatabaseError::InstanceNotFound(REPLICA.into()));
    assert_eq!(
        StepFailure::from(error).kind.error_name(),
        "DrFailover.NotFound"
    );
}

// ---- RDS instance read replica: apply ----

#[tokio::test]
async fn when_replica_is_within_lag_apply_should_promote_with_the_configured_retention() {
    let describe = described("available", Some(SOURCE));
    let lag = lag_rule(&[(60, 4.0)]);
    let promote = promote_rule();
    let clients = clients(&[&describe, &promote], &[&lag]);

    let out = handle(request(Action::Apply), &instance_config(300), &clients)
        .await
        .unwrap();

    assert_eq!(promote.num_calls(), 1);
    assert!(out.changed);
    assert!(!out.ready, "promotion has only started");
}

#[tokio::test]
async fn when_replica_already_promoted_apply_should_report_noop_and_not_promote_again() {
    let describe = described("available", None);
    let promote = promote_rule();
    let lag = lag_rule(&[]);
    let clients = clients(&[&describe, &promote], &[&lag]);

    let first = handle(request(Action::Apply), &instance_config(300), &clients)
        .await
        .unwrap();
    let second = handle(request(Action::Apply), &instance_config(300), &clients)
        .await
        .unwrap();

    assert_eq!(promote.num_calls(), 0);
    assert_eq!(lag.num_calls(), 0, "a promoted instance needs no lag check");
    assert!(!first.changed && first.ready && first.detail.writable);
    assert_eq!(first, second, "a repeated apply reports the same result");
}

#[tokio::test]
async fn when_lag_is_above_the_limit_apply_should_refuse_and_not_promote() {
    let describe = described("available", Some(SOURCE));
    let lag = lag_rule(&[(60, 900.0)]);
    let promote = promote_rule();
    let clients = clients(&[&describe, &promote], &[&lag]);

    let error = handle(request(Action::Apply), &instance_config(300), &clients)
        .await
        .unwrap_err();

    assert!(matches!(error, DatabaseError::Refused(_)));
    assert_eq!(
        StepFailure::from(error).kind.error_name(),
        "DrFailover.Refused"
    );
    assert_eq!(promote.num_calls(), 0);
}

#[tokio::test]
async fn when_forced_apply_should_promote_despite_the_lag() {
    let describe = described("available", Some(SOURCE));
    let lag = lag_rule(&[(60, 900.0)]);
    let promote = promote_rule();
    let clients = clients(&[&describe, &promote], &[&lag]);

    let out = handle(forced(Action::Apply), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(out.changed);
    assert_eq!(promote.num_calls(), 1);
}

#[tokio::test]
async fn when_apply_is_a_dry_run_should_never_promote() {
    let describe = described("available", Some(SOURCE));
    let lag = lag_rule(&[(60, 4.0)]);
    let promote = promote_rule();
    let clients = clients(&[&describe, &promote], &[&lag]);

    let out = handle(dry_run(), &instance_config(300), &clients)
        .await
        .unwrap();

    assert_eq!(promote.num_calls(), 0);
    assert_eq!(out.action, Action::Plan);
    assert!(out.dry_run && !out.changed);
}

#[tokio::test]
async fn when_replica_is_busy_apply_should_fail_as_not_ready_without_promoting() {
    let describe = described("backing-up", Some(SOURCE));
    let lag = lag_rule(&[(60, 4.0)]);
    let promote = promote_rule();
    let clients = clients(&[&describe, &promote], &[&lag]);

    let error = handle(request(Action::Apply), &instance_config(300), &clients)
        .await
        .unwrap_err();

    assert_eq!(
        StepFailure::from(error).kind.error_name(),
        "DrFailover.NotReady"
    );
    assert_eq!(promote.num_calls(), 0);
}

#[tokio::test]
async fn when_rds_rejects_the_promotion_state_apply_should_fail_as_not_ready() {
    let describe = described("available", Some(SOURCE));
    let lag = lag_rule(&[(60, 4.0)]);
    let promote = mock!(aws_sdk_rds::Client::promote_read_replica).then_error(|| {
        PromoteReadReplicaError::InvalidDbInstanceStateFault(
            InvalidDbInstanceStateFault::builder()
                .message("DB Instance is not a read replica.")
                .build(),
        )
    });
    let clients = clients(&[&describe, &promote], &[&lag]);

    let error = handle(request(Action::Apply), &instance_config(300), &clients)
        .await
        .unwrap_err();

    assert!(error.to_string().contains("not a read replica"), "{error}");
    assert_eq!(
        StepFailure::from(error).kind.error_name(),
        "DrFailover.NotReady"
    );
}

#[tokio::test]
async fn when_promotion_is_throttled_once_apply_should_retry_and_succeed() {
    let describe = described("available", Some(SOURCE));
    let lag = lag_rule(&[(60, 4.0)]);
    let promote = mock!(aws_sdk_rds::Client::promote_read_replica)
        .sequence()
        .http_status(503, None)
        .output(|| PromoteReadReplicaOutput::builder().build())
        .build();
    let clients = clients(&[&describe, &promote], &[&lag]);

    let out = handle(request(Action::Apply), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(out.changed);
    assert_eq!(promote.num_calls(), 2);
}

#[tokio::test]
async fn when_throttling_persists_apply_should_fail_as_retryable_keeping_the_code() {
    let throttled = || {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            SdkBody::from(
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r1</RequestId></ErrorResponse>",
            ),
        )
    };
    let describe = mock!(aws_sdk_rds::Client::describe_db_instances).then_http_response(throttled);
    let clients = DatabaseClients {
        rds: mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&describe], |c| c
            .retry_config(no_retries())),
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, Vec::<&Rule>::new()),
    };

    let error = handle(request(Action::Apply), &instance_config(300), &clients)
        .await
        .unwrap_err();

    let DatabaseError::Aws(aws) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(aws.code, "Throttling");
    assert_eq!(aws.operation, "DescribeDBInstances");
    assert_eq!(
        StepFailure::from(error).kind.error_name(),
        "DrFailover.Retryable"
    );
}

// ---- RDS instance read replica: status ----

#[tokio::test]
async fn when_promotion_is_still_running_status_should_not_be_ready() {
    let describe = described("modifying", Some(SOURCE));
    let clients = clients(&[&describe], &[]);

    let out = handle(request(Action::Status), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(!out.ready && !out.detail.writable);
}

#[tokio::test]
async fn when_promoted_but_rebooting_status_should_not_be_ready() {
    let describe = described("rebooting", None);
    let clients = clients(&[&describe], &[]);

    let out = handle(request(Action::Status), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(!out.ready, "a rebooting instance serves nothing");
}

#[tokio::test]
async fn when_promoted_and_backing_up_status_should_be_ready_because_it_accepts_writes() {
    for status in ["backing-up", "modifying", "storage-optimization"] {
        let describe = described(status, None);
        let clients = clients(&[&describe], &[]);

        let out = handle(request(Action::Status), &instance_config(300), &clients)
            .await
            .unwrap();

        assert!(out.ready && out.detail.writable, "{status}");
        assert!(out.summary.contains(status), "{}", out.summary);
    }
}

#[tokio::test]
async fn when_still_a_replica_in_backing_up_status_should_not_be_ready() {
    let describe = described("backing-up", Some("arn:aws:rds:eu-west-1:1:db:app-db"));
    let clients = clients(&[&describe], &[]);

    let out = handle(request(Action::Status), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(!out.ready && !out.detail.writable);
}

#[tokio::test]
async fn when_the_replica_has_backups_off_plan_should_warn_that_promotion_includes_a_backup() {
    let describe = mock!(aws_sdk_rds::Client::describe_db_instances).then_output(|| {
        DescribeDbInstancesOutput::builder()
            .db_instances(
                DbInstance::builder()
                    .db_instance_identifier(REPLICA)
                    .db_instance_status("available")
                    .read_replica_source_db_instance_identifier("app-db")
                    .backup_retention_period(0)
                    .status_infos(
                        DbInstanceStatusInfo::builder()
                            .status_type("read replication")
                            .status("replicating")
                            .normal(true)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let lag = lag_rule(&[(60, 2.0)]);
    let clients = clients(&[&describe], &[&lag]);

    let out = handle(request(Action::Plan), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(out.detail.backup_during_promotion);
    assert!(out.refusals.is_empty());
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("backup during the promotion")),
        "{:?}",
        out.warnings
    );
}

#[tokio::test]
async fn when_cloudwatch_cannot_answer_plan_should_refuse_as_lag_unknown_and_force_should_override()
{
    let describe = described("available", Some("app-db"));
    let failing = || {
        mock!(aws_sdk_cloudwatch::Client::get_metric_statistics)
            .sequence()
            .http_status(500, None)
            .times(4)
            .build()
    };
    let lag = failing();
    let clients_plain = clients(&[&describe], &[&lag]);

    let plain = handle(request(Action::Plan), &instance_config(300), &clients_plain)
        .await
        .unwrap();

    assert_eq!(plain.refusals.len(), 1, "{:?}", plain.refusals);
    assert!(
        plain.refusals[0].contains("unknown"),
        "{}",
        plain.refusals[0]
    );
    assert!(plain
        .warnings
        .iter()
        .any(|w| w.contains("ReplicaLag could not be read")));

    let lag = failing();
    let promote = promote_rule();
    let clients_forced = clients(&[&describe, &promote], &[&lag]);
    let forced = handle(
        forced(Action::Apply),
        &instance_config(300),
        &clients_forced,
    )
    .await
    .unwrap();
    assert!(forced.changed);
    assert_eq!(promote.num_calls(), 1);
}

#[tokio::test]
async fn when_promoted_and_available_status_should_be_ready_and_writable() {
    let describe = described("available", None);
    let clients = clients(&[&describe], &[]);

    let out = handle(request(Action::Status), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(out.ready && out.detail.writable);
    assert!(
        writable(&instance_config(300), &clients).await.unwrap().0,
        "flip-dns's guard agrees"
    );
}

#[tokio::test]
async fn when_describe_is_throttled_once_status_should_retry_and_answer() {
    let describe = mock!(aws_sdk_rds::Client::describe_db_instances)
        .sequence()
        .http_status(503, None)
        .output(|| {
            DescribeDbInstancesOutput::builder()
                .db_instances(
                    DbInstance::builder()
                        .db_instance_status("available")
                        .build(),
                )
                .build()
        })
        .build();
    let clients = clients(&[&describe], &[]);

    let out = handle(request(Action::Status), &instance_config(300), &clients)
        .await
        .unwrap();

    assert!(out.ready);
    assert_eq!(describe.num_calls(), 2);
}

#[tokio::test]
async fn when_no_database_is_planned_promote_should_fail_as_invalid_input_and_dns_guard_should_pass(
) {
    let clients = clients(&[], &[]);
    let error = handle(request(Action::Plan), &DatabaseConfig::None, &clients)
        .await
        .unwrap_err();
    assert_eq!(
        StepFailure::from(error).kind.error_name(),
        "DrFailover.InvalidInput"
    );
    assert!(writable(&DatabaseConfig::None, &clients).await.unwrap().0);
}

// ---- Aurora Global Database ----

fn global_output(
    dr_is_writer: bool,
    failover: Option<FailoverStatus>,
) -> DescribeGlobalClustersOutput {
    let mut cluster = GlobalCluster::builder()
        .global_cluster_identifier(GLOBAL)
        .status("available")
        .global_cluster_members(
            GlobalClusterMember::builder()
                .db_cluster_arn(PRIMARY_ARN)
                .is_writer(!dr_is_writer)
                .build(),
        )
        .global_cluster_members(
            GlobalClusterMember::builder()
                .db_cluster_arn(DR_ARN)
                .is_writer(dr_is_writer)
                .build(),
        );
    if let Some(status) = failover {
        cluster = cluster.failover_state(
            FailoverState::builder()
                .status(status)
                .from_db_cluster_arn(PRIMARY_ARN)
                .to_db_cluster_arn(DR_ARN)
                .build(),
        );
    }
    DescribeGlobalClustersOutput::builder()
        .global_clusters(cluster.build())
        .build()
}

fn global(dr_is_writer: bool, failover: Option<FailoverStatus>) -> Rule {
    mock!(aws_sdk_rds::Client::describe_global_clusters)
        .match_requests(|r| r.global_cluster_identifier() == Some(GLOBAL))
        .then_output(move || global_output(dr_is_writer, failover.clone()))
}

fn dr_cluster(status: &'static str) -> Rule {
    cluster_rule(DR_CLUSTER, status, 1, Some(GLOBAL))
}

/// A DB cluster with `instances` DB instances, a member of `global` or standalone.
fn cluster_rule(
    id: &'static str,
    status: &'static str,
    instances: usize,
    global: Option<&'static str>,
) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_clusters)
        .match_requests(move |r| r.db_cluster_identifier() == Some(id))
        .then_output(move || {
            let mut cluster = DbCluster::builder()
                .db_cluster_identifier(id)
                .status(status)
                .set_global_cluster_identifier(global.map(str::to_owned));
            for n in 0..instances {
                cluster = cluster.db_cluster_members(
                    aws_sdk_rds::types::DbClusterMember::builder()
                        .db_instance_identifier(format!("{id}-{n}"))
                        .is_cluster_writer(n == 0)
                        .build(),
                );
            }
            DescribeDbClustersOutput::builder()
                .db_clusters(cluster.build())
                .build()
        })
}

fn failover_rule() -> Rule {
    mock!(aws_sdk_rds::Client::failover_global_cluster)
        .match_requests(|r| {
            r.global_cluster_identifier() == Some(GLOBAL)
                && r.target_db_cluster_identifier() == Some(DR_ARN)
                && r.allow_data_loss() == Some(true)
        })
        .then_output(|| FailoverGlobalClusterOutput::builder().build())
}

fn switchover_rule() -> Rule {
    mock!(aws_sdk_rds::Client::switchover_global_cluster)
        .match_requests(|r| {
            r.global_cluster_identifier() == Some(GLOBAL)
                && r.target_db_cluster_identifier() == Some(DR_ARN)
        })
        .then_output(|| SwitchoverGlobalClusterOutput::builder().build())
}

#[tokio::test]
async fn when_dr_cluster_is_secondary_aurora_plan_should_name_the_writer_and_mode() {
    let (g, c, f) = (
        global(false, None),
        dr_cluster("available"),
        failover_rule(),
    );
    let lag = global_lag_rule(&[(60, 850.0)]);
    let clients = clients(&[&g, &c, &f], &[&lag]);

    let out = handle(request(Action::Plan), &aurora_config(), &clients)
        .await
        .unwrap();

    assert_eq!(out.detail.writer.as_deref(), Some(PRIMARY_ARN));
    assert_eq!(out.detail.mode, Some(DatabaseMode::Failover));
    assert!(
        out.summary.contains("allowing data loss"),
        "{}",
        out.summary
    );
    assert_eq!(f.num_calls(), 0);
    // What the approver reads: the data a failover may lose.
    assert!(
        out.summary.ends_with(
            "data a failover may lose: global replication lag 850 ms (AuroraGlobalDBReplicationLag, 60 s old)"
        ),
        "{}",
        out.summary
    );
    assert_eq!(out.detail.global_replication_lag_ms, Some(850.0));
    assert_eq!(out.detail.global_replication_lag_age_seconds, Some(60));
}

#[tokio::test]
async fn an_aurora_plan_whose_lag_cannot_be_read_warns_and_refuses_nothing_more() {
    let (g, c) = (global(false, None), dr_cluster("available"));
    // No fresh datapoint (the newest is 10 minutes old).
    let stale = global_lag_rule(&[(600, 850.0)]);
    let clients_stale = clients(&[&g, &c], &[&stale]);
    let out = handle(request(Action::Plan), &aurora_config(), &clients_stale)
        .await
        .unwrap();
    assert!(out.refusals.is_empty(), "{:?}", out.refusals);
    assert_eq!(out.detail.global_replication_lag_ms, None);
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(
        out.warnings[0].starts_with(&format!("the data a failover may lose is unknown: {DR_CLUSTER} has no AuroraGlobalDBReplicationLag datapoint in the last 300 s (the newest is 600 s old)")),
        "{}",
        out.warnings[0]
    );
    // CloudWatch refusing the read (AccessDenied) is a warning too.
    let denied =
        mock!(aws_sdk_cloudwatch::Client::get_metric_statistics).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
                SdkBody::empty(),
            )
        });
    let clients_denied = clients(&[&g, &c], &[&denied]);
    let out = handle(request(Action::Plan), &aurora_config(), &clients_denied)
        .await
        .unwrap();
    assert!(out.refusals.is_empty(), "{:?}", out.refusals);
    assert!(
        out.warnings[0].contains("could not be read (GetMetricStatistics failed"),
        "{}",
        out.warnings[0]
    );
    // A switchover loses nothing: the figure is not read.
    let mut switchover = request(Action::Plan);
    switchover.database_mode = DatabaseMode::Switchover;
    let out = handle(switchover, &aurora_config(), &clients_denied)
        .await
        .unwrap();
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

#[tokio::test]
async fn when_failing_over_aurora_apply_should_allow_data_loss_and_target_the_dr_cluster_arn() {
    let (g, c, f, s) = (
        global(false, None),
        dr_cluster("available"),
        failover_rule(),
        switchover_rule(),
    );
    let lag = global_lag_rule(&[(60, 850.0)]);
    let clients = clients(&[&g, &c, &f, &s], &[&lag]);

    let out = handle(request(Action::Apply), &aurora_config(), &clients)
        .await
        .unwrap();

    assert!(out.changed);
    assert_eq!((f.num_calls(), s.num_calls()), (1, 0));
}

#[tokio::test]
async fn when_switchover_is_requested_aurora_apply_should_switch_over_not_fail_over() {
    let (g, c, f, s) = (
        global(false, None),
        dr_cluster("available"),
        failover_rule(),
        switchover_rule(),
    );
    let lag = global_lag_rule(&[(60, 850.0)]);
    let clients = clients(&[&g, &c, &f, &s], &[&lag]);
    let request = StepRequest {
        database_mode: DatabaseMode::Switchover,
        ..StepRequest::new(Action::Apply)
    };

    handle(request, &aurora_config(), &clients).await.unwrap();

    assert_eq!((f.num_calls(), s.num_calls()), (0, 1));
}

#[tokio::test]
async fn a_switchover_asked_of_an_rds_replica_is_refused_as_invalid_input_and_nothing_is_called() {
    let promote = mock!(aws_sdk_rds::Client::promote_read_replica).then_output(|| {
        aws_sdk_rds::operation::promote_read_replica::PromoteReadReplicaOutput::builder().build()
    });
    let clients = clients(&[&promote], &[]);
    for action in [Action::Plan, Action::Apply] {
        let request = StepRequest {
            database_mode: DatabaseMode::Switchover,
            ..StepRequest::new(action)
        };

        let error = handle(request, &instance_config(300), &clients)
            .await
            .unwrap_err();

        assert_eq!(error, DatabaseError::SwitchoverNotApplicable);
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("database_mode switchover"));
    }
    assert_eq!(promote.num_calls(), 0);
}

#[tokio::test]
async fn force_asked_of_an_aurora_global_database_is_refused_as_invalid_input_and_nothing_is_called(
) {
    let f = failover_rule();
    let clients = clients(&[&f], &[]);
    for action in [Action::Plan, Action::Apply] {
        let error = handle(forced(action), &aurora_config(), &clients)
            .await
            .unwrap_err();

        assert_eq!(error, DatabaseError::ForceNotApplicable);
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error
            .to_string()
            .contains("force overrides only the replica lag check"));
    }
    assert_eq!(f.num_calls(), 0);
}

#[tokio::test]
async fn when_a_failover_is_already_running_aurora_apply_should_not_start_another() {
    let (g, c, f) = (
        global(false, Some(FailoverStatus::FailingOver)),
        dr_cluster("available"),
        failover_rule(),
    );
    let lag = global_lag_rule(&[(60, 850.0)]);
    let clients = clients(&[&g, &c, &f], &[&lag]);

    let out = handle(request(Action::Apply), &aurora_config(), &clients)
        .await
        .unwrap();

    assert_eq!(f.num_calls(), 0);
    assert!(!out.changed && !out.ready);
    assert!(out.detail.failover_in_progress.is_some());
}

#[tokio::test]
async fn when_dr_cluster_is_already_writer_aurora_apply_should_be_a_noop_and_status_ready() {
    let (g, c, f) = (global(true, None), dr_cluster("available"), failover_rule());
    let lag = global_lag_rule(&[(60, 850.0)]);
    let clients = clients(&[&g, &c, &f], &[&lag]);

    let apply = handle(request(Action::Apply), &aurora_config(), &clients)
        .await
        .unwrap();
    let status = handle(request(Action::Status), &aurora_config(), &clients)
        .await
        .unwrap();

    assert_eq!(f.num_calls(), 0);
    assert!(!apply.changed && apply.ready);
    assert!(status.ready && status.detail.writable);
}

#[tokio::test]
async fn when_dr_cluster_is_writer_but_not_available_aurora_status_should_wait() {
    let (g, c) = (global(true, None), dr_cluster("failing-over"));
    let clients = clients(&[&g, &c], &[]);

    let out = handle(request(Action::Status), &aurora_config(), &clients)
        .await
        .unwrap();

    assert!(!out.ready);
}

#[tokio::test]
async fn when_aurora_apply_is_a_dry_run_should_never_fail_over() {
    let (g, c, f, s) = (
        global(false, None),
        dr_cluster("available"),
        failover_rule(),
        switchover_rule(),
    );
    let lag = global_lag_rule(&[(60, 850.0)]);
    let clients = clients(&[&g, &c, &f, &s], &[&lag]);

    let out = handle(dry_run(), &aurora_config(), &clients).await.unwrap();

    assert_eq!((f.num_calls(), s.num_calls()), (0, 0));
    assert!(!out.changed);
}

#[tokio::test]
async fn when_dr_cluster_is_not_a_member_aurora_plan_should_fail_as_not_found() {
    let g = global(false, None);
    let other = cluster_rule("someone-else", "available", 1, Some("another-global"));
    let clients = clients(&[&g, &other], &[]);
    let config = DatabaseConfig::AuroraGlobal {
        global_cluster_id: GLOBAL.into(),
        dr_cluster_id: "someone-else".into(),
    };

    let error = handle(request(Action::Plan), &config, &clients)
        .await
        .unwrap_err();

    assert!(matches!(error, DatabaseError::NotAMember { .. }));
    assert_eq!(
        StepFailure::from(error).kind.error_name(),
        "DrFailover.NotFound"
    );
}

#[tokio::test]
async fn when_global_cluster_is_throttled_once_aurora_apply_should_retry_and_fail_over() {
    let g = mock!(aws_sdk_rds::Client::describe_global_clusters)
        .sequence()
        .http_status(503, None)
        .output(|| global_output(false, None))
        .build();
    let (c, f) = (dr_cluster("available"), failover_rule());
    let lag = global_lag_rule(&[(60, 850.0)]);
    let clients = clients(&[&g, &c, &f], &[&lag]);

    let out = handle(request(Action::Apply), &aurora_config(), &clients)
        .await
        .unwrap();

    assert!(out.changed);
    assert_eq!((g.num_calls(), f.num_calls()), (2, 1));
}

#[tokio::test]
async fn when_the_dr_cluster_was_detached_and_promoted_aurora_should_be_done_not_missing() {
    // After RemoveFromGlobalCluster the global cluster lists only the old primary.
    let g = mock!(aws_sdk_rds::Client::describe_global_clusters).then_output(|| {
        DescribeGlobalClustersOutput::builder()
            .global_clusters(
                GlobalCluster::builder()
                    .global_cluster_identifier(GLOBAL)
                    .global_cluster_members(
                        GlobalClusterMember::builder()
                            .db_cluster_arn(PRIMARY_ARN)
                            .is_writer(true)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let c = cluster_rule(DR_CLUSTER, "available", 1, None);
    let (f, s) = (failover_rule(), switchover_rule());
    let lag = global_lag_rule(&[(60, 850.0)]);
    let clients = clients(&[&g, &c, &f, &s], &[&lag]);

    let apply = handle(request(Action::Apply), &aurora_config(), &clients)
        .await
        .unwrap();

    assert!(apply.ready && apply.detail.writable && !apply.changed);
    assert_eq!((f.num_calls(), s.num_calls()), (0, 0));
    assert!(apply.summary.contains("detached"), "{}", apply.summary);
}

#[tokio::test]
async fn when_the_global_cluster_is_gone_and_the_dr_cluster_is_standalone_aurora_should_be_done() {
    let g = mock!(aws_sdk_rds::Client::describe_global_clusters).then_error(|| {
        aws_sdk_rds::operation::describe_global_clusters::DescribeGlobalClustersError::GlobalClusterNotFoundFault(
            aws_sdk_rds::types::error::GlobalClusterNotFoundFault::builder().build(),
        )
    });
    let c = cluster_rule(DR_CLUSTER, "available", 2, None);
    let clients = clients(&[&g, &c], &[]);

    let status = handle(request(Action::Status), &aurora_config(), &clients)
        .await
        .unwrap();

    assert!(status.ready && status.detail.writable);
}

#[tokio::test]
async fn when_the_secondary_cluster_has_no_instance_aurora_plan_should_refuse_and_apply_not_fail_over(
) {
    let g = global(false, None);
    let c = cluster_rule(DR_CLUSTER, "available", 0, Some(GLOBAL));
    let f = failover_rule();
    let lag = global_lag_rule(&[(60, 850.0)]);
    let clients = clients(&[&g, &c, &f], &[&lag]);

    let plan = handle(request(Action::Plan), &aurora_config(), &clients)
        .await
        .unwrap();
    let error = handle(request(Action::Apply), &aurora_config(), &clients)
        .await
        .unwrap_err();

    assert_eq!(plan.refusals.len(), 1);
    assert!(
        plan.refusals[0].contains("no DB instance"),
        "{:?}",
        plan.refusals
    );
    assert!(matches!(error, DatabaseError::Refused(_)));
    assert_eq!(f.num_calls(), 0);
}

// ---- configuration ----

#[test]
fn config_reads_an_instance_plan_with_defaults() {
    let env = [
        ("DB_KIND", "rds-instance"),
        ("DB_REPLICA_INSTANCE_ID", "app-db-dr"),
    ];
    assert_eq!(
        DatabaseConfig::from_source(&env).unwrap(),
        instance_config_with_defaults()
    );
}

fn instance_config_with_defaults() -> DatabaseConfig {
    DatabaseConfig::Instance {
        replica_id: "app-db-dr".into(),
        max_lag_seconds: 300,
        backup_retention_days: 7,
    }
}

#[test]
fn config_names_the_missing_aurora_variable() {
    let env = [("DB_KIND", "aurora-global"), ("DB_GLOBAL_CLUSTER_ID", "g")];
    assert_eq!(
        DatabaseConfig::from_source(&env),
        Err(ConfigError::Missing("DB_DR_CLUSTER_ID"))
    );
}

#[test]
fn config_refuses_an_unknown_kind_and_out_of_range_retention() {
    let env = [("DB_KIND", "dynamo")];
    assert!(matches!(
        DatabaseConfig::from_source(&env),
        Err(ConfigError::Invalid {
            name: "DB_KIND",
            ..
        })
    ));
    let env = [
        ("DB_KIND", "rds-instance"),
        ("DB_REPLICA_INSTANCE_ID", "x"),
        ("DB_BACKUP_RETENTION_DAYS", "0"),
    ];
    assert!(matches!(
        DatabaseConfig::from_source(&env),
        Err(ConfigError::Invalid {
            name: "DB_BACKUP_RETENTION_DAYS",
            ..
        })
    ));
}

// ---- several DB_DR_CLUSTER_ID candidates (fail back) ----

fn aurora_candidates(value: &str) -> DatabaseConfig {
    DatabaseConfig::AuroraGlobal {
        global_cluster_id: GLOBAL.into(),
        dr_cluster_id: value.into(),
    }
}

#[tokio::test]
async fn of_several_candidates_the_global_clusters_member_is_switched_to_and_a_standalone_one_is_never_done(
) {
    // "app-dr-old" is standalone (Aurora did not rejoin it): it must not count as a detached and
    // promoted writer; the member "app-dr" is the cluster to move the writer to.
    let g = global(false, None);
    let old = cluster_rule("app-dr-old", "available", 1, None);
    let c = dr_cluster("available");
    let (f, s) = (failover_rule(), switchover_rule());
    let clients = clients(&[&g, &old, &c, &f, &s], &[]);
    let config = aurora_candidates("app-dr-old, app-dr");
    let switchover = StepRequest {
        database_mode: DatabaseMode::Switchover,
        ..StepRequest::new(Action::Apply)
    };

    let out = handle(switchover, &config, &clients).await.unwrap();

    assert!(out.changed && !out.ready, "{out:?}");
    assert_eq!(out.detail.identifier, DR_CLUSTER);
    assert_eq!((f.num_calls(), s.num_calls(), old.num_calls()), (0, 1, 0));
}

#[tokio::test]
async fn when_no_candidate_is_a_member_the_step_fails_naming_them_all_and_moves_nothing() {
    let g = global(false, None);
    let old = cluster_rule("app-dr-old", "available", 1, None);
    let (f, s) = (failover_rule(), switchover_rule());
    let clients = clients(&[&g, &old, &f, &s], &[]);

    let error = handle(
        request(Action::Apply),
        &aurora_candidates("app-dr-old,app-dr-2"),
        &clients,
    )
    .await
    .unwrap_err();

    assert_eq!(
        error,
        DatabaseError::NotAMember {
            cluster: "app-dr-old or app-dr-2".into(),
            global_cluster: GLOBAL.into()
        }
    );
    assert_eq!((f.num_calls(), s.num_calls()), (0, 0));
}

#[test]
fn config_refuses_an_empty_name_among_the_dr_clusters() {
    let env = [
        ("DB_KIND", "aurora-global"),
        ("DB_GLOBAL_CLUSTER_ID", "g"),
        ("DB_DR_CLUSTER_ID", "app-primary,,app-primary-2"),
    ];
    assert!(matches!(
        DatabaseConfig::from_source(&env),
        Err(ConfigError::Invalid {
            name: "DB_DR_CLUSTER_ID",
            ..
        })
    ));
}
