use aws_sdk_rds::operation::create_db_cluster::CreateDbClusterOutput;
use aws_sdk_rds::operation::create_db_instance::CreateDbInstanceOutput;
use aws_sdk_rds::operation::describe_db_clusters::{
    DescribeDBClustersError, DescribeDbClustersOutput,
};
use aws_sdk_rds::operation::describe_global_clusters::DescribeGlobalClustersOutput;
use aws_sdk_rds::types::error::DbClusterNotFoundFault;
use aws_sdk_rds::types::{DbCluster, DbClusterMember, GlobalCluster, GlobalClusterMember};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

use super::*;
use crate::error::StepFailure;
use crate::request::Action;
use crate::testing::no_retries;

const GLOBAL: &str = "app-global";
const DR: &str = "app-dr";
const DR_ARN: &str = "arn:aws:rds:eu-central-1:111111111111:cluster:app-dr";
const FORMER: &str = "app-primary";
const FORMER_ARN: &str = "arn:aws:rds:eu-west-1:111111111111:cluster:app-primary";
const NEW: &str = "app-primary-2";
const NEW_ARN: &str = "arn:aws:rds:eu-west-1:111111111111:cluster:app-primary-2";
const KEY: &str = "arn:aws:kms:eu-west-1:111111111111:key/0a1b2c3d-0000-4000-8000-000000000002";

fn config() -> ReprotectConfig {
    ReprotectConfig::AuroraGlobal(AuroraConfig {
        primary_region: "eu-west-1".into(),
        dr_region: "eu-central-1".into(),
        global_cluster_id: GLOBAL.into(),
        dr_cluster_id: DR.into(),
        secondary_cluster_id: NEW.into(),
        instance_class: "db.r6g.large".into(),
        kms_key_id: Some(KEY.into()),
        parameter_group: None,
        network: NetworkConfig {
            db_subnet_group: Some("app-db-subnets".into()),
            ..NetworkConfig::default()
        },
    })
}

/// The global cluster with `members` as (ARN, writer).
fn global(members: &'static [(&'static str, bool)]) -> Rule {
    mock!(aws_sdk_rds::Client::describe_global_clusters)
        .match_requests(|r| r.global_cluster_identifier() == Some(GLOBAL))
        .then_output(move || {
            let mut global = GlobalCluster::builder()
                .global_cluster_identifier(GLOBAL)
                .engine("aurora-postgresql")
                .engine_version("15.4")
                .storage_encrypted(true)
                .status("available");
            for (arn, writer) in members {
                global = global.global_cluster_members(
                    GlobalClusterMember::builder()
                        .db_cluster_arn(*arn)
                        .is_writer(*writer)
                        .build(),
                );
            }
            DescribeGlobalClustersOutput::builder()
                .global_clusters(global.build())
                .build()
        })
}

fn cluster(id: &'static str, arn: &'static str, status: &'static str, instances: usize) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_clusters)
        .match_requests(move |r| r.db_cluster_identifier() == Some(id))
        .then_output(move || {
            let mut cluster = DbCluster::builder()
                .db_cluster_identifier(id)
                .db_cluster_arn(arn)
                .status(status)
                .storage_encrypted(true)
                .backup_retention_period(7);
            for i in 0..instances {
                cluster = cluster.db_cluster_members(
                    DbClusterMember::builder()
                        .db_instance_identifier(format!("{id}-{}", i + 1))
                        .build(),
                );
            }
            DescribeDbClustersOutput::builder()
                .db_clusters(cluster.build())
                .build()
        })
}

fn no_cluster(id: &'static str) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_clusters)
        .match_requests(move |r| r.db_cluster_identifier() == Some(id))
        .then_error(|| {
            DescribeDBClustersError::DbClusterNotFoundFault(
                DbClusterNotFoundFault::builder().build(),
            )
        })
}

fn create_cluster() -> Rule {
    mock!(aws_sdk_rds::Client::create_db_cluster)
        .match_requests(|r| {
            r.db_cluster_identifier() == Some(NEW)
                && r.global_cluster_identifier() == Some(GLOBAL)
                && r.engine() == Some("aurora-postgresql")
                && r.engine_version() == Some("15.4")
                && r.kms_key_id() == Some(KEY)
        })
        .then_output(|| CreateDbClusterOutput::builder().build())
}

fn create_instance() -> Rule {
    mock!(aws_sdk_rds::Client::create_db_instance)
        .match_requests(|r| {
            r.db_instance_identifier() == Some("app-primary-2-1")
                && r.db_cluster_identifier() == Some(NEW)
                && r.db_instance_class() == Some("db.r6g.large")
                && r.engine() == Some("aurora-postgresql")
        })
        .then_output(|| CreateDbInstanceOutput::builder().build())
}

fn clients(dr: &[&Rule], primary: &[&Rule]) -> ReprotectClients {
    ReprotectClients {
        dr: mock_client!(aws_sdk_rds, RuleMode::MatchAny, dr.iter().copied(), |c| c
            .retry_config(no_retries())),
        primary: mock_client!(
            aws_sdk_rds,
            RuleMode::MatchAny,
            primary.iter().copied(),
            |c| c.retry_config(no_retries())
        ),
    }
}

async fn run(
    action: Action,
    clients: &ReprotectClients,
) -> Result<ReprotectResult, ReprotectError> {
    handle(StepRequest::new(action), &config(), clients).await
}

#[tokio::test]
async fn a_former_primary_that_aurora_rejoined_is_the_standby_and_nothing_is_created() {
    let (g, dr) = (
        global(&[(DR_ARN, true), (FORMER_ARN, false)]),
        cluster(DR, DR_ARN, "available", 1),
    );
    let (former, new_cluster, new_instance) = (
        cluster(FORMER, FORMER_ARN, "available", 1),
        create_cluster(),
        create_instance(),
    );
    let clients = clients(&[&g, &dr], &[&former, &new_cluster, &new_instance]);

    let plan = run(Action::Plan, &clients).await.unwrap();
    let apply = run(Action::Apply, &clients).await.unwrap();

    assert!(plan.ready && plan.refusals.is_empty(), "{plan:?}");
    assert_eq!(plan.detail.replica.identifier, FORMER);
    assert!(!apply.changed && apply.ready);
    assert_eq!(
        apply.detail.topology,
        "app-global: writer app-dr (eu-central-1) -> secondary app-primary (eu-west-1, status available, 1 DB instance(s))"
    );
    assert_eq!(new_cluster.num_calls() + new_instance.num_calls(), 0);
}

#[tokio::test]
async fn before_a_failover_the_dr_cluster_is_a_secondary_and_the_plan_refuses() {
    let (g, dr) = (
        global(&[(FORMER_ARN, true), (DR_ARN, false)]),
        cluster(DR, DR_ARN, "available", 1),
    );
    let new = no_cluster(NEW);
    let former = cluster(FORMER, FORMER_ARN, "available", 1);
    let clients = clients(&[&g, &dr], &[&new, &former]);

    let plan = run(Action::Plan, &clients).await.unwrap();

    assert!(!plan.ready);
    assert!(
        plan.refusals
            .iter()
            .any(|r| r.contains("is a secondary of app-global")),
        "{:?}",
        plan.refusals
    );
}

#[tokio::test]
async fn when_aurora_did_not_rejoin_the_former_primary_a_new_secondary_is_added_with_an_instance() {
    let (g, dr) = (
        global(&[(DR_ARN, true)]),
        cluster(DR, DR_ARN, "available", 1),
    );
    let (new, new_cluster, new_instance) = (no_cluster(NEW), create_cluster(), create_instance());
    let clients = clients(&[&g, &dr], &[&new, &new_cluster, &new_instance]);

    let plan = run(Action::Plan, &clients).await.unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    for part in [
        NEW,
        "eu-west-1",
        "aurora-postgresql 15.4",
        "app-primary-2-1",
        "db.r6g.large",
        KEY,
    ] {
        assert!(plan.summary.contains(part), "{part}: {}", plan.summary);
    }
    assert_eq!(new_cluster.num_calls(), 0);

    let apply = run(Action::Apply, &clients).await.unwrap();
    assert!(apply.changed && !apply.ready);
    assert_eq!((new_cluster.num_calls(), new_instance.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_new_secondary_left_without_its_instance_gets_only_the_instance() {
    let (g, dr) = (
        global(&[(DR_ARN, true), (NEW_ARN, false)]),
        cluster(DR, DR_ARN, "available", 1),
    );
    let (mine, new_cluster, new_instance) = (
        cluster(NEW, NEW_ARN, "available", 0),
        create_cluster(),
        create_instance(),
    );
    let clients = clients(&[&g, &dr], &[&mine, &new_cluster, &new_instance]);

    let status = run(Action::Status, &clients).await.unwrap();
    assert!(!status.ready, "{status:?}");
    let apply = run(Action::Apply, &clients).await.unwrap();

    assert!(apply.changed);
    assert_eq!((new_cluster.num_calls(), new_instance.num_calls()), (0, 1));
}

#[tokio::test]
async fn a_cluster_of_the_new_name_that_is_not_a_member_is_refused_never_touched() {
    let (g, dr) = (
        global(&[(DR_ARN, true)]),
        cluster(DR, DR_ARN, "available", 1),
    );
    let (other, new_cluster, new_instance) = (
        cluster(NEW, NEW_ARN, "available", 1),
        create_cluster(),
        create_instance(),
    );
    let clients = clients(&[&g, &dr], &[&other, &new_cluster, &new_instance]);

    let error = run(Action::Apply, &clients).await.unwrap_err();

    let ReprotectError::Refused(reasons) = &error else {
        panic!("{error:?}")
    };
    assert!(
        reasons[0].contains("never changes or deletes it"),
        "{reasons:?}"
    );
    assert_eq!(StepFailure::from(error).kind, ErrorKind::Refused);
    assert_eq!(new_cluster.num_calls() + new_instance.num_calls(), 0);
}

#[tokio::test]
async fn a_detached_dr_cluster_is_refused() {
    let (g, dr) = (
        global(&[(FORMER_ARN, true)]),
        cluster(DR, DR_ARN, "available", 1),
    );
    let new = no_cluster(NEW);
    let clients = clients(&[&g, &dr], &[&new]);

    let plan = run(Action::Plan, &clients).await.unwrap();

    assert!(
        plan.refusals.iter().any(|r| r.contains("not a member")),
        "{:?}",
        plan.refusals
    );
}

#[test]
fn aurora_configuration_names_its_secondary() {
    let env: std::collections::BTreeMap<String, String> = [
        ("DB_KIND", "aurora-global"),
        ("DB_GLOBAL_CLUSTER_ID", GLOBAL),
        ("DB_DR_CLUSTER_ID", DR),
        ("REPROTECT_CLUSTER_ID", NEW),
        ("REPROTECT_INSTANCE_CLASS", "db.r6g.large"),
        ("REPROTECT_KMS_KEY_ID", KEY),
        ("REPROTECT_DB_SUBNET_GROUP", "app-db-subnets"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let regions = Regions {
        primary: "eu-west-1".into(),
        dr: "eu-central-1".into(),
    };
    assert_eq!(
        ReprotectConfig::from_source(&env, &regions).unwrap(),
        config()
    );
    let mut bad = env.clone();
    bad.insert("REPROTECT_CLUSTER_ID".into(), "1-bad".into());
    assert!(matches!(
        ReprotectConfig::from_source(&bad, &regions),
        Err(ConfigError::Invalid {
            name: "REPROTECT_CLUSTER_ID",
            ..
        })
    ));
    bad.remove("REPROTECT_CLUSTER_ID");
    assert_eq!(
        ReprotectConfig::from_source(&bad, &regions),
        Err(ConfigError::Missing("REPROTECT_CLUSTER_ID"))
    );
}

#[tokio::test]
async fn of_several_writer_candidates_the_global_clusters_member_is_the_source() {
    // Fail back's standby step: the writer is whichever of the named clusters is the member.
    let (g, dr) = (
        global(&[(DR_ARN, true), (FORMER_ARN, false)]),
        cluster(DR, DR_ARN, "available", 1),
    );
    let former = cluster(FORMER, FORMER_ARN, "available", 1);
    let clients = clients(&[&g, &dr], &[&former]);
    let ReprotectConfig::AuroraGlobal(aurora) = config() else {
        unreachable!()
    };
    let several = ReprotectConfig::AuroraGlobal(AuroraConfig {
        dr_cluster_id: format!("app-dr-old,{DR}"),
        ..aurora
    });

    let plan = handle(StepRequest::new(Action::Plan), &several, &clients)
        .await
        .unwrap();

    assert!(plan.ready && plan.refusals.is_empty(), "{plan:?}");
    assert_eq!(plan.detail.source.identifier, DR);
    assert_eq!(plan.detail.replica.identifier, FORMER);
}
