//! A failover run measured: its RTO, its duration, each stage's duration and its outcome, as one
//! CloudWatch Embedded Metric Format line, so the trend of drills and failovers is a graph.
//!
//! The finishing step of every run ([`crate::finish`]) measures its report just built; the
//! report's fields are those of docs/contract.md's report (`started`, `finished`, `outcome`,
//! `request.alarm.time`, and per stage `status.wait.elapsed_seconds`). Step Functions has no date
//! arithmetic, so the durations are computed here. The line follows "Specification: Embedded metric format"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{json, Map, Value};

use crate::plan_metrics::PlanMetrics;

fn time(value: Option<&Value>) -> Option<f64> {
    let text = value?.as_str()?;
    let parsed = DateTime::from_str(text, Format::DateTime).ok()?;
    Some(parsed.as_secs_f64())
}

fn rounded(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// What a run measured, in seconds: `run` is `finished - started`; `rto` is `finished -
/// request.alarm.time` for a run the health check alarm started (absent otherwise); `stages`
/// each stage's `status.wait.elapsed_seconds` (the stages the run reached).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub outcome: String,
    pub dry_run: bool,
    pub run: Option<f64>,
    pub rto: Option<f64>,
    pub stages: Vec<(&'static str, f64)>,
}

/// Reads a report; fields that are missing or not times are left out, never an error.
pub fn measure(report: &Value) -> Measured {
    let finished = time(report.get("finished"));
    let started = time(report.get("started"));
    // Only a run the alarm started has an RTO: a manual input may carry an `alarm` object too.
    let alarm_started = report.pointer("/request/trigger").and_then(Value::as_str) == Some("alarm");
    let alarm = time(report.pointer("/request/alarm/time")).filter(|_| alarm_started);
    let stages = [
        ("database", "DatabaseStageSeconds"),
        ("compute", "ComputeStageSeconds"),
        ("dns", "DnsStageSeconds"),
    ]
    .into_iter()
    .filter_map(|(stage, metric)| {
        report
            .pointer(&format!("/{stage}/status/wait/elapsed_seconds"))
            .and_then(Value::as_f64)
            .map(|seconds| (metric, seconds))
    })
    .collect();
    Measured {
        outcome: report
            .get("outcome")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        dry_run: report.pointer("/request/dry_run").and_then(Value::as_bool) == Some(true),
        run: started.zip(finished).map(|(s, f)| rounded(f - s)),
        rto: alarm.zip(finished).map(|(a, f)| rounded(f - a)),
        stages,
    }
}

/// The run's EMF line: dimension sets `[Deployment]` and `[Deployment, Outcome]`; metrics `Runs`
/// (Count, 1), `RunSeconds`, `RtoSeconds` (alarm-started runs only) and `DatabaseStageSeconds`,
/// `ComputeStageSeconds`, `DnsStageSeconds` (the stages reached), all Seconds. `DryRun` and
/// `Execution` are plain properties, searchable in Logs Insights.
pub fn emf_line(
    metrics: &PlanMetrics,
    report: &Value,
    measured: &Measured,
    now: SystemTime,
) -> Value {
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut values: Vec<(&str, &str, f64)> = vec![("Runs", "Count", 1.0)];
    if let Some(run) = measured.run {
        values.push(("RunSeconds", "Seconds", run));
    }
    if let Some(rto) = measured.rto {
        values.push(("RtoSeconds", "Seconds", rto));
    }
    for (name, seconds) in &measured.stages {
        values.push((name, "Seconds", *seconds));
    }
    let declared: Vec<Value> = values
        .iter()
        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
        .collect();
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": metrics.namespace,
                "Dimensions": [["Deployment"], ["Deployment", "Outcome"]],
                "Metrics": declared,
            }],
        }),
    );
    line.insert("Deployment".into(), json!(metrics.deployment));
    line.insert("Outcome".into(), json!(measured.outcome));
    line.insert("DryRun".into(), json!(measured.dry_run));
    line.insert(
        "Execution".into(),
        report.get("execution").cloned().unwrap_or(Value::Null),
    );
    for (name, _, value) in values {
        line.insert(name.into(), json!(value));
    }
    Value::Object(line)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn report() -> Value {
        json!({
            "execution": "arn:aws:states:eu-central-1:1:execution:app-failover:x",
            "started": "2026-12-01T04:25:41.576Z",
            "finished": "2026-12-01T04:25:53.076Z",
            "outcome": "failed-over",
            "request": {"trigger": "alarm", "dry_run": false, "alarm": {"time": "2026-12-01T04:25:41Z"}},
            "database": {"status": {"wait": {"elapsed_seconds": 4}}},
            "compute": {"status": {"wait": {"elapsed_seconds": 6}}},
            "dns": {"apply": {}},
        })
    }

    fn metrics() -> PlanMetrics {
        PlanMetrics {
            deployment: "app".into(),
            namespace: "Ns".into(),
        }
    }

    #[test]
    fn a_manual_run_carrying_an_alarm_object_has_no_rto() {
        let mut manual = report();
        manual["request"]["trigger"] = json!("manual");
        assert_eq!(measure(&manual).rto, None);
        assert!(measure(&report()).rto.is_some());
    }

    #[test]
    fn an_alarm_started_run_has_its_rto_run_time_and_the_stages_it_waited_in() {
        let measured = measure(&report());
        assert_eq!(measured.rto, Some(12.076));
        assert_eq!(measured.run, Some(11.5));
        assert_eq!(
            measured.stages,
            vec![("DatabaseStageSeconds", 4.0), ("ComputeStageSeconds", 6.0)]
        );
        assert_eq!(measured.outcome, "failed-over");
        assert!(!measured.dry_run);
    }

    #[test]
    fn the_emf_line_declares_exactly_the_metrics_it_carries() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let line = emf_line(&metrics(), &report(), &measure(&report()), now);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            directive["Dimensions"],
            json!([["Deployment"], ["Deployment", "Outcome"]])
        );
        let declared: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            declared,
            [
                "Runs",
                "RunSeconds",
                "RtoSeconds",
                "DatabaseStageSeconds",
                "ComputeStageSeconds"
            ]
        );
        for name in declared {
            assert!(line[name].is_number(), "{name} is declared but not carried");
        }
        assert_eq!(line["Outcome"], "failed-over");
        assert_eq!(line["Deployment"], "app");
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000u64);
    }

    #[test]
    fn a_manual_dry_run_has_no_rto_and_a_report_without_times_is_still_answered() {
        let dry = json!({"started": "2026-12-01T04:00:00Z", "finished": "2026-12-01T04:00:02.5Z",
                         "outcome": "dry-run", "request": {"dry_run": true}});
        let measured = measure(&dry);
        assert_eq!((measured.run, measured.rto), (Some(2.5), None));
        assert!(measured.dry_run);
        let line = emf_line(&metrics(), &dry, &measured, SystemTime::now());
        assert!(line.get("RtoSeconds").is_none());

        let nothing = measure(&json!({}));
        assert_eq!(nothing.outcome, "unknown");
        assert_eq!((nothing.run, nothing.rto), (None, None));
    }
}
