//! The standby's network and settings: read from the former primary, overridden by
//! configuration, sent with the create call; a former primary that cannot be read is context.

use aws_sdk_rds::operation::create_db_cluster::CreateDbClusterOutput;
use aws_sdk_rds::operation::create_db_instance::CreateDbInstanceOutput;
use aws_sdk_rds::operation::create_db_instance_read_replica::CreateDbInstanceReadReplicaOutput;
use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
use aws_sdk_rds::operation::describe_db_instances::{
    DescribeDBInstancesError, DescribeDbInstancesOutput,
};
use aws_sdk_rds::operation::describe_global_clusters::DescribeGlobalClustersOutput;
use aws_sdk_rds::types::error::DbInstanceNotFoundFault;
use aws_sdk_rds::types::{
    DbCluster, DbClusterMember, DbInstance, DbParameterGroupStatus, DbSubnetGroup, GlobalCluster,
    GlobalClusterMember, OptionGroupMembership, Tag, VpcSecurityGroupMembership,
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

use super::*;
use crate::request::Action;
use crate::testing::no_retries;

const SOURCE: &str = "app-db-dr";
const SOURCE_ARN: &str = "arn:aws:rds:eu-central-1:111111111111:db:app-db-dr";
const REPLICA: &str = "app-db-2";
const FORMER: &str = "app-db";
const KEY: &str = "arn:aws:kms:eu-west-1:111111111111:key/0a1b2c3d-0000-4000-8000-000000000001";

fn instance_config(network: NetworkConfig) -> ReprotectConfig {
    ReprotectConfig::Instance(InstanceConfig {
        primary_region: "eu-west-1".into(),
        dr_region: "eu-central-1".into(),
        source_id: SOURCE.into(),
        replica_id: REPLICA.into(),
        instance_class: "db.r6g.large".into(),
        parameter_group: None,
        kms_key_id: None,
        retire_former_writer: false,
        network,
    })
}

fn named_former() -> NetworkConfig {
    NetworkConfig {
        former_primary_id: Some(FORMER.into()),
        ..NetworkConfig::default()
    }
}

fn describe(id: &'static str, instance: DbInstance) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(move |r| r.db_instance_identifier() == Some(id))
        .then_output(move || {
            DescribeDbInstancesOutput::builder()
                .db_instances(instance.clone())
                .build()
        })
}

fn not_found(id: &'static str) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(move |r| r.db_instance_identifier() == Some(id))
        .then_error(|| {
            DescribeDBInstancesError::DbInstanceNotFoundFault(
                DbInstanceNotFoundFault::builder().build(),
            )
        })
}

/// The DR instance after a failover: standalone, encrypted, PostgreSQL.
fn source() -> Rule {
    describe(
        SOURCE,
        DbInstance::builder()
            .db_instance_identifier(SOURCE)
            .db_instance_arn(SOURCE_ARN)
            .db_instance_status("available")
            .engine("postgres")
            .storage_encrypted(true)
            .backup_retention_period(7)
            .build(),
    )
}

/// The former primary in the primary region, in the application's network.
fn former_instance() -> DbInstance {
    DbInstance::builder()
        .db_instance_identifier(FORMER)
        .db_instance_status("available")
        .engine("postgres")
        .db_subnet_group(
            DbSubnetGroup::builder()
                .db_subnet_group_name("app-db-subnets")
                .build(),
        )
        .vpc_security_groups(
            VpcSecurityGroupMembership::builder()
                .vpc_security_group_id("sg-0a1")
                .status("active")
                .build(),
        )
        .vpc_security_groups(
            VpcSecurityGroupMembership::builder()
                .vpc_security_group_id("sg-0b2")
                .status("active")
                .build(),
        )
        .db_parameter_groups(
            DbParameterGroupStatus::builder()
                .db_parameter_group_name("app-pg16")
                .build(),
        )
        .option_group_memberships(
            OptionGroupMembership::builder()
                .option_group_name("app-options")
                .build(),
        )
        .storage_encrypted(true)
        .kms_key_id(KEY)
        .deletion_protection(true)
        .multi_az(true)
        .tag_list(Tag::builder().key("app").value("shop").build())
        .tag_list(Tag::builder().key("team").value("payments").build())
        .tag_list(
            Tag::builder()
                .key("aws:cloudformation:stack-name")
                .value("app")
                .build(),
        )
        .build()
}

fn clients(dr: &[&Rule], primary: &[&Rule]) -> ReprotectClients {
    super::tests::clients(dr, primary)
}

#[tokio::test]
async fn the_replica_takes_the_former_primarys_network_and_settings_and_configuration_wins() {
    let network = NetworkConfig {
        tags: Some([("app".to_owned(), "shop-eu".to_owned())].into()),
        ..named_former()
    };
    let config = instance_config(network);
    let (src, none, former) = (
        source(),
        not_found(REPLICA),
        describe(FORMER, former_instance()),
    );
    let create = mock!(aws_sdk_rds::Client::create_db_instance_read_replica)
        .match_requests(|r| {
            r.db_subnet_group_name() == Some("app-db-subnets")
                && r.vpc_security_group_ids() == ["sg-0a1", "sg-0b2"]
                && r.option_group_name() == Some("app-options")
                && r.deletion_protection() == Some(true)
                && r.multi_az() == Some(true)
                && r.kms_key_id() == Some(KEY)
                // PostgreSQL: RDS takes no parameter group on a cross-Region replica.
                && r.db_parameter_group_name().is_none()
                && r.tags().len() == 1
                && r.tags()[0].key() == Some("app")
                && r.tags()[0].value() == Some("shop-eu")
        })
        .then_output(|| CreateDbInstanceReadReplicaOutput::builder().build());
    let clients = clients(&[&src], &[&none, &former, &create]);

    let plan = handle(StepRequest::new(Action::Plan), &config, &clients)
        .await
        .unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert!(
        plan.summary.ends_with(
            "DB subnet group app-db-subnets (former primary app-db), security groups sg-0a1 sg-0b2 (former primary app-db), option group app-options (former primary app-db), deletion protection on (former primary app-db), Multi-AZ on (former primary app-db), tags app=shop-eu (REPROTECT_TAGS)"
        ),
        "{}",
        plan.summary
    );
    assert!(plan
        .summary
        .contains(&format!("encrypted with KMS key {KEY}")));
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("uses DB parameter group app-pg16")
                && w.contains("ModifyDBInstance")),
        "{:?}",
        plan.warnings
    );
    let placement = plan.detail.replica.placement.as_ref().unwrap();
    assert_eq!(
        placement.kms_key_id.as_ref().unwrap().from,
        "former primary app-db"
    );
    assert_eq!(create.num_calls(), 0);

    let apply = handle(StepRequest::new(Action::Apply), &config, &clients)
        .await
        .unwrap();
    assert!(apply.changed);
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn a_former_primary_that_cannot_be_read_and_no_subnet_group_is_a_refusal_not_an_error() {
    let config = instance_config(NetworkConfig { ..named_former() });
    let (src, none) = (source(), not_found(REPLICA));
    let unreadable = mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(|r| r.db_instance_identifier() == Some(FORMER))
        .then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(503).unwrap(),
                aws_smithy_types::body::SdkBody::from("<ErrorResponse><Error><Code>ServiceUnavailable</Code><Message>the Region is down</Message></Error></ErrorResponse>"),
            )
        });
    let create = mock!(aws_sdk_rds::Client::create_db_instance_read_replica)
        .then_output(|| CreateDbInstanceReadReplicaOutput::builder().build());
    let clients = clients(&[&src], &[&none, &unreadable, &create]);

    let plan = handle(StepRequest::new(Action::Plan), &config, &clients)
        .await
        .unwrap();
    let refusal = plan
        .refusals
        .iter()
        .find(|r| r.starts_with("no DB subnet group for the read replica app-db-2 in eu-west-1:"))
        .unwrap_or_else(|| panic!("{:?}", plan.refusals));
    assert!(
        refusal.contains(
            "; the former primary app-db could not be read in eu-west-1 (DescribeDBInstances"
        ),
        "{refusal}"
    );
    assert!(
        refusal.contains("Set REPROTECT_DB_SUBNET_GROUP"),
        "{refusal}"
    );

    let apply = handle(StepRequest::new(Action::Apply), &config, &clients).await;
    assert!(
        matches!(apply, Err(ReprotectError::Refused(ref reasons)) if reasons.iter().any(|r| r.contains("no DB subnet group"))),
        "{apply:?}"
    );
    assert_eq!(create.num_calls(), 0);

    // With the subnet group given, the unreadable former primary is a warning, and the replica
    // is created there.
    let given = instance_config(NetworkConfig {
        db_subnet_group: Some("app-db-subnets".into()),
        ..named_former()
    });
    let plan = handle(StepRequest::new(Action::Plan), &given, &clients)
        .await
        .unwrap();
    assert!(
        !plan.refusals.iter().any(|r| r.contains("DB subnet group")),
        "{:?}",
        plan.refusals
    );
    assert!(
        plan.warnings.iter().any(|w| w.contains("could not be read")
            && w.contains("takes only the settings configuration gives")),
        "{:?}",
        plan.warnings
    );
}

#[tokio::test]
async fn fail_back_reads_the_retired_former_writer_once_its_name_is_free() {
    // The former DR writer, renamed: the replica's own name is free.
    let config = ReprotectConfig::Instance(InstanceConfig {
        retire_former_writer: true,
        network: NetworkConfig {
            former_primary_id: Some(REPLICA.into()),
            ..NetworkConfig::default()
        },
        ..match instance_config(NetworkConfig::default()) {
            ReprotectConfig::Instance(c) => c,
            _ => unreachable!(),
        }
    });
    let (src, none) = (source(), not_found(REPLICA));
    let listing = mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(|r| r.db_instance_identifier().is_none())
        .then_output(|| {
            let retired = |id: &str, group: &str| {
                DbInstance::builder()
                    .db_instance_identifier(id)
                    .db_subnet_group(DbSubnetGroup::builder().db_subnet_group_name(group).build())
                    .build()
            };
            DescribeDbInstancesOutput::builder()
                .db_instances(retired("app-db-2-retired-202601010000", "old-subnets"))
                .db_instances(retired("app-db-2-retired-202612061200", "app-db-subnets"))
                .db_instances(retired("other-db", "other-subnets"))
                .build()
        });
    let clients = clients(&[&src], &[&none, &listing]);

    let plan = handle(StepRequest::new(Action::Plan), &config, &clients)
        .await
        .unwrap();
    assert!(
        plan.summary.contains(
            "DB subnet group app-db-subnets (former primary app-db-2-retired-202612061200)"
        ),
        "{}",
        plan.summary
    );
}

const GLOBAL: &str = "app-global";
const DR_CLUSTER: &str = "app-dr";
const DR_ARN: &str = "arn:aws:rds:eu-central-1:111111111111:cluster:app-dr";
const NEW: &str = "app-primary-2";
const FORMER_CLUSTER: &str = "app-primary";

#[tokio::test]
async fn a_new_aurora_secondary_takes_the_former_primary_clusters_network_and_settings() {
    let config = ReprotectConfig::AuroraGlobal(AuroraConfig {
        primary_region: "eu-west-1".into(),
        dr_region: "eu-central-1".into(),
        global_cluster_id: GLOBAL.into(),
        dr_cluster_id: DR_CLUSTER.into(),
        secondary_cluster_id: NEW.into(),
        instance_class: "db.r6g.large".into(),
        kms_key_id: None,
        parameter_group: None,
        network: NetworkConfig {
            former_primary_id: Some(FORMER_CLUSTER.into()),
            deletion_protection: Some(false),
            ..NetworkConfig::default()
        },
    });
    let global = mock!(aws_sdk_rds::Client::describe_global_clusters).then_output(|| {
        DescribeGlobalClustersOutput::builder()
            .global_clusters(
                GlobalCluster::builder()
                    .global_cluster_identifier(GLOBAL)
                    .engine("aurora-postgresql")
                    .engine_version("15.4")
                    .storage_encrypted(true)
                    .global_cluster_members(
                        GlobalClusterMember::builder()
                            .db_cluster_arn(DR_ARN)
                            .is_writer(true)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let cluster = |id: &'static str,
                   build: fn(
        aws_sdk_rds::types::builders::DbClusterBuilder,
    ) -> aws_sdk_rds::types::builders::DbClusterBuilder| {
        mock!(aws_sdk_rds::Client::describe_db_clusters)
            .match_requests(move |r| r.db_cluster_identifier() == Some(id))
            .then_output(move || {
                DescribeDbClustersOutput::builder()
                    .db_clusters(build(DbCluster::builder().db_cluster_identifier(id)).build())
                    .build()
            })
    };
    let dr = cluster(DR_CLUSTER, |c| {
        c.db_cluster_arn(DR_ARN)
            .status("available")
            .engine("aurora-postgresql")
            .storage_encrypted(true)
            .backup_retention_period(7)
    });
    let new = mock!(aws_sdk_rds::Client::describe_db_clusters)
        .match_requests(|r| r.db_cluster_identifier() == Some(NEW))
        .then_error(|| {
            aws_sdk_rds::operation::describe_db_clusters::DescribeDBClustersError::DbClusterNotFoundFault(
                aws_sdk_rds::types::error::DbClusterNotFoundFault::builder().build(),
            )
        });
    let former = cluster(FORMER_CLUSTER, |c| {
        c.status("available")
            .db_subnet_group("app-db-subnets")
            .vpc_security_groups(
                VpcSecurityGroupMembership::builder()
                    .vpc_security_group_id("sg-0a1")
                    .build(),
            )
            .db_cluster_parameter_group("app-apg15")
            .storage_encrypted(true)
            .kms_key_id(KEY)
            .deletion_protection(true)
            .multi_az(true)
            .tag_list(Tag::builder().key("app").value("shop").build())
            .db_cluster_members(
                DbClusterMember::builder()
                    .db_instance_identifier("app-primary-1")
                    .is_cluster_writer(true)
                    .build(),
            )
    });
    let writer = describe(
        "app-primary-1",
        DbInstance::builder()
            .db_instance_identifier("app-primary-1")
            .db_parameter_groups(
                DbParameterGroupStatus::builder()
                    .db_parameter_group_name("app-apg15-instance")
                    .build(),
            )
            .build(),
    );
    let create_cluster = mock!(aws_sdk_rds::Client::create_db_cluster)
        .match_requests(|r| {
            r.db_subnet_group_name() == Some("app-db-subnets")
                && r.vpc_security_group_ids() == ["sg-0a1"]
                && r.db_cluster_parameter_group_name() == Some("app-apg15")
                && r.kms_key_id() == Some(KEY)
                && r.deletion_protection() == Some(false)
                && r.tags().len() == 1
                // A secondary takes its credentials from the global database: RDS refuses a
                // password ("Cannot specify password for cross region replication cluster",
                // crossplane-contrib/provider-aws#2072).
                && r.master_username().is_none()
                && r.master_user_password().is_none()
        })
        .then_output(|| CreateDbClusterOutput::builder().build());
    let create_instance = mock!(aws_sdk_rds::Client::create_db_instance)
        .match_requests(|r| {
            r.db_parameter_group_name() == Some("app-apg15-instance")
                && r.tags().first().and_then(|t| t.value()) == Some("shop")
        })
        .then_output(|| CreateDbInstanceOutput::builder().build());
    let clients = ReprotectClients {
        dr: mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&global, &dr], |c| c
            .retry_config(no_retries())),
        primary: mock_client!(
            aws_sdk_rds,
            RuleMode::MatchAny,
            [&new, &former, &writer, &create_cluster, &create_instance],
            |c| c.retry_config(no_retries())
        ),
    };

    let plan = handle(StepRequest::new(Action::Plan), &config, &clients)
        .await
        .unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert!(
        plan.summary.contains(
            "DB subnet group app-db-subnets (former primary app-primary), security groups sg-0a1 (former primary app-primary), cluster parameter group app-apg15 (former primary app-primary), deletion protection off (REPROTECT_DELETION_PROTECTION), tags app=shop (former primary app-primary)"
        ),
        "{}",
        plan.summary
    );
    assert!(
        plan.warnings.iter().any(|w| w.contains("is Multi-AZ")),
        "{:?}",
        plan.warnings
    );

    let apply = handle(StepRequest::new(Action::Apply), &config, &clients)
        .await
        .unwrap();
    assert!(apply.changed);
    assert_eq!(
        (create_cluster.num_calls(), create_instance.num_calls()),
        (1, 1)
    );
}
