//! Where the new standby lives: the network and settings the replica (or secondary cluster) is
//! created with, taken from the former primary it replaces and from configuration.
//!
//! The former primary is the instance or cluster the standby replaces in the Region the standby
//! goes into (re-protect: the old primary in the primary Region; fail back's standby: the former
//! DR writer in the DR Region), so its DB subnet group, VPC security groups and KMS key, all
//! regional, are the right ones there. It is read with `DescribeDBInstances` /
//! `DescribeDBClusters` (its tags are the output's `TagList`); a setting given by configuration
//! wins over what was read. Without a DB subnet group RDS creates the replica in the Region's
//! default VPC, or refuses it where there is none ("CreateDBInstanceReadReplica",
//! `DBSubnetGroupName`,
//! https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html;
//! "CreateDBCluster", `DBSubnetGroupName`,
//! https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html), so the
//! plan refuses when neither source names one. The former primary's Region may be the one that
//! failed: a read that fails is reported with the refusal or warning, never an error of the step.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_rds::operation::describe_db_clusters::DescribeDBClustersError;
use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;
use aws_sdk_rds::types::{DbCluster, DbInstance, Tag};
use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError, Source};
use crate::error::AwsCallError;

/// The settings configuration gives (each optional; configuration wins over the former primary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkConfig {
    /// `REPROTECT_FORMER_PRIMARY_ID`: the DB instance (`rds-instance`) or DB cluster
    /// (`aurora-global`) the standby replaces, in the Region the standby is created in; its
    /// settings are read and carried.
    pub former_primary_id: Option<String>,
    /// `REPROTECT_DB_SUBNET_GROUP`: a DB subnet group of that Region (`default` for its default
    /// VPC).
    pub db_subnet_group: Option<String>,
    /// `REPROTECT_VPC_SECURITY_GROUP_IDS`: security group ids (`sg-...`), comma separated.
    pub vpc_security_group_ids: Option<Vec<String>>,
    /// `REPROTECT_OPTION_GROUP` (`rds-instance` only; Aurora has none).
    pub option_group: Option<String>,
    /// `REPROTECT_CLUSTER_PARAMETER_GROUP` (`aurora-global` only): the secondary cluster's DB
    /// cluster parameter group.
    pub cluster_parameter_group: Option<String>,
    /// `REPROTECT_DELETION_PROTECTION`: `true`/`false`.
    pub deletion_protection: Option<bool>,
    /// `REPROTECT_MULTI_AZ`: `true`/`false` (`rds-instance` only).
    pub multi_az: Option<bool>,
    /// `REPROTECT_TAGS`: a JSON object of tag keys to values, e.g. `{"app": "shop"}`.
    pub tags: Option<BTreeMap<String, String>>,
}

/// RDS's tag limits ("Tagging Amazon RDS resources",
/// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Tagging.html): up to 50 tags, keys
/// of 1 to 128 characters and values of up to 256, no key starting with `aws:`.
const MAX_TAGS: usize = 50;

impl NetworkConfig {
    /// Reads the variables above. Errors name the variable: a security group id not `sg-...`,
    /// a boolean not `true`/`false`, tags not a JSON object of strings or past RDS's limits.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let vpc_security_group_ids = config::optional(source, "REPROTECT_VPC_SECURITY_GROUP_IDS")
            .map(|raw| {
                let ids: Vec<String> = raw
                    .split(',')
                    .map(|id| id.trim().to_owned())
                    .filter(|id| !id.is_empty())
                    .collect();
                match ids.iter().find(|id| {
                    !id.starts_with("sg-")
                        || id.len() < 4
                        || !id[3..].chars().all(|c| c.is_ascii_alphanumeric())
                }) {
                    Some(bad) => Err(ConfigError::Invalid {
                        name: "REPROTECT_VPC_SECURITY_GROUP_IDS",
                        reason: format!(
                            "{bad:?} is not a VPC security group id (sg- and letters or digits)"
                        ),
                    }),
                    None => Ok(ids),
                }
            })
            .transpose()?;
        let flag = |name: &'static str| -> Result<Option<bool>, ConfigError> {
            config::optional(source, name)
                .map(|raw| match raw.trim() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    other => Err(ConfigError::Invalid {
                        name,
                        reason: format!("{other:?} is not true or false"),
                    }),
                })
                .transpose()
        };
        let tags = match config::optional(source, "REPROTECT_TAGS") {
            None => None,
            Some(_) => Some(config::json::<BTreeMap<String, String>>(
                source,
                "REPROTECT_TAGS",
            )?),
        };
        if let Some(tags) = &tags {
            check_tags(tags).map_err(|reason| ConfigError::Invalid {
                name: "REPROTECT_TAGS",
                reason,
            })?;
        }
        Ok(NetworkConfig {
            former_primary_id: config::optional(source, "REPROTECT_FORMER_PRIMARY_ID"),
            db_subnet_group: config::optional(source, "REPROTECT_DB_SUBNET_GROUP"),
            vpc_security_group_ids,
            option_group: config::optional(source, "REPROTECT_OPTION_GROUP"),
            cluster_parameter_group: config::optional(source, "REPROTECT_CLUSTER_PARAMETER_GROUP"),
            deletion_protection: flag("REPROTECT_DELETION_PROTECTION")?,
            multi_az: flag("REPROTECT_MULTI_AZ")?,
            tags,
        })
    }
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), String> {
    if tags.len() > MAX_TAGS {
        return Err(format!(
            "{} tags; RDS takes at most {MAX_TAGS} on a resource",
            tags.len()
        ));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 {
            return Err(format!("tag key {key:?} must have 1 to 128 characters"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(format!(
                "tag key {key:?}: keys starting with aws: are reserved for AWS"
            ));
        }
        if value.chars().count() > 256 {
            return Err(format!(
                "the value of tag {key:?} has more than 256 characters"
            ));
        }
    }
    Ok(())
}

/// One setting the standby is created with, and where it came from: the configuration variable
/// (`REPROTECT_DB_SUBNET_GROUP`, ...) or `former primary <id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting<T> {
    pub value: T,
    pub from: String,
}

/// What the standby is created with. `None`: not sent, RDS's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_subnet_group: Option<Setting<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_security_group_ids: Option<Setting<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter_group: Option<Setting<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_parameter_group: Option<Setting<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option_group: Option<Setting<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<Setting<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<Setting<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_az: Option<Setting<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Setting<BTreeMap<String, String>>>,
}

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

/// What the standby accepts besides the network: `rds-instance` takes an option group and
/// Multi-AZ; Aurora a cluster parameter group (its Multi-AZ is its number of instances). A
/// parameter group from the former primary is carried only where RDS accepts it
/// (`parameter_group_accepted`, [`super::cross_region::accepts_parameter_group`]).
#[derive(Debug, Clone, Copy)]
pub struct Accepts {
    pub option_group: bool,
    pub multi_az: bool,
    pub cluster_parameter_group: bool,
    pub parameter_group_accepted: bool,
}

/// The settings: configuration first, then the former primary. `parameter_group` and `kms_key_id`
/// are the configuration's own (`REPROTECT_PARAMETER_GROUP`, `REPROTECT_KMS_KEY_ID`); the KMS key
/// is taken from the former primary only when `encrypted` (the source is).
pub fn resolve(
    config: &NetworkConfig,
    parameter_group: Option<&str>,
    kms_key_id: Option<&str>,
    encrypted: bool,
    former: &FormerPrimary,
    accepts: Accepts,
) -> Placement {
    let former = match former {
        FormerPrimary::Found(former) => Some(former),
        _ => None,
    };
    let from_former = former
        .map(|f| format!("former primary {}", f.identifier))
        .unwrap_or_default();
    fn pick<T: Clone>(
        configured: Option<T>,
        name: &str,
        read: Option<T>,
        from_former: &str,
    ) -> Option<Setting<T>> {
        match (configured, read) {
            (Some(value), _) => Some(Setting {
                value,
                from: name.to_owned(),
            }),
            (None, Some(value)) => Some(Setting {
                value,
                from: from_former.to_owned(),
            }),
            (None, None) => None,
        }
    }
    Placement {
        db_subnet_group: pick(
            config.db_subnet_group.clone(),
            "REPROTECT_DB_SUBNET_GROUP",
            former.and_then(|f| f.db_subnet_group.clone()),
            &from_former,
        ),
        vpc_security_group_ids: pick(
            config.vpc_security_group_ids.clone(),
            "REPROTECT_VPC_SECURITY_GROUP_IDS",
            former
                .map(|f| f.vpc_security_group_ids.clone())
                .filter(|ids| !ids.is_empty()),
            &from_former,
        ),
        parameter_group: pick(
            parameter_group.map(str::to_owned),
            "REPROTECT_PARAMETER_GROUP",
            former
                .and_then(|f| f.parameter_group.clone())
                .filter(|_| accepts.parameter_group_accepted),
            &from_former,
        ),
        cluster_parameter_group: pick(
            config.cluster_parameter_group.clone(),
            "REPROTECT_CLUSTER_PARAMETER_GROUP",
            former.and_then(|f| f.cluster_parameter_group.clone()),
            &from_former,
        )
        .filter(|_| accepts.cluster_parameter_group),
        option_group: pick(
            config.option_group.clone(),
            "REPROTECT_OPTION_GROUP",
            former.and_then(|f| f.option_group.clone()),
            &from_former,
        )
        .filter(|_| accepts.option_group),
        kms_key_id: pick(
            kms_key_id.map(str::to_owned),
            "REPROTECT_KMS_KEY_ID",
            former
                .and_then(|f| f.kms_key_id.clone())
                .filter(|_| encrypted),
            &from_former,
        ),
        deletion_protection: pick(
            config.deletion_protection,
            "REPROTECT_DELETION_PROTECTION",
            former.and_then(|f| f.deletion_protection),
            &from_former,
        ),
        multi_az: pick(
            config.multi_az,
            "REPROTECT_MULTI_AZ",
            former.and_then(|f| f.multi_az),
            &from_former,
        )
        .filter(|_| accepts.multi_az),
        tags: pick(
            config.tags.clone(),
            "REPROTECT_TAGS",
            former.map(|f| f.tags.clone()).filter(|t| !t.is_empty()),
            &from_former,
        ),
    }
}

impl Placement {
    /// The tags as RDS takes them.
    pub fn rds_tags(&self) -> Option<Vec<Tag>> {
        self.tags.as_ref().map(|tags| {
            tags.value
                .iter()
                .map(|(key, value)| Tag::builder().key(key).value(value).build())
                .collect()
        })
    }
}

impl fmt::Display for Placement {
    /// `subnet group app-db (former primary app-db), security groups sg-1, sg-2 (...), ...`;
    /// a setting not sent is named with RDS's default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn one<T>(
            f: &mut fmt::Formatter<'_>,
            label: &str,
            setting: &Option<Setting<T>>,
            show: impl Fn(&T) -> String,
            default: &str,
        ) -> fmt::Result {
            match setting {
                Some(s) => write!(f, ", {label} {} ({})", show(&s.value), s.from),
                None if default.is_empty() => Ok(()),
                None => write!(f, ", {label} {default}"),
            }
        }
        match &self.db_subnet_group {
            Some(s) => write!(f, "DB subnet group {} ({})", s.value, s.from)?,
            None => write!(f, "no DB subnet group (the Region's default VPC)")?,
        }
        one(
            f,
            "security groups",
            &self.vpc_security_group_ids,
            |ids| ids.join(" "),
            "the VPC's default",
        )?;
        one(
            f,
            "cluster parameter group",
            &self.cluster_parameter_group,
            String::clone,
            "",
        )?;
        one(f, "option group", &self.option_group, String::clone, "")?;
        one(
            f,
            "deletion protection",
            &self.deletion_protection,
            |on| if *on { "on" } else { "off" }.to_owned(),
            "off",
        )?;
        one(
            f,
            "Multi-AZ",
            &self.multi_az,
            |on| if *on { "on" } else { "off" }.to_owned(),
            "",
        )?;
        one(
            f,
            "tags",
            &self.tags,
            |tags| {
                tags.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            },
            "none",
        )
    }
}

/// The refusal when no DB subnet group is known, or the warning when the former primary could
/// not be read but configuration names one: (refusals, warnings). `what` names the standby
/// (`read replica app-db-2`), `region` its Region.
pub fn findings(
    placement: &Placement,
    former: &FormerPrimary,
    what: &str,
    region: &str,
    page: &str,
) -> (Vec<String>, Vec<String>) {
    let why = match former {
        FormerPrimary::NotNamed => "no former primary is named".to_owned(),
        FormerPrimary::NotFound(id) => format!("the former primary {id} is not in {region}"),
        FormerPrimary::Unreadable { identifier, error } => {
            format!("the former primary {identifier} could not be read in {region} ({error})")
        }
        FormerPrimary::Found(former) => {
            format!("the former primary {} has none", former.identifier)
        }
    };
    if placement.db_subnet_group.is_none() {
        // How to give one first: a report cuts a long refusal at its end.
        return (
            vec![format!(
                "no DB subnet group for the {what} in {region}: RDS would put it in the default VPC, or refuse it without one ({page}, DBSubnetGroupName). Set REPROTECT_DB_SUBNET_GROUP and REPROTECT_VPC_SECURITY_GROUP_IDS, or REPROTECT_FORMER_PRIMARY_ID; {why}"
            )],
            Vec::new(),
        );
    }
    let mut warnings = Vec::new();
    if let FormerPrimary::NotFound(_) | FormerPrimary::Unreadable { .. } = former {
        warnings.push(format!(
            "{why}: the {what} takes only the settings configuration gives ({placement})"
        ));
    }
    // RDS refuses security groups of another VPC than the subnet group's
    // (InvalidParameterCombination "The DB instance and EC2 security group are in different
    // VPCs"); one source for both keeps them together.
    if let (Some(subnets), Some(groups)) = (
        &placement.db_subnet_group,
        &placement.vpc_security_group_ids,
    ) {
        if subnets.from != groups.from {
            warnings.push(format!(
                "the DB subnet group {} comes from {} and the security groups {} from {}: they must be of the same VPC, or RDS refuses the {what} (InvalidParameterCombination, different VPCs); give both by configuration (REPROTECT_DB_SUBNET_GROUP and REPROTECT_VPC_SECURITY_GROUP_IDS)",
                subnets.value,
                subnets.from,
                groups.value.join(" "),
                groups.from
            ));
        }
    }
    (Vec::new(), warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn former() -> Former {
        Former {
            identifier: "app-db".into(),
            db_subnet_group: Some("app-subnets".into()),
            vpc_security_group_ids: vec!["sg-0a".into(), "sg-0b".into()],
            parameter_group: Some("app-pg16".into()),
            cluster_parameter_group: Some("app-cluster-pg".into()),
            option_group: Some("app-options".into()),
            kms_key_id: Some("arn:aws:kms:eu-west-1:111111111111:key/k".into()),
            deletion_protection: Some(true),
            multi_az: Some(true),
            tags: BTreeMap::from([("app".into(), "shop".into())]),
        }
    }

    const INSTANCE: Accepts = Accepts {
        option_group: true,
        multi_az: true,
        cluster_parameter_group: false,
        parameter_group_accepted: false,
    };

    #[test]
    fn configuration_wins_over_the_former_primary_and_each_setting_says_where_it_came_from() {
        let config = NetworkConfig {
            vpc_security_group_ids: Some(vec!["sg-0c".into()]),
            deletion_protection: Some(false),
            ..NetworkConfig::default()
        };
        let placement = resolve(
            &config,
            None,
            None,
            true,
            &FormerPrimary::Found(former()),
            INSTANCE,
        );
        assert_eq!(
            placement.to_string(),
            "DB subnet group app-subnets (former primary app-db), security groups sg-0c (REPROTECT_VPC_SECURITY_GROUP_IDS), option group app-options (former primary app-db), deletion protection off (REPROTECT_DELETION_PROTECTION), Multi-AZ on (former primary app-db), tags app=shop (former primary app-db)"
        );
        // PostgreSQL: RDS takes no parameter group on a cross-Region replica; the key is carried.
        assert_eq!(placement.parameter_group, None);
        assert_eq!(
            placement.kms_key_id.unwrap().from,
            "former primary app-db".to_owned()
        );
        assert_eq!(
            placement.cluster_parameter_group, None,
            "an instance has none"
        );
    }

    #[test]
    fn no_subnet_group_from_anywhere_is_refused_naming_how_to_give_one() {
        for former in [
            FormerPrimary::NotNamed,
            FormerPrimary::NotFound("app-db".into()),
            FormerPrimary::Unreadable {
                identifier: "app-db".into(),
                error: "DescribeDBInstances: timed out".into(),
            },
        ] {
            let placement = resolve(
                &NetworkConfig::default(),
                None,
                None,
                false,
                &former,
                INSTANCE,
            );
            let (refusals, warnings) = findings(
                &placement,
                &former,
                "read replica app-db-2",
                "eu-west-1",
                "p",
            );
            assert!(warnings.is_empty());
            assert_eq!(refusals.len(), 1, "{former:?}");
            assert!(
                refusals[0].starts_with("no DB subnet group for the read replica app-db-2 in eu-west-1: RDS would put it in the default VPC, or refuse it without one (p, DBSubnetGroupName). Set REPROTECT_DB_SUBNET_GROUP and REPROTECT_VPC_SECURITY_GROUP_IDS, or REPROTECT_FORMER_PRIMARY_ID; "),
                "{}",
                refusals[0]
            );
            // Within what a report keeps of a note, with the longest API page it cites.
            let page = "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html";
            let (full, _) = findings(
                &placement,
                &former,
                "read replica app-db-2",
                "eu-west-1",
                page,
            );
            assert!(
                full[0].find("REPROTECT_FORMER_PRIMARY_ID; ").unwrap()
                    < crate::bound::MAX_NOTE_BYTES,
                "{}",
                full[0]
            );
        }
        // Configuration naming one: the unreadable former primary is a warning, not a refusal.
        let config = NetworkConfig {
            db_subnet_group: Some("app-subnets".into()),
            ..NetworkConfig::default()
        };
        let unreadable = FormerPrimary::Unreadable {
            identifier: "app-db".into(),
            error: "DescribeDBInstances: timed out".into(),
        };
        let placement = resolve(&config, None, None, false, &unreadable, INSTANCE);
        let (refusals, warnings) = findings(
            &placement,
            &unreadable,
            "read replica app-db-2",
            "eu-west-1",
            "p",
        );
        assert!(refusals.is_empty());
        assert_eq!(warnings, vec!["the former primary app-db could not be read in eu-west-1 (DescribeDBInstances: timed out): the read replica app-db-2 takes only the settings configuration gives (DB subnet group app-subnets (REPROTECT_DB_SUBNET_GROUP), security groups the VPC's default, deletion protection off, tags none)".to_owned()]);
    }

    #[test]
    fn a_subnet_group_and_security_groups_from_different_sources_are_a_warning() {
        let config = NetworkConfig {
            db_subnet_group: Some("new-subnets".into()),
            ..NetworkConfig::default()
        };
        let found = FormerPrimary::Found(former());
        let placement = resolve(&config, None, None, false, &found, INSTANCE);
        let (refusals, warnings) = findings(
            &placement,
            &found,
            "read replica app-db-2",
            "eu-west-1",
            "p",
        );
        assert!(refusals.is_empty());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("the DB subnet group new-subnets comes from REPROTECT_DB_SUBNET_GROUP and the security groups sg-0a sg-0b from former primary app-db: they must be of the same VPC"),
            "{}",
            warnings[0]
        );
        // Both from the former primary: nothing to say.
        let placement = resolve(
            &NetworkConfig::default(),
            None,
            None,
            false,
            &found,
            INSTANCE,
        );
        assert_eq!(
            findings(&placement, &found, "x", "eu-west-1", "p"),
            (vec![], vec![])
        );
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let bad = [("REPROTECT_VPC_SECURITY_GROUP_IDS", "sg-0a, default")];
        assert!(matches!(
            NetworkConfig::from_source(&bad),
            Err(ConfigError::Invalid {
                name: "REPROTECT_VPC_SECURITY_GROUP_IDS",
                ..
            })
        ));
        let bad = [("REPROTECT_MULTI_AZ", "yes")];
        assert!(matches!(
            NetworkConfig::from_source(&bad),
            Err(ConfigError::Invalid {
                name: "REPROTECT_MULTI_AZ",
                ..
            })
        ));
        for tags in [r#"["app"]"#, r#"{"aws:app": "x"}"#, r#"{"app": 1}"#] {
            let bad = [("REPROTECT_TAGS", tags)];
            assert!(
                matches!(
                    NetworkConfig::from_source(&bad),
                    Err(ConfigError::Invalid {
                        name: "REPROTECT_TAGS",
                        ..
                    })
                ),
                "{tags}"
            );
        }
        let good = [
            ("REPROTECT_VPC_SECURITY_GROUP_IDS", "sg-0a, sg-0b"),
            ("REPROTECT_TAGS", r#"{"app": "shop"}"#),
            ("REPROTECT_DELETION_PROTECTION", "true"),
        ];
        let config = NetworkConfig::from_source(&good).unwrap();
        assert_eq!(
            config.vpc_security_group_ids,
            Some(vec!["sg-0a".to_owned(), "sg-0b".to_owned()])
        );
        assert_eq!(config.deletion_protection, Some(true));
        assert_eq!(config.tags.unwrap()["app"], "shop");
    }
}
