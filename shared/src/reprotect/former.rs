//! The former primary: the DB instance or cluster a new standby replaces in the standby's Region,
//! read for the network and settings the standby is created with ([`super::network`]). A read
//! never fails the step: what it gave is a [`FormerPrimary`], an unreadable one with its error.
//! AWS: "DescribeDBInstances", https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html;
//! "DescribeDBClusters", https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusters.html.

use std::collections::BTreeMap;

use aws_sdk_rds::operation::describe_db_clusters::DescribeDBClustersError;
use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;
use aws_sdk_rds::types::{DbCluster, DbInstance, Tag};

use crate::error::AwsCallError;

/// The former primary's settings, as RDS describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Former {
    pub identifier: String,
    pub db_subnet_group: Option<String>,
    pub vpc_security_group_ids: Vec<String>,
    /// Its own DB parameter group; an engine default (`default.*`) is left out, RDS gives the
    /// standby its Region's own.
    pub parameter_group: Option<String>,
    pub cluster_parameter_group: Option<String>,
    /// Its own option group; an engine default (`default:*`) is left out likewise.
    pub option_group: Option<String>,
    /// Its KMS key, when its storage is encrypted.
    pub kms_key_id: Option<String>,
    pub deletion_protection: Option<bool>,
    pub multi_az: Option<bool>,
    /// Its tags, without the `aws:` ones RDS does not let anyone set.
    pub tags: BTreeMap<String, String>,
}

/// What reading the former primary gave.
#[derive(Debug, Clone, PartialEq)]
pub enum FormerPrimary {
    /// `REPROTECT_FORMER_PRIMARY_ID` is empty.
    NotNamed,
    Found(Former),
    /// RDS answered it does not exist in that Region.
    NotFound(String),
    /// The read failed (the Region may be the one that failed); the error as text.
    Unreadable {
        identifier: String,
        error: String,
    },
}

/// Reads the former primary DB instance `identifier` with `client` (of the standby's Region).
/// Never an error: a failed read is [`FormerPrimary::Unreadable`] with its text.
pub async fn read_instance(client: &aws_sdk_rds::Client, identifier: &str) -> FormerPrimary {
    match client
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
    {
        Ok(output) => match output.db_instances().first() {
            Some(instance) => FormerPrimary::Found(Former::of_instance(instance)),
            None => FormerPrimary::NotFound(identifier.to_owned()),
        },
        Err(error) => match error.as_service_error() {
            Some(DescribeDBInstancesError::DbInstanceNotFoundFault(_)) => {
                FormerPrimary::NotFound(identifier.to_owned())
            }
            _ => FormerPrimary::Unreadable {
                identifier: identifier.to_owned(),
                error: AwsCallError::new("DescribeDBInstances", &error).to_string(),
            },
        },
    }
}

/// Reads the former primary DB cluster `identifier`, and its writer DB instance for the DB
/// parameter group (that second read failing leaves the group out). Never an error, as above.
pub async fn read_cluster(client: &aws_sdk_rds::Client, identifier: &str) -> FormerPrimary {
    let cluster = match client
        .describe_db_clusters()
        .db_cluster_identifier(identifier)
        .send()
        .await
    {
        Ok(output) => match output.db_clusters().first() {
            Some(cluster) => cluster.clone(),
            None => return FormerPrimary::NotFound(identifier.to_owned()),
        },
        Err(error) => {
            return match error.as_service_error() {
                Some(DescribeDBClustersError::DbClusterNotFoundFault(_)) => {
                    FormerPrimary::NotFound(identifier.to_owned())
                }
                _ => FormerPrimary::Unreadable {
                    identifier: identifier.to_owned(),
                    error: AwsCallError::new("DescribeDBClusters", &error).to_string(),
                },
            }
        }
    };
    let writer_id = cluster
        .db_cluster_members()
        .iter()
        .find(|m| m.is_cluster_writer() == Some(true))
        .or_else(|| cluster.db_cluster_members().first())
        .and_then(|m| m.db_instance_identifier())
        .map(str::to_owned);
    let writer = match writer_id {
        Some(id) => client
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .ok()
            .and_then(|output| output.db_instances().first().cloned()),
        None => None,
    };
    FormerPrimary::Found(Former::of_cluster(&cluster, writer.as_ref()))
}

fn tags_of(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|tag| Some((tag.key()?.to_owned(), tag.value().unwrap_or("").to_owned())))
        .filter(|(key, _)| !key.to_ascii_lowercase().starts_with("aws:"))
        .collect()
}

fn own(name: Option<&str>, default_prefix: &str) -> Option<String> {
    name.filter(|n| !n.is_empty() && !n.starts_with(default_prefix))
        .map(str::to_owned)
}

impl Former {
    /// A DB instance's settings (`DescribeDBInstances`).
    pub fn of_instance(instance: &DbInstance) -> Self {
        Former {
            identifier: instance
                .db_instance_identifier()
                .unwrap_or_default()
                .to_owned(),
            db_subnet_group: instance
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .map(str::to_owned),
            vpc_security_group_ids: instance
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
                .collect(),
            parameter_group: own(
                instance
                    .db_parameter_groups()
                    .first()
                    .and_then(|g| g.db_parameter_group_name()),
                "default.",
            ),
            cluster_parameter_group: None,
            option_group: own(
                instance
                    .option_group_memberships()
                    .first()
                    .and_then(|g| g.option_group_name()),
                "default:",
            ),
            kms_key_id: instance
                .storage_encrypted()
                .unwrap_or(false)
                .then(|| instance.kms_key_id().map(str::to_owned))
                .flatten(),
            deletion_protection: instance.deletion_protection(),
            multi_az: instance.multi_az(),
            tags: tags_of(instance.tag_list()),
        }
    }

    /// A DB cluster's settings (`DescribeDBClusters`); `writer`, its writer DB instance when
    /// read, gives the DB parameter group of the secondary's instance.
    pub fn of_cluster(cluster: &DbCluster, writer: Option<&DbInstance>) -> Self {
        Former {
            identifier: cluster
                .db_cluster_identifier()
                .unwrap_or_default()
                .to_owned(),
            db_subnet_group: cluster.db_subnet_group().map(str::to_owned),
            vpc_security_group_ids: cluster
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
                .collect(),
            parameter_group: writer.and_then(|instance| {
                own(
                    instance
                        .db_parameter_groups()
                        .first()
                        .and_then(|g| g.db_parameter_group_name()),
                    "default.",
                )
            }),
            cluster_parameter_group: own(cluster.db_cluster_parameter_group(), "default."),
            option_group: None,
            kms_key_id: cluster
                .storage_encrypted()
                .unwrap_or(false)
                .then(|| cluster.kms_key_id().map(str::to_owned))
                .flatten(),
            deletion_protection: cluster.deletion_protection(),
            multi_az: cluster.multi_az(),
            tags: tags_of(cluster.tag_list()),
        }
    }
}

/// The newest instance named `<name>-retired-YYYYMMDDHHMM` ([`super::retire::retired_name`]) in the
/// client's Region, listed with `DescribeDBInstances`.
pub async fn read_retired(client: &aws_sdk_rds::Client, name: &str) -> FormerPrimary {
    let prefix = format!("{name}{}", super::retire::RETIRED_INFIX);
    let mut pages = client.describe_db_instances().into_paginator().send();
    let mut newest: Option<DbInstance> = None;
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => {
                for instance in page.db_instances() {
                    let id = instance.db_instance_identifier().unwrap_or_default();
                    if id.starts_with(&prefix)
                        && newest
                            .as_ref()
                            .is_none_or(|n| n.db_instance_identifier().unwrap_or_default() < id)
                    {
                        newest = Some(instance.clone());
                    }
                }
            }
            Err(error) => {
                return FormerPrimary::Unreadable {
                    identifier: format!("{prefix}*"),
                    error: AwsCallError::new("DescribeDBInstances", &error).to_string(),
                }
            }
        }
    }
    match newest {
        Some(instance) => FormerPrimary::Found(Former::of_instance(&instance)),
        None => FormerPrimary::NotFound(format!("{prefix}*")),
    }
}
