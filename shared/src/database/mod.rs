//! The database step: promote the DR read replica, or move an Aurora Global Database's writer to
//! the DR region.
//!
//! Idempotency comes from reading state first: an instance that is no longer a replica is never
//! promoted again, and a global cluster whose DR member is already the writer, or whose failover is
//! already under way, is left alone.

use aws_config::SdkConfig;
use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;
use aws_sdk_rds::operation::promote_read_replica::PromoteReadReplicaError;
use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError, Source};
use crate::error::{AwsCallError, ErrorKind, StepError};
use crate::rds_status::Stuck;
use crate::request::{Action, DatabaseMode, StepRequest};
use crate::result::StepResult;

pub const STEP: &str = "promote-replica";

/// Statuses in which a DB instance that is no longer a replica accepts writes. RDS keeps an
/// instance serving while it takes a backup (the one AWS takes during a promotion when the
/// replica had automated backups off), applies a modification without a reboot, or configures
/// monitoring, IAM authentication or log exports; `rebooting`, `upgrading`, `storage-full`,
/// `stopped` and the failure statuses do not serve. Status list: "Viewing Amazon RDS DB instance
/// status", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html
pub const WRITABLE_INSTANCE_STATUSES: &[&str] = &[
    "available",
    "backing-up",
    "modifying",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "storage-optimization",
    "maintenance",
    "resetting-master-credentials",
];

/// Whether a standalone DB instance in `status` accepts writes (see
/// [`WRITABLE_INSTANCE_STATUSES`]).
pub fn instance_accepts_writes(status: &str) -> bool {
    WRITABLE_INSTANCE_STATUSES.contains(&status)
}

/// The DB cluster names in a `DB_DR_CLUSTER_ID` value: one name, or several separated by commas.
/// With several, the DR cluster is the one that is a member of the global cluster
/// ([`member_among`]): after a failover and a re-protect, the primary region's secondary is either
/// the former primary cluster (Aurora rejoined it) or the one re-protect added, and fail back
/// names both. One region holds at most one cluster of a global database ("Amazon Aurora Global
/// Database", https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.html),
/// so at most one of them is a member.
pub fn dr_cluster_candidates(value: &str) -> Vec<&str> {
    value.split(',').map(str::trim).collect()
}

/// The first of `candidates` that is a member of `global` (the DB cluster name at the end of a
/// member's `DBClusterArn`), or `None`.
pub fn member_among<'a>(
    global: &aws_sdk_rds::types::GlobalCluster,
    candidates: &[&'a str],
) -> Option<&'a str> {
    candidates.iter().copied().find(|name| {
        global.global_cluster_members().iter().any(|member| {
            member
                .db_cluster_arn()
                .is_some_and(|arn| arn.ends_with(&format!(":cluster:{name}")))
        })
    })
}

/// What the recovery plan names as its database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// No database in this plan (flip-dns only; promote-replica refuses it).
    None,
    /// An RDS DB instance read replica in the DR region.
    Instance {
        replica_id: String,
        max_lag_seconds: u64,
        backup_retention_days: i32,
    },
    /// An Aurora Global Database and its secondary cluster in the DR region.
    AuroraGlobal {
        global_cluster_id: String,
        /// `DB_DR_CLUSTER_ID` as configured: one cluster name, or several separated by commas
        /// (fail back: the primary region's former writer or the secondary re-protect added),
        /// of which the one that is a member of the global cluster is the DR cluster
        /// ([`dr_cluster_candidates`]).
        dr_cluster_id: String,
    },
}

impl DatabaseConfig {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        match config::required(source, "DB_KIND")?.as_str() {
            "none" => Ok(DatabaseConfig::None),
            "rds-instance" => Ok(DatabaseConfig::Instance {
                replica_id: config::required(source, "DB_REPLICA_INSTANCE_ID")?,
                max_lag_seconds: config::parsed(source, "DB_MAX_REPLICA_LAG_SECONDS", 300)?,
                backup_retention_days: match config::parsed(source, "DB_BACKUP_RETENTION_DAYS", 7)?
                {
                    days @ 1..=35 => days,
                    other => {
                        return Err(ConfigError::Invalid {
                            name: "DB_BACKUP_RETENTION_DAYS",
                            reason: format!("{other} is outside 1..=35"),
                        })
                    }
                },
            }),
            "aurora-global" => {
                let dr_cluster_id = config::required(source, "DB_DR_CLUSTER_ID")?;
                if dr_cluster_id.split(',').any(|name| name.trim().is_empty()) {
                    return Err(ConfigError::Invalid {
                        name: "DB_DR_CLUSTER_ID",
                        reason: format!(
                            "{dr_cluster_id:?} has an empty cluster name (one name, or names separated by single commas)"
                        ),
                    });
                }
                Ok(DatabaseConfig::AuroraGlobal {
                    global_cluster_id: config::required(source, "DB_GLOBAL_CLUSTER_ID")?,
                    dr_cluster_id,
                })
            }
            other => Err(ConfigError::Invalid {
                name: "DB_KIND",
                reason: format!("{other:?} is not one of rds-instance, aurora-global, none"),
            }),
        }
    }
}

/// The DR region's clients this step uses.
#[derive(Debug, Clone)]
pub struct DatabaseClients {
    pub rds: aws_sdk_rds::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl DatabaseClients {
    /// `dr` must be configured for the DR region.
    pub fn new(dr: &SdkConfig) -> Self {
        DatabaseClients {
            rds: aws_sdk_rds::Client::new(dr),
            cloudwatch: aws_sdk_cloudwatch::Client::new(dr),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DatabaseError {
    #[error("the recovery plan names no database (DB_KIND=none)")]
    NoDatabase,
    #[error("DB instance {0} not found in the DR region")]
    InstanceNotFound(String),
    #[error("DB cluster {0} not found in the DR region")]
    ClusterNotFound(String),
    #[error("global cluster {0} not found")]
    GlobalClusterNotFound(String),
    #[error("DB cluster {cluster} is not a member of global cluster {global_cluster}")]
    NotAMember {
        cluster: String,
        global_cluster: String,
    },
    /// `database_mode: switchover` asked of a deployment whose database cannot switch over.
    #[error("database_mode switchover applies only to an Aurora Global Database (DB_KIND=aurora-global); this deployment's database is an RDS read replica, which can only be promoted: leave database_mode out or set it to failover")]
    SwitchoverNotApplicable,
    /// `force: true` asked of an Aurora Global Database, whose plan has no replica lag check to
    /// override: refused rather than ignored.
    #[error("force overrides only the replica lag check of an RDS read replica (DB_KIND=rds-instance); this deployment's database is an Aurora Global Database, whose failover has no such check (it fails over with allow-data-loss, and a plan refusal such as a secondary without a DB instance cannot be forced): leave force out or set it to false")]
    ForceNotApplicable,
    #[error("{0}")]
    NotReady(String),
    #[error("refused: {}", .0.join("; "))]
    Refused(Vec<String>),
    /// The DR instance or cluster is in a status RDS does not leave by itself, or Aurora is
    /// cancelling the writer move (`DrFailover.AwsError`): the wait is over ([`crate::rds_status`]).
    #[error(transparent)]
    Stuck(#[from] Stuck),
    /// Aurora is cancelling the global cluster's switchover or failover (`FailoverState`
    /// `cancelling`), or has cancelled it and rolled back (no `FailoverState` while a stage waits
    /// for the move, the DR cluster still a secondary): the writer does not move
    /// (`DrFailover.AwsError`).
    #[error("{0}")]
    WriterMoveCancelled(String),
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl StepError for DatabaseError {
    fn kind(&self) -> ErrorKind {
        match self {
            DatabaseError::NoDatabase
            | DatabaseError::SwitchoverNotApplicable
            | DatabaseError::ForceNotApplicable => ErrorKind::InvalidInput,
            DatabaseError::InstanceNotFound(_)
            | DatabaseError::ClusterNotFound(_)
            | DatabaseError::GlobalClusterNotFound(_)
            | DatabaseError::NotAMember { .. } => ErrorKind::NotFound,
            DatabaseError::NotReady(_) => ErrorKind::NotReady,
            DatabaseError::Refused(_) => ErrorKind::Refused,
            DatabaseError::Stuck(_) | DatabaseError::WriterMoveCancelled(_) => ErrorKind::Aws,
            DatabaseError::Aws(error) => error.kind(),
        }
    }
}

/// What the step found and did; the same shape for every action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseDetail {
    /// `rds-instance` or `aurora-global`.
    pub kind: String,
    /// The DR replica instance, or the DR cluster.
    pub identifier: String,
    pub status: String,
    /// Accepts writes in the DR region.
    pub writable: bool,
    /// The instance's replication source, while it is a replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_source: Option<String>,
    /// The `ReplicaLag` datapoint the lag gate rests on (`replication::judge`): the newest while
    /// RDS reports replication running, else the last valid one; 0 with the source's
    /// `OldestReplicationSlotLag` for an idle PostgreSQL source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_lag_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_lag_at: Option<String>,
    /// Age of that datapoint, in seconds, when the gate read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_lag_age_seconds: Option<u64>,
    /// RDS's `StatusInfos` `read replication` status of the replica (`replicating`, `error`,
    /// `stopped`, `terminated`, ...), its `Normal` flag and its message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_normal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_message: Option<String>,
    /// PostgreSQL: the source's newest `OldestReplicationSlotLag`, in bytes, when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_wal_lag_bytes: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_replica_lag_seconds: Option<u64>,
    /// Aurora: the global cluster, its current writer and any failover in progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover_in_progress: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<DatabaseMode>,
    /// RDS: the promotion will include a backup, because the replica has automated backups off
    /// and the promotion turns them on (`DB_BACKUP_RETENTION_DAYS`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backup_during_promotion: bool,
    /// Aurora: the DB instances of the DR cluster (a cluster without one cannot serve).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<usize>,
    /// Aurora, a failover's plan: the DR cluster's newest `AuroraGlobalDBReplicationLag`, in
    /// milliseconds (how far it lags the primary Region's updates: the data a failover with
    /// allow-data-loss may lose), and that datapoint's age in seconds ([`aurora::GLOBAL_LAG_METRIC`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_replication_lag_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_replication_lag_age_seconds: Option<u64>,
}

pub type DatabaseResult = StepResult<DatabaseDetail>;

/// Runs one action of the database step.
pub async fn handle(
    request: StepRequest,
    config: &DatabaseConfig,
    clients: &DatabaseClients,
) -> Result<DatabaseResult, DatabaseError> {
    let action = request.effective_action();
    match config {
        DatabaseConfig::None => Err(DatabaseError::NoDatabase),
        DatabaseConfig::Instance {
            replica_id,
            max_lag_seconds,
            backup_retention_days,
        } => {
            // Refused rather than ignored: a switchover asks for no data loss, which promoting a
            // replica does not give.
            if request.database_mode == DatabaseMode::Switchover {
                return Err(DatabaseError::SwitchoverNotApplicable);
            }
            let instance = Instance {
                replica_id,
                max_lag_seconds: *max_lag_seconds,
                backup_retention_days: *backup_retention_days,
            };
            instance.run(action, &request, clients).await
        }
        DatabaseConfig::AuroraGlobal {
            global_cluster_id,
            dr_cluster_id,
        } => {
            if request.force {
                return Err(DatabaseError::ForceNotApplicable);
            }
            let candidates = dr_cluster_candidates(dr_cluster_id);
            let dr_cluster_id = match candidates.as_slice() {
                [only] => *only,
                several => aurora::resolve(global_cluster_id, several, clients).await?,
            };
            let aurora = aurora::Aurora {
                global_cluster_id,
                dr_cluster_id,
                single_candidate: candidates.len() == 1,
            };
            aurora.run(action, &request, clients).await
        }
    }
}

/// Whether the DR database accepts writes now. flip-dns asks this before it points DNS at DR.
pub async fn writable(
    config: &DatabaseConfig,
    clients: &DatabaseClients,
) -> Result<(bool, String), DatabaseError> {
    if *config == DatabaseConfig::None {
        return Ok((true, "no database in the recovery plan".into()));
    }
    let result = handle(StepRequest::new(Action::Status), config, clients).await?;
    Ok((result.ready, result.summary))
}

fn result(request: &StepRequest, action: Action, detail: DatabaseDetail) -> DatabaseResult {
    StepResult {
        step: STEP.into(),
        action,
        dry_run: request.dry_run,
        changed: false,
        ready: detail.writable,
        refusals: Vec::new(),
        warnings: Vec::new(),
        summary: String::new(),
        detail,
        wait: None,
    }
}

struct Instance<'a> {
    replica_id: &'a str,
    max_lag_seconds: u64,
    backup_retention_days: i32,
}

#[derive(Debug)]
struct InstanceState {
    status: String,
    source: Option<String>,
    backup_retention_days: i32,
    engine: String,
    replication: Option<replication::ReplicationStatus>,
}

impl Instance<'_> {
    async fn run(
        &self,
        action: Action,
        request: &StepRequest,
        clients: &DatabaseClients,
    ) -> Result<DatabaseResult, DatabaseError> {
        let state = self.describe(clients).await?;
        let mut detail = DatabaseDetail {
            kind: "rds-instance".into(),
            identifier: self.replica_id.to_owned(),
            status: state.status.clone(),
            writable: state.source.is_none() && instance_accepts_writes(&state.status),
            replica_source: state.source.clone(),
            replica_lag_seconds: None,
            replica_lag_at: None,
            replica_lag_age_seconds: None,
            replication_status: state.replication.as_ref().map(|r| r.status.clone()),
            replication_normal: state.replication.as_ref().map(|r| r.normal),
            replication_message: state.replication.as_ref().and_then(|r| r.message.clone()),
            source_wal_lag_bytes: None,
            max_replica_lag_seconds: Some(self.max_lag_seconds),
            global_cluster: None,
            writer: None,
            failover_in_progress: None,
            mode: None,
            backup_during_promotion: state.source.is_some()
                && state.backup_retention_days == 0
                && self.backup_retention_days > 0,
            instances: None,
            global_replication_lag_ms: None,
            global_replication_lag_age_seconds: None,
        };
        // A status RDS does not leave by itself ends every wait at once, and a plan refuses it:
        // PromoteReadReplica accepts only an available replica.
        if let Some(stuck) =
            Stuck::instance(format!("DB instance {}", self.replica_id), &state.status)
        {
            if action != Action::Plan {
                return Err(stuck.into());
            }
            let mut out = result(request, action, detail);
            out.summary = stuck.to_string();
            out.refusals.push(stuck.to_string());
            return Ok(out);
        }
        let Some(source) = state.source.clone() else {
            // Already promoted: every action reports the same, and nothing is called again.
            let summary = if detail.writable && state.status == "available" {
                format!(
                    "{} is not a replica and is available: writable",
                    self.replica_id
                )
            } else if detail.writable {
                format!(
                    "{} is not a replica and accepts writes (status {}, which RDS finishes in the background)",
                    self.replica_id, state.status
                )
            } else {
                format!(
                    "{} is no longer a replica; status {} (promotion finishing)",
                    self.replica_id, state.status
                )
            };
            let mut out = result(request, action, detail);
            out.summary = summary;
            return Ok(out);
        };

        if action == Action::Status {
            let mut out = result(request, action, detail);
            out.summary = format!(
                "{} is still a read replica of {source}; status {}",
                self.replica_id, state.status
            );
            return Ok(out);
        }

        // The lag gate, read again by every plan and apply: RDS's replication status, the newest
        // ReplicaLag datapoint and, for PostgreSQL, the source's WAL position. When CloudWatch
        // cannot answer, the lag is unknown, which refuses and which `force` overrides.
        let gate = self.gate(&state, &source, clients).await;
        let (verdict, lag_error, wal_error) = match gate {
            Ok((verdict, wal, wal_error)) => {
                detail.source_wal_lag_bytes = wal;
                (Some(verdict), None, wal_error)
            }
            Err(error) => (None, Some(error.to_string()), None),
        };
        if let Some(point) = verdict.as_ref().and_then(|v| v.lag.as_ref()) {
            // A -1 is no lag (replication not active): its age is kept, its value is not.
            detail.replica_lag_seconds = (point.value >= 0.0).then_some(point.value);
            detail.replica_lag_at = Some(point.at.clone());
            detail.replica_lag_age_seconds = Some(point.age_seconds);
        }
        let refusals = match (&verdict, &lag_error) {
            _ if request.force => Vec::new(),
            (_, Some(error)) => vec![format!(
                "replica lag of {} is unknown: CloudWatch did not answer ({error}); to promote anyway, accepting the loss it may hide, start the failover again with \"force\": true (the refused report's force_command)",
                self.replica_id
            )],
            (Some(verdict), None) => verdict.refusal.iter().cloned().collect(),
            (None, None) => Vec::new(),
        };
        let lag_text = verdict
            .as_ref()
            .map(|v| v.text.clone())
            .unwrap_or_else(|| "lag unknown".into());
        let mut warnings = Vec::new();
        if let Some(error) = &lag_error {
            warnings.push(format!("ReplicaLag could not be read: {error}"));
        }
        warnings.extend(wal_error);
        if let Some(refusal) = verdict.as_ref().and_then(|v| v.refusal.as_ref()) {
            if request.force {
                warnings.push(format!("forced past: {refusal}"));
            }
        }
        if let Some(warning) = verdict.as_ref().and_then(|v| v.warning.clone()) {
            warnings.push(warning);
        }
        if detail.backup_during_promotion {
            warnings.push(format!(
                "{} has automated backups off; promoting it with backup retention {} days makes RDS take a backup during the promotion, which adds time that grows with the data changed since the last backup (the instance accepts writes while it is backing-up)",
                self.replica_id, self.backup_retention_days
            ));
        }

        if action == Action::Plan {
            let mut out = result(request, action, detail);
            out.summary = format!(
                "{} is a read replica of {source} ({lag_text}, status {}); apply would promote it{}",
                self.replica_id,
                state.status,
                if request.force { " (forced)" } else { "" }
            );
            out.refusals = refusals;
            out.warnings = warnings;
            return Ok(out);
        }

        if state.status != "available" {
            // AWS promotes only an available replica ("a read replica cannot be promoted ...
            // when it is in the backing-up status", PromoteReadReplica API reference); a
            // promotion already under way shows the replica `modifying`. Either way: wait.
            return Err(DatabaseError::NotReady(format!(
                "{} is a replica in status {}; RDS promotes it only once it is available",
                self.replica_id, state.status
            )));
        }
        // Checked at apply time too, once the replica is available: the gate as RDS reads now.
        if !refusals.is_empty() {
            return Err(DatabaseError::Refused(refusals));
        }
        self.promote(clients).await?;
        let mut out = result(request, action, detail);
        out.changed = true;
        out.ready = false;
        out.summary = format!(
            "promotion of {} started ({lag_text}, backup retention {} days{})",
            self.replica_id,
            self.backup_retention_days,
            if out.detail.backup_during_promotion {
                "; RDS takes a backup during this promotion"
            } else {
                ""
            }
        );
        out.warnings = warnings;
        Ok(out)
    }

    async fn describe(&self, clients: &DatabaseClients) -> Result<InstanceState, DatabaseError> {
        let output = clients
            .rds
            .describe_db_instances()
            .db_instance_identifier(self.replica_id)
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(DescribeDBInstancesError::DbInstanceNotFoundFault(_)) => {
                    DatabaseError::InstanceNotFound(self.replica_id.to_owned())
                }
                _ => AwsCallError::new("DescribeDBInstances", &error).into(),
            })?;
        let instance = output
            .db_instances()
            .first()
            .ok_or_else(|| DatabaseError::InstanceNotFound(self.replica_id.to_owned()))?;
        Ok(InstanceState {
            status: instance
                .db_instance_status()
                .unwrap_or("unknown")
                .to_owned(),
            source: instance
                .read_replica_source_db_instance_identifier()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            backup_retention_days: instance.backup_retention_period().unwrap_or(0),
            engine: instance.engine().unwrap_or_default().to_owned(),
            replication: replication::ReplicationStatus::of(instance),
        })
    }

    async fn promote(&self, clients: &DatabaseClients) -> Result<(), DatabaseError> {
        clients
            .rds
            .promote_read_replica()
            .db_instance_identifier(self.replica_id)
            .backup_retention_period(self.backup_retention_days)
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(PromoteReadReplicaError::DbInstanceNotFoundFault(_)) => {
                    DatabaseError::InstanceNotFound(self.replica_id.to_owned())
                }
                Some(PromoteReadReplicaError::InvalidDbInstanceStateFault(fault)) => {
                    DatabaseError::NotReady(format!(
                        "{} cannot be promoted now: {}",
                        self.replica_id,
                        fault.message().unwrap_or("invalid instance state")
                    ))
                }
                _ => AwsCallError::new("PromoteReadReplica", &error).into(),
            })?;
        Ok(())
    }
}

mod aurora;
pub mod replication;

#[cfg(test)]
mod strict_tests;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod replication_tests;
