//! What verify-backup-copy answers before its own request is parsed, and without its
//! configuration: the state machine's execution input ([`crate::execution_input`]).

use std::time::SystemTime;

use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::config::ConfigError;
use crate::execution_input::{self, InputRules};
use crate::lambda::Answer;

/// verify-backup-copy's screen (see [`crate::lambda::serve_screened`]), holding what the
/// function read of its variables at start.
#[derive(Debug, Clone)]
pub struct Screen {
    rules: Result<InputRules, ConfigError>,
}

impl Screen {
    /// The screen with verify-backup-copy's variables as read at start: `rules`
    /// ([`InputRules::from_source`], `ALARM_MAX_AGE_SECONDS`; an error is kept and answered for
    /// an alarm-started input only).
    pub fn new(rules: Result<InputRules, ConfigError>) -> Self {
        Screen { rules }
    }

    /// The answer to `event` at `now`, if it is one of the screen's: an execution input, or a payload
    /// over [`execution_input::MAX_EXECUTION_INPUT_BYTES`] (refused as `DrFailover.InvalidInput`;
    /// see [`execution_input::screen`]). `None`: a step request or event within bounds, for the
    /// backup step.
    pub fn answer(&self, event: &LambdaEvent<Value>, now: SystemTime) -> Option<Answer> {
        // The execution input check needs no configuration: it answers even when setup failed.
        execution_input::screen(&event.payload, &event.context.request_id, &self.rules, now)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lambda_runtime::Context;
    use serde_json::json;

    use super::*;
    use crate::config::Source;
    use crate::error::ErrorKind;

    fn screen(variables: &[(&str, &str)]) -> Screen {
        let source: BTreeMap<String, String> = variables
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let source: &dyn Source = &source;
        Screen::new(InputRules::from_source(source))
    }

    fn event(payload: Value) -> LambdaEvent<Value> {
        LambdaEvent::new(payload, Context::default())
    }

    #[test]
    fn an_execution_input_is_answered_and_a_step_request_goes_on() {
        let screen = screen(&[]);
        let answer = screen
            .answer(&event(json!({"trigger": "manual"})), SystemTime::now())
            .unwrap()
            .unwrap();
        assert_eq!(answer.step, execution_input::CHECK);
        assert!(screen
            .answer(&event(json!({"action": "verify"})), SystemTime::now())
            .is_none());
    }

    #[test]
    fn an_oversized_step_request_is_refused_as_invalid_input() {
        let payload = json!({"action": "verify", "x": "y".repeat(9000)});
        let failure = screen(&[])
            .answer(&event(payload), SystemTime::now())
            .unwrap()
            .unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput);
    }

    #[test]
    fn an_invalid_alarm_age_is_answered_for_an_alarm_started_input_naming_the_variable() {
        let screen = screen(&[("ALARM_MAX_AGE_SECONDS", "5")]);
        let failure = screen
            .answer(
                &event(json!({"trigger": "alarm", "alarm": {"time": "2026-12-01T04:25:41Z"}})),
                SystemTime::now(),
            )
            .unwrap()
            .unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput);
        assert!(
            failure.message.contains("ALARM_MAX_AGE_SECONDS"),
            "{}",
            failure.message
        );
        assert!(screen
            .answer(&event(json!({"action": "verify"})), SystemTime::now())
            .is_none());
    }
}
