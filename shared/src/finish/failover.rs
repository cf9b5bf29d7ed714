//! The failover state machine's ends (`infra/statemachine/failover.asl.json`): which outcome the
//! orchestration reached ([`End`], the state's `end`), and the report, headline and run error
//! each one has. The report's members are those `docs/contract.md` documents.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::parts::{self, base, error_message, held_by_next_step, report_object, State};
use super::{
    cli_command, start_execution_command, Ending, FinishConfig, FinishError, RunContext, RunError,
};

/// The outcome the orchestration reached, as the state machine writes it to `$.end`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case", deny_unknown_fields)]
pub enum End {
    /// CheckRequest refused the input: the state is its error (`Error`, `Cause`); `input` is the
    /// execution input, carried only when the refusal is not about the input's size or type.
    InvalidRequest {
        #[serde(default)]
        input: Option<Value>,
    },
    /// The state machine's own check refused the input (CheckRequest could not run).
    InvalidInput { cause: String, input: Value },
    /// An older real failover of this deployment is running.
    AlreadyRunning { running: Value, blocked_by: Value },
    /// A step's plan failed after its retries (`plan.<step>.error`); one that refused its input
    /// or configuration (`DrFailover.InvalidInput`) is an invalid input, the rest a failure.
    PlanFailed { input: Value },
    /// An operator's pause ([`crate::pause`]) held this alarm-started run back: `paused` is the
    /// mark (`by`, `since`, `until`, `reason`); nothing was planned or changed.
    AlarmPaused {
        paused: Value,
        #[serde(default)]
        witness: Value,
    },
    /// The witness ([`crate::witness`]) did not confirm this alarm-started real run: `witness` is
    /// its verdict (`verdict` `up`, `silent` or `unread`, with the mark it read); nothing was
    /// planned or changed. One signal alone never starts a real failover.
    AlarmUnconfirmed {
        witness: Value,
        #[serde(default)]
        paused: Value,
    },
    /// A pre-flight check refused a real failover.
    Refused,
    /// A dry run ended with its plan.
    DryRun,
    /// A person denied the failover at its approval gate.
    ApprovalDenied,
    /// No approval in time and `ApprovalExpiryAction` is abort.
    ApprovalAborted,
    /// No approval in time, `ApprovalExpiryAction` is proceed, but the health check alarm read
    /// again (`alarm_state`, [`crate::alarm_state`]) is `OK`: the primary has recovered, and the
    /// run stops before any change.
    PrimaryRecovered,
    /// A stage failed outright (`state.error`), before any stage outcome.
    Failed { stage: String },
    /// The database, compute and DNS stages ended; their outcomes say how the run ended.
    FailoverEnded,
}

const INVALID_REQUEST_NEXT_STEP: &str = "Nothing was changed. Correct the input as error says \
(docs/contract.md lists the fields and their bounds), then start again.";
const INVALID_INPUT_NEXT_STEP: &str = "Nothing was changed. Correct what error names (an input \
field: docs/contract.md and the README list them; or the deployment's configuration), then start \
again.";
const DENIED_NOTE: &str = "A person denied the failover at its approval gate (send-task-failure): \
nothing was changed. To fail over after all, start it by hand: \
events/statemachine/manual-failover.json.";
const ABORTED_NOTE: &str = "No answer came within ApprovalTimeoutSeconds (or the approval request \
could not be published), and ApprovalExpiryAction is abort: nothing was changed. To fail over \
after all, start it by hand: events/statemachine/manual-failover.json.";
const RECOVERED_NOTE: &str = "No answer came within ApprovalTimeoutSeconds and ApprovalExpiryAction \
is proceed, but the health check alarm, read again before proceeding (alarm_state), is OK: the \
primary has recovered, so the failover stopped and nothing was changed (failing over now would cut \
replication from a healthy primary). If the primary is not serving after all, start the failover by \
hand: events/statemachine/manual-failover.json.";
const REPLANNED_NOTE: &str = "The plan was made again after the approval wait, before any change, \
and it refuses now (plan.*.refusals): nothing was changed.";
const REFUSED_NEXT_STEP: &str = "Nothing was changed. Each refusal in plan.*.refusals names what \
AWS would refuse or what is not in place; fix it, then run retry_command (the same request, started \
by hand).";
const REFUSED_FORCEABLE_NEXT_STEP: &str = "Nothing was changed. Each refusal in plan.*.refusals \
names what is not in place; fix it, then run retry_command (the same request, started by hand). \
If the database's refusal is its replica lag check and the data it names may be lost, \
force_command promotes anyway (the same request with \"force\": true; it overrides the lag check \
only).";
const FAILED_NEXT_STEP: &str = "Fix the cause named in error, then run rerun_command: the same \
request, started by hand (an alarm-started run's alarm would by then be too old to start one). \
Every step is idempotent, so the re-run continues from where this run stopped (a promotion under \
way is joined, never repeated) and moves DNS once the database accepts writes.";
const INCOMPLETE_DONE: &str =
    "the DR database was promoted and accepts writes; DR groups were raised towards their targets";
const INCOMPLETE_NOT_DONE: &str = "DNS still answers the primary region: the application is not \
reachable in either region until it moves";
const INCOMPLETE_NOT_CONFIRMED: &str = "Route 53 holds every record at the DR region (the change \
was submitted), but did not confirm the change INSYNC on all its authoritative name servers \
within DnsBudgetSeconds: some resolvers may still get the primary region's answers until it \
does. finish_command waits for the change (it submits nothing new)";

/// The failover's ending for `state` (its `end` names the outcome).
///
/// # Errors
/// [`FinishError::InvalidInput`] when `state.end` is missing or names no outcome of the failover.
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
    Ok(match end {
        End::InvalidRequest { input } => {
            let cause = error_message(view.str("/Cause").unwrap_or_default());
            // Before Defaults there are no settings: the deployment is the template's.
            let mut report = base(&config.deployment, run, "invalid-input");
            report.insert(
                "error".into(),
                json!({"Error": "DrFailover.InvalidInput", "Cause": cause}),
            );
            report.insert("next_step".into(), json!(INVALID_REQUEST_NEXT_STEP));
            if let Some(input) = input {
                report.insert("input".into(), input);
            }
            invalid(report, cause)
        }
        End::InvalidInput { cause, input } => invalid_input(&deployment, run, cause, input),
        End::PlanFailed { input } => {
            let error = ["database", "compute", "dns"]
                .iter()
                .find_map(|step| state.pointer(&format!("/plan/{step}/error")))
                .cloned()
                .unwrap_or(Value::Null);
            if error.get("Error").and_then(Value::as_str) == Some("DrFailover.InvalidInput") {
                let cause = error_message(error.get("Cause").and_then(Value::as_str).unwrap_or(""));
                invalid_input(&deployment, run, cause, input)
            } else {
                failed(state, run, config, &deployment, "plan", error, None)
            }
        }
        End::AlreadyRunning {
            running,
            blocked_by,
        } => {
            let mut report = base(&deployment, run, "refused-already-running");
            report.insert("request".into(), view.at("/request"));
            report.insert(
                "concurrency".into(),
                json!({"running": running, "blocked_by": &blocked_by}),
            );
            report.insert("next_step".into(), json!(held_by_next_step(&blocked_by)));
            Ending {
                report: Value::Object(report),
                headline: "refused, another run of this deployment is running".into(),
                error: Some(RunError::new(
                    "DrFailover.AlreadyRunning",
                    "an older real run of this deployment (a failover, a fail back or a re-protect) is running; see the published report",
                )),
            }
        }
        End::AlarmPaused { paused, .. } => alarm_paused(state, run, &deployment, paused),
        End::AlarmUnconfirmed { witness, .. } => {
            alarm_unconfirmed(state, run, &deployment, witness)
        }
        End::Refused => {
            let mut report = with_plan("refused");
            if view.has("/approval") {
                report.insert("approval".into(), view.at("/approval"));
                report.insert("note".into(), json!(REPLANNED_NOTE));
            }
            let retry = manual_input(state, false);
            report.insert(
                "retry_command".into(),
                json!(start_execution_command(run, &retry)),
            );
            // Only an RDS replica's lag check can be overridden (`force`), and only by a person
            // who accepts the data loss the refusal names.
            let forceable = view.at("/plan/database/detail/kind") == json!("rds-instance")
                && view.has("/plan/database/refusals/0")
                && view.at("/request/force") != json!(true);
            if forceable {
                report.insert(
                    "force_command".into(),
                    json!(start_execution_command(run, &manual_input(state, true))),
                );
                report.insert("next_step".into(), json!(REFUSED_FORCEABLE_NEXT_STEP));
            } else {
                report.insert("next_step".into(), json!(REFUSED_NEXT_STEP));
            }
            report.insert("report_object".into(), report_object(config, run));
            Ending {
                report: Value::Object(report),
                headline: "failover refused by a pre-flight check".into(),
                error: Some(RunError::new(
                    "DrFailover.Refused",
                    "a pre-flight check refused the failover; see the published report",
                )),
            }
        }
        End::DryRun => {
            let refused = ["database", "compute", "dns"]
                .iter()
                .any(|step| view.has(&format!("/plan/{step}/refusals/0")));
            let (verdict, headline) = if refused {
                (
                    "NOT READY: a pre-flight check refuses (see plan.*.refusals)",
                    "dry run, NOT READY: a pre-flight check refuses; nothing changed",
                )
            } else {
                ("ready to fail over", "dry run, nothing changed")
            };
            let mut report = with_plan("dry-run");
            report.insert("report_object".into(), report_object(config, run));
            report.insert("verdict".into(), json!(verdict));
            Ending {
                report: Value::Object(report),
                headline: headline.into(),
                error: None,
            }
        }
        End::ApprovalDenied | End::ApprovalAborted => {
            let denied = end == End::ApprovalDenied;
            let mut report = with_plan(if denied {
                "approval-denied"
            } else {
                "approval-expired-aborted"
            });
            report.insert("approval".into(), view.at("/approval"));
            report.insert(
                "note".into(),
                json!(if denied { DENIED_NOTE } else { ABORTED_NOTE }),
            );
            report.insert("report_object".into(), report_object(config, run));
            let (headline, error) = if denied {
                (
                    "approval DENIED, nothing changed",
                    RunError::new(
                        "DrFailover.ApprovalDenied",
                        "the failover was denied at its approval gate; see the published report",
                    ),
                )
            } else {
                (
                    "approval not given in time, nothing changed",
                    RunError::new(
                        "DrFailover.ApprovalExpired",
                        "no approval within ApprovalTimeoutSeconds and ApprovalExpiryAction is \
                         abort; see the published report",
                    ),
                )
            };
            Ending {
                report: Value::Object(report),
                headline: headline.into(),
                error: Some(error),
            }
        }
        End::PrimaryRecovered => {
            let mut report = with_plan("approval-expired-primary-recovered");
            report.insert("approval".into(), view.at("/approval"));
            report.insert("alarm_state".into(), view.at("/alarm_state"));
            report.insert("note".into(), json!(RECOVERED_NOTE));
            report.insert("report_object".into(), report_object(config, run));
            let said = view
                .str("/alarm_state/summary")
                .unwrap_or("the health check alarm is OK")
                .to_owned();
            Ending {
                report: Value::Object(report),
                headline: "approval expired, primary recovered (alarm OK), nothing changed".into(),
                error: Some(RunError::new(
                    "DrFailover.ApprovalExpired",
                    format!("no approval within ApprovalTimeoutSeconds, and the failover did not proceed: {said}"),
                )),
            }
        }
        End::Failed { stage } => {
            let error = view.at("/error");
            failed(state, run, config, &deployment, &stage, error, None)
        }
        End::FailoverEnded => failover_ended(state, run, config, &deployment),
    })
}

fn invalid(report: Map<String, Value>, cause: String) -> Ending {
    Ending {
        report: Value::Object(report),
        headline: "refused, invalid input".into(),
        error: Some(RunError::new("DrFailover.InvalidInput", cause)),
    }
}

fn invalid_input(deployment: &str, run: &RunContext, cause: String, input: Value) -> Ending {
    let mut report = base(deployment, run, "invalid-input");
    report.insert(
        "error".into(),
        json!({"Error": "DrFailover.InvalidInput", "Cause": cause}),
    );
    report.insert("input".into(), input);
    report.insert("next_step".into(), json!(INVALID_INPUT_NEXT_STEP));
    invalid(report, cause)
}

/// The run's request started by hand (an alarm-started input would be refused as a replay later),
/// its options kept; `force` set to true when `force`.
/// The health check alarm started a failover while an operator had paused the automation: the
/// alarm is heard (this report), nothing changes, and the report names the commands that fail
/// over anyway and that resume the automation.
fn alarm_paused(state: &Value, run: &RunContext, deployment: &str, paused: Value) -> Ending {
    let view = State(state);
    let text = |key: &str| {
        paused
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    let until = paused
        .get("until")
        .and_then(Value::as_str)
        .map_or_else(|| "until resumed".to_owned(), |t| format!("until {t}"));
    let rule = trigger_rule_arn(run, deployment);
    let (resume_cli, resume) = crate::pause::resume_commands(deployment, run.region(), &rule);
    // The witness (crate::witness) starts a run too when it alone sees the primary down.
    let signal = if view.at("/request/trigger") == json!("witness") {
        "the witness found the primary down"
    } else {
        "the health check alarm went to ALARM"
    };
    let reason = format!(
        "{signal} while the automation was paused by {} ({})",
        text("by"),
        text("reason")
    );
    let mut input = manual_input(state, false);
    input["reason"] = json!(reason);
    let mut report = base(deployment, run, "alarm-paused");
    report.insert("request".into(), view.at("/request"));
    report.insert("paused".into(), paused.clone());
    report.insert(
        "next_step".into(),
        json!(format!(
            "Nothing was changed: an operator paused the automation (by {}, since {}, {until}: {}). \
             If the primary is down, fail over by hand (failover_cli_command, or \
             failover_command); when the maintenance is over, resume (resume_cli_command, or \
             resume_command).",
            text("by"),
            text("since"),
            text("reason")
        )),
    );
    insert_failover_commands(&mut report, run, deployment, &reason, &input);
    report.insert("resume_cli_command".into(), json!(resume_cli));
    report.insert("resume_command".into(), json!(resume));
    Ending {
        report: Value::Object(report),
        headline: "ALARM IGNORED, the automation is paused".into(),
        error: None,
    }
}

/// The two commands a held-back run's report names to fail over by hand with `reason`:
/// `failover_cli_command` (dr-failover) and `failover_command` (the AWS CLI, starting `input`).
fn insert_failover_commands(
    report: &mut serde_json::Map<String, Value>,
    run: &RunContext,
    deployment: &str,
    reason: &str,
    input: &Value,
) {
    report.insert(
        "failover_cli_command".into(),
        json!(cli_command(
            run,
            deployment,
            &["failover", "--reason", reason]
        )),
    );
    report.insert(
        "failover_command".into(),
        json!(start_execution_command(run, input)),
    );
}

/// The witness did not confirm the alarm: nothing changes; the report says what the witness saw
/// and names the commands that fail over by hand. Missing data alone (the health check metric's
/// gap in us-east-1, a silent witness) never starts a real failover: it alerts, here.
fn alarm_unconfirmed(state: &Value, run: &RunContext, deployment: &str, witness: Value) -> Ending {
    let view = State(state);
    let verdict = witness.get("verdict").and_then(Value::as_str).unwrap_or("");
    let seen = serde_json::from_value::<WitnessView>(witness.clone()).ok();
    let region = run.region();
    let what = match (verdict, seen.as_ref().and_then(|s| s.mark.as_ref())) {
        ("up", Some(mark)) => format!(
            "the witness in {region} saw the primary up at {} ({})",
            mark.seen, mark.probe
        ),
        ("silent", Some(mark)) => format!(
            "the witness in {region} is silent: its last probe was at {} ({})",
            mark.seen, mark.probe
        ),
        ("silent", None) => format!("the witness in {region} is silent: it has recorded no probe"),
        ("unread", _) => format!(
            "what the witness in {region} saw is unknown: the trigger rule's tags could not be \
             read ({})",
            witness.get("error").and_then(Value::as_str).unwrap_or("?")
        ),
        _ => format!("the witness in {region} did not confirm it"),
    };
    let silent = verdict != "up";
    let reason = format!(
        "the health check alarm went to ALARM but {what}; failing over by hand after checking \
         the primary"
    );
    let mut input = manual_input(state, false);
    input["reason"] = json!(reason);
    let mut report = base(deployment, run, "alarm-unconfirmed");
    report.insert("request".into(), view.at("/request"));
    report.insert("witness".into(), witness.clone());
    report.insert(
        "next_step".into(),
        json!(format!(
            "Nothing was changed: the health check alarm went to ALARM, but {what}, and one \
             signal alone never starts a real failover (a gap in the health check's metric in \
             us-east-1 sends the alarm to ALARM by itself). {}Check the primary; if it is down, \
             fail over by hand (failover_cli_command, or failover_command). If it stays down, \
             the witness starts the failover itself after WitnessAloneSeconds.",
            if silent {
                "The witness is silent: see its function's logs and its alarm. "
            } else {
                ""
            }
        )),
    );
    insert_failover_commands(&mut report, run, deployment, &reason, &input);
    Ending {
        report: Value::Object(report),
        headline: if silent {
            "ALARM NOT CONFIRMED, the witness is silent; nothing changed".into()
        } else {
            format!("ALARM NOT CONFIRMED by the witness in {region}; nothing changed")
        },
        error: None,
    }
}

/// The witness's verdict as the hold writes it (`crate::witness::mark::Verdict`).
#[derive(Deserialize)]
struct WitnessView {
    #[serde(default)]
    mark: Option<MarkView>,
}

#[derive(Deserialize)]
struct MarkView {
    seen: String,
    #[serde(default)]
    probe: String,
}

/// The trigger rule's ARN: `<deployment>-failover-trigger` on the default bus of the run's
/// account and region (the template names it so).
pub fn trigger_rule_arn(run: &RunContext, deployment: &str) -> String {
    // arn:<partition>:states:<region>:<account>:stateMachine:<name>
    let parts: Vec<&str> = run.state_machine.split(':').collect();
    let part = |index: usize| parts.get(index).copied().unwrap_or_default();
    let (partition, region, account) = (part(1), part(3), part(4));
    format!("arn:{partition}:events:{region}:{account}:rule/{deployment}-failover-trigger")
}

fn manual_input(state: &Value, force: bool) -> Value {
    let view = State(state);
    json!({
        "trigger": "manual",
        "dry_run": view.at("/request/dry_run"),
        "force": if force { json!(true) } else { view.at("/request/force") },
        "database_mode": view.at("/request/database_mode"),
        "accept_partial_capacity": view.at("/request/accept_partial_capacity"),
        "reason": view.at("/request/reason"),
        "require_approval": view.at("/request/require_approval") == json!(true),
    })
}

/// A failed run: its error, the whole state it failed in, and the command that re-runs it (the
/// same options, started by hand: an alarm-started input would be refused as a replay later).
fn failed(
    state: &Value,
    run: &RunContext,
    config: &FinishConfig,
    deployment: &str,
    stage: &str,
    error: Value,
    failed_detail: Option<Value>,
) -> Ending {
    let view = State(state);
    let rerun_input = manual_input(state, false);
    let mut whole = state.as_object().cloned().unwrap_or_default();
    whole.remove("end");
    whole.insert("error".into(), error.clone());
    whole.insert("failed_stage".into(), json!(stage));
    whole.insert("rerun_input".into(), rerun_input.clone());
    if let Some(detail) = failed_detail {
        whole.insert("failed".into(), detail);
    }
    let mut report = base(deployment, run, "failed");
    report.insert("failed_stage".into(), json!(stage));
    report.insert("error".into(), error);
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
        headline: format!("FAILOVER FAILED at {stage}"),
        error: Some(RunError::new(
            "DrFailover.FailoverFailed",
            "a failover stage failed; see the published failure report",
        )),
    }
}

/// The members of a report on a run that reached its stages.
fn with_stages(
    state: &Value,
    run: &RunContext,
    config: &FinishConfig,
    deployment: &str,
    outcome: &str,
) -> Map<String, Value> {
    let view = State(state);
    let mut report = base(deployment, run, outcome);
    report.insert("request".into(), view.at("/request"));
    report.insert("plan".into(), view.at("/plan"));
    report.insert(
        "database".into(),
        view.at("/failover/database_and_dns/database"),
    );
    report.insert(
        "capacity".into(),
        view.at("/failover/database_and_dns/capacity"),
    );
    report.insert("compute".into(), view.at("/failover/compute/compute"));
    report.insert("dns".into(), view.at("/failover/database_and_dns/dns"));
    report.insert("backup".into(), view.at("/plan/backup"));
    if view.has("/alarm_state") {
        // Approval expired and the run proceeded: what the alarm said then (or why it could not
        // be read).
        report.insert("alarm_state".into(), view.at("/alarm_state"));
    }
    report.insert("report_object".into(), report_object(config, run));
    report
}

/// The stages' outcomes decide: DNS moved with compute ready is failed over (or already failed
/// over, when no stage changed anything); DNS moved without full compute is degraded; a database
/// that never accepted writes is a failure at the database (DNS untouched); anything else is
/// incomplete (the database accepts writes, DNS did not move).
fn failover_ended(
    state: &Value,
    run: &RunContext,
    config: &FinishConfig,
    deployment: &str,
) -> Ending {
    let view = State(state);
    let database_and_dns = view.str("/failover/database_and_dns/outcome");
    let compute = view.str("/failover/compute/outcome");
    match database_and_dns {
        Some("dns-moved") if compute == Some("compute-ready") => {
            let unchanged = |pointer: &str| state.pointer(pointer) == Some(&Value::Bool(false));
            let nothing_changed = unchanged("/failover/database_and_dns/database/apply/changed")
                && unchanged("/failover/compute/compute/apply/changed")
                && unchanged("/failover/database_and_dns/dns/apply/changed");
            let (outcome, headline) = if nothing_changed {
                (
                    "already-failed-over",
                    "already failed over; nothing changed",
                )
            } else {
                ("failed-over", "failed over to the DR region")
            };
            Ending {
                report: Value::Object(with_stages(state, run, config, deployment, outcome)),
                headline: headline.into(),
                error: None,
            }
        }
        Some("dns-moved") => {
            let mut report = with_stages(state, run, config, deployment, "failed-over-degraded");
            report.insert("compute_outcome".into(), json!(compute));
            report.insert("compute_error".into(), view.at("/failover/compute/error"));
            Ending {
                report: Value::Object(report),
                headline: "failed over, DEGRADED: capacity below target".into(),
                error: None,
            }
        }
        Some(outcome @ ("database-timeout" | "database-failed")) => {
            let error = database_error(state);
            let detail = json!({
                "stage": "database",
                "outcome": outcome,
                "error": view.at("/failover/database_and_dns/error"),
                "database": view.at("/failover/database_and_dns/database"),
                "compute": view.at("/failover/compute"),
            });
            failed(
                state,
                run,
                config,
                deployment,
                "database",
                error,
                Some(detail),
            )
        }
        _ => {
            let mut finish_input = json!({
                "trigger": "manual",
                "dry_run": false,
                "accept_partial_capacity": true,
                "reason": "finish an incomplete failover",
            });
            // Every record is at DR and only Route 53's INSYNC is missing: the finishing run
            // waits for that change instead of submitting another, which would start its
            // propagation over ("GetChange").
            let confirmed_pending = dns_changed_not_confirmed(state);
            if let Some(change_id) = dns_change_id(state).filter(|_| confirmed_pending) {
                finish_input["dns_change_id"] = json!(change_id);
            }
            let mut report = with_stages(state, run, config, deployment, "incomplete");
            report.insert("stopped_at".into(), json!(database_and_dns));
            report.insert("error".into(), view.at("/failover/database_and_dns/error"));
            report.insert("compute_outcome".into(), json!(compute));
            // Why compute failed (an AccessDenied names the action and the role), as the
            // degraded report has it: DNS waits for the capacity, so it is often the reason.
            report.insert("compute_error".into(), view.at("/failover/compute/error"));
            report.insert("done".into(), json!(INCOMPLETE_DONE));
            report.insert(
                "not_done".into(),
                json!(if confirmed_pending {
                    INCOMPLETE_NOT_CONFIRMED
                } else {
                    INCOMPLETE_NOT_DONE
                }),
            );
            report.insert(
                "finish_command".into(),
                json!(start_execution_command(run, &finish_input)),
            );
            report.insert("finish_input".into(), finish_input);
            Ending {
                report: Value::Object(report),
                headline: if confirmed_pending {
                    "FAILOVER INCOMPLETE, DNS changed but not confirmed INSYNC".into()
                } else {
                    "FAILOVER INCOMPLETE, DNS not moved".into()
                },
                error: Some(RunError::new(
                    "DrFailover.Incomplete",
                    "the database was promoted but DNS did not move; see the published report \
                     for the input that finishes the failover",
                )),
            }
        }
    }
}

/// The database stage's error: the step's own, or its budget spent (the status loop's wait
/// report when it reached status, else the apply loop's).
fn database_error(state: &Value) -> Value {
    let view = State(state);
    let stage_error = view.at("/failover/database_and_dns/error");
    if !stage_error.is_null() {
        return json!({"Error": stage_error.get("Error"), "Cause": stage_error.get("Cause")});
    }
    let wait = if view.has("/failover/database_and_dns/database/status/wait") {
        view.at("/failover/database_and_dns/database/status/wait")
    } else {
        view.at("/failover/database_and_dns/database/apply/wait")
    };
    let shown = |key: &str| match wait.get(key) {
        Some(Value::String(text)) => text.clone(),
        Some(value) => value.to_string(),
        None => "null".into(),
    };
    json!({
        "Error": "DrFailover.StageTimedOut",
        "Cause": format!(
            "the database stage spent {} s of its {} s budget (DatabaseBudgetSeconds) and the DR \
             database does not accept writes; still pending: {}",
            shown("elapsed_seconds"),
            shown("budget_seconds"),
            shown("pending"),
        ),
    })
}

/// Whether the DNS stage ended with every record at the DR region in Route 53 and a change
/// submitted, only its `INSYNC` confirmation missing (GetChange still `PENDING`: "GetChange",
/// Amazon Route 53 API Reference,
/// <https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html>). The last
/// answer of the stage (its status loop's, else its apply's) tells.
fn dns_changed_not_confirmed(state: &Value) -> bool {
    let stage =
        |part: &str| state.pointer(&format!("/failover/database_and_dns/dns/{part}/detail"));
    let Some(detail) = stage("status").filter(|d| !d.is_null()).or(stage("apply")) else {
        return false;
    };
    let count = |key: &str| detail.get(key).and_then(Value::as_u64);
    let all_at_dr = matches!((count("records_at_dr"), count("record_count")), (Some(at), Some(all)) if all > 0 && at == all);
    all_at_dr && detail.get("change_id").is_some_and(|id| !id.is_null())
}

/// The DNS stage's last answer's detail: its status loop's, else its apply's.
fn last_dns_detail(state: &Value) -> Option<&Value> {
    let stage = |part: &str| {
        state
            .pointer(&format!("/failover/database_and_dns/dns/{part}/detail"))
            .filter(|d| !d.is_null())
    };
    stage("status").or(stage("apply"))
}

/// The Route 53 change the DNS stage last submitted or waited for.
fn dns_change_id(state: &Value) -> Option<&str> {
    last_dns_detail(state)?.get("change_id")?.as_str()
}
