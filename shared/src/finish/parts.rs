//! The pieces every machine's report is built from.

use serde_json::{json, Map, Value};

use super::{FinishConfig, RunContext};

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
