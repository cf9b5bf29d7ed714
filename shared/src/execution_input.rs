//! Bounds on what a caller may put in a request, checked before the state machine copies it.
//!
//! The state machine carries its request in every state, and copies it into each report and into
//! the `rerun_command` of a failure; a state's data is at most 256 KiB ("Step Functions service
//! quotas", <https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html>), while
//! `StartExecution` accepts an input of up to 256 KiB ("StartExecution",
//! <https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html>). So
//! the state machine's first state hands its execution input, unchanged (no `Parameters`, which
//! would add bytes to an input at the limit), to verify-backup-copy, whose every request is
//! read-only; [`check`] refuses an input larger than [`MAX_EXECUTION_INPUT_BYTES`] or a `reason`
//! longer than [`MAX_REASON_BYTES`], with `DrFailover.InvalidInput` naming the field, before any
//! state copies it.

use serde_json::{json, Value};

use crate::error::StepFailure;
use crate::request::{json_type, Action, InputError};
use crate::result::StepResult;

/// The most `reason` may take, in bytes of UTF-8, in the execution input and in any step request.
pub const MAX_REASON_BYTES: usize = 1024;
/// The most a whole execution input (and any request of verify-backup-copy) may take, as compact
/// JSON text in bytes of UTF-8: the request, reason and the alarm's fields included, with room
/// to spare.
pub const MAX_EXECUTION_INPUT_BYTES: usize = 8 * 1024;

/// The step name of the check's answer.
pub const CHECK: &str = "check-request";

/// A payload that is the state machine's execution input rather than a step request: an object
/// with neither `action` (a step request) nor `source` (an EventBridge event).
pub fn is_execution_input(payload: &Value) -> bool {
    payload
        .as_object()
        .is_some_and(|object| !object.contains_key("action") && !object.contains_key("source"))
}

/// `reason`, if given, is at most [`MAX_REASON_BYTES`]. The error names the field and the sizes,
/// never the text.
pub fn check_reason(reason: Option<&str>) -> Result<(), InputError> {
    match reason {
        Some(reason) if reason.len() > MAX_REASON_BYTES => Err(InputError {
            field: "reason".into(),
            message: format!(
                "{} bytes, more than the maximum of {MAX_REASON_BYTES} bytes (UTF-8); \
                 put a longer account elsewhere and link it",
                reason.len()
            ),
        }),
        _ => Ok(()),
    }
}

/// The payload as compact JSON is at most [`MAX_EXECUTION_INPUT_BYTES`].
pub fn check_size(payload: &Value) -> Result<usize, InputError> {
    let bytes = serde_json::to_string(payload).map_or(usize::MAX, |text| text.len());
    if bytes > MAX_EXECUTION_INPUT_BYTES {
        return Err(InputError {
            field: "(request)".into(),
            message: format!(
                "{bytes} bytes, more than the maximum of {MAX_EXECUTION_INPUT_BYTES} bytes \
                 (compact JSON, UTF-8)"
            ),
        });
    }
    Ok(bytes)
}

/// Checks an execution input: `reason` when it is a string (the state machine's `ValidateRequest`
/// refuses any other type by name), then the whole input's size, so a long reason is named as such. Answers a ready result whose detail gives
/// the sizes: `{"input_bytes": 93, "reason_bytes": 24}`.
pub fn check(payload: &Value) -> Result<StepResult<Value>, InputError> {
    let reason = payload.get("reason").and_then(Value::as_str);
    check_reason(reason)?;
    let input_bytes = check_size(payload)?;
    Ok(StepResult {
        step: CHECK.into(),
        action: Action::Plan,
        dry_run: true,
        changed: false,
        ready: true,
        refusals: Vec::new(),
        warnings: Vec::new(),
        summary: format!("the request is within bounds ({input_bytes} bytes)"),
        detail: json!({
            "input_bytes": input_bytes,
            "reason_bytes": reason.map_or(0, str::len),
        }),
        wait: None,
    })
}

/// What verify-backup-copy does with a payload before anything else: an execution input is
/// answered here ([`check`]), any other payload must be within [`MAX_EXECUTION_INPUT_BYTES`] and
/// goes on (`None`). A refusal is logged and answered as `DrFailover.InvalidInput`.
pub fn screen(payload: &Value, request_id: &str) -> Result<Option<StepResult<Value>>, StepFailure> {
    let checked = if !payload.is_object() {
        // Neither an execution input nor a step request: `null`, an array, a string or a number
        // given to StartExecution would otherwise end the run in a States.Runtime error.
        Err(InputError {
            field: "input".into(),
            message: format!("must be a JSON object, not {}", json_type(payload)),
        })
    } else if is_execution_input(payload) {
        check(payload).map(Some)
    } else {
        check_size(payload).map(|_| None)
    };
    checked.map_err(|error| {
        tracing::error!(step = CHECK, request_id, field = %error.field, "{error}");
        StepFailure::from(error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_that_is_not_an_object_is_refused_naming_its_type() {
        for (payload, kind) in [
            (json!(null), "null"),
            (json!([1, 2]), "an array"),
            (json!("fail over"), "a string"),
            (json!(7), "a number"),
        ] {
            let failure = screen(&payload, "r").unwrap_err();
            assert_eq!(failure.kind.error_name(), "DrFailover.InvalidInput");
            assert!(failure.message.contains(kind), "{}", failure.message);
        }
    }

    #[test]
    fn a_usual_input_passes_with_its_sizes() {
        let input = json!({"trigger": "manual", "dry_run": false, "reason": "drill"});
        let result = check(&input).unwrap();
        assert!(result.ready);
        assert_eq!(result.detail["reason_bytes"], 5);
        assert_eq!(
            result.detail["input_bytes"],
            serde_json::to_string(&input).unwrap().len()
        );
    }

    #[test]
    fn a_reason_over_the_maximum_is_refused_by_name_without_echoing_it() {
        let reason = "é".repeat(MAX_REASON_BYTES / 2 + 1);
        let error = check(&json!({"reason": reason})).unwrap_err();
        assert_eq!(error.field, "reason");
        assert!(error.message.contains("1026 bytes"), "{}", error.message);
        assert!(!error.message.contains('é'));
    }

    #[test]
    fn a_reason_that_alone_passes_the_input_maximum_is_still_named() {
        let error = check(&json!({"reason": "x".repeat(200_000)})).unwrap_err();
        assert_eq!(error.field, "reason");
    }

    #[test]
    fn a_reason_at_the_maximum_passes() {
        let reason = "a".repeat(MAX_REASON_BYTES);
        assert!(check(&json!({"reason": reason})).is_ok());
    }

    #[test]
    fn an_input_over_the_maximum_is_refused_whatever_field_holds_the_text() {
        let input = json!({"trigger": "manual", "notes": "x".repeat(MAX_EXECUTION_INPUT_BYTES)});
        let error = check(&input).unwrap_err();
        assert_eq!(error.field, "(request)");
        assert!(!error.message.contains("xxxx"));
    }

    #[test]
    fn screen_answers_an_execution_input_and_lets_a_small_step_request_through() {
        let answer = screen(&json!({"trigger": "manual"}), "r1").unwrap();
        assert_eq!(answer.unwrap().step, CHECK);
        assert!(screen(&json!({"action": "verify"}), "r1")
            .unwrap()
            .is_none());
        let failure =
            screen(&json!({"action": "verify", "x": "y".repeat(9000)}), "r1").unwrap_err();
        assert_eq!(failure.kind, crate::error::ErrorKind::InvalidInput);
    }

    #[test]
    fn step_requests_and_events_are_not_execution_inputs() {
        assert!(is_execution_input(&json!({"trigger": "alarm"})));
        assert!(is_execution_input(&json!({})));
        assert!(!is_execution_input(&json!({"action": "verify"})));
        assert!(!is_execution_input(&json!({"source": "aws.events"})));
        assert!(!is_execution_input(&json!("text")));
    }
}
