//! A status RDS does not leave by itself, or a writer move Aurora cancels, ends the database
//! step's wait at once; plans refuse them, and refuse a move between engine versions AWS refuses.

use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::operation::describe_global_clusters::DescribeGlobalClustersOutput;
use aws_sdk_rds::types::{
    DbCluster, DbClusterMember, DbInstance, FailoverState, FailoverStatus, GlobalCluster,
    GlobalClusterMember,
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

use super::*;
use crate::error::StepFailure;
use crate::testing::no_retries;

const REPLICA: &str = "app-db-dr";
const GLOBAL: &str = "app-global";
const DR_CLUSTER: &str = "app-dr";
const DR_ARN: &str = "arn:aws:rds:eu-central-1:111111111111:cluster:app-dr";
const PRIMARY_ARN: &str = "arn:aws:rds:eu-west-1:111111111111:cluster:app-primary";

fn instance(status: &'static str, source: Option<&'static str>) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances).then_output(move || {
        DescribeDbInstancesOutput::builder()
            .db_instances(
                DbInstance::builder()
                    .db_instance_identifier(REPLICA)
                    .db_instance_status(status)
                    .set_read_replica_source_db_instance_identifier(source.map(str::to_owned))
                    .build(),
            )
            .build()
    })
}

fn global(version: &'static str, failover: Option<(FailoverStatus, bool)>) -> Rule {
    mock!(aws_sdk_rds::Client::describe_global_clusters).then_output(move || {
        let mut cluster = GlobalCluster::builder()
            .global_cluster_identifier(GLOBAL)
            .engine_version(version)
            .global_cluster_members(
                GlobalClusterMember::builder()
                    .db_cluster_arn(PRIMARY_ARN)
                    .is_writer(true)
                    .build(),
            )
            .global_cluster_members(
                GlobalClusterMember::builder()
                    .db_cluster_arn(DR_ARN)
                    .is_writer(false)
                    .build(),
            );
        if let Some((status, data_loss)) = failover.clone() {
            cluster = cluster.failover_state(
                FailoverState::builder()
                    .status(status)
                    .from_db_cluster_arn(PRIMARY_ARN)
                    .to_db_cluster_arn(DR_ARN)
                    .is_data_loss_allowed(data_loss)
                    .build(),
            );
        }
        DescribeGlobalClustersOutput::builder()
            .global_clusters(cluster.build())
            .build()
    })
}

fn dr_cluster(status: &'static str, version: &'static str) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_clusters).then_output(move || {
        DescribeDbClustersOutput::builder()
            .db_clusters(
                DbCluster::builder()
                    .db_cluster_identifier(DR_CLUSTER)
                    .status(status)
                    .engine_version(version)
                    .global_cluster_identifier(GLOBAL)
                    .db_cluster_members(
                        DbClusterMember::builder()
                            .db_instance_identifier("app-dr-1")
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

fn clients(rds: &[&Rule]) -> DatabaseClients {
    DatabaseClients {
        rds: mock_client!(aws_sdk_rds, RuleMode::MatchAny, rds.iter().copied(), |c| c
            .retry_config(no_retries())),
        cloudwatch: mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            [&super::tests::global_lag_rule(&[(60, 0.0)])],
            |c| c.retry_config(no_retries())
        ),
    }
}

fn instance_config() -> DatabaseConfig {
    DatabaseConfig::Instance {
        replica_id: REPLICA.into(),
        max_lag_seconds: 300,
        backup_retention_days: 7,
    }
}

fn aurora_config() -> DatabaseConfig {
    DatabaseConfig::AuroraGlobal {
        global_cluster_id: GLOBAL.into(),
        dr_cluster_id: DR_CLUSTER.into(),
    }
}

#[tokio::test]
async fn a_promoted_instance_rds_cannot_start_ends_the_status_wait_at_once() {
    let described = instance("incompatible-parameters", None);
    let clients = clients(&[&described]);
    let failure = StepFailure::from(
        handle(
            StepRequest::new(Action::Status),
            &instance_config(),
            &clients,
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(failure.kind, ErrorKind::Aws);
    assert!(
        failure.message.starts_with(
            "DB instance app-db-dr is incompatible-parameters, a status RDS does not leave by itself"
        ),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn a_replica_whose_storage_is_full_is_refused_by_the_plan_and_not_promoted() {
    let described = instance("storage-full", Some("arn:aws:rds:eu-west-1:1:db:app-db"));
    let promote = mock!(aws_sdk_rds::Client::promote_read_replica).then_output(|| {
        aws_sdk_rds::operation::promote_read_replica::PromoteReadReplicaOutput::builder().build()
    });
    let clients = clients(&[&described, &promote]);

    let plan = handle(StepRequest::new(Action::Plan), &instance_config(), &clients)
        .await
        .unwrap();
    assert_eq!(plan.refusals.len(), 1, "{:?}", plan.refusals);
    assert!(
        plan.refusals[0].contains("storage-full"),
        "{:?}",
        plan.refusals
    );
    let failure = StepFailure::from(
        handle(
            StepRequest::new(Action::Apply),
            &instance_config(),
            &clients,
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(failure.kind, ErrorKind::Aws);
    assert_eq!(promote.num_calls(), 0);
}

#[tokio::test]
async fn a_switchover_aurora_cancels_ends_the_status_wait_and_the_plan_refuses() {
    let (global, cluster) = (
        global("15.4", Some((FailoverStatus::Cancelling, false))),
        dr_cluster("available", "15.4"),
    );
    let clients = clients(&[&global, &cluster]);

    let failure = StepFailure::from(
        handle(StepRequest::new(Action::Status), &aurora_config(), &clients)
            .await
            .unwrap_err(),
    );
    assert_eq!(failure.kind, ErrorKind::Aws);
    assert!(
        failure
            .message
            .starts_with(&format!("Aurora is cancelling the switchover of global cluster {GLOBAL} from {PRIMARY_ARN} to {DR_ARN}")),
        "{}",
        failure.message
    );
    assert!(failure.message.contains("API_FailoverState.html"));
    let plan = handle(StepRequest::new(Action::Plan), &aurora_config(), &clients)
        .await
        .unwrap();
    assert!(
        plan.refusals
            .iter()
            .any(|r| r.starts_with("Aurora is cancelling")),
        "{:?}",
        plan.refusals
    );
}

#[tokio::test]
async fn a_move_under_way_is_still_waited_for() {
    let (global, cluster) = (
        global("15.4", Some((FailoverStatus::Pending, false))),
        dr_cluster("available", "15.4"),
    );
    let clients = clients(&[&global, &cluster]);
    let out = handle(StepRequest::new(Action::Status), &aurora_config(), &clients)
        .await
        .unwrap();
    assert!(!out.ready);
    assert!(out.detail.failover_in_progress.is_some());
}

#[tokio::test]
async fn a_move_between_minor_versions_is_refused_and_a_patch_difference_is_not() {
    for (dr_version, refused) in [("15.5", true), ("16.1", true), ("15.4", false)] {
        let (global, cluster) = (global("15.4", None), dr_cluster("available", dr_version));
        let clients = clients(&[&global, &cluster]);
        let plan = handle(StepRequest::new(Action::Plan), &aurora_config(), &clients)
            .await
            .unwrap();
        assert_eq!(
            !plan.refusals.is_empty(),
            refused,
            "{dr_version}: {:?}",
            plan.refusals
        );
        if refused {
            assert!(
                plan.refusals[0].starts_with(&format!(
                    "DB cluster {DR_CLUSTER} runs engine version {dr_version} and global cluster {GLOBAL} (its writer) 15.4"
                )),
                "{}",
                plan.refusals[0]
            );
            assert!(plan.refusals[0].contains(aurora::GLOBAL_UPGRADE_PAGE));
        }
    }
    assert_eq!(aurora::major_minor("15.4"), "15.4");
    assert_eq!(
        aurora::major_minor("8.0.mysql_aurora.3.05.2"),
        "8.0.mysql_aurora.3.05"
    );
    assert_eq!(
        aurora::major_minor("8.0.mysql_aurora.3.05.1"),
        aurora::major_minor("8.0.mysql_aurora.3.05.2")
    );
}

#[tokio::test]
async fn a_dr_cluster_aurora_cannot_leave_its_status_ends_the_wait() {
    let (global, cluster) = (
        global("15.4", None),
        dr_cluster("inaccessible-encryption-credentials", "15.4"),
    );
    let clients = clients(&[&global, &cluster]);
    let failure = StepFailure::from(
        handle(StepRequest::new(Action::Status), &aurora_config(), &clients)
            .await
            .unwrap_err(),
    );
    assert_eq!(failure.kind, ErrorKind::Aws);
    assert!(failure
        .message
        .contains("a status Aurora does not leave by itself"));
}

/// A status in the database stage's wait loop, the stage begun `waited` seconds ago.
fn waiting_status(waited: u64) -> StepRequest {
    let started = std::time::SystemTime::now() - std::time::Duration::from_secs(waited);
    let mut request = StepRequest::new(Action::Status);
    request.wait = Some(crate::wait::WaitContext {
        stage: "database".into(),
        started_at: aws_smithy_types::DateTime::from(started)
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap(),
        budget_seconds: 600,
        poll: 3,
        max_poll_seconds: 5,
        first_poll_seconds: 1,
    });
    request
}

#[tokio::test]
async fn a_move_aurora_already_rolled_back_ends_the_wait_once_two_poll_intervals_have_passed() {
    // A cancel and roll back shorter than a poll interval: the loop never sees `cancelling`, only
    // no FailoverState and the DR cluster still a secondary.
    let (global, cluster) = (global("15.4", None), dr_cluster("available", "15.4"));
    let clients = clients(&[&global, &cluster]);

    // Two poll intervals (2 x 5 s) after the stage began: the move ended without moving.
    let failure = StepFailure::from(
        handle(waiting_status(11), &aurora_config(), &clients)
            .await
            .unwrap_err(),
    );
    assert_eq!(failure.kind, ErrorKind::Aws);
    assert!(
        failure.message.starts_with(&format!(
            "no switchover or failover of global cluster {GLOBAL} is under way 11 s after the database stage began, and the writer is still {PRIMARY_ARN}"
        )),
        "{}",
        failure.message
    );
    assert!(failure
        .message
        .contains("Aurora cancelled the move and rolled back"));

    // Sooner, the describe may not show the request yet: still waiting.
    let early = handle(waiting_status(9), &aurora_config(), &clients)
        .await
        .unwrap();
    assert!(!early.ready);
    // Outside a wait loop (readiness, a plan's status), a secondary is only a secondary.
    let plain = handle(StepRequest::new(Action::Status), &aurora_config(), &clients)
        .await
        .unwrap();
    assert!(!plain.ready);
}
