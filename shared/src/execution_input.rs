//! What a caller may put in the state machine's input, checked before the state machine copies
//! or acts on it.
//!
//! The state machine carries its request in every state, and copies it into each report and into
//! the `rerun_command` of a failure; a state's data is at most 256 KiB ("Step Functions service
//! quotas", <https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html>), while
//! `StartExecution` accepts an input of up to 256 KiB ("StartExecution",
//! <https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html>). So
//! the state machine's first state hands its execution input, unchanged (no `Parameters`, which
//! would add bytes to an input at the limit), to verify-backup-copy, whose every request is
//! read-only. [`check`] refuses, with `DrFailover.InvalidInput` naming the field, before any state
//! copies it:
//! - an input larger than [`MAX_EXECUTION_INPUT_BYTES`] or a `reason` longer than
//!   [`MAX_REASON_BYTES`];
//! - any field outside [`EXECUTION_INPUT_FIELDS`] (and, inside `alarm`, outside [`ALARM_FIELDS`]):
//!   the state machine merges the input over its defaults, so an unknown spelling of `dry_run`
//!   would otherwise be ignored and the run be real;
//! - an alarm-started input (`"trigger": "alarm"`) without `alarm.time`, or whose alarm changed
//!   state longer ago than `ALARM_MAX_AGE_SECONDS`: an event EventBridge delivered late, or one
//!   sent again by hand, is a replay, not today's outage.

use std::time::{Duration, SystemTime};

use aws_smithy_types::date_time::{DateTime, Format};
use serde_json::{json, Value};

use crate::config::{self, ConfigError, Source};
use crate::error::StepFailure;
use crate::request::{json_type, Action, InputError};
use crate::result::StepResult;

/// The most `reason` may take, in bytes of UTF-8, in the execution input and in any step request.
pub const MAX_REASON_BYTES: usize = 1024;
/// The most a whole execution input (and any request of verify-backup-copy) may take, as compact
/// JSON text in bytes of UTF-8: the request, reason and the alarm's fields included, with room
/// to spare.
pub const MAX_EXECUTION_INPUT_BYTES: usize = 8 * 1024;

/// Every top-level field the state machine's input may have (`docs/contract.md`, "The state
/// machine's input"). `dry_run` is required; the state machine checks types and values.
pub const EXECUTION_INPUT_FIELDS: [&str; 9] = [
    "trigger",
    "dry_run",
    "force",
    "database_mode",
    "reason",
    "accept_partial_capacity",
    "require_approval",
    "alarm",
    "dns_change_id",
];

/// Every field `alarm` may have: what the template's alarm rule fills in from the CloudWatch
/// "Alarm State Change" event (`time` is the event's time, which for that event is when the
/// alarm changed state).
pub const ALARM_FIELDS: [&str; 4] = ["name", "time", "region", "previous_state"];

/// `ALARM_MAX_AGE_SECONDS` when unset: the template's default too, and its alarm rule's
/// `MaximumEventAgeInSeconds`, so EventBridge stops retrying a delivery when this check would
/// refuse it anyway. Fifteen minutes is several health check evaluation periods: an alarm older
/// than that has been seen by people, and they decide.
pub const DEFAULT_ALARM_MAX_AGE_SECONDS: u64 = 900;

/// How far ahead of this function's clock an alarm's time may be (clock skew between the
/// account's services and Lambda), in seconds.
pub const ALARM_CLOCK_SKEW_SECONDS: u64 = 300;

/// The step name of the check's answer.
pub const CHECK: &str = "check-request";

/// The configuration the check reads: `ALARM_MAX_AGE_SECONDS`, in seconds, 60..=86400 (the
/// range EventBridge accepts for a target's `MaximumEventAgeInSeconds`, "RetryPolicy",
/// <https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RetryPolicy.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputRules {
    /// An alarm-started run whose alarm changed state longer ago than this is refused.
    pub alarm_max_age: Duration,
}

impl Default for InputRules {
    fn default() -> Self {
        InputRules {
            alarm_max_age: Duration::from_secs(DEFAULT_ALARM_MAX_AGE_SECONDS),
        }
    }
}

impl InputRules {
    /// Reads `ALARM_MAX_AGE_SECONDS`. Errors: [`ConfigError::Invalid`] naming the variable when
    /// it is not a whole number of seconds in 60..=86400.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        const NAME: &str = "ALARM_MAX_AGE_SECONDS";
        let seconds: u64 = config::parsed(source, NAME, DEFAULT_ALARM_MAX_AGE_SECONDS)?;
        if !(60..=86_400).contains(&seconds) {
            return Err(ConfigError::Invalid {
                name: NAME,
                reason: format!(
                    "{seconds} is outside 60..=86400 seconds, the range of the alarm rule's \
                     MaximumEventAgeInSeconds"
                ),
            });
        }
        Ok(InputRules {
            alarm_max_age: Duration::from_secs(seconds),
        })
    }
}

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

/// A field's name as a message may quote it: at most 64 characters.
fn quoted(name: &str) -> String {
    let shown: String = name.chars().take(64).collect();
    if shown.len() < name.len() {
        format!("{shown:?}...")
    } else {
        format!("{shown:?}")
    }
}

/// The known field a misspelt one most likely meant: equal once case, `-`, `_` and spaces are
/// ignored (`dryRun`, `dry-run`, `DRY_RUN` for `dry_run`).
fn meant(name: &str, known: &[&str]) -> Option<&'static str> {
    let squash = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = squash(name);
    EXECUTION_INPUT_FIELDS
        .iter()
        .chain(ALARM_FIELDS.iter())
        .find(|field| known.contains(field) && squash(field) == wanted)
        .copied()
}

/// Every field is one of `known`; the first that is not is named, with the field it most likely
/// meant. `path` prefixes the name (`alarm.`).
fn check_fields(
    object: &serde_json::Map<String, Value>,
    known: &[&str],
    path: &str,
) -> Result<(), InputError> {
    let Some(unknown) = object.keys().find(|key| !known.contains(&key.as_str())) else {
        return Ok(());
    };
    let hint = match meant(unknown, known) {
        Some(field) => format!(" (did you mean {path}{field}?)"),
        None => String::new(),
    };
    Err(InputError {
        field: format!("{path}{}", unknown.chars().take(64).collect::<String>()),
        message: format!(
            "{} is not a field of the state machine's input{hint}; the fields are {}. Unknown \
             fields are refused, not ignored: a misspelt dry_run would otherwise run a real \
             failover",
            quoted(unknown),
            known
                .iter()
                .map(|f| format!("{path}{f}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// An alarm-started input carries `alarm.time` (RFC 3339), no older than `rules.alarm_max_age`
/// and no more than [`ALARM_CLOCK_SKEW_SECONDS`] ahead of `now`. Answers the alarm's age in
/// seconds, or `None` for an input another trigger started.
fn check_alarm(
    payload: &Value,
    rules: &InputRules,
    now: SystemTime,
) -> Result<Option<u64>, InputError> {
    let alarm = payload.get("alarm");
    if let Some(alarm) = alarm {
        let Some(fields) = alarm.as_object() else {
            return Err(InputError {
                field: "alarm".into(),
                message: format!("must be an object, not {}", json_type(alarm)),
            });
        };
        check_fields(fields, &ALARM_FIELDS, "alarm.")?;
    }
    if payload.get("trigger").and_then(Value::as_str) != Some("alarm") {
        return Ok(None);
    }
    let time = alarm.and_then(|alarm| alarm.get("time"));
    let Some(text) = time.and_then(Value::as_str) else {
        return Err(InputError {
            field: "alarm.time".into(),
            message: format!(
                "an alarm-started input (\"trigger\": \"alarm\") carries the time the alarm \
                 changed state, as the alarm rule fills it in; {}. A failover started by hand \
                 is \"trigger\": \"manual\" (events/statemachine/manual-failover.json)",
                match time {
                    None => "it is missing".to_owned(),
                    Some(other) => format!("this one is {}", json_type(other)),
                }
            ),
        });
    };
    let changed = DateTime::from_str(text, Format::DateTime)
        .ok()
        .and_then(|time| SystemTime::try_from(time).ok())
        .ok_or_else(|| InputError {
            field: "alarm.time".into(),
            message: format!(
                "{} is not an RFC 3339 time such as 2026-05-01T11:58:03Z",
                quoted(text)
            ),
        })?;
    match now.duration_since(changed) {
        Ok(age) if age > rules.alarm_max_age => Err(InputError {
            field: "alarm.time".into(),
            message: format!(
                "the alarm changed state at {text}, {} s ago, longer ago than \
                 ALARM_MAX_AGE_SECONDS ({} s, the template's AlarmMaxAgeSeconds): refused as a \
                 replay (an event delivered late or \
                 sent again). If the primary region is still down, fail over by hand with \
                 \"trigger\": \"manual\" (events/statemachine/manual-failover.json)",
                age.as_secs(),
                rules.alarm_max_age.as_secs()
            ),
        }),
        Ok(age) => Ok(Some(age.as_secs())),
        Err(ahead) if ahead.duration() > Duration::from_secs(ALARM_CLOCK_SKEW_SECONDS) => {
            Err(InputError {
                field: "alarm.time".into(),
                message: format!(
                    "{text} is {} s in the future: not the time of an alarm that has fired",
                    ahead.duration().as_secs()
                ),
            })
        }
        Err(_) => Ok(Some(0)),
    }
}

/// `dns_change_id`, when given and not null, is a Route 53 change ID as ChangeResourceRecordSets
/// answers it (`/change/C2682N5HXP0BZ4` or `C2682N5HXP0BZ4`: letters and digits, at most 32):
/// the change a finishing run waits for instead of submitting another ("GetChange", Amazon Route
/// 53 API Reference, <https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html>).
fn check_dns_change_id(payload: &Value) -> Result<(), InputError> {
    let Some(value) = payload.get("dns_change_id").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let Some(text) = value.as_str() else {
        return Err(InputError {
            field: "dns_change_id".into(),
            message: format!("must be a string or null, not {}", json_type(value)),
        });
    };
    let id = text.strip_prefix("/change/").unwrap_or(text);
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(InputError {
            field: "dns_change_id".into(),
            message: format!(
                "{} is not a Route 53 change ID such as /change/C2682N5HXP0BZ4 (the finish_input \
                 of an incomplete failover's report gives it)",
                quoted(text)
            ),
        });
    }
    Ok(())
}

/// Checks an execution input: `reason` when it is a string (the state machine's `ValidateRequest`
/// refuses any other type by name), the whole input's size (so a long reason is named as such),
/// the fields, and an alarm's age against `rules` at `now`. Answers a ready result whose detail
/// gives the sizes and the alarm's age in seconds (`null` when no alarm started the run):
/// `{"input_bytes": 93, "reason_bytes": 24, "alarm_age_seconds": null}`.
pub fn check(
    payload: &Value,
    rules: &InputRules,
    now: SystemTime,
) -> Result<StepResult<Value>, InputError> {
    let reason = payload.get("reason").and_then(Value::as_str);
    check_reason(reason)?;
    let input_bytes = check_size(payload)?;
    if let Some(object) = payload.as_object() {
        check_fields(object, &EXECUTION_INPUT_FIELDS, "")?;
    }
    check_dns_change_id(payload)?;
    let alarm_age_seconds = check_alarm(payload, rules, now)?;
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
            "alarm_age_seconds": alarm_age_seconds,
        }),
        wait: None,
    })
}

/// What verify-backup-copy does with a payload before anything else: an execution input is
/// answered here ([`check`], with `rules` as read at start: a configuration error is answered
/// for an alarm-started input only, naming the variable), any other payload must be within
/// [`MAX_EXECUTION_INPUT_BYTES`] and goes on (`None`). A refusal is logged and answered as
/// `DrFailover.InvalidInput`.
pub fn screen(
    payload: &Value,
    request_id: &str,
    rules: &Result<InputRules, ConfigError>,
    now: SystemTime,
) -> Result<Option<StepResult<Value>>, StepFailure> {
    let is_alarm = payload.get("trigger").and_then(Value::as_str) == Some("alarm");
    let checked = if !payload.is_object() {
        // Neither an execution input nor a step request: `null`, an array, a string or a number
        // given to StartExecution would otherwise end the run in a States.Runtime error.
        Err(InputError {
            field: "input".into(),
            message: format!("must be a JSON object, not {}", json_type(payload)),
        })
    } else if is_execution_input(payload) {
        match rules {
            Ok(rules) => check(payload, rules, now).map(Some),
            Err(error) if is_alarm => {
                tracing::error!(step = CHECK, request_id, "{error}");
                return Err(StepFailure::from(error.clone()));
            }
            Err(_) => check(payload, &InputRules::default(), now).map(Some),
        }
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

    fn at(text: &str) -> SystemTime {
        SystemTime::try_from(DateTime::from_str(text, Format::DateTime).unwrap()).unwrap()
    }

    fn alarm_input(time: &str) -> Value {
        json!({"trigger": "alarm", "dry_run": false, "reason": "r",
               "alarm": {"name": "app-health", "time": time, "region": "us-east-1", "previous_state": "OK"}})
    }

    #[test]
    fn a_field_outside_the_documented_set_is_refused_by_name_with_what_it_likely_meant() {
        for (field, meant) in [
            ("dryRun", Some("dry_run")),
            ("DRY-RUN", Some("dry_run")),
            ("dry_run ", Some("dry_run")),
            ("options", None),
            ("Force", Some("force")),
        ] {
            let input = json!({"trigger": "manual", "dry_run": true, field: true});
            let error = check(&input, &InputRules::default(), SystemTime::now()).unwrap_err();
            assert_eq!(error.field, field);
            match meant {
                Some(meant) => assert!(
                    error.message.contains(&format!("did you mean {meant}?")),
                    "{}",
                    error.message
                ),
                None => assert!(!error.message.contains("did you mean"), "{}", error.message),
            }
            assert!(
                error.message.contains("trigger, dry_run, force"),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn a_dns_change_id_is_a_route_53_change_id_or_null() {
        let rules = InputRules::default();
        for ok in [
            json!(null),
            json!("/change/C2682N5HXP0BZ4"),
            json!("C2682N5HXP0BZ4"),
        ] {
            let input = json!({"trigger": "manual", "dry_run": false, "dns_change_id": ok});
            assert!(check(&input, &rules, SystemTime::now()).is_ok(), "{input}");
        }
        for bad in [
            json!(7),
            json!(""),
            json!("/change/"),
            json!("C1; rm -rf"),
            json!("C".repeat(33)),
        ] {
            let input = json!({"trigger": "manual", "dry_run": false, "dns_change_id": bad});
            let error = check(&input, &rules, SystemTime::now()).unwrap_err();
            assert_eq!(error.field, "dns_change_id", "{input}");
        }
    }

    #[test]
    fn nested_options_and_unknown_alarm_fields_are_refused() {
        let nested = json!({"dry_run": false, "options": {"dry_run": true}});
        assert_eq!(
            check(&nested, &InputRules::default(), SystemTime::now())
                .unwrap_err()
                .field,
            "options"
        );
        let mut input = alarm_input("2026-12-01T10:00:00Z");
        input["alarm"]["state"] = json!("ALARM");
        let error = check(&input, &InputRules::default(), at("2026-12-01T10:01:00Z")).unwrap_err();
        assert_eq!(error.field, "alarm.state");
        let error = check(
            &json!({"dry_run": true, "alarm": "x"}),
            &InputRules::default(),
            SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(error.field, "alarm");
    }

    #[test]
    fn an_alarm_within_its_age_passes_and_its_age_is_reported() {
        let result = check(
            &alarm_input("2026-12-01T10:00:00Z"),
            &InputRules::default(),
            at("2026-12-01T10:14:59Z"),
        )
        .unwrap();
        assert_eq!(result.detail["alarm_age_seconds"], 899);
        let manual = check(
            &json!({"trigger": "manual", "dry_run": false}),
            &InputRules::default(),
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(manual.detail["alarm_age_seconds"], Value::Null);
    }

    #[test]
    fn an_alarm_older_than_the_maximum_age_is_refused_as_a_replay() {
        let error = check(
            &alarm_input("2026-12-01T10:00:00Z"),
            &InputRules::default(),
            at("2026-12-01T10:15:01Z"),
        )
        .unwrap_err();
        assert_eq!(error.field, "alarm.time");
        assert!(
            error.message.contains("901 s ago")
                && error
                    .message
                    .contains("ALARM_MAX_AGE_SECONDS (900 s, the template's AlarmMaxAgeSeconds)")
                && error.message.contains("replay")
                && error.message.contains("\"trigger\": \"manual\""),
            "{}",
            error.message
        );
        let rules = InputRules {
            alarm_max_age: Duration::from_secs(3600),
        };
        assert!(check(
            &alarm_input("2026-12-01T10:00:00Z"),
            &rules,
            at("2026-12-01T10:15:01Z")
        )
        .is_ok());
    }

    #[test]
    fn an_alarm_input_without_a_usable_time_is_refused() {
        let now = at("2026-12-01T10:00:00Z");
        let missing = json!({"trigger": "alarm", "dry_run": false, "alarm": {"name": "a"}});
        assert_eq!(
            check(&missing, &InputRules::default(), now)
                .unwrap_err()
                .field,
            "alarm.time"
        );
        let no_alarm = json!({"trigger": "alarm", "dry_run": false});
        assert!(check(&no_alarm, &InputRules::default(), now)
            .unwrap_err()
            .message
            .contains("missing"));
        for bad in ["yesterday", "2026-13-01T00:00:00Z"] {
            let error = check(&alarm_input(bad), &InputRules::default(), now).unwrap_err();
            assert!(error.message.contains("RFC 3339"), "{}", error.message);
        }
        let ahead = check(
            &alarm_input("2026-12-01T10:06:00Z"),
            &InputRules::default(),
            now,
        )
        .unwrap_err();
        assert!(
            ahead.message.contains("360 s in the future"),
            "{}",
            ahead.message
        );
        assert!(
            check(
                &alarm_input("2026-12-01T10:04:00Z"),
                &InputRules::default(),
                now
            )
            .is_ok(),
            "clock skew"
        );
    }

    #[test]
    fn the_maximum_age_is_configured_within_eventbridges_range() {
        assert_eq!(
            InputRules::from_source(&[("X", "1")]).unwrap(),
            InputRules::default()
        );
        assert_eq!(
            InputRules::from_source(&[("ALARM_MAX_AGE_SECONDS", "600")])
                .unwrap()
                .alarm_max_age,
            Duration::from_secs(600)
        );
        for bad in ["59", "86401", "ten"] {
            let error = InputRules::from_source(&[("ALARM_MAX_AGE_SECONDS", bad)]).unwrap_err();
            assert!(
                error.to_string().contains("ALARM_MAX_AGE_SECONDS"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_bad_maximum_age_refuses_alarm_inputs_only_naming_the_variable() {
        let rules = InputRules::from_source(&[("ALARM_MAX_AGE_SECONDS", "5")]);
        let failure = screen(
            &alarm_input("2026-12-01T10:00:00Z"),
            "r",
            &rules,
            SystemTime::now(),
        )
        .unwrap_err();
        assert!(
            failure.message.contains("ALARM_MAX_AGE_SECONDS"),
            "{}",
            failure.message
        );
        let manual = json!({"trigger": "manual", "dry_run": true});
        assert!(screen(&manual, "r", &rules, SystemTime::now())
            .unwrap()
            .is_some());
    }

    #[test]
    fn an_input_that_is_not_an_object_is_refused_naming_its_type() {
        for (payload, kind) in [
            (json!(null), "null"),
            (json!([1, 2]), "an array"),
            (json!("fail over"), "a string"),
            (json!(7), "a number"),
        ] {
            let failure =
                screen(&payload, "r", &Ok(InputRules::default()), SystemTime::now()).unwrap_err();
            assert_eq!(failure.kind.error_name(), "DrFailover.InvalidInput");
            assert!(failure.message.contains(kind), "{}", failure.message);
        }
    }

    #[test]
    fn a_usual_input_passes_with_its_sizes() {
        let input = json!({"trigger": "manual", "dry_run": false, "reason": "drill"});
        let result = check(&input, &InputRules::default(), SystemTime::now()).unwrap();
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
        let error = check(
            &json!({"reason": reason}),
            &InputRules::default(),
            SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(error.field, "reason");
        assert!(error.message.contains("1026 bytes"), "{}", error.message);
        assert!(!error.message.contains('é'));
    }

    #[test]
    fn a_reason_that_alone_passes_the_input_maximum_is_still_named() {
        let error = check(
            &json!({"reason": "x".repeat(200_000)}),
            &InputRules::default(),
            SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(error.field, "reason");
    }

    #[test]
    fn a_reason_at_the_maximum_passes() {
        let reason = "a".repeat(MAX_REASON_BYTES);
        assert!(check(
            &json!({"reason": reason}),
            &InputRules::default(),
            SystemTime::now()
        )
        .is_ok());
    }

    #[test]
    fn an_input_over_the_maximum_is_refused_whatever_field_holds_the_text() {
        let input = json!({"trigger": "manual", "notes": "x".repeat(MAX_EXECUTION_INPUT_BYTES)});
        let error = check(&input, &InputRules::default(), SystemTime::now()).unwrap_err();
        assert_eq!(error.field, "(request)");
        assert!(!error.message.contains("xxxx"));
    }

    #[test]
    fn screen_answers_an_execution_input_and_lets_a_small_step_request_through() {
        let answer = screen(
            &json!({"trigger": "manual"}),
            "r1",
            &Ok(InputRules::default()),
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(answer.unwrap().step, CHECK);
        assert!(screen(
            &json!({"action": "verify"}),
            "r1",
            &Ok(InputRules::default()),
            SystemTime::now()
        )
        .unwrap()
        .is_none());
        let failure = screen(
            &json!({"action": "verify", "x": "y".repeat(9000)}),
            "r1",
            &Ok(InputRules::default()),
            SystemTime::now(),
        )
        .unwrap_err();
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
