//! CloudWatch Embedded Metric Format lines of a plan: the replica lag (promote-replica) and the DR
//! capacity against its target (scale-asg), printed by each function on every `plan`, so the
//! readiness runs (every `ReadinessRateMinutes`) and each failover's pre-flight check put them
//! without a `PutMetricData` permission, as verify-backup-copy puts `BackupFresh`.
//!
//! The format follows "Specification: Embedded metric format"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
//! a JSON log line whose `_aws.CloudWatchMetrics` directive names the namespace, the dimension
//! sets and the metrics; each metric and dimension is a top-level member of the line.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::compute::ComputeResult;
use crate::config::{self, Source};
use crate::database::DatabaseResult;
use crate::request::Action;

/// Where a plan's metrics go: namespace `METRIC_NAMESPACE` (default `DrFailover`), dimension
/// `Deployment` = `DEPLOYMENT_NAME`. `None` when `DEPLOYMENT_NAME` is not set: the function then
/// prints no metric line (a function run by hand without the template's variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanMetrics {
    pub deployment: String,
    pub namespace: String,
}

/// Runs `step` and answers with its result, after printing, when it succeeded and `metrics` is
/// set, the lines `lines` makes of it ([`PlanMetrics::database_lines`],
/// [`PlanMetrics::compute_lines`]) on stdout, one a line: Lambda sends stdout to the function's
/// log group, where CloudWatch takes each Embedded Metric Format line as its metrics. A failed
/// step prints nothing. Errors: `step`'s, unchanged.
pub async fn print_after<T, E>(
    metrics: Option<&PlanMetrics>,
    step: impl Future<Output = Result<T, E>>,
    lines: impl Fn(&PlanMetrics, &T, SystemTime) -> Vec<Value>,
) -> Result<T, E> {
    let result = step.await;
    if let (Ok(result), Some(metrics)) = (&result, metrics) {
        for line in lines(metrics, result, SystemTime::now()) {
            println!("{line}");
        }
    }
    result
}

impl PlanMetrics {
    /// Reads `DEPLOYMENT_NAME` and `METRIC_NAMESPACE`; never fails.
    pub fn from_source(source: &dyn Source) -> Option<Self> {
        let deployment = config::optional(source, "DEPLOYMENT_NAME").filter(|d| !d.is_empty())?;
        Some(PlanMetrics {
            deployment,
            namespace: config::optional(source, "METRIC_NAMESPACE")
                .unwrap_or_else(|| "DrFailover".into()),
        })
    }

    fn line(
        &self,
        now: SystemTime,
        dimensions: &[(&str, &str)],
        metrics: &[(&str, &str, f64)],
    ) -> Value {
        let timestamp = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut names = vec!["Deployment"];
        names.extend(dimensions.iter().map(|(name, _)| *name));
        let declared: Vec<Value> = metrics
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
            .collect();
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [names],
                    "Metrics": declared,
                }],
            }),
        );
        line.insert("Deployment".into(), json!(self.deployment));
        for (name, value) in dimensions {
            line.insert((*name).into(), json!(value));
        }
        for (name, _, value) in metrics {
            line.insert((*name).into(), json!(value));
        }
        Value::Object(line)
    }

    /// promote-replica's `plan`: `ReplicaLagSeconds` (Seconds, the last `ReplicaLag` datapoint
    /// the plan read) and `ReplicaLagLimitSeconds` (`DB_MAX_REPLICA_LAG_SECONDS`), dimension
    /// `Deployment`. No line for another action, nor when the lag is unknown (not a replica any
    /// more, Aurora, CloudWatch not answering): an alarm on the lag should treat missing data as
    /// it chooses, and the readiness `Ready` metric already counts the refusal an unknown lag is.
    pub fn database_lines(&self, result: &DatabaseResult, now: SystemTime) -> Vec<Value> {
        if result.action != Action::Plan {
            return Vec::new();
        }
        let Some(lag) = result.detail.replica_lag_seconds else {
            return Vec::new();
        };
        let mut metrics = vec![("ReplicaLagSeconds", "Seconds", lag)];
        if let Some(limit) = result.detail.max_replica_lag_seconds {
            metrics.push(("ReplicaLagLimitSeconds", "Seconds", limit as f64));
        }
        vec![self.line(now, &[], &metrics)]
    }

    /// scale-asg's `plan`: one line per DR group found, dimensions `Deployment` and
    /// `AutoScalingGroupName`, with `CapacityTarget` (the units a failover raises the group to,
    /// after its `max_capacity` cap), `CapacityInService` (units InService now) and `CapacityMax`
    /// (the group's maximum now; apply raises it to the target when below), all Count. A group
    /// that is missing has no line; the plan refuses it. No line for another action.
    pub fn compute_lines(&self, result: &ComputeResult, now: SystemTime) -> Vec<Value> {
        if result.action != Action::Plan {
            return Vec::new();
        }
        result
            .detail
            .groups
            .iter()
            .map(|group| {
                self.line(
                    now,
                    &[("AutoScalingGroupName", &group.group)],
                    &[
                        ("CapacityTarget", "Count", f64::from(group.target)),
                        ("CapacityInService", "Count", f64::from(group.in_service)),
                        ("CapacityMax", "Count", f64::from(group.before.max)),
                    ],
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
