//! Waits bounded by a time budget per stage, not by a count of retries.
//!
//! The state machine owns waiting (a Wait state between calls), but only a function knows the
//! time: each call of a stage's loop carries a [`WaitContext`] (when the stage started and its
//! budget), and its answer carries a [`WaitReport`]: how long the stage has waited, whether the
//! budget is spent, what is still pending, and how long to wait before the next call. A condition
//! AWS documents as temporary (a replica `backing-up`, `InvalidDBInstanceState`,
//! `PriorRequestNotComplete`, throttling, instances still launching) is then waited out for as
//! long as the budget allows, whatever the number of calls that takes.

use std::time::SystemTime;

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde::{Deserialize, Serialize};

use crate::request::InputError;

/// The shortest wait of a stage, in seconds: AWS often finishes a quick change within seconds, so
/// the loop looks early and backs off from there.
pub const DEFAULT_FIRST_POLL_SECONDS: u64 = 1;

/// Each wait is this share of the time the stage has waited so far (1/10): a change that takes
/// AWS T seconds is seen at most about T/10 seconds late, so the orchestration adds little to what
/// AWS itself takes, while a long wait still polls rarely (up to `max_poll_seconds`).
const BACKOFF_DIVISOR: u64 = 10;

/// Sent by the state machine with each call of a stage's wait loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitContext {
    /// `database`, `compute`, `capacity` or `dns`: named in the report and the failure.
    pub stage: String,
    /// When the stage began: Step Functions' `$$.State.EnteredTime` of its first state
    /// (RFC 3339, for example `2026-12-01T00:10:25.123Z`).
    pub started_at: String,
    /// How long the stage may wait, in seconds.
    pub budget_seconds: u64,
    /// How many calls of this loop came before this one (0 for the first).
    #[serde(default)]
    pub poll: u32,
    /// The longest wait between two calls, in seconds (the template's `PollSeconds`).
    pub max_poll_seconds: u64,
    /// The shortest wait, in seconds; later waits grow with the time waited (a tenth of it), up to
    /// `max_poll_seconds`.
    #[serde(default = "default_first_poll")]
    pub first_poll_seconds: u64,
}

fn default_first_poll() -> u64 {
    DEFAULT_FIRST_POLL_SECONDS
}

/// Answered with every call that carried a [`WaitContext`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitReport {
    pub stage: String,
    pub started_at: String,
    /// Seconds from `started_at` to this call.
    pub elapsed_seconds: u64,
    pub budget_seconds: u64,
    /// The budget is spent and the step is not ready: the stage must stop waiting.
    pub exhausted: bool,
    /// What the stage still waits for, in AWS's words where AWS gave them; `None` once ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// How long the state machine should wait before the next call, in seconds (at least 1).
    pub next_poll_seconds: u64,
    /// The call number this report answers (the context's `poll`), plus one.
    pub polls: u32,
}

impl WaitContext {
    /// When the stage started. Errors: `wait.started_at` is not an RFC 3339 time.
    pub fn started(&self) -> Result<SystemTime, InputError> {
        DateTime::from_str(&self.started_at, Format::DateTime)
            .ok()
            .and_then(|started| SystemTime::try_from(started).ok())
            .ok_or_else(|| InputError {
                field: "wait.started_at".into(),
                message: format!("{:?} is not an RFC 3339 time", self.started_at),
            })
    }

    /// The report for a call made at `now` whose step is `ready` or still waits for `pending`.
    /// A start in the future (clock skew) counts as zero elapsed seconds.
    pub fn report(
        &self,
        started: SystemTime,
        now: SystemTime,
        ready: bool,
        pending: Option<String>,
    ) -> WaitReport {
        let elapsed_seconds = now
            .duration_since(started)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        let max = self.max_poll_seconds.max(1);
        let grown = (elapsed_seconds / BACKOFF_DIVISOR).max(self.first_poll_seconds.max(1));
        let remaining = self.budget_seconds.saturating_sub(elapsed_seconds).max(1);
        WaitReport {
            stage: self.stage.clone(),
            started_at: self.started_at.clone(),
            elapsed_seconds,
            budget_seconds: self.budget_seconds,
            exhausted: !ready && elapsed_seconds >= self.budget_seconds,
            pending: if ready { None } else { pending },
            next_poll_seconds: grown.min(max).min(remaining),
            polls: self.poll.saturating_add(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(poll: u32) -> WaitContext {
        WaitContext {
            stage: "database".into(),
            started_at: "2026-12-01T00:00:00Z".into(),
            budget_seconds: 600,
            poll,
            max_poll_seconds: 30,
            first_poll_seconds: 2,
        }
    }

    fn report(
        context: &WaitContext,
        now: SystemTime,
        ready: bool,
        pending: Option<String>,
    ) -> WaitReport {
        context.report(context.started().unwrap(), now, ready, pending)
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::try_from(DateTime::from_secs(1_796_083_200 + seconds as i64)).unwrap()
    }

    #[test]
    fn started_at_is_read_as_rfc3339_with_or_without_fractions() {
        let answer = report(&context(0), at(90), false, Some("backing-up".into()));
        assert_eq!(answer.elapsed_seconds, 90);
        let mut with_millis = context(0);
        with_millis.started_at = "2026-12-01T00:00:00.250Z".into();
        assert_eq!(
            report(&with_millis, at(90), false, None).elapsed_seconds,
            89
        );
    }

    #[test]
    fn polls_start_short_and_grow_with_the_time_waited_up_to_the_longest_wait() {
        let waits: Vec<u64> = [0, 10, 25, 60, 200, 400]
            .iter()
            .map(|elapsed| report(&context(3), at(*elapsed), false, None).next_poll_seconds)
            .collect();
        assert_eq!(waits, vec![2, 2, 2, 6, 20, 30]);
    }

    #[test]
    fn the_last_wait_never_overshoots_the_budget() {
        let answer = report(&context(6), at(595), false, None);
        assert_eq!(answer.next_poll_seconds, 5);
        assert!(!answer.exhausted);
    }

    #[test]
    fn when_the_budget_is_spent_and_not_ready_should_say_exhausted_with_what_is_pending() {
        let answer = report(
            &context(40),
            at(600),
            false,
            Some("replica is backing-up".into()),
        );
        assert!(answer.exhausted);
        assert_eq!(answer.pending.as_deref(), Some("replica is backing-up"));
        assert_eq!(answer.polls, 41);
    }

    #[test]
    fn when_ready_should_never_be_exhausted_nor_pending() {
        let answer = report(&context(40), at(900), true, Some("ignored".into()));
        assert!(!answer.exhausted);
        assert_eq!(answer.pending, None);
    }

    #[test]
    fn an_unreadable_start_is_bad_input_naming_the_field() {
        let mut bad = context(0);
        bad.started_at = "yesterday".into();
        assert_eq!(bad.started().unwrap_err().field, "wait.started_at");
    }
}
