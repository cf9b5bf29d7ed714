//! Whether the automation is armed, as readiness judges it: the rule that starts a failover when
//! the health check alarm goes to ALARM is enabled, that alarm has the data to go to ALARM, and
//! us-east-1 has forwarded every alarm event (its dead-letter queue's alarm is not in ALARM).
//!
//! The readiness state machine reads them (its `Automation` branch, `state.plan.automation`):
//! `rule` (`{name, arn, state}`, EventBridge `DescribeRule`) or `rule_error`; `rule_tags`
//! (`{tags: [{Key, Value}]}`, `ListTagsForResource`: fail back pauses the rule and tags it
//! `dr-failover:paused-by-failback` with its run's name); `health_alarm` and `unforwarded_alarm`
//! (`{detail}`, verify-backup-copy's `alarm-state` read, [`crate::alarm_state`]) or their
//! `*_error`. A read that fails is a warning (read-only context); what is read and disarms the
//! automation is a refusal naming the command that re-arms it.

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::pause::{resume_commands, PauseMark, PauseState};

/// The tag fail back puts on the trigger rule while it holds the rule disabled.
pub const PAUSED_BY_FAILBACK_TAG: &str = "dr-failover:paused-by-failback";

/// Readiness's judgement of the automation: `armed` when nothing read disarms it.
#[derive(Debug, Clone, PartialEq)]
pub struct Automation {
    pub refusals: Vec<String>,
    pub warnings: Vec<String>,
}

impl Automation {
    pub fn armed(&self) -> bool {
        self.refusals.is_empty()
    }

    /// The report's `automation` section: `armed`, `refusals`, `warnings`, and what was read.
    pub fn report(&self, read: &Value) -> Value {
        json!({
            "armed": self.armed(),
            "refusals": self.refusals,
            "warnings": self.warnings,
            "rule": read.get("rule").cloned().unwrap_or(Value::Null),
            "health_alarm": read.pointer("/health_alarm/detail").cloned().unwrap_or(Value::Null),
            "unforwarded_alarm": read.pointer("/unforwarded_alarm/detail").cloned().unwrap_or(Value::Null),
        })
    }
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn error_of(read: &Value, key: &str) -> Option<String> {
    read.get(key).map(|error| {
        let name = text(error, "/Error").unwrap_or("an error");
        match text(error, "/Cause") {
            Some(cause) if !cause.is_empty() => format!("{name}: {cause}"),
            _ => name.to_owned(),
        }
    })
}

/// Judges what the readiness run read (`read`, the `Automation` branch's output) for a
/// deployment whose DR region is `region` (where the trigger rule lives; us-east-1 forwards
/// nothing when it is the DR region itself), at `now` (an operator's pause holds until its
/// `paused-until`).
pub fn judge(read: &Value, region: &str, now: SystemTime) -> Automation {
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();

    if let Some(tags) = read.get("rule_tags") {
        match PauseMark::from_tag_list(tags) {
            Ok(Some(mark)) => {
                let deployment = text(read, "/deployment").unwrap_or("<deployment>");
                let rule_arn = text(read, "/rule/arn").unwrap_or("<trigger rule ARN>");
                let (resume, resume_aws) = resume_commands(deployment, region, rule_arn);
                match mark.state(now) {
                    PauseState::Active => refusals.push(format!(
                        "automation disarmed: {}; a health check alarm going to ALARM starts no \
                         failover until then; resume: {resume} (or {resume_aws})",
                        mark.describe()
                    )),
                    PauseState::Expired => warnings.push(format!(
                        "an operator's pause has ended (it was {}); the automation is armed, and \
                         its mark stays on the trigger rule until: {resume}",
                        mark.describe()
                    )),
                }
            }
            Ok(None) => {}
            Err(error) => warnings.push(format!(
                "an operator's pause mark on the trigger rule cannot be read ({error}); it is \
                 ignored, as a failover ignores it"
            )),
        }
    }

    match (read.get("rule"), error_of(read, "rule_error")) {
        (Some(rule), _) => {
            let name = text(rule, "/name").unwrap_or("the trigger rule");
            let state = text(rule, "/state").unwrap_or("in no state");
            if state != "ENABLED" {
                let paused_by = read
                    .pointer("/rule_tags/tags")
                    .and_then(Value::as_array)
                    .and_then(|tags| {
                        tags.iter().find(|tag| {
                            tag.get("Key").and_then(Value::as_str) == Some(PAUSED_BY_FAILBACK_TAG)
                        })
                    })
                    .and_then(|tag| tag.get("Value").and_then(Value::as_str));
                let why = match paused_by {
                    Some(run) => format!(
                        ", paused by the fail back run {run} (it enables the rule again when it \
                         ends; if that run has ended, re-arm by hand)"
                    ),
                    None => String::new(),
                };
                refusals.push(format!(
                    "automation disarmed: the trigger rule {name} is {state}{why}, so a health \
                     check alarm going to ALARM starts no failover; re-arm: aws events enable-rule \
                     --region {region} --name {name}"
                ));
            }
        }
        (None, Some(error)) => warnings.push(format!(
            "whether the trigger rule is armed is unknown: it could not be read ({error})"
        )),
        (None, None) => warnings.push(
            "whether the trigger rule is armed is unknown: readiness did not read it".to_owned(),
        ),
    }
    if let Some(error) = error_of(read, "rule_tags_error") {
        warnings.push(format!(
            "who paused the trigger rule is unknown: its tags could not be read ({error})"
        ));
    }

    match (
        read.pointer("/health_alarm/detail"),
        error_of(read, "health_alarm_error"),
    ) {
        (Some(detail), _) => {
            let name = text(detail, "/alarm").unwrap_or("the health check alarm");
            let since = text(detail, "/state_since")
                .map(|t| format!(" since {t}"))
                .unwrap_or_default();
            match (text(detail, "/state"), text(detail, "/read_error")) {
                (Some("INSUFFICIENT_DATA"), _) => refusals.push(format!(
                    "automation disarmed: the health check alarm {name} is INSUFFICIENT_DATA{since}: \
                     without the health check's data it cannot go to ALARM, so no failover starts \
                     by itself; check the health check and the alarm: aws cloudwatch \
                     describe-alarms --region us-east-1 --alarm-names {name}"
                )),
                (Some("ALARM"), _) => warnings.push(format!(
                    "the health check alarm {name} is in ALARM{since}: the primary is failing its \
                     health check, and a failover should be running"
                )),
                (Some(_), _) => {}
                (None, error) => warnings.push(format!(
                    "the health check alarm's state is unknown: {}",
                    error.unwrap_or("it was not read")
                )),
            }
        }
        (None, error) => warnings.push(format!(
            "the health check alarm's state is unknown: {}",
            error.unwrap_or_else(|| "readiness did not read it".into())
        )),
    }

    if region != "us-east-1" {
        match (
            read.pointer("/unforwarded_alarm/detail"),
            error_of(read, "unforwarded_alarm_error"),
        ) {
            (Some(detail), _) => {
                let name = text(detail, "/alarm").unwrap_or("the forwarding dead-letter alarm");
                match (text(detail, "/state"), text(detail, "/read_error")) {
                    (Some("ALARM"), _) => refusals.push(format!(
                        "automation disarmed: us-east-1 could not forward health check alarm \
                         events to {region} ({name} is in ALARM{}): an ALARM may have gone \
                         unheard; if the primary is down, start the failover by hand, then look \
                         at the us-east-1 stack's dead-letter queue",
                        text(detail, "/state_since")
                            .map(|t| format!(" since {t}"))
                            .unwrap_or_default()
                    )),
                    (Some(_), _) => {}
                    (None, error) => warnings.push(format!(
                        "whether us-east-1 forwards every alarm event is unknown: {} (update the \
                         us-east-1 stack: it creates this alarm)",
                        error.unwrap_or("its alarm was not read")
                    )),
                }
            }
            (None, error) => warnings.push(format!(
                "whether us-east-1 forwards every alarm event is unknown: {}",
                error.unwrap_or_else(|| "readiness did not read it".into())
            )),
        }
    }
    Automation { refusals, warnings }
}

/// How old the witness's mark may be at a readiness run: a quarter of an hour (readiness's default
/// period) of a witness that probes every minute. Shorter silences alert through the DR stack's
/// WitnessSilentAlarm.
pub const WITNESS_READINESS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(900);

/// Readiness's judgement of the witness ([`crate::witness`]) from the trigger rule's tags it read
/// (`rule_tags`), at `now`, added to `automation`. With a witness (`configured`:
/// `WITNESS_CONFIRMS_ALARM`), a witness that has not reported within
/// [`WITNESS_READINESS_MAX_AGE`] disarms the automation (a refusal, NOT READY: no alarm-started
/// failover is confirmed, and the witness cannot fail over alone); tags that could not be read are
/// already a warning. Without one nothing is added: the deployment keeps the alarm alone as its
/// trigger, and its readiness figures stay as they were.
pub fn judge_witness(read: &Value, now: SystemTime, configured: bool, automation: &mut Automation) {
    if !configured {
        return;
    }
    let Some(tags) = read.get("rule_tags") else {
        return;
    };
    match crate::witness::mark::WitnessMark::from_tag_list(tags) {
        Some(mark) if mark.age(now) <= WITNESS_READINESS_MAX_AGE => {}
        found => automation.refusals.push(format!(
            "automation disarmed: the witness is silent ({}): an alarm-started failover is not \
             confirmed and the witness cannot fail over alone; see the witness function's logs \
             and its schedule rule",
            found.map_or_else(
                || "it has recorded no probe on the trigger rule".to_owned(),
                |mark| format!("its last probe was at {}", mark.seen)
            )
        )),
    }
}
