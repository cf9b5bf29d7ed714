//! The re-protect state machine's ends (`infra/statemachine/reprotect.asl.json`): which outcome
//! the orchestration reached ([`End`], the state's `end`), and the report, headline and run error
//! each one has.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::parts::{
    self, base, error_message, held_by_next_step, invalid_request_cause, report_object, State,
};
use super::{start_execution_command, Ending, FinishConfig, FinishError, RunContext, RunError};

/// The outcome the orchestration reached, as the state machine writes it to `$.end`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case", deny_unknown_fields)]
pub enum End {
    /// ValidateRequest refused the input, kept as `state.input`; the cause names the field.
    InvalidRequest,
    /// Another real run of this deployment holds it (`blocked_by`, see `crate::exclusive`).
    Blocked {
        #[serde(default)]
        blocked_by: Value,
    },
    /// The plan, or the check before it, failed after its retries (`state.error`).
    PlanFailed,
    /// The plan refused (`plan.refusals`).
    Refused,
    /// The plan found the DR writer protected already (`plan.ready`).
    AlreadyReprotected,
    /// A dry run ended with its plan.
    DryRun,
    /// A stage failed (`state.error`): `replica`.
    Failed { stage: String },
    /// The new replica replicates.
    Reprotected,
}

const INVALID_HEADLINE: &str = "re-protect refused, invalid input";
const INVALID_NEXT_STEP: &str = "Nothing was changed. Correct what error names (the README's \
\"Failing back\" lists the inputs; or the deployment's configuration), then start again.";
const REFUSED_NEXT_STEP: &str =
    "Nothing was changed. plan.refusals say why; fix the cause (or the \
parameters ReprotectReplicaInstanceId, ReprotectInstanceClass, ReprotectParameterGroupName, \
ReprotectKmsKeyId) and start again.";
const ALREADY_NEXT_STEP: &str = "Nothing to do: the DR region's writer has a healthy read replica \
in the primary region.";
const DRY_RUN_NEXT_STEP: &str = "plan.summary says what a real run creates. Start the same input \
with dry_run false to create it.";
const FAILED_NEXT_STEP: &str = "Fix the cause named in error, then run rerun_command (the same \
input): the re-run finds what exists (a replica being created is joined, never created twice) and \
goes on.";
const REPROTECTED_NEXT_STEP: &str = "Done: topology is the new topology. Fail back (the failback \
state machine) when the primary region should be the writer again.";

/// The re-protect's ending for `state` (its `end` names the outcome).
///
/// # Errors
/// [`FinishError::InvalidInput`] when `state.end` is missing or names no outcome of re-protect.
pub fn ending(
    state: &Value,
    run: &RunContext,
    config: &FinishConfig,
) -> Result<Ending, FinishError> {
    let end: End = parts::end(state)?;
    let view = State(state);
    let deployment = parts::deployment(state, config);
    let planned = |outcome: &str, next_step: &str| {
        let mut report = base(&deployment, run, outcome);
        report.insert("request".into(), view.at("/request"));
        report.insert("plan".into(), view.at("/plan"));
        report.insert("topology".into(), view.at("/plan/detail/topology"));
        report.insert("report_object".into(), report_object(config, run));
        report.insert("next_step".into(), json!(next_step));
        report
    };
    let ended = |report: Map<String, Value>, headline: &str, error: Option<RunError>| Ending {
        report: Value::Object(report),
        headline: headline.into(),
        error,
    };
    Ok(match end {
        End::InvalidRequest => {
            let input = view.at("/input");
            let cause =
                invalid_request_cause(&input, "re-protect", "reprotect").unwrap_or_else(|| {
                    "invalid request: the state machine's input check refused it".into()
                });
            parts::invalid(
                &deployment,
                run,
                cause,
                ("input", input),
                INVALID_HEADLINE,
                INVALID_NEXT_STEP,
            )
        }
        End::Blocked { blocked_by } => {
            let mut report = base(&deployment, run, "blocked");
            report.insert("next_step".into(), json!(held_by_next_step(&blocked_by)));
            report.insert("blocked_by".into(), blocked_by);
            report.insert("request".into(), view.at("/request"));
            ended(
                report,
                "re-protect refused, another run of this deployment is running",
                Some(RunError::new(
                    "DrFailover.AlreadyRunning",
                    "another real run of this deployment holds it; see the published report",
                )),
            )
        }
        End::PlanFailed => {
            if view.str("/error/Error") == Some("DrFailover.InvalidInput") {
                let cause = error_message(view.str("/error/Cause").unwrap_or_default());
                parts::invalid(
                    &deployment,
                    run,
                    cause,
                    ("request", view.at("/request")),
                    INVALID_HEADLINE,
                    INVALID_NEXT_STEP,
                )
            } else {
                failed(state, run, config, &deployment, "plan")
            }
        }
        End::Refused => ended(
            planned("refused", REFUSED_NEXT_STEP),
            "re-protect refused by its plan",
            Some(RunError::new(
                "DrFailover.Refused",
                "the re-protect plan refused; see the published report",
            )),
        ),
        End::AlreadyReprotected => ended(
            planned("already-reprotected", ALREADY_NEXT_STEP),
            "already re-protected; nothing changed",
            None,
        ),
        End::DryRun => ended(
            planned("dry-run", DRY_RUN_NEXT_STEP),
            "re-protect dry run, nothing changed",
            None,
        ),
        End::Failed { stage } => failed(state, run, config, &deployment, &stage),
        End::Reprotected => {
            let mut report = planned("reprotected", REPROTECTED_NEXT_STEP);
            report.insert("topology".into(), view.at("/replica/last/detail/topology"));
            report.insert("replica".into(), view.at("/replica/last"));
            ended(
                report,
                "re-protected: the DR region's writer has a standby in the primary region",
                None,
            )
        }
    })
}

/// A failed run: its error, the whole state it failed in, and the command that runs the same
/// input again.
fn failed(
    state: &Value,
    run: &RunContext,
    config: &FinishConfig,
    deployment: &str,
    stage: &str,
) -> Ending {
    let view = State(state);
    let rerun_input = json!({
        "dry_run": view.at("/request/dry_run"),
        "reason": view.at("/request/reason"),
    });
    let mut whole = state.as_object().cloned().unwrap_or_default();
    whole.remove("end");
    let mut report = base(deployment, run, "failed");
    report.insert("failed_stage".into(), json!(stage));
    report.insert("error".into(), view.at("/error"));
    report.insert("request".into(), view.at("/request"));
    report.insert("state".into(), Value::Object(whole));
    report.insert("next_step".into(), json!(FAILED_NEXT_STEP));
    report.insert(
        "rerun_command".into(),
        json!(start_execution_command(run, &rerun_input)),
    );
    report.insert("report_object".into(), report_object(config, run));
    Ending {
        report: Value::Object(report),
        headline: format!("RE-PROTECT FAILED at {stage}"),
        error: Some(RunError::new(
            "DrFailover.ReprotectFailed",
            "a re-protect stage failed; see the published failure report",
        )),
    }
}
