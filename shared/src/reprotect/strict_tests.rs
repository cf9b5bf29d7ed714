//! Re-protect's plan is as strict as RDS (cross-Region replica settings per engine, KMS key
//! Region), and a standby in a status RDS does not leave by itself ends the wait.

use aws_sdk_rds::operation::describe_db_instances::{
    DescribeDBInstancesError, DescribeDbInstancesOutput,
};
use aws_sdk_rds::operation::describe_db_parameter_groups::DescribeDbParameterGroupsOutput;
use aws_sdk_rds::types::error::DbInstanceNotFoundFault;
use aws_sdk_rds::types::{DbInstance, DbInstanceStatusInfo, DbParameterGroup};
use aws_smithy_mocks::{mock, Rule};

use super::tests::clients;
use super::*;
use crate::error::{ErrorKind, StepFailure};
use crate::request::Action;

const SOURCE: &str = "app-db-dr";
const SOURCE_ARN: &str = "arn:aws:rds:eu-central-1:111111111111:db:app-db-dr";
const REPLICA: &str = "app-db-2";
const KEY: &str = "arn:aws:kms:eu-west-1:111111111111:key/0a1b2c3d-0000-4000-8000-000000000001";
const DR_KEY: &str =
    "arn:aws:kms:eu-central-1:111111111111:key/0a1b2c3d-0000-4000-8000-000000000002";

fn config(group: Option<&str>, kms: &str) -> ReprotectConfig {
    ReprotectConfig::Instance(InstanceConfig {
        primary_region: "eu-west-1".into(),
        dr_region: "eu-central-1".into(),
        source_id: SOURCE.into(),
        replica_id: REPLICA.into(),
        instance_class: "db.r6g.large".into(),
        parameter_group: group.map(str::to_owned),
        kms_key_id: Some(kms.to_owned()),
        retire_former_writer: false,
        network: NetworkConfig {
            db_subnet_group: Some("app-db-subnets".into()),
            ..NetworkConfig::default()
        },
    })
}

/// The DR instance after a failover: a standalone, encrypted `engine` instance.
fn source(engine: &'static str) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(|r| r.db_instance_identifier() == Some(SOURCE))
        .then_output(move || {
            DescribeDbInstancesOutput::builder()
                .db_instances(
                    DbInstance::builder()
                        .db_instance_identifier(SOURCE)
                        .db_instance_arn(SOURCE_ARN)
                        .db_instance_status("available")
                        .engine(engine)
                        .storage_encrypted(true)
                        .backup_retention_period(7)
                        .build(),
                )
                .build()
        })
}

fn no_replica() -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(|r| r.db_instance_identifier() == Some(REPLICA))
        .then_error(|| {
            DescribeDBInstancesError::DbInstanceNotFoundFault(
                DbInstanceNotFoundFault::builder().build(),
            )
        })
}

/// Our replica in `status`, with `replication` as its read replication status.
fn replica(status: &'static str, replication: Option<&'static str>) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(|r| r.db_instance_identifier() == Some(REPLICA))
        .then_output(move || {
            let mut instance = DbInstance::builder()
                .db_instance_identifier(REPLICA)
                .db_instance_class("db.r6g.large")
                .db_instance_status(status)
                .read_replica_source_db_instance_identifier(SOURCE_ARN);
            if let Some(replication) = replication {
                instance = instance.status_infos(
                    DbInstanceStatusInfo::builder()
                        .status_type("read replication")
                        .status(replication)
                        .normal(false)
                        .message("replication stopped: the source's WAL was removed")
                        .build(),
                );
            }
            DescribeDbInstancesOutput::builder()
                .db_instances(instance.build())
                .build()
        })
}

fn group_exists() -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_parameter_groups).then_output(|| {
        DescribeDbParameterGroupsOutput::builder()
            .db_parameter_groups(
                DbParameterGroup::builder()
                    .db_parameter_group_name("app-pg16")
                    .build(),
            )
            .build()
    })
}

/// Any CreateDBInstanceReadReplica: a test that must create nothing checks it was never called.
fn create() -> Rule {
    mock!(aws_sdk_rds::Client::create_db_instance_read_replica).then_output(|| {
        aws_sdk_rds::operation::create_db_instance_read_replica::CreateDbInstanceReadReplicaOutput::builder().build()
    })
}

#[tokio::test]
async fn a_parameter_group_on_a_postgres_replica_is_refused_by_the_plan_and_never_sent() {
    let (src, none, group, create) = (source("postgres"), no_replica(), group_exists(), create());
    let clients = clients(&[&src], &[&none, &group, &create]);
    let config = config(Some("app-pg16"), KEY);

    let plan = handle(StepRequest::new(Action::Plan), &config, &clients)
        .await
        .unwrap();
    assert_eq!(plan.refusals.len(), 1, "{:?}", plan.refusals);
    assert!(
        plan.refusals[0].starts_with("REPROTECT_PARAMETER_GROUP (app-pg16): RDS accepts DBParameterGroupName on a cross-Region read replica only for MySQL, Oracle and Db2 DB instances, and app-db-dr runs postgres"),
        "{}",
        plan.refusals[0]
    );
    assert!(plan.refusals[0].contains(cross_region::API_PAGE));

    let error = handle(StepRequest::new(Action::Apply), &config, &clients)
        .await
        .unwrap_err();
    assert_eq!(StepFailure::from(error).kind, ErrorKind::Refused);
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn a_postgres_replica_without_a_parameter_group_is_created() {
    let (src, none, create) = (source("postgres"), no_replica(), create());
    let clients = clients(&[&src], &[&none, &create]);

    let out = handle(
        StepRequest::new(Action::Apply),
        &config(None, KEY),
        &clients,
    )
    .await
    .unwrap();
    assert!(out.changed, "{}", out.summary);
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn a_mysql_replica_keeps_its_parameter_group() {
    let (src, none, group) = (source("mysql"), no_replica(), group_exists());
    let clients = clients(&[&src], &[&none, &group]);

    let plan = handle(
        StepRequest::new(Action::Plan),
        &config(Some("app-pg16"), KEY),
        &clients,
    )
    .await
    .unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
}

#[tokio::test]
async fn a_kms_key_of_the_dr_region_is_refused_naming_the_variable() {
    let (src, none) = (source("postgres"), no_replica());
    let clients = clients(&[&src], &[&none]);

    let plan = handle(
        StepRequest::new(Action::Plan),
        &config(None, DR_KEY),
        &clients,
    )
    .await
    .unwrap();
    assert_eq!(plan.refusals.len(), 1, "{:?}", plan.refusals);
    assert!(
        plan.refusals[0].starts_with(&format!(
            "REPROTECT_KMS_KEY_ID ({DR_KEY}) is a KMS key of eu-central-1"
        )),
        "{}",
        plan.refusals[0]
    );
}

#[tokio::test]
async fn a_replica_in_a_status_rds_does_not_leave_ends_the_wait_at_once() {
    for status in ["incompatible-parameters", "storage-full", "failed"] {
        let (src, ours) = (source("postgres"), replica(status, None));
        let clients = clients(&[&src], &[&ours]);
        let error = handle(
            StepRequest::new(Action::Status),
            &config(None, KEY),
            &clients,
        )
        .await
        .unwrap_err();
        let failure = StepFailure::from(error);
        assert_eq!(failure.kind, ErrorKind::Aws, "{status}");
        assert!(
            failure
                .message
                .starts_with(&format!("read replica {REPLICA} (eu-west-1) is {status}, a status RDS does not leave by itself")),
            "{}",
            failure.message
        );
        assert!(failure
            .message
            .contains(crate::rds_status::INSTANCE_STATUS_PAGE));
    }
}

#[tokio::test]
async fn a_replica_still_creating_is_waited_for() {
    let (src, ours) = (source("postgres"), replica("creating", None));
    let clients = clients(&[&src], &[&ours]);
    let out = handle(
        StepRequest::new(Action::Status),
        &config(None, KEY),
        &clients,
    )
    .await
    .unwrap();
    assert!(!out.ready);
}

#[tokio::test]
async fn replication_rds_terminated_ends_the_wait_with_its_message() {
    let (src, ours) = (source("postgres"), replica("available", Some("terminated")));
    let clients = clients(&[&src], &[&ours]);
    let failure = StepFailure::from(
        handle(
            StepRequest::new(Action::Status),
            &config(None, KEY),
            &clients,
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(failure.kind, ErrorKind::Aws);
    assert!(
        failure.message.contains("is terminated"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("the source's WAL was removed"),
        "{}",
        failure.message
    );
}
