//! CloudWatch Embedded Metric Format lines of the backup step.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::{BackupConfig, ResourceCheck, Verdict};

/// One CloudWatch Embedded Metric Format record for a resource, dimensions `Deployment` and
/// `ResourceArn`: `BackupAgeSeconds` (Seconds), `BackupFresh` (Count, 1 or 0) and
/// `BackupRpoSeconds` (Seconds, the resource's RPO, so a graph shows the age against it). EMF
/// requires every metric a directive declares to be present in the record, so a missing backup,
/// which has no age, gets a directive without `BackupAgeSeconds`: its `BackupFresh` is 0 and
/// `BackupAgeSeconds` has no datapoint (an alarm on the age should treat
/// missing data as breaching). `Verdict` is a plain property, searchable in Logs Insights.
pub fn emf_line(config: &BackupConfig, check: &ResourceCheck, now: SystemTime) -> Value {
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let fresh = u8::from(check.verdict == Verdict::Fresh);
    let fresh_metric = json!({"Name": "BackupFresh", "Unit": "Count"});
    let rpo_metric = json!({"Name": "BackupRpoSeconds", "Unit": "Seconds"});
    let (metrics, age) = match check.age_seconds {
        Some(age) => (
            json!([{"Name": "BackupAgeSeconds", "Unit": "Seconds"}, fresh_metric, rpo_metric]),
            Some(age),
        ),
        None => (json!([fresh_metric, rpo_metric]), None),
    };
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": config.metric_namespace,
                "Dimensions": [["Deployment", "ResourceArn"]],
                "Metrics": metrics,
            }],
        },
        "Deployment": config.deployment,
        "ResourceArn": check.arn,
        "BackupFresh": fresh,
        "BackupRpoSeconds": check.rpo_minutes * 60,
        "Verdict": check.verdict,
    });
    if let Some(age) = age {
        line["BackupAgeSeconds"] = json!(age);
    }
    line
}
