//! The Aurora Global Database side of the database step: move the writer to the DR cluster by
//! managed failover or switchover, or recognise AWS's detach and promote as done.

use std::time::SystemTime;

use aws_sdk_rds::operation::describe_db_clusters::DescribeDBClustersError;
use aws_sdk_rds::operation::describe_global_clusters::DescribeGlobalClustersError;
use aws_sdk_rds::operation::failover_global_cluster::FailoverGlobalClusterError;
use aws_sdk_rds::operation::switchover_global_cluster::SwitchoverGlobalClusterError;
use aws_sdk_rds::types::{FailoverStatus, GlobalCluster};

use super::{replication, result, DatabaseClients, DatabaseDetail, DatabaseError, DatabaseResult};
use crate::error::AwsCallError;
use crate::rds_status::Stuck;
use crate::request::{Action, DatabaseMode, StepRequest};

/// Maps the service errors that `FailoverGlobalCluster` and `SwitchoverGlobalCluster` share (each
/// operation has its own error enum with the same four faults) onto [`DatabaseError`]: the global
/// cluster or the DR cluster not found, or either in a state that cannot move its writer now (a
/// wait). Anything else is the operation's [`AwsCallError`].
macro_rules! writer_move_error {
    ($aurora:expr, $error:expr, $kind:ident, $operation:literal, $not_ready:expr) => {
        match $error.as_service_error() {
            Some($kind::GlobalClusterNotFoundFault(_)) => {
                DatabaseError::GlobalClusterNotFound($aurora.global_cluster_id.to_owned())
            }
            Some($kind::DbClusterNotFoundFault(_)) => {
                DatabaseError::ClusterNotFound($aurora.dr_cluster_id.to_owned())
            }
            Some($kind::InvalidGlobalClusterStateFault(fault)) => $not_ready(fault.message()),
            Some($kind::InvalidDbClusterStateFault(fault)) => $not_ready(fault.message()),
            _ => AwsCallError::new($operation, &$error).into(),
        }
    };
}

/// "FailoverState", Amazon RDS API Reference: the states of a global cluster's switchover or
/// failover.
/// How many of the stage's longest poll intervals (`wait.max_poll_seconds`) after the database
/// stage began a move that is neither under way nor done counts as rolled back
/// ([`Aurora::rolled_back`]).
const MOVE_SETTLE_POLLS: u64 = 2;
/// The least time, in seconds, after the database stage began before a move that is neither
/// under way nor done counts as rolled back: a describe right after the request may not show
/// the `FailoverState` yet.
const MOVE_SETTLE_MIN_SECONDS: u64 = 5;

/// The CloudWatch metric of an Aurora global database's secondary cluster that says how far it
/// lags the primary Region's updates, in milliseconds (namespace `AWS/RDS`, dimension
/// `DBClusterIdentifier`, published in the secondary's Region: [`GLOBAL_LAG_PAGE`]).
pub const GLOBAL_LAG_METRIC: &str = "AuroraGlobalDBReplicationLag";

/// "Amazon CloudWatch metrics for Amazon Aurora", cluster-level metrics.
const GLOBAL_LAG_PAGE: &str =
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html";

const FAILOVER_STATE_PAGE: &str =
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverState.html";

#[derive(Debug)]
struct ClusterState {
    status: String,
    /// DB instances in the cluster (`DBClusterMembers`).
    instances: usize,
    /// Not a member of any global cluster.
    standalone: bool,
    /// `EngineVersion`, e.g. `15.4`.
    engine_version: Option<String>,
}

pub(super) struct Aurora<'a> {
    pub(super) global_cluster_id: &'a str,
    pub(super) dr_cluster_id: &'a str,
    /// `DB_DR_CLUSTER_ID` named this cluster only. With several candidates (fail back), a
    /// standalone one is a cluster Aurora did not rejoin, never a detached and promoted writer.
    pub(super) single_candidate: bool,
}

/// Which of `candidates` (more than one) is the global cluster's member: errors
/// `GlobalClusterNotFound`, or `NotAMember` naming them all when none is.
pub(super) async fn resolve<'a>(
    global_cluster_id: &str,
    candidates: &[&'a str],
    clients: &DatabaseClients,
) -> Result<&'a str, DatabaseError> {
    let lookup = Aurora {
        global_cluster_id,
        dr_cluster_id: candidates.first().copied().unwrap_or_default(),
        single_candidate: false,
    };
    let global = lookup.describe_global(clients).await?;
    super::member_among(&global, candidates).ok_or_else(|| DatabaseError::NotAMember {
        cluster: candidates.join(" or "),
        global_cluster: global_cluster_id.to_owned(),
    })
}

/// "Upgrading an Amazon Aurora global database", Amazon Aurora User Guide: a managed cross-Region
/// switchover or failover needs the primary and secondary clusters on the same major and minor
/// engine version (patch levels may differ for some minor versions).
pub const GLOBAL_UPGRADE_PAGE: &str =
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-upgrade.html";

/// The major and minor parts of an engine version: `15.4` -> `15.4`, `8.0.mysql_aurora.3.05.2`
/// -> `8.0.mysql_aurora.3.05` (Aurora MySQL's minor version is the `3.05` of its own numbering).
pub fn major_minor(version: &str) -> String {
    let parts: Vec<&str> = version.split('.').collect();
    match parts
        .iter()
        .position(|part| part.starts_with("mysql_aurora"))
    {
        Some(at) => parts[..(at + 3).min(parts.len())].join("."),
        None => parts[..2.min(parts.len())].join("."),
    }
}

/// The refusal of a managed switchover or failover to a cluster whose engine version differs from
/// the global cluster's (the writer's) in its major or minor part; `None` when either version is
/// unknown or they match. AWS answers such a call with `InvalidDBClusterStateFault` ("must be on
/// the same engine version as the current primary cluster").
fn version_refusal(
    dr_cluster_id: &str,
    dr_version: Option<&str>,
    global: &GlobalCluster,
    mode: DatabaseMode,
) -> Option<String> {
    let dr_version = dr_version?;
    let global_version = global.engine_version()?;
    (major_minor(dr_version) != major_minor(global_version)).then(|| {
        format!(
            "DB cluster {dr_cluster_id} runs engine version {dr_version} and global cluster {} (its writer) {global_version}: Aurora {} only between clusters of the same major and minor engine version ({GLOBAL_UPGRADE_PAGE}); upgrade {dr_cluster_id} first, or detach and promote it (RemoveFromGlobalCluster) by hand",
            global.global_cluster_identifier().unwrap_or("?"),
            match mode {
                DatabaseMode::Failover => "fails over (FailoverGlobalCluster)",
                DatabaseMode::Switchover => "switches over (SwitchoverGlobalCluster)",
            }
        )
    })
}

impl Aurora<'_> {
    pub(super) async fn run(
        &self,
        action: Action,
        request: &StepRequest,
        clients: &DatabaseClients,
    ) -> Result<DatabaseResult, DatabaseError> {
        let cluster = self.describe_dr_cluster(clients).await?;
        if let Some(stuck) = Stuck::cluster(
            format!("DB cluster {}", self.dr_cluster_id),
            &cluster.status,
        ) {
            if action != Action::Plan {
                return Err(stuck.into());
            }
        }
        // AWS's "detach and promote" for an outage the managed failover cannot handle
        // (RemoveFromGlobalCluster on the secondary, "Recovering an Amazon Aurora global
        // database from an unplanned outage",
        // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html):
        // the DR cluster is then a standalone writer, and the database step is done.
        let global = match self.describe_global(clients).await {
            Ok(global) => Some(global),
            Err(DatabaseError::GlobalClusterNotFound(_))
                if cluster.standalone && self.single_candidate =>
            {
                None
            }
            Err(error) => return Err(error),
        };
        let member = global.as_ref().and_then(|global| {
            global.global_cluster_members().iter().find(|m| {
                m.db_cluster_arn()
                    .is_some_and(|arn| arn.ends_with(&format!(":cluster:{}", self.dr_cluster_id)))
            })
        });
        let (Some(global), Some(member)) = (global.as_ref(), member) else {
            if cluster.standalone && self.single_candidate {
                return Ok(self.detached(request, action, &cluster));
            }
            return Err(DatabaseError::NotAMember {
                cluster: self.dr_cluster_id.to_owned(),
                global_cluster: self.global_cluster_id.to_owned(),
            });
        };
        let dr_arn = member.db_cluster_arn().unwrap_or_default().to_owned();
        let is_writer = member.is_writer().unwrap_or(false);
        let writer = global
            .global_cluster_members()
            .iter()
            .find(|m| m.is_writer().unwrap_or(false))
            .and_then(|m| m.db_cluster_arn())
            .map(str::to_owned);
        // "FailoverState", Amazon RDS API Reference: `cancelling` means Aurora cancelled the
        // switchover or failover and is returning both clusters to their former roles; the writer
        // does not move, so a wait for it is over.
        let cancelling = global.failover_state().and_then(|state| {
            (state.status() == Some(&FailoverStatus::Cancelling)).then(|| {
                format!(
                    "Aurora is cancelling the {} of global cluster {} from {} to {} (FailoverState cancelling, {FAILOVER_STATE_PAGE}): both clusters return to their former roles and the writer stays {}",
                    if state.is_data_loss_allowed() == Some(true) {
                        "failover"
                    } else {
                        "switchover"
                    },
                    self.global_cluster_id,
                    state.from_db_cluster_arn().unwrap_or("?"),
                    state.to_db_cluster_arn().unwrap_or("?"),
                    state.from_db_cluster_arn().unwrap_or("?"),
                )
            })
        });
        if let Some(cancelled) = &cancelling {
            if action != Action::Plan {
                return Err(DatabaseError::WriterMoveCancelled(cancelled.clone()));
            }
        }
        if let Some(rolled_back) =
            self.rolled_back(action, request, global, is_writer, writer.as_deref())
        {
            return Err(DatabaseError::WriterMoveCancelled(rolled_back));
        }
        // Any other FailoverState (pending, failing-over, or a switching-over Aurora reports as
        // a status the SDK does not model) is a move under way.
        let in_progress = global
            .failover_state()
            .filter(|_| cancelling.is_none())
            .and_then(|state| {
                state.status().map(|status| {
                    format!(
                        "{} from {} to {}",
                        status.as_str(),
                        state.from_db_cluster_arn().unwrap_or("?"),
                        state.to_db_cluster_arn().unwrap_or("?")
                    )
                })
            });
        let cluster_status = cluster.status.clone();
        let writable = is_writer
            && in_progress.is_none()
            && cluster_status == "available"
            && cluster.instances > 0;
        let detail = DatabaseDetail {
            kind: "aurora-global".into(),
            identifier: self.dr_cluster_id.to_owned(),
            status: cluster_status.clone(),
            writable,
            replica_source: None,
            replica_lag_seconds: None,
            replica_lag_at: None,
            replica_lag_age_seconds: None,
            replication_status: None,
            replication_normal: None,
            replication_message: None,
            source_wal_lag_bytes: None,
            max_replica_lag_seconds: None,
            global_cluster: Some(self.global_cluster_id.to_owned()),
            writer: writer.clone(),
            failover_in_progress: in_progress.clone(),
            mode: (action != Action::Status).then_some(request.database_mode),
            backup_during_promotion: false,
            instances: Some(cluster.instances),
            global_replication_lag_ms: None,
            global_replication_lag_age_seconds: None,
        };
        let verb = match request.database_mode {
            DatabaseMode::Failover => "fail over (allowing data loss)",
            DatabaseMode::Switchover => "switch over (no data loss)",
        };
        let mut out = result(request, action, detail);

        if is_writer || in_progress.is_some() || action == Action::Status {
            out.summary = match (&in_progress, is_writer) {
                (Some(progress), _) => {
                    format!("global cluster {}: {progress}", self.global_cluster_id)
                }
                (None, true) => format!(
                    "{} is the writer of {} (status {cluster_status})",
                    self.dr_cluster_id, self.global_cluster_id
                ),
                (None, false) => format!(
                    "{} is a secondary of {}; writer is {}",
                    self.dr_cluster_id,
                    self.global_cluster_id,
                    writer.as_deref().unwrap_or("unknown")
                ),
            };
            return Ok(out);
        }
        // A secondary cluster without a DB instance replicates storage but cannot serve a single
        // query: promoting it would move the writer to a database nobody can connect to.
        let no_instance = (cluster.instances == 0).then(|| {
            format!(
                "DR cluster {} has no DB instance, so it cannot serve the application once it is the writer; add one (aws rds create-db-instance --db-cluster-identifier {} ...) before failing over",
                self.dr_cluster_id, self.dr_cluster_id
            )
        });
        let mut refusals: Vec<String> = no_instance.into_iter().collect();
        refusals.extend(
            Stuck::cluster(
                format!("DB cluster {}", self.dr_cluster_id),
                &cluster_status,
            )
            .map(|stuck| stuck.to_string()),
        );
        refusals.extend(cancelling);
        refusals.extend(version_refusal(
            self.dr_cluster_id,
            cluster.engine_version.as_deref(),
            global,
            request.database_mode,
        ));
        if action == Action::Plan {
            out.summary = format!(
                "{} is a secondary of {}; apply would {verb} to it",
                self.dr_cluster_id, self.global_cluster_id
            );
            if request.database_mode == DatabaseMode::Failover {
                self.data_loss_figure(clients, &mut out).await;
            }
            out.refusals = refusals;
            return Ok(out);
        }
        if !refusals.is_empty() {
            return Err(DatabaseError::Refused(refusals));
        }
        self.move_writer(clients, request.database_mode, &dr_arn)
            .await?;
        out.changed = true;
        out.summary = format!(
            "{} of {} to {} started",
            match request.database_mode {
                DatabaseMode::Failover => "failover",
                DatabaseMode::Switchover => "switchover",
            },
            self.global_cluster_id,
            self.dr_cluster_id
        );
        Ok(out)
    }

    /// A move that ended without moving: in a stage's wait loop (a `status` after the `apply`
    /// that requested the switchover or failover), [`MOVE_SETTLE_POLLS`] poll intervals (at least
    /// [`MOVE_SETTLE_MIN_SECONDS`]) after the stage began, the global cluster shows no
    /// `FailoverState` and the DR cluster is still not the writer. `FailoverState` "is empty
    /// unless a switchover or failover operation is scheduled or is in progress"
    /// ([`FAILOVER_STATE_PAGE`]), so Aurora cancelled the move and both clusters are back in
    /// their former roles (a `cancelling` shorter than a poll interval is seen only this way);
    /// waiting out the budget would only delay that answer. `None` otherwise, and outside a wait
    /// loop.
    fn rolled_back(
        &self,
        action: Action,
        request: &StepRequest,
        global: &GlobalCluster,
        is_writer: bool,
        writer: Option<&str>,
    ) -> Option<String> {
        let wait = request.wait.as_ref()?;
        if action != Action::Status || is_writer || global.failover_state().is_some() {
            return None;
        }
        let started = wait.started().ok()?;
        let waited = SystemTime::now()
            .duration_since(started)
            .unwrap_or_default()
            .as_secs();
        let settle = (MOVE_SETTLE_POLLS * wait.max_poll_seconds).max(MOVE_SETTLE_MIN_SECONDS);
        if waited < settle {
            return None;
        }
        Some(format!(
            "no switchover or failover of global cluster {} is under way {waited} s after the database stage began, and the writer is still {} (FailoverState is empty unless one is scheduled or in progress, {FAILOVER_STATE_PAGE}): Aurora cancelled the move and rolled back; {} stays a secondary",
            self.global_cluster_id,
            writer.unwrap_or("unknown"),
            self.dr_cluster_id,
        ))
    }

    /// A failover's plan names the data it may lose: the DR cluster's newest
    /// [`GLOBAL_LAG_METRIC`] (read in the DR region, where the secondary publishes it), in the
    /// summary and the detail. Read-only context: when CloudWatch does not answer, or has no
    /// datapoint younger than [`replication::LAG_MAX_AGE`], the plan says so in a warning and is
    /// otherwise unchanged (a switchover loses nothing, so it is not read there).
    async fn data_loss_figure(&self, clients: &DatabaseClients, out: &mut DatabaseResult) {
        let read = replication::read_of(
            &clients.cloudwatch,
            ("DBClusterIdentifier", self.dr_cluster_id),
            GLOBAL_LAG_METRIC,
            SystemTime::now(),
        )
        .await;
        match read.map(|series| series.newest) {
            Ok(Some(point)) if point.age_seconds <= replication::LAG_MAX_AGE.as_secs() => {
                out.summary.push_str(&format!(
                    "; data a failover may lose: global replication lag {} ms ({GLOBAL_LAG_METRIC}, {} s old)",
                    point.value.round(),
                    point.age_seconds
                ));
                out.detail.global_replication_lag_ms = Some(point.value);
                out.detail.global_replication_lag_age_seconds = Some(point.age_seconds);
            }
            Ok(newest) => out.warnings.push(format!(
                "the data a failover may lose is unknown: {} has no {GLOBAL_LAG_METRIC} datapoint in the last {} s{} ({GLOBAL_LAG_PAGE})",
                self.dr_cluster_id,
                replication::LAG_MAX_AGE.as_secs(),
                newest
                    .map(|p| format!(" (the newest is {} s old)", p.age_seconds))
                    .unwrap_or_default()
            )),
            Err(error) => out.warnings.push(format!(
                "the data a failover may lose is unknown: {GLOBAL_LAG_METRIC} of {} could not be read ({error})",
                self.dr_cluster_id
            )),
        }
    }

    async fn describe_global(
        &self,
        clients: &DatabaseClients,
    ) -> Result<GlobalCluster, DatabaseError> {
        let output = clients
            .rds
            .describe_global_clusters()
            .global_cluster_identifier(self.global_cluster_id)
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(DescribeGlobalClustersError::GlobalClusterNotFoundFault(_)) => {
                    DatabaseError::GlobalClusterNotFound(self.global_cluster_id.to_owned())
                }
                _ => AwsCallError::new("DescribeGlobalClusters", &error).into(),
            })?;
        output
            .global_clusters()
            .first()
            .cloned()
            .ok_or_else(|| DatabaseError::GlobalClusterNotFound(self.global_cluster_id.to_owned()))
    }

    /// The DR cluster after a detach and promote: the database step is done once the
    /// standalone cluster is available with an instance.
    fn detached(
        &self,
        request: &StepRequest,
        action: Action,
        cluster: &ClusterState,
    ) -> DatabaseResult {
        let writable = cluster.status == "available" && cluster.instances > 0;
        let detail = DatabaseDetail {
            kind: "aurora-global".into(),
            identifier: self.dr_cluster_id.to_owned(),
            status: cluster.status.clone(),
            writable,
            replica_source: None,
            replica_lag_seconds: None,
            replica_lag_at: None,
            replica_lag_age_seconds: None,
            replication_status: None,
            replication_normal: None,
            replication_message: None,
            source_wal_lag_bytes: None,
            max_replica_lag_seconds: None,
            global_cluster: Some(self.global_cluster_id.to_owned()),
            writer: Some(self.dr_cluster_id.to_owned()),
            failover_in_progress: None,
            mode: None,
            backup_during_promotion: false,
            instances: Some(cluster.instances),
            global_replication_lag_ms: None,
            global_replication_lag_age_seconds: None,
        };
        let mut out = result(request, action, detail);
        out.summary = format!(
            "{} was detached from {} and is a standalone cluster (status {}, {} instance(s)): {}",
            self.dr_cluster_id,
            self.global_cluster_id,
            cluster.status,
            cluster.instances,
            if writable {
                "writable; nothing to do"
            } else {
                "not writable yet"
            }
        );
        if cluster.instances == 0 && action == Action::Plan {
            out.refusals.push(format!(
                "DR cluster {} has no DB instance, so it cannot serve the application",
                self.dr_cluster_id
            ));
        }
        out
    }

    async fn describe_dr_cluster(
        &self,
        clients: &DatabaseClients,
    ) -> Result<ClusterState, DatabaseError> {
        let output = clients
            .rds
            .describe_db_clusters()
            .db_cluster_identifier(self.dr_cluster_id)
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(DescribeDBClustersError::DbClusterNotFoundFault(_)) => {
                    DatabaseError::ClusterNotFound(self.dr_cluster_id.to_owned())
                }
                _ => AwsCallError::new("DescribeDBClusters", &error).into(),
            })?;
        let cluster = output
            .db_clusters()
            .first()
            .ok_or_else(|| DatabaseError::ClusterNotFound(self.dr_cluster_id.to_owned()))?;
        Ok(ClusterState {
            status: cluster.status().unwrap_or("unknown").to_owned(),
            instances: cluster.db_cluster_members().len(),
            standalone: cluster
                .global_cluster_identifier()
                .is_none_or(|id| id.is_empty()),
            engine_version: cluster.engine_version().map(str::to_owned),
        })
    }

    async fn move_writer(
        &self,
        clients: &DatabaseClients,
        mode: DatabaseMode,
        dr_arn: &str,
    ) -> Result<(), DatabaseError> {
        let not_ready = |message: Option<&str>| {
            DatabaseError::NotReady(format!(
                "global cluster {} cannot move its writer now: {}",
                self.global_cluster_id,
                message.unwrap_or("invalid state")
            ))
        };
        match mode {
            DatabaseMode::Failover => clients
                .rds
                .failover_global_cluster()
                .global_cluster_identifier(self.global_cluster_id)
                .target_db_cluster_identifier(dr_arn)
                .allow_data_loss(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|error| {
                    writer_move_error!(
                        self,
                        error,
                        FailoverGlobalClusterError,
                        "FailoverGlobalCluster",
                        not_ready
                    )
                }),
            DatabaseMode::Switchover => clients
                .rds
                .switchover_global_cluster()
                .global_cluster_identifier(self.global_cluster_id)
                .target_db_cluster_identifier(dr_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|error| {
                    writer_move_error!(
                        self,
                        error,
                        SwitchoverGlobalClusterError,
                        "SwitchoverGlobalCluster",
                        not_ready
                    )
                }),
        }
    }
}
