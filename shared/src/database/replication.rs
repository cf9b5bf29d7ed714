//! The lag gate of a read replica's promotion: what RDS says about the replica's replication, read
//! before a promotion is planned and again when it is applied.
//!
//! Three sources, none trusted alone:
//! - the replica's `StatusInfos` entry of type `read replication` (`DescribeDBInstances`):
//!   `replicating`, `replication degraded`, `error`, `stopped`, `terminated`, with a `Normal` flag
//!   and RDS's message ("Monitoring read replication", Amazon RDS User Guide,
//!   <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Monitoring.html>;
//!   "DBInstanceStatusInfo", <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstanceStatusInfo.html>);
//! - the newest `ReplicaLag` datapoint itself, a `-1` included: -1 means "replication is currently
//!   not active" ("Monitoring MariaDB read replicas",
//!   <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_MariaDB.Replication.ReadReplicas.Monitor.html>),
//!   and a datapoint older than [`LAG_MAX_AGE`] says nothing about now;
//! - for PostgreSQL, whose `ReplicaLag` is `now() - pg_last_xact_replay_timestamp()` and so grows
//!   while the source is idle ("Monitoring and tuning the replication process",
//!   <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PostgreSQL.Replication.ReadReplicas.Monitor.html>),
//!   the source's `OldestReplicationSlotLag`, the WAL bytes the most lagging replica has not
//!   received ("Amazon CloudWatch metrics for Amazon RDS",
//!   <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html>): 0 means nothing
//!   written on the source is missing from the replica, whatever `ReplicaLag` says.
//!
//! Any doubt refuses ([`judge`]); the refusal says what RDS said and how to override it.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_rds::types::DbInstance;

use super::{DatabaseClients, DatabaseError, Instance, InstanceState};
use crate::error::AwsCallError;

impl DatabaseClients {
    /// A CloudWatch client like [`DatabaseClients::cloudwatch`] for `region` (a cross-Region
    /// replica's source publishes its metrics in its own Region).
    pub fn cloudwatch_in(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        let config = self
            .cloudwatch
            .config()
            .to_builder()
            .region(aws_sdk_cloudwatch::config::Region::new(region.to_owned()))
            .build();
        aws_sdk_cloudwatch::Client::from_conf(config)
    }
}

impl Instance<'_> {
    /// The lag gate ([`judge`]), the source's `OldestReplicationSlotLag` when it was read, and
    /// why it could not be read when it was needed. The source is in the primary region, which
    /// may be the one down: its WAL position is evidence that can only clear a lag refusal, so a
    /// failed read (AccessDenied, timeout, anything) leaves the gate judging without it and is
    /// reported as a warning, never as the gate's error. Errors: the `ReplicaLag` read's.
    pub(super) async fn gate(
        &self,
        state: &InstanceState,
        source: &str,
        clients: &DatabaseClients,
    ) -> Result<(Verdict, Option<f64>, Option<String>), DatabaseError> {
        let now = SystemTime::now();
        let lag = read(&clients.cloudwatch, self.replica_id, "ReplicaLag", now).await?;
        let status = state.replication.as_ref();
        let mut wal = None;
        let mut wal_error = None;
        if lag_grows_when_idle(&state.engine)
            && needs_wal_position(status, &lag, self.max_lag_seconds)
        {
            let (region, source_id) = source_of(source);
            let cloudwatch = region.map(|r| clients.cloudwatch_in(r));
            let cloudwatch = cloudwatch.as_ref().unwrap_or(&clients.cloudwatch);
            match read(cloudwatch, source_id, "OldestReplicationSlotLag", now).await {
                Ok(series) => wal = series.newest,
                Err(error) => {
                    wal_error = Some(format!(
                        "the source's OldestReplicationSlotLag could not be read ({error}): the lag gate judged without the source's WAL position"
                    ))
                }
            }
        }
        let evidence = Evidence {
            replica_id: self.replica_id,
            status,
            lag: &lag,
            wal: wal.as_ref(),
        };
        let verdict = judge(&evidence, self.max_lag_seconds);
        Ok((verdict, wal.map(|w| w.value), wal_error))
    }
}

/// How far back the gate looks for datapoints.
pub const LAG_LOOKBACK: Duration = Duration::from_secs(15 * 60);

/// A datapoint older than this is stale: RDS publishes `ReplicaLag` every minute, so five missed
/// periods mean the lag of now is unknown.
pub const LAG_MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// The `StatusInfos` entry of type `read replication` of a replica.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationStatus {
    /// `replicating`, `replication degraded`, `error`, `stopped`, `terminated`, ...
    pub status: String,
    /// RDS's `Normal` flag (false when absent).
    pub normal: bool,
    /// RDS's message, if any.
    pub message: Option<String>,
}

impl ReplicationStatus {
    /// The `read replication` entry of `instance`'s `StatusInfos`, if RDS reports one.
    pub fn of(instance: &DbInstance) -> Option<Self> {
        instance
            .status_infos()
            .iter()
            .find(|info| info.status_type() == Some("read replication"))
            .map(|info| ReplicationStatus {
                status: info.status().unwrap_or("unknown").to_owned(),
                normal: info.normal().unwrap_or(false),
                message: info.message().filter(|m| !m.is_empty()).map(str::to_owned),
            })
    }

    /// Replication runs as RDS means it to: `replicating` and normal.
    pub fn replicating(&self) -> bool {
        self.status == "replicating" && self.normal
    }

    fn describe(&self) -> String {
        let mut text = format!("read replication {}", self.status);
        if !self.normal {
            text.push_str(" (not normal)");
        }
        if let Some(message) = &self.message {
            text.push_str(&format!(": {message}"));
        }
        text
    }
}

/// One datapoint: its value, when it was taken (RFC 3339) and its age in whole seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    pub value: f64,
    pub at: String,
    pub age_seconds: u64,
}

impl Datapoint {
    fn fresh(&self) -> bool {
        self.age_seconds <= LAG_MAX_AGE.as_secs()
    }
}

/// The newest datapoint of a metric in [`LAG_LOOKBACK`], and the newest non-negative one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub newest: Option<Datapoint>,
    pub newest_valid: Option<Datapoint>,
}

/// Reads `metric` (namespace `AWS/RDS`, dimension `DBInstanceIdentifier`, one-minute `Maximum`)
/// of `instance` over the last [`LAG_LOOKBACK`].
pub async fn read(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    instance: &str,
    metric: &str,
    now: SystemTime,
) -> Result<Series, AwsCallError> {
    read_of(cloudwatch, ("DBInstanceIdentifier", instance), metric, now).await
}

/// Reads `metric` (namespace `AWS/RDS`, one-minute `Maximum`) of the resource a dimension names
/// (`("DBClusterIdentifier", "app-dr")`) over the last [`LAG_LOOKBACK`].
pub async fn read_of(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    (dimension, value): (&str, &str),
    metric: &str,
    now: SystemTime,
) -> Result<Series, AwsCallError> {
    let output = cloudwatch
        .get_metric_statistics()
        .namespace("AWS/RDS")
        .metric_name(metric)
        .dimensions(Dimension::builder().name(dimension).value(value).build())
        .start_time((now - LAG_LOOKBACK).into())
        .end_time(now.into())
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .map_err(|error| AwsCallError::new("GetMetricStatistics", &error))?;
    let mut points: Vec<Datapoint> = output
        .datapoints()
        .iter()
        .filter_map(|point| {
            let at = *point.timestamp()?;
            let value = point.maximum()?;
            let when = SystemTime::try_from(at).ok()?;
            Some(Datapoint {
                value,
                at: at
                    .fmt(aws_smithy_types::date_time::Format::DateTime)
                    .unwrap_or_default(),
                age_seconds: now
                    .duration_since(when)
                    .unwrap_or_default()
                    .as_secs_f64()
                    .round() as u64,
            })
        })
        .collect();
    points.sort_by_key(|point| point.age_seconds);
    Ok(Series {
        newest: points.first().cloned(),
        newest_valid: points.iter().find(|point| point.value >= 0.0).cloned(),
    })
}

/// The region and DB instance identifier of a replica's source: a cross-Region replica names its
/// source by ARN (`arn:aws:rds:REGION:ACCOUNT:db:ID`), a same-Region replica by identifier
/// (region `None`).
pub fn source_of(source: &str) -> (Option<&str>, &str) {
    let parts: Vec<&str> = source.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "rds", region, _, "db", id] => (Some(region), id),
        _ => (None, source),
    }
}

/// Whether an engine's `ReplicaLag` grows while its source is idle (RDS for PostgreSQL).
pub fn lag_grows_when_idle(engine: &str) -> bool {
    engine.starts_with("postgres")
}

/// What the gate read.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence<'a> {
    pub replica_id: &'a str,
    pub status: Option<&'a ReplicationStatus>,
    pub lag: &'a Series,
    /// The source's newest `OldestReplicationSlotLag` (bytes), read only when
    /// [`needs_wal_position`] says so.
    pub wal: Option<&'a Datapoint>,
}

/// What the gate decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Why not to promote now, with what RDS said and the override.
    pub refusal: Option<String>,
    pub warning: Option<String>,
    /// The replication status and the lag with its age, for the plan's summary.
    pub text: String,
    /// The datapoint the decision rests on.
    pub lag: Option<Datapoint>,
}

/// Whether the PostgreSQL WAL position is worth reading: replication runs, the newest lag is fresh
/// and valid, but above the limit.
pub fn needs_wal_position(
    status: Option<&ReplicationStatus>,
    lag: &Series,
    max_lag_seconds: u64,
) -> bool {
    status.is_some_and(ReplicationStatus::replicating)
        && lag.newest.as_ref().is_some_and(|point| {
            point.fresh() && point.value >= 0.0 && point.value > max_lag_seconds as f64
        })
}

/// The lag gate. `max_lag_seconds` 0 is a promotion that claims no data loss (fail back's write
/// freeze): it passes only while RDS reports `replicating` with a fresh lag of 0, or, for
/// PostgreSQL, a fresh source `OldestReplicationSlotLag` of 0. Above 0 (the failover), a replica
/// whose replication is not running passes only if the last valid lag plus its age (the writes
/// the source may have taken since) is within the limit.
pub fn judge(evidence: &Evidence, max_lag_seconds: u64) -> Verdict {
    let id = evidence.replica_id;
    let max = max_lag_seconds as f64;
    let hint = if max_lag_seconds == 0 {
        "the write freeze waits until RDS reports read replication replicating with a fresh ReplicaLag of 0"
    } else {
        "to promote anyway, accepting that loss, start the failover again with \"force\": true (the refused report's force_command)"
    };
    let refuse = |text: String, reason: String, lag: Option<Datapoint>| Verdict {
        refusal: Some(format!("{reason}; {hint}")),
        warning: None,
        text,
        lag,
    };
    let Some(status) = evidence.status else {
        return refuse(
            "read replication status unknown".into(),
            format!("RDS reports no read replication status for {id} (no StatusInfos entry of type read replication): its replication state is unknown"),
            evidence.lag.newest.clone(),
        );
    };
    let said = status.describe();
    if !status.replicating() {
        let Some(valid) = evidence.lag.newest_valid.clone() else {
            return refuse(
                format!("{said}, lag unknown"),
                format!(
                    "RDS reports {said} for {id}, and no valid ReplicaLag datapoint in the last {} minutes: the data a promotion would lose is unknown",
                    LAG_LOOKBACK.as_secs() / 60
                ),
                None,
            );
        };
        let loss = valid.value + valid.age_seconds as f64;
        let text = format!(
            "{said}; last valid ReplicaLag {}s, {}s old",
            valid.value, valid.age_seconds
        );
        if max_lag_seconds == 0 || loss > max {
            return refuse(
                text,
                format!(
                    "RDS reports {said} for {id}; its last valid ReplicaLag ({}s) is {}s old, so up to {loss}s of writes may be missing from it (limit {max_lag_seconds}s)",
                    valid.value, valid.age_seconds
                ),
                Some(valid),
            );
        }
        return Verdict {
            refusal: None,
            warning: Some(format!(
                "RDS reports {said} for {id}: writes to the source since its last valid ReplicaLag, {}s ago, are lost (up to {loss}s, within the limit of {max_lag_seconds}s)",
                valid.age_seconds
            )),
            text,
            lag: Some(valid),
        };
    }
    let Some(newest) = evidence.lag.newest.clone() else {
        return refuse(
            format!("{said}, lag unknown"),
            format!(
                "RDS reports {said} for {id} but no ReplicaLag datapoint in the last {} minutes: the lag is unknown",
                LAG_LOOKBACK.as_secs() / 60
            ),
            None,
        );
    };
    let text = format!(
        "{said}; ReplicaLag {}s, {}s old",
        newest.value, newest.age_seconds
    );
    if !newest.fresh() {
        return refuse(
            format!("{said}, lag unknown (newest ReplicaLag {}s old)", newest.age_seconds),
            format!(
                "the newest ReplicaLag datapoint of {id} is {}s old (more than {}s): the lag is unknown",
                newest.age_seconds,
                LAG_MAX_AGE.as_secs()
            ),
            Some(newest),
        );
    }
    if newest.value < 0.0 {
        return refuse(
            text,
            format!(
                "ReplicaLag of {id} is {} (replication not active) {}s ago although RDS reports {said}",
                newest.value, newest.age_seconds
            ),
            Some(newest),
        );
    }
    if newest.value <= max {
        return Verdict {
            refusal: None,
            warning: None,
            text,
            lag: Some(newest),
        };
    }
    match evidence.wal {
        Some(wal) if wal.fresh() && wal.value == 0.0 => Verdict {
            refusal: None,
            warning: Some(format!(
                "ReplicaLag of {id} is {}s, which PostgreSQL reports while its source is idle; the source's OldestReplicationSlotLag is 0 bytes ({}s old): no WAL is missing from the replica",
                newest.value, wal.age_seconds
            )),
            text: format!(
                "{said}; no WAL behind by the source's OldestReplicationSlotLag 0 bytes, {}s old (ReplicaLag {}s grows while the source is idle)",
                wal.age_seconds, newest.value
            ),
            lag: Some(Datapoint {
                value: 0.0,
                ..wal.clone()
            }),
        },
        wal => {
            let wal_text = match wal {
                Some(wal) => format!(
                    "; the source's OldestReplicationSlotLag is {} bytes, {}s old",
                    wal.value, wal.age_seconds
                ),
                None => String::new(),
            };
            refuse(
                text,
                format!("replica lag {}s is above the limit of {max_lag_seconds}s{wal_text}", newest.value),
                Some(newest),
            )
        }
    }
}
