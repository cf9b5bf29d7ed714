//! The request every step function accepts, whichever trigger started the failover.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorKind, StepError};
use crate::wait::WaitContext;

/// What the caller wants from a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Read-only: what `apply` would change and any reason to refuse.
    Plan,
    /// Make the change unless it is already made.
    Apply,
    /// Report progress so the state machine can decide to wait or go on.
    Status,
}

/// How an Aurora Global Database moves its writer to the DR region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseMode {
    /// `FailoverGlobalCluster` with `AllowDataLoss`: the primary region is down.
    #[default]
    Failover,
    /// `SwitchoverGlobalCluster`: planned, both regions healthy, no data loss.
    Switchover,
}

/// The request of `promote-replica`, `scale-asg` and `flip-dns`. See `docs/contract.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    pub action: Action,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub database_mode: DatabaseMode,
    #[serde(default)]
    pub execution_id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub change_id: Option<String>,
    /// scale-asg: the capacity each group must reach, in the group's own units, as the plan
    /// resolved it. Pins a target that is a share of a primary group for the whole run, so every
    /// call of one run works towards the same number.
    #[serde(default)]
    pub targets: Option<BTreeMap<String, i32>>,
    /// Sent by the state machine's wait loops: the stage's start and time budget. A temporary
    /// condition (`DrFailover.Retryable`, `DrFailover.NotReady`) is then answered as a result
    /// that is not ready, with the condition as `wait.pending`, instead of an error.
    #[serde(default)]
    pub wait: Option<WaitContext>,
}

impl StepRequest {
    pub fn new(action: Action) -> Self {
        StepRequest {
            action,
            dry_run: false,
            force: false,
            database_mode: DatabaseMode::default(),
            execution_id: None,
            reason: None,
            change_id: None,
            targets: None,
            wait: None,
        }
    }

    /// The action to carry out: a dry run never applies, it plans.
    pub fn effective_action(&self) -> Action {
        match self.action {
            Action::Apply if self.dry_run => Action::Plan,
            action => action,
        }
    }
}

/// A request that names what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid request: field `{field}`: {message}")]
pub struct InputError {
    pub field: String,
    pub message: String,
}

impl StepError for InputError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// Deserializes a request and, when it is wrong, says which field. serde reports missing and
/// unknown fields at the parent's path, so the field name is taken from the message then.
pub fn parse_request<T: DeserializeOwned>(payload: Value) -> Result<T, InputError> {
    if !payload.is_object() {
        return Err(InputError {
            field: "(request)".into(),
            message: format!("expected a JSON object, got {}", json_type(&payload)),
        });
    }
    serde_path_to_error::deserialize(payload).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let named = message.split('`').nth(1).map(str::to_owned);
        // Depending on the input, serde reports an unknown field at its own path or at its
        // parent's; a missing field is always reported at the parent's.
        let field = match (path.as_str(), named) {
            (".", Some(name)) => name,
            (".", None) => "(request)".to_owned(),
            (_, Some(name))
                if (message.starts_with("missing field")
                    || message.starts_with("unknown field"))
                    && !path.ends_with(name.as_str()) =>
            {
                format!("{path}.{name}")
            }
            _ => path,
        };
        // A request type that names its own field puts it first in backquotes; once it is the
        // field, it is not repeated in the message.
        let message = message
            .strip_prefix(&format!("`{field}`: "))
            .map_or(message.clone(), str::to_owned);
        InputError { field, message }
    })
}

/// How a JSON value's type reads in an error message ("an array", "null").
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<StepRequest, InputError> {
        parse_request(value)
    }

    #[test]
    fn when_only_action_is_given_should_default_to_a_real_unforced_failover() {
        let request = parse(json!({"action": "plan"})).unwrap();
        assert_eq!(request, StepRequest::new(Action::Plan));
    }

    #[test]
    fn when_action_is_missing_should_name_the_action_field() {
        let error = parse(json!({"dry_run": true})).unwrap_err();
        assert_eq!(error.field, "action");
    }

    #[test]
    fn when_action_is_unknown_should_name_the_action_field() {
        let error = parse(json!({"action": "destroy"})).unwrap_err();
        assert_eq!(error.field, "action");
        assert!(error.message.contains("destroy"), "{}", error.message);
    }

    #[test]
    fn when_dry_run_has_the_wrong_type_should_name_dry_run() {
        let error = parse(json!({"action": "apply", "dry_run": "yes"})).unwrap_err();
        assert_eq!(error.field, "dry_run");
    }

    #[test]
    fn when_a_field_is_misspelt_should_refuse_rather_than_ignore_it() {
        let error = parse(json!({"action": "apply", "dry-run": true})).unwrap_err();
        assert_eq!(error.field, "dry-run");
    }

    #[test]
    fn when_a_nested_field_is_missing_should_name_its_full_path() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            inner: Inner,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            state: String,
        }
        let error = parse_request::<Outer>(json!({"inner": {}})).unwrap_err();
        assert_eq!(error.field, "inner.state");
    }

    #[test]
    fn when_payload_is_not_an_object_should_say_so() {
        let error = parse(Value::Null).unwrap_err();
        assert_eq!(error.field, "(request)");
        assert!(error.message.contains("null"));
    }

    #[test]
    fn when_apply_is_a_dry_run_should_plan_instead() {
        let request = parse(json!({"action": "apply", "dry_run": true})).unwrap();
        assert_eq!(request.effective_action(), Action::Plan);
        let request = parse(json!({"action": "apply"})).unwrap();
        assert_eq!(request.effective_action(), Action::Apply);
    }

    #[test]
    fn database_mode_accepts_switchover() {
        let request = parse(json!({"action": "apply", "database_mode": "switchover"})).unwrap();
        assert_eq!(request.database_mode, DatabaseMode::Switchover);
    }
}
