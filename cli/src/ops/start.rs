//! `dr-failover failover`, `rerun`, `reprotect` and `failback`: runs started by hand. The input
//! is built as JSON here, never through a shell, so a reason is passed as typed. Re-protect and
//! fail back run a dry run first unless told otherwise (`--skip-dry-run`), and start the real run
//! only when the dry run ended clean and the operator confirmed (`--yes`, or an answer at the
//! terminal).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{json, Value};

use super::{history, status, Deployment, Machine, OpsError};

/// How a failover started by hand runs.
#[derive(Debug, Clone, Default)]
pub struct FailoverOptions {
    pub reason: String,
    pub dry_run: bool,
    /// Override a refusal by the RDS replica's lag check (accepting the data loss it names).
    pub force: bool,
    /// Aurora: a switchover (no data loss, both regions up) instead of a failover.
    pub switchover: bool,
    /// Wait for a second person's approval (`dr-failover approve`) before anything changes.
    pub require_approval: bool,
}

/// The failover state machine's input for `options` (docs/contract.md, "The state machine's
/// input").
pub fn failover_input(options: &FailoverOptions) -> Value {
    json!({
        "trigger": "manual",
        "dry_run": options.dry_run,
        "force": options.force,
        "database_mode": if options.switchover { "switchover" } else { "failover" },
        "require_approval": options.require_approval,
        "reason": options.reason,
    })
}

/// Starts `machine` with `input`, and prints the run and how to follow it.
async fn start(
    deployment: &Deployment,
    machine: Machine,
    input: &Value,
) -> Result<String, OpsError> {
    let started = deployment
        .sfn
        .start_execution()
        .state_machine_arn(deployment.machine_arn(machine))
        .input(input.to_string())
        .send()
        .await
        .map_err(super::aws("StartExecution"))?;
    let arn = started.execution_arn().to_owned();
    let name = arn.rsplit(':').next().unwrap_or(&arn).to_owned();
    println!("started {} run {name}", machine.label());
    println!("  {arn}");
    println!("  {}", deployment.console_url(&arn));
    println!(
        "  follow: {}",
        deployment.cli(&["status", "--follow", &name])
    );
    Ok(name)
}

/// `failover`: starts a failover (or its dry run) by hand; with `follow`, follows it to its end.
///
/// # Errors
/// Step Functions' error (nothing started then).
pub async fn failover(
    deployment: &Deployment,
    options: &FailoverOptions,
    follow: bool,
) -> Result<ExitCode, OpsError> {
    let name = start(deployment, Machine::Failover, &failover_input(options)).await?;
    if options.require_approval {
        println!(
            "  it waits for approval: {}",
            deployment.cli(&["approve", &name])
        );
    }
    if follow {
        return status::follow(deployment, Some(&name), Duration::from_secs(2)).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// `rerun RUN`: starts the run's state machine again with what its report says finishes or
/// re-runs it (`finish_input`, `rerun_input`), else with the run's own input. Every step is
/// idempotent: a re-run continues from where the run stopped.
///
/// # Errors
/// No such run, a run still running, or Step Functions' error.
pub async fn rerun(deployment: &Deployment, run: &str) -> Result<ExitCode, OpsError> {
    let run = deployment.find_run(run, &Machine::ALL).await?;
    if run.status == ExecutionStatus::Running {
        return Err(OpsError(format!(
            "the run {} is still running: follow it with {}",
            run.name,
            deployment.cli(&["status", "--follow", &run.name])
        )));
    }
    let events = history::read(deployment, &run.arn).await?;
    let report = history::report(&events).unwrap_or(Value::Null);
    let input = match ["finish_input", "rerun_input"]
        .iter()
        .find_map(|key| report.get(*key).filter(|v| v.is_object()))
    {
        Some(input) => input.clone(),
        None => {
            let described = deployment.describe(&run.arn).await?;
            let mut input: Value = described
                .input()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_else(|| json!({}));
            // An alarm's input started again is a replay the check refuses: a re-run is by hand.
            if input.get("trigger") == Some(&json!("alarm")) {
                if let Some(members) = input.as_object_mut() {
                    members.insert("trigger".into(), json!("manual"));
                    members.remove("alarm");
                }
            }
            input
        }
    };
    println!("input: {input}");
    start(deployment, run.machine, &input).await?;
    Ok(ExitCode::SUCCESS)
}

fn confirmed(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

/// `reprotect` or `failback`: a dry run first (unless `skip_dry_run`), shown stage by stage with
/// its report; then, if it ended clean and the operator confirms (`yes`, or at the terminal),
/// the real run. Without confirmation it prints the command that starts the real run.
///
/// # Errors
/// Step Functions' error.
pub async fn guarded_run(
    deployment: &Deployment,
    machine: Machine,
    reason: &str,
    skip_dry_run: bool,
    yes: bool,
) -> Result<ExitCode, OpsError> {
    let label = machine.label();
    if !skip_dry_run {
        let name = start(
            deployment,
            machine,
            &json!({"dry_run": true, "reason": reason}),
        )
        .await?;
        let code = status::follow(deployment, Some(&name), Duration::from_secs(2)).await?;
        if code != ExitCode::SUCCESS {
            println!("the {label} dry run did not end clean: nothing real was started");
            return Ok(code);
        }
        let real = deployment.cli(&[label, "--reason", reason, "--skip-dry-run", "--yes"]);
        if !(yes || confirmed(&format!("start the REAL {label} now?"))) {
            println!("nothing real was started; when ready: {real}");
            return Ok(ExitCode::SUCCESS);
        }
    } else if !yes && !confirmed(&format!("start a REAL {label} with no dry run?")) {
        println!(
            "nothing was started; confirm with --yes, or run the dry run first: {}",
            deployment.cli(&[label, "--reason", reason])
        );
        return Ok(ExitCode::FAILURE);
    }
    let name = start(
        deployment,
        machine,
        &json!({"dry_run": false, "reason": reason}),
    )
    .await?;
    if machine == Machine::Failback {
        println!(
            "  it waits for approval: {}",
            deployment.cli(&["approve", &name])
        );
    }
    status::follow(deployment, Some(&name), Duration::from_secs(2)).await
}
