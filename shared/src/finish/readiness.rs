//! The readiness state machine's end (`infra/statemachine/readiness.asl.json`): every 15 minutes
//! the failover's plans (read-only) and the backup verification are summed up as one readiness
//! report, which is published only when readiness changed since the last run that succeeded (or,
//! on the first run, when it is not ready). The state machine puts the report's figures as the
//! `Ready`, `StepReady`, `Refusals` and `Warnings` metrics, then the `ReadinessRun` heartbeat.

use serde::Deserialize;
use serde_json::{json, Value};

use super::automation;
use super::parts::{self, State};
use super::{Ending, FinishConfig, FinishError, RunContext, RunError};

/// The outcome the orchestration reached, as the state machine writes it to `$.end`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case", deny_unknown_fields)]
pub enum End {
    /// Every plan answered (or was marked not ready), and the previous run was read
    /// (`state.previous.output`), or there is none, or reading it failed (`state.previous_error`).
    Checked,
}

/// The steps whose plans decide readiness, by their key in `state.plan`.
pub const STEPS: [&str; 3] = ["database", "compute", "dns"];

fn count(state: &Value, pointer: &str) -> usize {
    state
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// Readiness's refusal when the DR database the failover would promote is already the writer
/// (after a failover, before re-protect): nothing stands by to fail over to, whatever the
/// failover's own plan says. That plan rightly answers "already promoted" as done (a re-run of the
/// failover must not refuse), so readiness judges from its `detail`: an RDS DB instance that is no
/// longer a replica (`replica_source` absent), or an Aurora DR cluster that is the global
/// cluster's writer (`writer` naming it). `None` otherwise, and for a plan without `detail` (one
/// that failed, which readiness counts on its own).
pub fn no_standby(plan: &Value) -> Option<String> {
    let detail = plan.get("detail").filter(|d| d.is_object())?;
    let identifier = detail.get("identifier").and_then(Value::as_str)?;
    let promoted = match detail.get("kind").and_then(Value::as_str)? {
        "rds-instance" => detail
            .get("replica_source")
            .is_none_or(|source| source.is_null()),
        "aurora-global" => detail
            .get("writer")
            .and_then(Value::as_str)
            .is_some_and(|writer| {
                writer == identifier || writer.ends_with(&format!(":cluster:{identifier}"))
            }),
        _ => false,
    };
    promoted.then(|| {
        format!(
            "no standby: the DR database {identifier} is already the writer (the failover \
             promoted it), and nothing replicates to a standby it could fail over to; re-protect \
             is needed (the re-protect state machine creates the standby in the primary region)"
        )
    })
}

/// Whether this run's readiness is published: it changed since the previous run that succeeded
/// (its output's `fingerprint` differs, or it has none), or this is the first run and it is not
/// ready. A run that could not read the previous one publishes nothing (it fails, see
/// [`ending`]).
pub fn publishes(state: &Value, report: &Value) -> bool {
    if state.get("previous_error").is_some() {
        return false;
    }
    match state.pointer("/previous/output") {
        None => report["ready"] != json!(1),
        Some(previous) => previous.get("fingerprint") != report.get("fingerprint"),
    }
}

/// The readiness report for `state`: `ready` (1 when no step's plan refuses, else 0),
/// `refusal_count`, `warning_count` (the backup verification's warnings included), `step_ready`
/// per step, `steps` (each plan), and `fingerprint`, which changes when a step turns ready or not
/// ready or its number of refusals changes, not when only a refusal's text does (a replica lag
/// refusal names the lag, which moves every run).
///
/// # Errors
/// [`FinishError::InvalidInput`] when `state.end` is not readiness's.
pub fn ending(
    state: &Value,
    run: &RunContext,
    config: &FinishConfig,
) -> Result<Ending, FinishError> {
    let End::Checked = parts::end(state)?;
    // The database plan as readiness judges it: with the refusal of a DR database that no
    // standby protects any more (see [`no_standby`]).
    let mut judged = state.clone();
    if let Some(refusal) = judged.pointer("/plan/database").and_then(no_standby) {
        if let Some(list) = judged
            .pointer_mut("/plan/database/refusals")
            .and_then(Value::as_array_mut)
        {
            list.push(json!(refusal));
        } else if let Some(plan) = judged
            .pointer_mut("/plan/database")
            .and_then(Value::as_object_mut)
        {
            plan.insert("refusals".into(), json!([refusal]));
        }
        if let Some(plan) = judged
            .pointer_mut("/plan/database")
            .and_then(Value::as_object_mut)
        {
            plan.insert("ready".into(), json!(false));
        }
    }
    let state = &judged;
    let view = State(state);
    let refusals: Vec<usize> = STEPS
        .iter()
        .map(|step| count(state, &format!("/plan/{step}/refusals")))
        .collect();
    let step_ready: Vec<u8> = refusals.iter().map(|n| u8::from(*n == 0)).collect();
    let refusal_count: usize = refusals.iter().sum();
    let warning_count: usize = STEPS
        .iter()
        .chain(&["backup"])
        .map(|step| count(state, &format!("/plan/{step}/warnings")))
        .sum();
    let mut read = state
        .pointer("/plan/automation")
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(read) = read.as_object_mut() {
        read.insert("deployment".into(), json!(config.deployment));
    }
    let now = aws_smithy_types::DateTime::from_str(
        &run.finished,
        aws_smithy_types::date_time::Format::DateTime,
    )
    .ok()
    .and_then(|t| std::time::SystemTime::try_from(t).ok())
    .unwrap_or_else(std::time::SystemTime::now);
    let mut automation = automation::judge(&read, run.region(), now);
    automation::judge_witness(&read, now, config.witness, &mut automation);
    let refusal_count = refusal_count + automation.refusals.len();
    let warning_count = warning_count + automation.warnings.len();
    let ready = u8::from(refusal_count == 0);
    // The same text Step Functions' States.JsonToString(States.Array(...)) gave before this
    // report moved to Rust, so the first run after an update compares with the last one before;
    // a disarmed automation adds its own figures (and so changes it), an armed one adds none.
    let mut figures = vec![
        json!(step_ready[0]),
        json!(refusals[0]),
        json!(step_ready[1]),
        json!(refusals[1]),
        json!(step_ready[2]),
        json!(refusals[2]),
    ];
    if !automation.armed() {
        figures.extend([json!(0), json!(automation.refusals.len())]);
    }
    let fingerprint = serde_json::to_string(&figures).unwrap_or_default();
    let report = json!({
        "deployment": config.deployment,
        "execution": run.execution,
        "checked_at": run.finished,
        "outcome": if ready == 1 { "ready" } else { "not-ready" },
        "ready": ready,
        "refusal_count": refusal_count,
        "warning_count": warning_count,
        "fingerprint": fingerprint,
        "steps": {
            "database": view.at("/plan/database"),
            "compute": view.at("/plan/compute"),
            "dns": view.at("/plan/dns"),
            "backup": view.at("/plan/backup"),
        },
        "step_ready": {"database": step_ready[0], "compute": step_ready[1], "dns": step_ready[2],
                       "automation": u8::from(automation.armed())},
        "automation": automation.report(&read),
    });
    let error = state.get("previous_error").map(|failed| {
        RunError::new(
            "DrFailover.ReadinessNotCompared",
            format!(
                "the previous readiness run could not be read, so whether readiness changed is \
                 unknown and nothing was published; the ReadinessRun heartbeat is not put, so \
                 the stale alarm tells if this lasts: {failed}"
            ),
        )
    });
    Ok(Ending {
        headline: format!(
            "readiness {}, {refusal_count} refusal(s)",
            if ready == 1 { "ready" } else { "NOT READY" }
        ),
        report,
        error,
    })
}
