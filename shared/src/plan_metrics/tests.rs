use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::*;
use crate::compute::ComputeResult;
use crate::database::DatabaseResult;

fn metrics() -> PlanMetrics {
    PlanMetrics::from_source(&[("DEPLOYMENT_NAME", "app"), ("METRIC_NAMESPACE", "Ns")]).unwrap()
}

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_700_000_000_250)
}

fn database(action: &str, detail: Value) -> DatabaseResult {
    serde_json::from_value(json!({
        "step": "promote-replica", "action": action, "dry_run": true, "changed": false,
        "ready": false, "refusals": [], "warnings": [], "summary": "", "detail": detail,
    }))
    .unwrap()
}

fn replica(lag: Option<f64>) -> Value {
    let mut detail = json!({
        "kind": "rds-instance", "identifier": "db-dr", "status": "available", "writable": false,
        "replica_source": "arn:aws:rds:eu-west-1:1:db:db", "max_replica_lag_seconds": 300,
    });
    if let Some(lag) = lag {
        detail["replica_lag_seconds"] = json!(lag);
    }
    detail
}

fn group(name: &str, target: i32, in_service: i32, max: i32) -> Value {
    let capacity = json!({"min": 1, "desired": 1, "max": max});
    json!({
        "group": name, "target": target, "target_source": "fixed", "before": capacity,
        "after": capacity, "in_service": in_service, "required_in_service": target,
        "dns_threshold": target / 2, "ready": false,
    })
}

fn compute(action: &str, groups: Vec<Value>) -> ComputeResult {
    serde_json::from_value(json!({
        "step": "scale-asg", "action": action, "dry_run": true, "changed": false, "ready": false,
        "refusals": [], "warnings": [], "summary": "",
        "detail": {"groups": groups, "targets": {}, "dns_threshold_met": false, "capacity_percent": 0},
    }))
    .unwrap()
}

#[test]
fn without_a_deployment_name_no_metrics_are_printed() {
    assert_eq!(
        PlanMetrics::from_source(&[("METRIC_NAMESPACE", "Ns")]),
        None
    );
    assert_eq!(PlanMetrics::from_source(&[("DEPLOYMENT_NAME", "")]), None);
    let default = PlanMetrics::from_source(&[("DEPLOYMENT_NAME", "app")]).unwrap();
    assert_eq!(default.namespace, "DrFailover");
}

#[test]
fn a_replica_plan_puts_its_lag_and_limit_in_one_emf_line() {
    let lines = metrics().database_lines(&database("plan", replica(Some(4.0))), at());
    assert_eq!(
        lines,
        vec![json!({
            "_aws": {
                "Timestamp": 1_700_000_000_250u64,
                "CloudWatchMetrics": [{
                    "Namespace": "Ns",
                    "Dimensions": [["Deployment"]],
                    "Metrics": [
                        {"Name": "ReplicaLagSeconds", "Unit": "Seconds"},
                        {"Name": "ReplicaLagLimitSeconds", "Unit": "Seconds"}
                    ]
                }]
            },
            "Deployment": "app",
            "ReplicaLagSeconds": 4.0,
            "ReplicaLagLimitSeconds": 300.0
        })]
    );
}

#[test]
fn an_unknown_lag_or_another_action_prints_no_database_line() {
    assert!(metrics()
        .database_lines(&database("plan", replica(None)), at())
        .is_empty());
    assert!(metrics()
        .database_lines(&database("status", replica(Some(4.0))), at())
        .is_empty());
}

#[test]
fn every_group_of_a_compute_plan_gets_its_line_with_its_name_as_dimension() {
    let result = compute(
        "plan",
        vec![group("web-dr", 6, 1, 2), group("worker-dr", 4, 0, 1)],
    );
    let lines = metrics().compute_lines(&result, at());
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Deployment", "AutoScalingGroupName"]])
    );
    assert_eq!(
        lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"],
        json!([
            {"Name": "CapacityTarget", "Unit": "Count"},
            {"Name": "CapacityInService", "Unit": "Count"},
            {"Name": "CapacityMax", "Unit": "Count"}
        ])
    );
    assert_eq!(lines[1]["AutoScalingGroupName"], "worker-dr");
    assert_eq!(lines[1]["Deployment"], "app");
    assert_eq!(lines[1]["CapacityTarget"], 4.0);
    assert_eq!(lines[1]["CapacityInService"], 0.0);
    assert_eq!(lines[1]["CapacityMax"], 1.0);
}

#[test]
fn a_compute_action_other_than_plan_prints_nothing() {
    let result = compute("apply", vec![group("web-dr", 6, 1, 2)]);
    assert!(metrics().compute_lines(&result, at()).is_empty());
}

#[tokio::test]
async fn print_after_makes_lines_of_a_success_only_and_answers_the_steps_result() {
    use std::cell::Cell;

    let made = Cell::new(0);
    let lines = |_: &PlanMetrics, result: &u32, _: SystemTime| {
        made.set(made.get() + 1);
        vec![json!({ "result": result })]
    };
    let metrics = metrics();

    let ok = print_after(Some(&metrics), async { Ok::<u32, &str>(7) }, lines).await;
    assert_eq!(ok, Ok(7));
    assert_eq!(made.get(), 1);

    let failed = print_after(Some(&metrics), async { Err::<u32, &str>("refused") }, lines).await;
    assert_eq!(failed, Err("refused"));
    assert_eq!(made.get(), 1, "no line of a failed step");

    let unset = print_after(None, async { Ok::<u32, &str>(8) }, lines).await;
    assert_eq!(unset, Ok(8));
    assert_eq!(made.get(), 1, "no line without DEPLOYMENT_NAME");
}
