//! `dr-failover approve [RUN]` and `deny [RUN] --reason TEXT`: answer the approval request a
//! failover or a fail back waits on (Step Functions `SendTaskSuccess` / `SendTaskFailure` with
//! the request's task token, read from the run's history: no token is copied from a mail). The
//! approver sees what the run will do before the answer is sent. These are the template's
//! `ApproverRole`'s commands.

use std::process::ExitCode;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{json, Value};

use super::{history, Deployment, Machine, OpsError, Run};

const GATED: [Machine; 2] = [Machine::Failover, Machine::Failback];

/// The run waiting for an answer: the one named, else the only one waiting.
async fn waiting(
    deployment: &Deployment,
    run: Option<&str>,
) -> Result<(Run, String, Value), OpsError> {
    let candidates = match run {
        Some(run) => vec![deployment.find_run(run, &GATED).await?],
        None => {
            let mut running = Vec::new();
            for machine in GATED {
                running.extend(
                    deployment
                        .latest_runs(machine, 5)
                        .await?
                        .into_iter()
                        .filter(|r| r.status == ExecutionStatus::Running),
                );
            }
            running
        }
    };
    let mut found = Vec::new();
    for run in candidates {
        let events = history::read(deployment, &run.arn).await?;
        if let Some((token, request)) = history::waiting_token(&events) {
            found.push((run, token, request));
        }
    }
    match (found.len(), run) {
        (1, _) => Ok(found.remove(0)),
        (0, Some(run)) => Err(OpsError(format!(
            "the run {run} is not waiting for approval (it has been answered, has expired, or \
             never asked): {}",
            deployment.cli(&["status", run])
        ))),
        (0, None) => Err(OpsError(format!(
            "no run of {} is waiting for approval",
            deployment.name
        ))),
        _ => Err(OpsError(format!(
            "{} runs wait for approval ({}): name one",
            found.len(),
            found
                .iter()
                .map(|(r, _, _)| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// What the approver reads: the request's subject and message (the plan, the data-loss figure,
/// what each step will do).
fn show_request(run: &Run, request: &Value) {
    println!("{} run {} asks for approval", run.machine.label(), run.name);
    if let Some(subject) = request.get("Subject").and_then(Value::as_str) {
        println!("  {subject}");
    }
    let message = match request.get("Message") {
        Some(Value::String(text)) => text.clone(),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
        None => String::new(),
    };
    for line in message.lines() {
        println!("  {line}");
    }
}

/// `approve [RUN]`.
///
/// # Errors
/// No run waiting, or Step Functions' error (an answer already given or expired:
/// `TaskTimedOut`).
pub async fn approve(deployment: &Deployment, run: Option<&str>) -> Result<ExitCode, OpsError> {
    let (run, token, request) = waiting(deployment, run).await?;
    show_request(&run, &request);
    let output = json!({"approved_by": deployment.caller, "via": "dr-failover approve"});
    deployment
        .sfn
        .send_task_success()
        .task_token(token)
        .output(output.to_string())
        .send()
        .await
        .map_err(super::aws("SendTaskSuccess"))?;
    println!(
        "approved as {}; the run makes its plan again before the first change",
        deployment.caller
    );
    println!(
        "follow: {}",
        deployment.cli(&["status", "--follow", &run.name])
    );
    Ok(ExitCode::SUCCESS)
}

/// `deny [RUN] --reason TEXT`.
///
/// # Errors
/// No run waiting, or Step Functions' error.
pub async fn deny(
    deployment: &Deployment,
    run: Option<&str>,
    reason: &str,
) -> Result<ExitCode, OpsError> {
    let (run, token, request) = waiting(deployment, run).await?;
    show_request(&run, &request);
    deployment
        .sfn
        .send_task_failure()
        .task_token(token)
        .error("DrFailover.ApprovalDenied")
        .cause(format!("denied by {}: {reason}", deployment.caller))
        .send()
        .await
        .map_err(super::aws("SendTaskFailure"))?;
    println!("denied: the run ends and changes nothing");
    println!("report: {}", deployment.cli(&["report", &run.name]));
    Ok(ExitCode::SUCCESS)
}
