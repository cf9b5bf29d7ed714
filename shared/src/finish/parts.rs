//! The pieces every machine's report is built from.

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::{Ending, FinishConfig, FinishError, RunContext, RunError};

/// The outcome the state machine wrote to `state.end`, as the machine's `End` type reads it.
///
/// # Errors
/// [`FinishError::InvalidInput`] naming `state.end` when it is missing or not one of `E`'s.
pub(super) fn end<E: DeserializeOwned>(state: &Value) -> Result<E, FinishError> {
    serde_json::from_value(state.get("end").cloned().unwrap_or(Value::Null))
        .map_err(|e| FinishError::InvalidInput(format!("state.end: {e}")))
}

/// The deployment a report names: the run's own settings, else the finishing step's
/// `DEPLOYMENT_NAME` (a run refused before its settings were made).
pub(super) fn deployment(state: &Value, config: &FinishConfig) -> String {
    State(state)
        .str("/settings/deployment")
        .unwrap_or(&config.deployment)
        .to_owned()
}

/// A fail back's or re-protect's refused input: `cause` is the run's error and the report's,
/// `shown` the input (or request) under `what`; nothing was changed.
pub(super) fn invalid(
    deployment: &str,
    run: &RunContext,
    cause: String,
    (what, shown): (&str, Value),
    headline: &str,
    next_step: &str,
) -> Ending {
    let mut report = base(deployment, run, "invalid-input");
    report.insert(
        "error".into(),
        json!({"Error": "DrFailover.InvalidInput", "Cause": cause}),
    );
    report.insert(what.into(), shown);
    report.insert("next_step".into(), json!(next_step));
    Ending {
        report: Value::Object(report),
        headline: headline.into(),
        error: Some(RunError::new("DrFailover.InvalidInput", cause)),
    }
}

/// The state's pieces a report reads; a missing one is JSON null.
pub(super) struct State<'a>(pub(super) &'a Value);

impl State<'_> {
    pub(super) fn at(&self, pointer: &str) -> Value {
        self.0.pointer(pointer).cloned().unwrap_or(Value::Null)
    }
    pub(super) fn str(&self, pointer: &str) -> Option<&str> {
        self.0.pointer(pointer).and_then(Value::as_str)
    }
    pub(super) fn has(&self, pointer: &str) -> bool {
        self.0.pointer(pointer).is_some()
    }
}

/// The members every report starts with.
pub(super) fn base(deployment: &str, run: &RunContext, outcome: &str) -> Map<String, Value> {
    let mut report = Map::new();
    report.insert("deployment".into(), json!(deployment));
    report.insert("execution".into(), json!(run.execution));
    report.insert("started".into(), json!(run.started));
    report.insert("finished".into(), json!(run.finished));
    report.insert("outcome".into(), json!(outcome));
    report
}

/// Where a stored report is: `reports/<execution name>.json` in the report bucket.
pub(super) fn report_object(config: &FinishConfig, run: &RunContext) -> Value {
    let key = format!("reports/{}.json", run.name);
    json!({
        "bucket": config.bucket,
        "uri": format!("s3://{}/{}", config.bucket, key),
        "key": key,
    })
}

/// The message of a Lambda function's error: its cause is the error payload as JSON text
/// (`{"errorType": ..., "errorMessage": ...}`); anything else is taken as the message itself.
pub(super) fn error_message(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|payload| payload.get("errorMessage")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned())
}

/// The fields of a fail back or re-protect input.
pub const INPUT_FIELDS: [&str; 2] = ["dry_run", "reason"];

/// The failover's and the steps' fields, which a fail back or re-protect input must not hold.
pub const FOREIGN_FIELDS: [&str; 10] = [
    "action",
    "force",
    "database_mode",
    "execution_id",
    "change_id",
    "targets",
    "wait",
    "trigger",
    "accept_partial_capacity",
    "alarm",
];

/// Why a fail back's or re-protect's ValidateRequest refused `input` (the execution input),
/// naming the field: `dry_run` missing or not a boolean, `reason` not text, or a field of the
/// failover or of a step. `run` names the run in the message (`fail back`), `stem` its example
/// inputs (`events/statemachine/<stem>.json`). `None` when this check finds nothing wrong.
pub fn invalid_request_cause(input: &Value, run: &str, stem: &str) -> Option<String> {
    let dry_run_missing = || {
        format!(
            "invalid request: dry_run is required, so that no input starts a real {run} by \
             leaving it out. A real {run}: {{\"dry_run\": false, \"reason\": \"...\"}} \
             (events/statemachine/{stem}.json); a plan that changes nothing: {{\"dry_run\": \
             true, \"reason\": \"...\"}} (events/statemachine/{stem}-dry-run.json)"
        )
    };
    let Some(fields) = input.as_object() else {
        return Some(dry_run_missing());
    };
    match fields.get("dry_run") {
        None => return Some(dry_run_missing()),
        Some(Value::Bool(_)) => {}
        Some(_) => return Some("invalid request: field `dry_run` must be true or false".into()),
    }
    if fields
        .get("reason")
        .is_some_and(|reason| !reason.is_string())
    {
        return Some("invalid request: field `reason` must be text".into());
    }
    let foreign: Vec<&str> = FOREIGN_FIELDS
        .into_iter()
        .filter(|name| fields.contains_key(*name))
        .collect();
    if !foreign.is_empty() {
        return Some(format!(
            "invalid request: {run} takes only {}; field(s) `{}` belong to the failover or to a \
             step",
            INPUT_FIELDS.join(" and "),
            foreign.join("`, `"),
        ));
    }
    None
}

/// What a run refused at its start because another real run holds the deployment
/// (`crate::exclusive`) says: `blocked_by` is that run as the hold answer gives it (its
/// `execution_arn`, `machine`, `started`, `stop_command`); the text names it and how to end it.
pub fn held_by_next_step(blocked_by: &Value) -> String {
    let field = |name: &str| blocked_by.get(name).and_then(Value::as_str);
    match (
        field("machine"),
        field("execution_arn"),
        field("stop_command"),
    ) {
        (Some(machine), Some(arn), Some(stop)) => format!(
            "Nothing was changed: the {machine} run {arn} (started {}) holds this deployment, as \
             the oldest real run of its failover, fail back and re-protect state machines; its own \
             report comes when it ends. Let it end, or end it with: {stop}; then start this input \
             again.",
            field("started").unwrap_or("-")
        ),
        _ => "Nothing was changed: another real run of this deployment holds it (blocked_by); \
              let it end, or end it with aws stepfunctions stop-execution, then start this input \
              again."
            .into(),
    }
}
