//! The question a state machine asks at its start: does its run hold the deployment ([`hold`]),
//! and, for an alarm-started failover, has an operator paused the automation
//! ([`PauseRead::judge`]).

use serde::Serialize;

use super::{decide, holding_seen_by, Doubt, ExclusiveError, Guard, OnDoubt, Run};
use crate::pause::{PauseMark, PauseState};
use crate::witness::mark::{judge, Verdict, DEFAULT_WITNESS_MAX_AGE};

/// The outcome of a run an operator's pause holds back.
pub const ALARM_PAUSED: &str = "alarm-paused";
/// The outcome of an alarm-started real run the witness does not confirm.
pub const ALARM_UNCONFIRMED: &str = "alarm-unconfirmed";

/// The request a state machine sends at its start to learn whether its run holds the
/// deployment: `{"action": "hold", "execution_id": "$$.Execution.Id"}`, and, from the failover,
/// `pause`: what it read of an operator's pause ([`crate::pause`]).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub action: HoldAction,
    pub execution_id: String,
    #[serde(default)]
    pub pause: Option<PauseRead>,
}

/// What the failover read of an operator's pause before asking to hold: its request's `trigger`
/// and `dry_run`, and `read`, the trigger rule's EventBridge `ListTagsForResource` answer
/// (`{"Tags": [...]}`) or the error that read ended with (`{"Error", "Cause"}`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseRead {
    pub trigger: String,
    pub dry_run: bool,
    pub read: serde_json::Value,
}

/// The triggers of runs no person started: the health check alarm, and the witness
/// ([`crate::witness`]). An operator's pause holds back a real run of either.
pub const AUTOMATIC_TRIGGERS: [&str; 2] = ["alarm", "witness"];

impl PauseRead {
    /// What the witness says of a real run the alarm started ([`crate::witness::mark::judge`]
    /// on the same read of the trigger rule's tags, at `now`); `None` for any other run (a
    /// manual run and a dry run are never held back; a witness-started run is its own witness).
    pub fn witness(&self, now: std::time::SystemTime) -> Option<Verdict> {
        (self.trigger == "alarm" && !self.dry_run)
            .then(|| judge(&self.read, now, DEFAULT_WITNESS_MAX_AGE))
    }

    /// The pause that holds this run back at `now`: only a real run the alarm or the witness
    /// started is held back, by a mark that is active. A mark that cannot be read holds nothing back and is a
    /// warning: read-only context never blocks a failover.
    pub fn judge(&self, now: std::time::SystemTime) -> (Option<PauseMark>, Vec<String>) {
        if !AUTOMATIC_TRIGGERS.contains(&self.trigger.as_str()) || self.dry_run {
            return (None, Vec::new());
        }
        if let Some(error) = self.read.get("Error").and_then(serde_json::Value::as_str) {
            return (
                None,
                vec![format!(
                    "whether an operator paused the automation is unknown (the trigger rule's tags \
                     could not be read: {error}); going on"
                )],
            );
        }
        match PauseMark::from_tag_list(&self.read) {
            Ok(Some(mark)) if mark.state(now) == PauseState::Active => (Some(mark), Vec::new()),
            Ok(_) => (None, Vec::new()),
            Err(error) => (
                None,
                vec![format!(
                    "an operator's pause mark on the trigger rule cannot be read ({error}); going on"
                )],
            ),
        }
    }
}

/// The one action of a [`HoldRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldAction {
    Hold,
}

/// The answer to a [`HoldRequest`]. `holds` is true when the run may go on: no other real run
/// holds the deployment, or (for a failover) the running executions could not be read
/// (`checked` false, the reason in `warnings`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoldAnswer {
    pub step: String,
    pub action: HoldAction,
    pub holds: bool,
    pub checked: bool,
    /// The run that holds the deployment, when it is another one.
    pub holder: Option<Run>,
    /// How many real runs are running, this one included.
    pub running: usize,
    pub warnings: Vec<String>,
    pub summary: String,
    /// An operator's pause that holds an alarm-started failover back ([`PauseRead::judge`]):
    /// the run ends "alarm ignored, automation paused", changing nothing. Always present, null
    /// when none.
    pub paused: Option<PauseMark>,
    /// What the witness said of an alarm-started real run ([`PauseRead::witness`]): the run goes
    /// on only when it confirms. Always present, null for any other run.
    pub witness: Option<Verdict>,
    /// The outcome the run ends with, changing nothing, when it is held back:
    /// [`ALARM_PAUSED`] (`paused`) or [`ALARM_UNCONFIRMED`] (`witness` does not confirm). Always
    /// present, null when the run is not held back.
    pub held_back: Option<&'static str>,
}

/// Answers a [`HoldRequest`] of `step`'s function.
///
/// # Errors
/// [`ExclusiveError::Unchecked`] when the running executions could not be read and the caller
/// refuses on doubt (a fail back, a re-protect).
pub async fn hold(
    guard: &Guard,
    step: &str,
    request: &HoldRequest,
) -> Result<HoldAnswer, ExclusiveError> {
    let caller = request.execution_id.as_str();
    let on_doubt = guard.machines.on_doubt(step, Some(caller));
    let (paused, pause_warnings) = request
        .pause
        .as_ref()
        .map(|read| read.judge(std::time::SystemTime::now()))
        .unwrap_or_default();
    let witness = request
        .pause
        .as_ref()
        .filter(|_| guard.witness_confirms_alarm)
        .and_then(|read| read.witness(std::time::SystemTime::now()));
    let held = |summary: String, paused, held_back| HoldAnswer {
        step: step.to_owned(),
        action: HoldAction::Hold,
        holds: false,
        checked: true,
        holder: None,
        running: 0,
        warnings: Vec::new(),
        summary,
        paused,
        witness: witness.clone(),
        held_back: Some(held_back),
    };
    if let Some(mark) = paused {
        let summary = format!("the failover automation is {}", mark.describe());
        return Ok(held(summary, Some(mark), ALARM_PAUSED));
    }
    if let Some(verdict) = witness.as_ref().filter(|verdict| !verdict.confirmed()) {
        let region = guard
            .machines
            .failover
            .split(':')
            .nth(3)
            .unwrap_or("the DR region");
        let summary = format!(
            "the alarm is not confirmed: {}; one signal alone never starts a real failover",
            verdict.describe(region)
        );
        return Ok(held(summary, None, ALARM_UNCONFIRMED));
    }
    let answer =
        |holds, checked, holder: Option<Run>, running, mut warnings: Vec<String>, summary| {
            warnings.extend(pause_warnings.iter().cloned());
            HoldAnswer {
                step: step.to_owned(),
                action: HoldAction::Hold,
                holds,
                checked,
                holder,
                running,
                warnings,
                summary,
                paused: None,
                witness: witness.clone(),
                held_back: None,
            }
        };
    match holding_seen_by(
        &guard.client,
        &guard.machines,
        Some(caller),
        guard.listing_pause,
    )
    .await
    {
        Ok(holding) => Ok(match decide(&holding, Some(caller)) {
            Ok(()) => answer(
                true,
                true,
                None,
                holding.real_runs.len(),
                Vec::new(),
                "no other real run holds this deployment".into(),
            ),
            Err(refused) => answer(
                false,
                true,
                holding.holder.clone(),
                holding.real_runs.len(),
                Vec::new(),
                refused.to_string(),
            ),
        }),
        Err(error) if on_doubt == OnDoubt::GoOn => {
            let warning = doubt_warning(&error);
            Ok(answer(true, false, None, 0, vec![warning.clone()], warning))
        }
        Err(error) => Err(ExclusiveError::Unchecked(error)),
    }
}

pub(super) fn doubt_warning(error: &Doubt) -> String {
    format!(
        "whether another run holds this deployment could not be read; going on, as a failover \
         is never held up by its context: {error}"
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use serde_json::json;

    use super::*;

    fn read(trigger: &str, dry_run: bool, read: serde_json::Value) -> PauseRead {
        PauseRead {
            trigger: trigger.into(),
            dry_run,
            read,
        }
    }

    #[test]
    fn only_an_active_pause_holds_back_only_a_real_alarm_started_run() {
        let now = SystemTime::now();
        let mark = PauseMark::new("op", now, Some(Duration::from_secs(600)), "upgrade").unwrap();
        let tags = json!({"Tags": mark.tags().iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()});
        let (paused, warnings) = read("alarm", false, tags.clone()).judge(now);
        assert_eq!(paused.as_ref().map(|m| m.reason.as_str()), Some("upgrade"));
        assert!(warnings.is_empty());
        assert_eq!(read("manual", false, tags.clone()).judge(now).0, None);
        assert_eq!(read("alarm", true, tags.clone()).judge(now).0, None);
        let later = now + Duration::from_secs(601);
        assert_eq!(read("alarm", false, tags).judge(later).0, None);
        assert_eq!(
            read("alarm", false, json!({"Tags": []})).judge(now),
            (None, vec![])
        );
    }

    #[test]
    fn only_a_real_alarm_started_run_is_judged_by_the_witness_and_a_pause_holds_a_witness_run() {
        let now = SystemTime::now();
        let seen = crate::witness::mark::format_time(now);
        let up = json!({"Tags": [{"Key": "dr-failover:witness-seen", "Value": seen},
                                 {"Key": "dr-failover:witness-state", "Value": "up"}]});
        let verdict = read("alarm", false, up.clone()).witness(now).unwrap();
        assert!(!verdict.confirmed(), "{verdict:?}");
        assert_eq!(read("manual", false, up.clone()).witness(now), None);
        assert_eq!(read("alarm", true, up.clone()).witness(now), None);
        assert_eq!(read("witness", false, up.clone()).witness(now), None);
        let down = json!({"Tags": [{"Key": "dr-failover:witness-seen", "Value": seen},
                                   {"Key": "dr-failover:witness-state", "Value": "down"},
                                   {"Key": "dr-failover:witness-down-since", "Value": seen}]});
        assert!(read("alarm", false, down).witness(now).unwrap().confirmed());
        let silent = read(
            "alarm",
            false,
            json!({"Error": "States.TaskFailed", "Cause": "x"}),
        );
        assert!(
            !silent.witness(now).unwrap().confirmed(),
            "a read that failed confirms nothing"
        );

        let mark = PauseMark::new("op", now, None, "upgrade").unwrap();
        let tags = json!({"Tags": mark.tags().iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()});
        assert!(read("witness", false, tags).judge(now).0.is_some());
    }

    #[test]
    fn a_pause_that_cannot_be_read_holds_nothing_back_and_says_so() {
        let (paused, warnings) = read(
            "alarm",
            false,
            json!({"Error": "EventBridge.AccessDeniedException", "Cause": "no"}),
        )
        .judge(SystemTime::now());
        assert_eq!(paused, None);
        assert!(
            warnings[0].contains("EventBridge.AccessDeniedException"),
            "{warnings:?}"
        );
        let (paused, warnings) = read(
            "alarm",
            false,
            json!({"Tags": [{"Key": crate::pause::PAUSED_AT_TAG, "Value": "soon"}]}),
        )
        .judge(SystemTime::now());
        assert_eq!(paused, None);
        assert!(warnings[0].contains("cannot be read"), "{warnings:?}");
    }
}
