//! The re-protect step: after a failover, give the DR region's database (now the writer) a standby
//! in the former primary region again.
//!
//! - RDS DB instance (`instance.rs`): a cross-Region read replica of the promoted DR instance.
//!   AWS: "Creating a read replica in a different AWS Region", Amazon RDS User Guide,
//!   https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.XRgn.html, and
//!   "CreateDBInstanceReadReplica", Amazon RDS API Reference,
//!   https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html
//! - Aurora Global Database (`aurora.rs`): the former primary cluster, when Aurora rejoined it as
//!   a secondary, or else a new secondary cluster (with one DB instance) added to the global
//!   cluster. AWS: "Adding an AWS Region to an Amazon Aurora global database",
//!   https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-attaching.html
//!
//! Idempotency comes from reading state first: a standby that exists is never created again; an
//! instance or cluster of the plan's name that is anything else (the former primary, a replica of
//! another source) is refused, never changed. Nothing here deletes, modifies or promotes anything.
//! `PreSignedUrl`, which AWS requires only between GovCloud (US) or China Regions, is not sent:
//! those Regions are not supported.

use aws_config::SdkConfig;
use serde::{Deserialize, Serialize};

use crate::bound::Listed;
use crate::config::{self, ConfigError, Regions, Source};
use crate::database::DatabaseConfig;
use crate::error::{AwsCallError, ErrorKind, StepError};
use crate::request::StepRequest;
use crate::result::StepResult;
pub use network::{NetworkConfig, Placement};

pub const STEP: &str = "reprotect-database";

/// What re-protect creates, as the recovery plan names it (by `DB_KIND`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReprotectConfig {
    /// `rds-instance`.
    Instance(InstanceConfig),
    /// `aurora-global`.
    AuroraGlobal(AuroraConfig),
}

/// An RDS DB instance's standby: a read replica of the DR instance in the primary region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// The former primary region, where the replica is created (`PRIMARY_REGION`).
    pub primary_region: String,
    /// The DR region, where the source (the promoted replica) runs (`DR_REGION`).
    pub dr_region: String,
    /// The DR instance: the writer after a failover, the new replica's source
    /// (`DB_REPLICA_INSTANCE_ID`, the same instance promote-replica promotes).
    pub source_id: String,
    /// The read replica to create in the primary region (`REPROTECT_REPLICA_INSTANCE_ID`).
    pub replica_id: String,
    /// Its DB instance class, e.g. `db.r6g.large` (`REPROTECT_INSTANCE_CLASS`).
    pub instance_class: String,
    /// Its DB parameter group in the primary region (`REPROTECT_PARAMETER_GROUP`); `None`: the
    /// engine's default group, as RDS chooses it.
    pub parameter_group: Option<String>,
    /// The KMS key of the primary region that encrypts it (`REPROTECT_KMS_KEY_ID`: key ARN, key
    /// id, alias ARN or alias name); required when the source is encrypted, refused when it is
    /// not.
    pub kms_key_id: Option<String>,
    /// `REPROTECT_RETIRE_FORMER_WRITER` (`true`/`false`, default `false`; fail back's standby
    /// step sets it when the new DR replica takes the failover's own `DbReplicaInstanceId`): a
    /// standalone instance holding the replica's name (the former DR writer, once the writer is
    /// back in the primary region) is renamed [`retire::retired_name`] first, and the replica is
    /// created under the freed name. AWS: "Renaming to replace an existing DB instance",
    /// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RenameInstance.html. Off, such
    /// an instance is refused, never changed.
    pub retire_former_writer: bool,
    /// Where the replica lives: subnet group, security groups, option group, deletion
    /// protection, Multi-AZ and tags, given or taken from the former primary ([`network`]).
    pub network: NetworkConfig,
}

/// An Aurora Global Database's standby: a secondary cluster in the primary region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuroraConfig {
    /// `PRIMARY_REGION`, where the secondary is.
    pub primary_region: String,
    /// `DR_REGION`, where the writer is after a failover.
    pub dr_region: String,
    /// `DB_GLOBAL_CLUSTER_ID`.
    pub global_cluster_id: String,
    /// `DB_DR_CLUSTER_ID`: the DR cluster, the writer after a failover; one name, or several
    /// separated by commas of which the global cluster's member is the one
    /// ([`crate::database::dr_cluster_candidates`]).
    pub dr_cluster_id: String,
    /// `REPROTECT_CLUSTER_ID`: the secondary cluster to add when Aurora did not rejoin the former
    /// primary cluster (a name no cluster in the primary region has); its DB instance is
    /// `<REPROTECT_CLUSTER_ID>-1`.
    pub secondary_cluster_id: String,
    /// `REPROTECT_INSTANCE_CLASS`: the new secondary's DB instance class.
    pub instance_class: String,
    /// `REPROTECT_KMS_KEY_ID`: the primary region's KMS key, required when the global database
    /// is encrypted, refused when it is not.
    pub kms_key_id: Option<String>,
    /// `REPROTECT_PARAMETER_GROUP`: the DB parameter group of the secondary's DB instance.
    pub parameter_group: Option<String>,
    /// Where the secondary lives: subnet group, security groups, cluster parameter group,
    /// deletion protection and tags, given or taken from the former primary cluster
    /// ([`network`]).
    pub network: NetworkConfig,
}

impl ReprotectConfig {
    /// Reads `DB_KIND`; for `rds-instance`: `DB_REPLICA_INSTANCE_ID`,
    /// `REPROTECT_REPLICA_INSTANCE_ID`, `REPROTECT_INSTANCE_CLASS`, `REPROTECT_PARAMETER_GROUP`
    /// (optional), `REPROTECT_KMS_KEY_ID` (optional) and `REPROTECT_RETIRE_FORMER_WRITER`
    /// (optional, default false; with it the replica's name must leave room for the retired
    /// name's suffix, at most 42 characters); for `aurora-global`:
    /// `DB_GLOBAL_CLUSTER_ID`, `DB_DR_CLUSTER_ID`, `REPROTECT_CLUSTER_ID`,
    /// `REPROTECT_INSTANCE_CLASS`, `REPROTECT_KMS_KEY_ID` and `REPROTECT_PARAMETER_GROUP`
    /// (optional); for both, the optional settings of [`NetworkConfig::from_source`]. Errors name
    /// the variable. `regions` come from `PRIMARY_REGION` and `DR_REGION` ([`Regions`]).
    pub fn from_source(source: &dyn Source, regions: &Regions) -> Result<Self, ConfigError> {
        let kind = config::required(source, "DB_KIND")?;
        let instance_class = config::required(source, "REPROTECT_INSTANCE_CLASS")?;
        if !instance_class.starts_with("db.") || instance_class.len() < 5 {
            return Err(ConfigError::Invalid {
                name: "REPROTECT_INSTANCE_CLASS",
                reason: format!(
                    "{instance_class:?} is not a DB instance class (for example db.r6g.large)"
                ),
            });
        }
        let kms_key_id = config::optional(source, "REPROTECT_KMS_KEY_ID");
        let network = NetworkConfig::from_source(source)?;
        match kind.as_str() {
            "rds-instance" => {
                let replica_id = config::required(source, "REPROTECT_REPLICA_INSTANCE_ID")?;
                check_instance_identifier(&replica_id).map_err(|reason| ConfigError::Invalid {
                    name: "REPROTECT_REPLICA_INSTANCE_ID",
                    reason,
                })?;
                let retire_former_writer =
                    config::parsed(source, "REPROTECT_RETIRE_FORMER_WRITER", false)?;
                if retire_former_writer {
                    retire::check_room(&replica_id).map_err(|reason| ConfigError::Invalid {
                        name: "REPROTECT_REPLICA_INSTANCE_ID",
                        reason,
                    })?;
                }
                Ok(ReprotectConfig::Instance(InstanceConfig {
                    primary_region: regions.primary.clone(),
                    dr_region: regions.dr.clone(),
                    source_id: config::required(source, "DB_REPLICA_INSTANCE_ID")?,
                    replica_id,
                    instance_class,
                    parameter_group: config::optional(source, "REPROTECT_PARAMETER_GROUP"),
                    kms_key_id,
                    retire_former_writer,
                    network,
                }))
            }
            "aurora-global" => {
                let secondary_cluster_id = config::required(source, "REPROTECT_CLUSTER_ID")?;
                // Its instance is named <cluster>-1, which must be an identifier too.
                check_instance_identifier(&format!("{secondary_cluster_id}-1")).map_err(
                    |reason| ConfigError::Invalid {
                        name: "REPROTECT_CLUSTER_ID",
                        reason,
                    },
                )?;
                Ok(ReprotectConfig::AuroraGlobal(AuroraConfig {
                    primary_region: regions.primary.clone(),
                    dr_region: regions.dr.clone(),
                    global_cluster_id: config::required(source, "DB_GLOBAL_CLUSTER_ID")?,
                    dr_cluster_id: match DatabaseConfig::from_source(source)? {
                        DatabaseConfig::AuroraGlobal { dr_cluster_id, .. } => dr_cluster_id,
                        _ => config::required(source, "DB_DR_CLUSTER_ID")?,
                    },
                    secondary_cluster_id,
                    instance_class,
                    kms_key_id,
                    parameter_group: config::optional(source, "REPROTECT_PARAMETER_GROUP"),
                    network,
                }))
            }
            other => Err(ConfigError::Invalid {
                name: "DB_KIND",
                reason: format!("{other:?} is not one of rds-instance, aurora-global"),
            }),
        }
    }

    /// The former primary region, where the standby is created.
    pub fn primary_region(&self) -> &str {
        match self {
            ReprotectConfig::Instance(c) => &c.primary_region,
            ReprotectConfig::AuroraGlobal(c) => &c.primary_region,
        }
    }

    /// The DR region, where the writer runs after a failover.
    pub fn dr_region(&self) -> &str {
        match self {
            ReprotectConfig::Instance(c) => &c.dr_region,
            ReprotectConfig::AuroraGlobal(c) => &c.dr_region,
        }
    }
}

/// RDS's rules for a DB instance identifier ("CreateDBInstance", `DBInstanceIdentifier`): 1 to 63
/// letters, digits or hyphens; a letter first; no hyphen last and no two hyphens in a row.
pub fn check_instance_identifier(identifier: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&identifier.len())
        && identifier.starts_with(|c: char| c.is_ascii_alphabetic())
        && identifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !identifier.ends_with('-')
        && !identifier.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{identifier:?} is not a DB instance identifier: 1 to 63 letters, digits or hyphens, a letter first, no hyphen last and no two in a row"
        ))
    }
}

/// RDS clients of both regions: the source is described in the DR region, the replica created in
/// the primary region.
#[derive(Debug, Clone)]
pub struct ReprotectClients {
    pub dr: aws_sdk_rds::Client,
    pub primary: aws_sdk_rds::Client,
}

impl ReprotectClients {
    /// `dr` must be configured for the DR region; the primary region's client is derived from it.
    pub fn new(dr: &SdkConfig, primary_region: &str) -> Self {
        ReprotectClients {
            dr: aws_sdk_rds::Client::new(dr),
            primary: aws_sdk_rds::Client::new(&crate::aws::in_region(dr, primary_region)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReprotectError {
    /// The DR instance, DR cluster or global cluster the plan names does not exist
    /// (`DrFailover.NotFound`); the text names which.
    #[error("{0} not found in the DR region")]
    SourceNotFound(String),
    /// A condition AWS documents as temporary (`DrFailover.NotReady`): waited out in a wait loop.
    #[error("{0}")]
    NotReady(String),
    /// The plan's refusals, when `apply` is asked anyway (`DrFailover.Refused`).
    #[error("refused: {}", .0.join("; "))]
    Refused(Vec<String>),
    /// The standby (or its replication) is in a status RDS does not leave by itself
    /// (`DrFailover.AwsError`): the wait for it is over ([`crate::rds_status`]).
    #[error(transparent)]
    Stuck(#[from] crate::rds_status::Stuck),
    /// Any other AWS error (`DrFailover.AwsError`, or `DrFailover.Retryable` when transient).
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl StepError for ReprotectError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReprotectError::SourceNotFound(_) => ErrorKind::NotFound,
            ReprotectError::NotReady(_) => ErrorKind::NotReady,
            ReprotectError::Refused(_) => ErrorKind::Refused,
            ReprotectError::Stuck(_) => ErrorKind::Aws,
            ReprotectError::Aws(error) => error.kind(),
        }
    }
}

/// The DR instance, the replica's source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceDetail {
    /// The DR instance, or the DR cluster.
    pub identifier: String,
    pub region: String,
    pub arn: String,
    pub status: String,
    /// Not a replica, in a status that serves writes: the DR region is the writer.
    pub writable: bool,
    /// Its own replication source while it is still a read replica (no failover yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_source: Option<String>,
    pub encrypted: bool,
    /// Days; RDS creates a read replica only of an instance whose automated backups are on (> 0).
    pub backup_retention_days: i32,
    /// Its engine as RDS names it (`postgres`, `mysql`, `oracle-ee`, `aurora-postgresql`, ...),
    /// which decides what a cross-Region replica accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

/// The read replica in the primary region: what the plan will create, and what exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaDetail {
    pub identifier: String,
    pub region: String,
    /// The class, parameter group and KMS key the plan creates it with.
    pub instance_class: String,
    pub parameter_group: Option<String>,
    pub kms_key_id: Option<String>,
    pub exists: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The existing instance's replication source (an ARN, as RDS gives it across Regions);
    /// Aurora: the global cluster it is a secondary of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_source: Option<String>,
    /// `StatusInfos` "read replication" of the existing replica: `replicating`, `error`, ...;
    /// Aurora: the member's `SynchronizationStatus` (`connected`, `pending-resync`), or
    /// `secondary` when Aurora reports none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<String>,
    /// Its `Normal` flag: RDS considers the replication healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_normal: Option<bool>,
    /// Its `Message`, when RDS gives one (on an error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_message: Option<String>,
    /// Aurora: the DB instances of the secondary cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<usize>,
    /// What a standby to create is created with, each setting with where it came from
    /// (configuration or the former primary); absent when none is to be created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
}

/// What the step found and did; the same shape for every action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReprotectDetail {
    /// `rds-instance`.
    pub kind: String,
    pub source: SourceDetail,
    pub replica: ReplicaDetail,
    /// The topology as it stands, one line for people: the writer and its standby.
    pub topology: String,
}

impl Listed for ReprotectDetail {
    /// One source and one replica: nothing grows with the deployment.
    fn lists(&self) -> Vec<(&'static str, Vec<bool>)> {
        Vec::new()
    }
}

pub type ReprotectResult = StepResult<ReprotectDetail>;

/// Runs one action. `plan` (and a dry run's `apply`) only reads; `apply` creates the standby
/// unless it exists; `status` answers `ready` once it replicates (RDS: the replica `available`
/// with its `read replication` status `replicating` and normal; Aurora: the secondary
/// `available`, a non-writer member of the global cluster, with a DB instance).
///
/// Errors: `SourceNotFound` (NotFound), `Refused` (apply only; plan lists the refusals),
/// `NotReady` (the source is not `available` yet, RDS answered an invalid state, or another call
/// created the standby first), `Aws` (any other AWS error, `Retryable` when transient).
pub async fn handle(
    request: StepRequest,
    config: &ReprotectConfig,
    clients: &ReprotectClients,
) -> Result<ReprotectResult, ReprotectError> {
    match config {
        ReprotectConfig::Instance(config) => instance::run(request, config, clients).await,
        ReprotectConfig::AuroraGlobal(config) => aurora::run(request, config, clients).await,
    }
}

mod aurora;
pub mod cross_region;
pub mod former;
mod instance;
pub mod network;
pub mod quota;
pub mod retire;

#[cfg(test)]
mod aurora_tests;
#[cfg(test)]
mod network_tests;
#[cfg(test)]
mod strict_tests;
#[cfg(test)]
mod tests;
