//! The fail back state machine's ends (`infra/statemachine/failback.asl.json`): which outcome the
//! orchestration reached ([`End`], the state's `end`), and the report, headline and run error
//! each one has. The report's members are those the README's "Failing back" documents.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::parts::{self, base, error_message, held_by_next_step, report_object, State};
use super::{start_execution_command, Ending, FinishConfig, FinishError, RunContext, RunError};

/// The outcome the orchestration reached, as the state machine writes it to `$.end`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case", deny_unknown_fields)]
pub enum End {
    /// The state machine's check (ValidateRequest) refused the input, kept as `state.input`;
    /// the cause names the field ([`invalid_request_cause`]).
    InvalidRequest,
    /// Another real run of this deployment holds it (`blocked_by`, see `crate::exclusive`).
    Blocked {
        #[serde(default)]
        blocked_by: Value,
    },
    /// The plan, or the check before it, failed after its retries (`state.error`).
    PlanFailed,
    /// A step's plan refused (`plan.<step>.refusals`).
    Refused,
    /// A dry run ended with its plan.
    DryRun,
    /// The approver answered send-task-failure (whatever error it names).
    ApprovalDenied,
    /// No answer within FailbackApprovalTimeoutSeconds: the fail back's expiry action is abort.
    ApprovalExpired,
    /// A stage failed (`state.error`): `plan` and `approval` before any change; `pause`,
    /// `compute`, `write-freeze`, `database`, `dns`, `pilot`, `standby` after the pause.
    Failed { stage: String },
    /// Every stage ended and the automation is re-armed.
    FailedBack,
    /// Every stage ended, but the alarm rule stays disabled (see [`NOT_REARMED_NEXT_STEP`]).
    FailedBackNotRearmed,
}

const INVALID_HEADLINE: &str = "fail back refused, invalid input";
const INVALID_NEXT_STEP: &str =
    "Nothing was changed. Correct what error names (README, \"Failing back\"), then start again.";
const REFUSED_NEXT_STEP: &str =
    "Nothing was changed. plan.<step>.refusals say why; fix the cause and start again.";
const REFUSED_AFTER_APPROVAL_NOTE: &str = "The fail back was approved, then made its plan again \
before its first change, and the plan refuses now: what the approver read no longer holds. \
Nothing was changed.";
const DRY_RUN_NEXT_STEP: &str = "plan.<step>.summary says what a real run changes; \
plan.database.refusals name the replica lag the write freeze must bring to 0. Start with dry_run \
false to fail back: it asks for approval first.";
const EXPIRED_NEXT_STEP: &str = "Nothing was changed: no approval came within \
FailbackApprovalTimeoutSeconds, and the fail back ended (the expiry action is to abort). Start \
again when someone can approve.";
const DENIED_NEXT_STEP: &str =
    "Nothing was changed: the approver denied it (error.Cause says why).";
const FAILED_BEFORE_CHANGE_NEXT_STEP: &str =
    "Nothing was changed. Fix the cause named in error, then run rerun_command.";
const FAILED_NEXT_STEP: &str = "Fix the cause named in error, then run rerun_command (the same \
input): every step is idempotent, so the re-run continues from where this run stopped (after a \
new approval).";
const PAUSED_AUTOMATION: &str = "the alarm rule stays DISABLED until the fail back is finished: \
re-run it (the rule carries the tag dr-failover:paused-by-failback, so the re-run enables it \
again at its end), or finish by hand and run enable_command";
const FAILED_BACK_NEXT_STEP: &str = "Done: the primary region is the writer and answers DNS, the \
DR groups are at pilot capacity, the DR region has a standby, and the alarm rule starts a \
failover again.";
/// What an operator does when the fail back ended but the automation is not re-armed.
pub const NOT_REARMED_NEXT_STEP: &str = "The fail back is done, but the alarm rule stays \
disabled: an operator had disabled it before the run (alarm_rule: state DISABLED, resume false), \
or the failover's database plan (armed) does not name a DR database that replicates the primary \
region's writer, or refuses, so an alarm would move DNS to a database that no longer receives \
writes. RDS: point DbReplicaInstanceId at the new DR standby (stages.standby, \
FailbackStandbyReplicaInstanceId) with a stack update. Then run a failover dry run, and run \
enable_command.";

/// Why ValidateRequest refused `input` (the execution input), naming the field; `None` when
/// this check finds nothing wrong.
pub fn invalid_request_cause(input: &Value) -> Option<String> {
    super::parts::invalid_request_cause(input, "fail back", "failback")
}

/// The fail back's ending for `state` (its `end` names the outcome).
///
/// # Errors
/// [`FinishError::InvalidInput`] when `state.end` is missing or names no outcome of the fail
/// back.
pub fn ending(
    state: &Value,
    run: &RunContext,
    config: &FinishConfig,
) -> Result<Ending, FinishError> {
    let end: End = parts::end(state)?;
    let view = State(state);
    let deployment = parts::deployment(state, config);
    let with_plan = |outcome: &str| {
        let mut report = base(&deployment, run, outcome);
        report.insert("request".into(), view.at("/request"));
        report.insert("plan".into(), view.at("/plan"));
        report
    };
    let stored = |mut report: Map<String, Value>, headline: &str, error: Option<RunError>| {
        report.insert("report_object".into(), report_object(config, run));
        Ending {
            report: Value::Object(report),
            headline: headline.into(),
            error,
        }
    };
    Ok(match end {
        End::InvalidRequest => {
            let input = view.at("/input");
            let cause = invalid_request_cause(&input).unwrap_or_else(|| {
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
            Ending {
                report: Value::Object(report),
                headline: "fail back refused, another run of this deployment is running".into(),
                error: Some(RunError::new(
                    "DrFailover.AlreadyRunning",
                    "another real run of this deployment holds it; see the published report",
                )),
            }
        }
        End::PlanFailed => {
            let error = view.at("/error");
            if error.get("Error").and_then(Value::as_str) == Some("DrFailover.InvalidInput") {
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
        End::Refused => {
            let mut report = with_plan("refused");
            if let Some(approval) = state.get("approval") {
                // Planned again after the approval wait, before the first change.
                report.insert("approval".into(), approval.clone());
                report.insert("note".into(), json!(REFUSED_AFTER_APPROVAL_NOTE));
            }
            report.insert("next_step".into(), json!(REFUSED_NEXT_STEP));
            stored(
                report,
                "fail back refused by its plan",
                Some(RunError::new(
                    "DrFailover.Refused",
                    "the fail back plan refused; see the published report",
                )),
            )
        }
        End::DryRun => {
            let mut report = with_plan("dry-run");
            report.insert("next_step".into(), json!(DRY_RUN_NEXT_STEP));
            stored(report, "fail back dry run, nothing changed", None)
        }
        End::ApprovalExpired => {
            let mut report = with_plan("approval-expired");
            report.insert("error".into(), view.at("/error"));
            report.insert("next_step".into(), json!(EXPIRED_NEXT_STEP));
            stored(
                report,
                "fail back NOT approved in time; nothing changed",
                Some(RunError::new(
                    "DrFailover.ApprovalExpired",
                    "the fail back was not approved within FailbackApprovalTimeoutSeconds; \
                     nothing changed",
                )),
            )
        }
        End::ApprovalDenied => {
            let mut report = with_plan("approval-denied");
            report.insert("error".into(), view.at("/error"));
            report.insert("next_step".into(), json!(DENIED_NEXT_STEP));
            stored(
                report,
                "fail back denied; nothing changed",
                Some(RunError::new(
                    "DrFailover.ApprovalDenied",
                    "the fail back was denied; nothing changed",
                )),
            )
        }
        End::Failed { stage } => failed(state, run, config, &deployment, &stage),
        End::FailedBack => {
            let mut report = with_stages(state, run, &deployment, "failed-back");
            report.insert("next_step".into(), json!(FAILED_BACK_NEXT_STEP));
            stored(report, "failed back to the primary region", None)
        }
        End::FailedBackNotRearmed => {
            let mut report = with_stages(state, run, &deployment, "failed-back-not-rearmed");
            if let Some(error) = state.get("armed_error") {
                report.insert("armed".into(), json!({"detail": {}, "error": error}));
            }
            if let Some(error) = state.get("resume_error") {
                report.insert("resume_error".into(), error.clone());
            }
            report.insert("enable_command".into(), json!(enable_command(state, run)));
            report.insert("next_step".into(), json!(NOT_REARMED_NEXT_STEP));
            stored(
                report,
                "failed back to the primary region; failover automation NOT re-armed",
                None,
            )
        }
    })
}

/// `aws events enable-rule` of the alarm rule that starts a failover, in the run's region.
fn enable_command(state: &Value, run: &RunContext) -> String {
    let name = State(state)
        .str("/settings/alarm_rule_name")
        .unwrap_or("<the alarm rule>")
        .to_owned();
    format!(
        "aws events enable-rule --region {} --name {}",
        run.region(),
        super::shell_quoted(&name)
    )
}

/// Each stage's record, keyed by its name: the recorded ones (`state.stages`) and the stage the
/// run was in (`state.stage`), without the function each one called.
fn stages(state: &Value) -> Value {
    let mut stages = state
        .get("stages")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(current) = state.get("stage") {
        if let Some(name) = current.get("name").and_then(Value::as_str) {
            stages
                .entry(name.to_owned())
                .or_insert_with(|| current.clone());
        }
    }
    for record in stages.values_mut() {
        if let Some(fields) = record.as_object_mut() {
            fields.remove("function");
        }
    }
    Value::Object(stages)
}

fn with_stages(
    state: &Value,
    run: &RunContext,
    deployment: &str,
    outcome: &str,
) -> Map<String, Value> {
    let view = State(state);
    let mut report = base(deployment, run, outcome);
    for member in ["request", "plan", "approval"] {
        report.insert(member.into(), view.at(&format!("/{member}")));
    }
    report.insert("stages".into(), stages(state));
    report.insert("alarm_rule".into(), view.at("/alarm_rule"));
    report.insert("armed".into(), view.at("/armed"));
    report
}

/// A failed run: its error, the whole state it failed in (its stages by name), and the command
/// that runs the same input again. Before the pause (`plan`, `approval`) nothing was changed.
fn failed(
    state: &Value,
    run: &RunContext,
    config: &FinishConfig,
    deployment: &str,
    stage: &str,
) -> Ending {
    let view = State(state);
    let before_change = matches!(stage, "plan" | "approval");
    let rerun_input = json!({
        "dry_run": view.at("/request/dry_run"),
        "reason": view.at("/request/reason"),
    });
    let mut whole = state.as_object().cloned().unwrap_or_default();
    whole.remove("end");
    whole.remove("stage");
    whole.insert("stages".into(), stages(state));
    let mut report = base(deployment, run, "failed");
    report.insert("failed_stage".into(), json!(stage));
    report.insert("error".into(), view.at("/error"));
    report.insert("request".into(), view.at("/request"));
    report.insert("state".into(), Value::Object(whole));
    report.insert(
        "rerun_command".into(),
        json!(start_execution_command(run, &rerun_input)),
    );
    report.insert("report_object".into(), report_object(config, run));
    if before_change {
        report.insert("next_step".into(), json!(FAILED_BEFORE_CHANGE_NEXT_STEP));
    } else {
        report.insert("automation".into(), json!(PAUSED_AUTOMATION));
        report.insert("enable_command".into(), json!(enable_command(state, run)));
        report.insert("next_step".into(), json!(FAILED_NEXT_STEP));
    }
    Ending {
        report: Value::Object(report),
        headline: format!("FAIL BACK FAILED at {stage}"),
        error: Some(RunError::new(
            "DrFailover.FailbackFailed",
            "a fail back stage failed; see the published failure report",
        )),
    }
}
