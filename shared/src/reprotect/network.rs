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

use aws_sdk_rds::types::Tag;
use serde::{Deserialize, Serialize};

pub use super::former::{read_cluster, read_instance, read_retired, Former, FormerPrimary};
use crate::config::{self, ConfigError, Source};

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
#[path = "placement_tests.rs"]
mod tests;
