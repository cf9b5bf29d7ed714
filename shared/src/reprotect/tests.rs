use aws_sdk_rds::operation::create_db_instance_read_replica::{
    CreateDBInstanceReadReplicaError, CreateDbInstanceReadReplicaOutput,
};
use aws_sdk_rds::operation::describe_db_instances::{
    DescribeDBInstancesError, DescribeDbInstancesOutput,
};
use aws_sdk_rds::operation::describe_db_parameter_groups::{
    DescribeDBParameterGroupsError, DescribeDbParameterGroupsOutput,
};
use aws_sdk_rds::types::error::{
    DbInstanceAlreadyExistsFault, DbInstanceNotFoundFault, DbParameterGroupNotFoundFault,
};
use aws_sdk_rds::types::{
    DbInstance, DbInstanceStatusInfo, DbParameterGroup, DbParameterGroupStatus,
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

use super::*;
use crate::error::StepFailure;
use crate::request::Action;
use crate::testing::no_retries;

const SOURCE: &str = "app-db-dr";
const SOURCE_ARN: &str = "arn:aws:rds:eu-central-1:111111111111:db:app-db-dr";
const FORMER_PRIMARY_ARN: &str = "arn:aws:rds:eu-west-1:111111111111:db:app-db";
const REPLICA: &str = "app-db-2";
const KEY: &str = "arn:aws:kms:eu-west-1:111111111111:key/0a1b2c3d-0000-4000-8000-000000000001";

fn config(kms: Option<&str>) -> ReprotectConfig {
    ReprotectConfig::Instance(instance_config(kms))
}

fn instance_config(kms: Option<&str>) -> InstanceConfig {
    InstanceConfig {
        primary_region: "eu-west-1".into(),
        dr_region: "eu-central-1".into(),
        source_id: SOURCE.into(),
        replica_id: REPLICA.into(),
        instance_class: "db.r6g.large".into(),
        parameter_group: Some("app-pg16".into()),
        kms_key_id: kms.map(str::to_owned),
        retire_former_writer: false,
        network: subnets(),
    }
}

/// The application's DB subnet group, given by configuration.
fn subnets() -> NetworkConfig {
    NetworkConfig {
        db_subnet_group: Some("app-db-subnets".into()),
        ..NetworkConfig::default()
    }
}

/// The DR instance: `of` is its own source while it is still a replica.
fn source(status: &'static str, of: Option<&'static str>, encrypted: bool, backups: i32) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(|r| r.db_instance_identifier() == Some(SOURCE))
        .then_output(move || {
            DescribeDbInstancesOutput::builder()
                .db_instances(
                    DbInstance::builder()
                        .db_instance_identifier(SOURCE)
                        .db_instance_arn(SOURCE_ARN)
                        .db_instance_status(status)
                        .set_read_replica_source_db_instance_identifier(of.map(str::to_owned))
                        .storage_encrypted(encrypted)
                        .backup_retention_period(backups)
                        .build(),
                )
                .build()
        })
}

fn failed_over() -> Rule {
    source("available", None, true, 7)
}

fn no_replica() -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(|r| r.db_instance_identifier() == Some(REPLICA))
        .then_error(|| {
            DescribeDBInstancesError::DbInstanceNotFoundFault(
                DbInstanceNotFoundFault::builder()
                    .message("DBInstance app-db-2 not found.")
                    .build(),
            )
        })
}

/// An instance named like the replica in the primary region, replicating `of`.
fn existing(
    status: &'static str,
    of: Option<&'static str>,
    replication: Option<(&'static str, bool)>,
) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(|r| r.db_instance_identifier() == Some(REPLICA))
        .then_output(move || {
            let mut instance = DbInstance::builder()
                .db_instance_identifier(REPLICA)
                .db_instance_class("db.r6g.large")
                .db_instance_status(status)
                // 2025-12-01T11:25:45Z: the minute in a retired name.
                .instance_create_time(aws_smithy_types::DateTime::from_secs(1_764_588_345))
                .db_parameter_groups(
                    DbParameterGroupStatus::builder()
                        .db_parameter_group_name("app-pg16")
                        .parameter_apply_status("in-sync")
                        .build(),
                )
                .set_read_replica_source_db_instance_identifier(of.map(str::to_owned));
            if let Some((status, normal)) = replication {
                instance = instance.status_infos(
                    DbInstanceStatusInfo::builder()
                        .status_type("read replication")
                        .status(status)
                        .normal(normal)
                        .build(),
                );
            }
            DescribeDbInstancesOutput::builder()
                .db_instances(instance.build())
                .build()
        })
}

fn parameter_group(found: bool) -> Rule {
    let rule = mock!(aws_sdk_rds::Client::describe_db_parameter_groups)
        .match_requests(|r| r.db_parameter_group_name() == Some("app-pg16"));
    if found {
        rule.then_output(|| {
            DescribeDbParameterGroupsOutput::builder()
                .db_parameter_groups(
                    DbParameterGroup::builder()
                        .db_parameter_group_name("app-pg16")
                        .build(),
                )
                .build()
        })
    } else {
        rule.then_error(|| {
            DescribeDBParameterGroupsError::DbParameterGroupNotFoundFault(
                DbParameterGroupNotFoundFault::builder().build(),
            )
        })
    }
}

/// CreateDBInstanceReadReplica with exactly the plan's parameters (and nothing else matches).
fn create(kms: Option<&'static str>) -> Rule {
    mock!(aws_sdk_rds::Client::create_db_instance_read_replica)
        .match_requests(move |r| {
            r.db_instance_identifier() == Some(REPLICA)
                && r.source_db_instance_identifier() == Some(SOURCE_ARN)
                && r.db_instance_class() == Some("db.r6g.large")
                && r.db_parameter_group_name() == Some("app-pg16")
                && r.kms_key_id() == kms
        })
        .then_output(|| CreateDbInstanceReadReplicaOutput::builder().build())
}

/// Mock clients of both regions; the primary region has room for the standby.
pub(super) fn clients(dr: &[&Rule], primary: &[&Rule]) -> ReprotectClients {
    // The primary region has room for the standby (DescribeAccountAttributes, DBInstances).
    let room = super::quota::tests::quota(3, 40);
    ReprotectClients {
        dr: mock_client!(aws_sdk_rds, RuleMode::MatchAny, dr.iter().copied(), |c| c
            .retry_config(no_retries())),
        primary: mock_client!(
            aws_sdk_rds,
            RuleMode::MatchAny,
            primary.iter().copied().chain([&room]),
            |c| c.retry_config(no_retries())
        ),
    }
}

fn request(action: Action) -> StepRequest {
    StepRequest::new(action)
}

#[tokio::test]
async fn plan_names_what_it_will_create_and_creates_nothing() {
    let (src, none, group, create) = (
        failed_over(),
        no_replica(),
        parameter_group(true),
        create(Some(KEY)),
    );
    let clients = clients(&[&src], &[&none, &group, &create]);

    let out = handle(request(Action::Plan), &config(Some(KEY)), &clients)
        .await
        .unwrap();

    assert!(out.refusals.is_empty(), "{:?}", out.refusals);
    assert!(!out.ready && !out.changed);
    for part in [
        REPLICA,
        "eu-west-1",
        SOURCE_ARN,
        "db.r6g.large",
        "app-pg16",
        KEY,
    ] {
        assert!(out.summary.contains(part), "{part}: {}", out.summary);
    }
    assert!(
        out.detail.topology.contains("no standby in eu-west-1"),
        "{}",
        out.detail.topology
    );
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn a_dry_run_apply_plans_and_creates_nothing() {
    let (src, none, group, create) = (
        failed_over(),
        no_replica(),
        parameter_group(true),
        create(Some(KEY)),
    );
    let clients = clients(&[&src], &[&none, &group, &create]);
    let mut dry = request(Action::Apply);
    dry.dry_run = true;

    let out = handle(dry, &config(Some(KEY)), &clients).await.unwrap();

    assert_eq!(out.action, Action::Plan);
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn apply_creates_the_replica_with_the_plans_class_parameter_group_and_key() {
    let (src, none, group, create) = (
        failed_over(),
        no_replica(),
        parameter_group(true),
        create(Some(KEY)),
    );
    let clients = clients(&[&src], &[&none, &group, &create]);

    let out = handle(request(Action::Apply), &config(Some(KEY)), &clients)
        .await
        .unwrap();

    assert_eq!(create.num_calls(), 1);
    assert!(out.changed && !out.ready);
    assert_eq!(out.detail.replica.status.as_deref(), Some("creating"));
    assert!(
        out.summary.starts_with("creating app-db-2"),
        "{}",
        out.summary
    );
}

#[tokio::test]
async fn apply_after_the_replica_exists_creates_nothing_and_reports_it() {
    let (src, mine, create) = (
        failed_over(),
        existing("creating", Some(SOURCE_ARN), None),
        create(Some(KEY)),
    );
    let clients = clients(&[&src], &[&mine, &create]);

    let out = handle(request(Action::Apply), &config(Some(KEY)), &clients)
        .await
        .unwrap();

    assert_eq!(create.num_calls(), 0, "a re-run never creates twice");
    assert!(!out.changed && !out.ready);
    assert!(out.summary.contains("not yet healthy"), "{}", out.summary);
}

#[tokio::test]
async fn status_is_ready_only_once_rds_reports_the_replication_replicating_and_normal() {
    for (status, replication, ready) in [
        ("creating", None, false),
        ("available", None, false),
        ("available", Some(("error", false)), false),
        ("available", Some(("replicating", true)), true),
    ] {
        let (src, mine) = (
            failed_over(),
            existing(status, Some(SOURCE_ARN), replication),
        );
        let clients = clients(&[&src], &[&mine]);

        let out = handle(request(Action::Status), &config(Some(KEY)), &clients)
            .await
            .unwrap();

        assert_eq!(
            out.ready, ready,
            "{status} {replication:?}: {}",
            out.summary
        );
        if ready {
            assert!(
                out.detail.topology.starts_with(
                    "writer app-db-dr (eu-central-1) -> read replica app-db-2 (eu-west-1"
                ),
                "{}",
                out.detail.topology
            );
        }
    }
}

#[tokio::test]
async fn status_before_the_replica_exists_is_not_ready_and_not_an_error() {
    let (src, none) = (failed_over(), no_replica());
    let clients = clients(&[&src], &[&none]);

    let out = handle(request(Action::Status), &config(Some(KEY)), &clients)
        .await
        .unwrap();

    assert!(!out.ready);
    assert!(out.summary.contains("does not exist"), "{}", out.summary);
}

#[tokio::test]
async fn an_instance_of_that_name_that_replicates_something_else_is_refused_never_touched() {
    for of in [None, Some(FORMER_PRIMARY_ARN)] {
        let (src, other, group, create) = (
            failed_over(),
            existing("available", of, None),
            parameter_group(true),
            create(Some(KEY)),
        );
        let clients = clients(&[&src], &[&other, &group, &create]);

        let plan = handle(request(Action::Plan), &config(Some(KEY)), &clients)
            .await
            .unwrap();
        assert_eq!(plan.refusals.len(), 1, "{:?}", plan.refusals);
        assert!(plan.refusals[0].contains("never changes or deletes it"));
        let error = handle(request(Action::Apply), &config(Some(KEY)), &clients)
            .await
            .unwrap_err();

        assert_eq!(StepFailure::from(error).kind, ErrorKind::Refused);
        assert_eq!(create.num_calls(), 0);
    }
}

#[tokio::test]
async fn before_a_failover_the_dr_instance_is_still_a_replica_and_the_plan_refuses() {
    let (src, none, group) = (
        source("available", Some(FORMER_PRIMARY_ARN), true, 0),
        no_replica(),
        parameter_group(true),
    );
    let clients = clients(&[&src], &[&none, &group]);

    let out = handle(request(Action::Plan), &config(Some(KEY)), &clients)
        .await
        .unwrap();

    assert!(
        out.refusals
            .iter()
            .any(|r| r.contains("still a read replica")),
        "{:?}",
        out.refusals
    );
    assert!(
        out.refusals
            .iter()
            .any(|r| r.contains("automated backups off")),
        "{:?}",
        out.refusals
    );
}

#[tokio::test]
async fn encryption_must_match_the_source() {
    for (encrypted, key, expected) in [
        (true, None, "needs a KMS key of eu-west-1"),
        (false, Some(KEY), "cannot create an encrypted read replica"),
    ] {
        let (src, none, group) = (
            source("available", None, encrypted, 7),
            no_replica(),
            parameter_group(true),
        );
        let clients = clients(&[&src], &[&none, &group]);

        let out = handle(request(Action::Plan), &config(key), &clients)
            .await
            .unwrap();

        assert_eq!(out.refusals.len(), 1, "{:?}", out.refusals);
        assert!(out.refusals[0].contains(expected), "{:?}", out.refusals);
    }
}

#[tokio::test]
async fn a_parameter_group_missing_in_the_primary_region_is_refused() {
    let (src, none, group) = (failed_over(), no_replica(), parameter_group(false));
    let clients = clients(&[&src], &[&none, &group]);

    let out = handle(request(Action::Plan), &config(Some(KEY)), &clients)
        .await
        .unwrap();

    assert_eq!(out.refusals.len(), 1, "{:?}", out.refusals);
    assert!(out.refusals[0].contains("app-pg16"));
}

#[tokio::test]
async fn a_source_still_backing_up_is_waited_for() {
    let (src, none, group, create) = (
        source("backing-up", None, true, 7),
        no_replica(),
        parameter_group(true),
        create(Some(KEY)),
    );
    let clients = clients(&[&src], &[&none, &group, &create]);

    let error = handle(request(Action::Apply), &config(Some(KEY)), &clients)
        .await
        .unwrap_err();

    assert_eq!(StepFailure::from(error).kind, ErrorKind::NotReady);
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn a_replica_created_meanwhile_by_another_call_is_waited_for() {
    let (src, none, group) = (failed_over(), no_replica(), parameter_group(true));
    let raced = mock!(aws_sdk_rds::Client::create_db_instance_read_replica).then_error(|| {
        CreateDBInstanceReadReplicaError::DbInstanceAlreadyExistsFault(
            DbInstanceAlreadyExistsFault::builder().build(),
        )
    });
    let clients = clients(&[&src], &[&none, &group, &raced]);

    let error = handle(request(Action::Apply), &config(Some(KEY)), &clients)
        .await
        .unwrap_err();

    assert_eq!(StepFailure::from(error).kind, ErrorKind::NotReady);
}

#[tokio::test]
async fn a_missing_dr_instance_is_not_found() {
    let missing = mock!(aws_sdk_rds::Client::describe_db_instances).then_error(|| {
        DescribeDBInstancesError::DbInstanceNotFoundFault(
            DbInstanceNotFoundFault::builder().build(),
        )
    });
    let clients = clients(&[&missing], &[]);

    let error = handle(request(Action::Plan), &config(Some(KEY)), &clients)
        .await
        .unwrap_err();

    assert_eq!(
        error,
        ReprotectError::SourceNotFound(format!("DB instance {SOURCE}"))
    );
    assert_eq!(StepFailure::from(error).kind, ErrorKind::NotFound);
}

fn regions() -> Regions {
    Regions {
        primary: "eu-west-1".into(),
        dr: "eu-central-1".into(),
    }
}

fn read(env: &std::collections::BTreeMap<String, String>) -> Result<ReprotectConfig, ConfigError> {
    ReprotectConfig::from_source(env, &regions())
}

fn env(overrides: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    let mut env: std::collections::BTreeMap<String, String> = [
        ("DB_KIND", "rds-instance"),
        ("DB_REPLICA_INSTANCE_ID", SOURCE),
        ("REPROTECT_REPLICA_INSTANCE_ID", REPLICA),
        ("REPROTECT_INSTANCE_CLASS", "db.r6g.large"),
        ("REPROTECT_PARAMETER_GROUP", "app-pg16"),
        ("REPROTECT_KMS_KEY_ID", KEY),
        ("REPROTECT_DB_SUBNET_GROUP", "app-db-subnets"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

#[test]
fn configuration_is_read_whole_and_its_mistakes_are_named() {
    assert_eq!(read(&env(&[])).unwrap(), config(Some(KEY)));
    let optional = read(&env(&[
        ("REPROTECT_PARAMETER_GROUP", ""),
        ("REPROTECT_KMS_KEY_ID", ""),
    ]))
    .unwrap();
    let ReprotectConfig::Instance(optional) = optional else {
        panic!("{optional:?}")
    };
    assert_eq!(
        (optional.parameter_group, optional.kms_key_id),
        (None, None)
    );
    for (name, value) in [
        ("DB_KIND", "aurora"),
        ("REPROTECT_REPLICA_INSTANCE_ID", "2-app-db"),
        ("REPROTECT_REPLICA_INSTANCE_ID", "app--db"),
        ("REPROTECT_REPLICA_INSTANCE_ID", "app-db-"),
        ("REPROTECT_INSTANCE_CLASS", "r6g.large"),
    ] {
        let error = read(&env(&[(name, value)])).unwrap_err();
        assert!(
            matches!(&error, ConfigError::Invalid { name: n, .. } if *n == name),
            "{name}={value}: {error}"
        );
    }
    let error = read(&env(&[("REPROTECT_INSTANCE_CLASS", "")])).unwrap_err();
    assert_eq!(error, ConfigError::Missing("REPROTECT_INSTANCE_CLASS"));
}

// ---- fail back: retiring the former DR writer that holds the replica's name ----

/// The former writer: standalone, holding the replica's name, created 2025-12-01T11:25:45Z.
fn former_writer(status: &'static str) -> Rule {
    existing(status, None, None)
}

const RETIRED: &str = "app-db-2-retired-202512011125";

fn rename_rule() -> Rule {
    mock!(aws_sdk_rds::Client::modify_db_instance)
        .match_requests(|r| {
            r.db_instance_identifier() == Some(REPLICA)
                && r.new_db_instance_identifier() == Some(RETIRED)
                && r.apply_immediately() == Some(true)
        })
        .then_output(|| {
            aws_sdk_rds::operation::modify_db_instance::ModifyDbInstanceOutput::builder().build()
        })
}

fn retiring_config() -> ReprotectConfig {
    ReprotectConfig::Instance(InstanceConfig {
        retire_former_writer: true,
        ..instance_config(Some(KEY))
    })
}

#[tokio::test]
async fn with_retire_on_the_former_writer_is_renamed_then_the_replica_created_under_its_name() {
    let (src, former, group, rename, create) = (
        failed_over(),
        former_writer("available"),
        parameter_group(true),
        rename_rule(),
        create(Some(KEY)),
    );
    let clients = clients(&[&src], &[&former, &group, &rename, &create]);

    let plan = handle(request(Action::Plan), &retiring_config(), &clients)
        .await
        .unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert!(
        plan.summary
            .starts_with(&format!("apply would rename {REPLICA} (standalone: the former writer) to {RETIRED}, then create {REPLICA}")),
        "{}",
        plan.summary
    );
    assert_eq!((rename.num_calls(), create.num_calls()), (0, 0));

    let apply = handle(request(Action::Apply), &retiring_config(), &clients)
        .await
        .unwrap();
    assert!(apply.changed);
    assert!(
        apply.summary.starts_with(&format!(
            "renamed {REPLICA} to {RETIRED}; creating {REPLICA}"
        )),
        "{}",
        apply.summary
    );
    assert_eq!((rename.num_calls(), create.num_calls()), (1, 1));
}

#[tokio::test]
async fn with_retire_off_or_a_replica_of_something_else_nothing_is_renamed() {
    let (src, former, group, rename) = (
        failed_over(),
        former_writer("available"),
        parameter_group(true),
        rename_rule(),
    );
    let off = clients(&[&src], &[&former, &group, &rename]);
    let plan = handle(request(Action::Plan), &config(Some(KEY)), &off)
        .await
        .unwrap();
    assert!(
        plan.refusals
            .iter()
            .any(|r| r.contains("never changes or deletes it")),
        "{:?}",
        plan.refusals
    );

    let other = existing(
        "available",
        Some("arn:aws:rds:eu-west-1:111111111111:db:other"),
        None,
    );
    let replica_of_other = clients(&[&src], &[&other, &group, &rename]);
    let error = handle(
        request(Action::Apply),
        &retiring_config(),
        &replica_of_other,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ReprotectError::Refused(_)), "{error:?}");
    assert_eq!(rename.num_calls(), 0);
}

#[tokio::test]
async fn a_former_writer_that_is_not_available_is_waited_for_not_renamed() {
    let (src, former, group, rename) = (
        failed_over(),
        former_writer("backing-up"),
        parameter_group(true),
        rename_rule(),
    );
    let clients = clients(&[&src], &[&former, &group, &rename]);

    let error = handle(request(Action::Apply), &retiring_config(), &clients)
        .await
        .unwrap_err();

    assert!(
        matches!(&error, ReprotectError::NotReady(reason) if reason.contains("backing-up")),
        "{error:?}"
    );
    assert_eq!(rename.num_calls(), 0);
}

#[tokio::test]
async fn a_former_writer_being_renamed_is_waited_for_and_a_taken_retired_name_is_refused() {
    let (src, renaming, group, rename) = (
        failed_over(),
        former_writer("renaming"),
        parameter_group(true),
        rename_rule(),
    );
    let clients_renaming = clients(&[&src], &[&renaming, &group, &rename]);
    let error = handle(
        request(Action::Apply),
        &retiring_config(),
        &clients_renaming,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, ReprotectError::NotReady(reason) if reason.contains(&format!("being renamed to {RETIRED}"))),
        "{error:?}"
    );
    assert_eq!(rename.num_calls(), 0);

    let (former, taken) = (
        former_writer("available"),
        mock!(aws_sdk_rds::Client::modify_db_instance).then_error(|| {
            aws_sdk_rds::operation::modify_db_instance::ModifyDBInstanceError::DbInstanceAlreadyExistsFault(
                DbInstanceAlreadyExistsFault::builder().build(),
            )
        }),
    );
    let clients_taken = clients(&[&src], &[&former, &group, &taken]);
    let error = handle(request(Action::Apply), &retiring_config(), &clients_taken)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ReprotectError::Refused(reasons) if reasons[0].contains(&format!("would be retired as {RETIRED}, but a DB instance of that name exists"))),
        "{error:?}"
    );
    assert_eq!(taken.num_calls(), 1);
}
