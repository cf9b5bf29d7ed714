//! `dr-failover status [--follow] [RUN]`: each state machine's current or last run, stage by
//! stage; with `--follow`, the run (the one named, else the one running) as it goes, until it
//! ends, with the command that answers an approval request when it waits for one.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;

use super::history::{self, Progress, Stage};
use super::pause::trigger_line;
use super::{Deployment, Machine, OpsError, Run};

/// The table of a run's stages at `now`.
pub fn render_stages(stages: &[Stage], now: SystemTime) -> String {
    stages
        .iter()
        .map(|stage| {
            let (mark, note) = match stage.progress {
                Progress::Done => ("done", ""),
                Progress::Running => ("running", ""),
                Progress::Waiting => ("WAITING", ", for a person's answer"),
                Progress::NotStarted => ("-", "not started"),
            };
            let usage = stage.usage(now);
            let detail = match (stage.progress, usage.is_empty()) {
                (Progress::NotStarted, true) => note.to_owned(),
                (Progress::NotStarted, false) => format!("{note} ({usage})"),
                _ => format!("{usage}{note}"),
            };
            format!("  {mark:<8} {:<10} {detail}\n", stage.name)
        })
        .collect()
}

fn headline(deployment: &Deployment, run: &Run, input: Option<&Value>) -> String {
    let mut line = format!(
        "{} run {} {}",
        run.machine.label(),
        run.name,
        run.status.as_str()
    );
    if let Some(input) = input {
        let word = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_owned);
        if input.get("dry_run") == Some(&Value::Bool(true)) {
            line.push_str(" (dry run)");
        }
        if let Some(trigger) = word("trigger") {
            line.push_str(&format!(", started by {trigger}"));
        }
        if let Some(reason) = word("reason") {
            line.push_str(&format!(": {reason}"));
        }
    }
    format!("{line}\n  {}\n", deployment.console_url(&run.arn))
}

/// What a run shows: its headline, its stages, and, waiting for approval, the commands that
/// answer it; ended, its outcome and next step.
async fn show(
    deployment: &Deployment,
    run: &Run,
    events: &mut Vec<history::Event>,
) -> Result<(String, bool), OpsError> {
    let described = deployment.describe(&run.arn).await?;
    let status = described.status().clone();
    let run = Run {
        status: status.clone(),
        ..run.clone()
    };
    let input: Option<Value> = described.input().and_then(|t| serde_json::from_str(t).ok());
    history::update(&deployment.sfn, &run.arn, events).await?;
    let events = &*events;
    let ended = status != ExecutionStatus::Running;
    let now = SystemTime::now();
    let mut text = headline(deployment, &run, input.as_ref());
    text.push_str(&render_stages(
        &history::stages(run.machine, events, ended),
        now,
    ));
    if !ended {
        if history::waiting_token(events).is_some() {
            text.push_str(&format!(
                "  waiting for approval: {}\n  or deny: {}\n",
                deployment.cli(&["approve", &run.name]),
                deployment.cli(&["deny", &run.name, "--reason", "<why>"])
            ));
        }
    } else {
        match history::report(events) {
            Some(report) => text.push_str(&super::report::summary(&report)),
            None => {
                if let Some((error, cause)) = history::failure(events) {
                    text.push_str(&format!("  ended {error}: {cause}\n"));
                }
            }
        }
        text.push_str(&format!(
            "  report: {}\n",
            deployment.cli(&["report", &run.name])
        ));
    }
    Ok((text, ended))
}

/// `status`: every state machine's current or last run, and whether the trigger is armed.
pub async fn status(deployment: &Deployment) -> Result<ExitCode, OpsError> {
    println!(
        "deployment {} in {} (as {})",
        deployment.name, deployment.region, deployment.caller
    );
    println!("{}", trigger_line(deployment).await);
    for machine in Machine::ALL {
        match deployment.latest_runs(machine, 1).await?.first() {
            None => println!("{}: no run yet", machine.label()),
            Some(run) => print!("{}", show(deployment, run, &mut Vec::new()).await?.0),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `status RUN`: one run, stage by stage.
pub async fn one(deployment: &Deployment, run: &str) -> Result<ExitCode, OpsError> {
    let run = deployment.find_run(run, &Machine::ALL).await?;
    print!("{}", show(deployment, &run, &mut Vec::new()).await?.0);
    Ok(ExitCode::SUCCESS)
}

/// The run `--follow` follows: the one named, else the newest one running (the failover first),
/// else the newest failover.
async fn followed(deployment: &Deployment, run: Option<&str>) -> Result<Run, OpsError> {
    if let Some(run) = run {
        return deployment.find_run(run, &Machine::ALL).await;
    }
    let mut newest = None;
    for machine in [Machine::Failover, Machine::Failback, Machine::Reprotect] {
        if let Some(latest) = deployment.latest_runs(machine, 1).await?.into_iter().next() {
            if latest.status == ExecutionStatus::Running {
                return Ok(latest);
            }
            newest.get_or_insert(latest);
        }
    }
    newest.ok_or_else(|| OpsError(format!("{} has no run to follow", deployment.name)))
}

/// `status --follow [RUN]`: shows the run again every `interval` while it runs (in a terminal,
/// redrawn in place; elsewhere, each time it changes), and ends with it: exit status 0 when the
/// run succeeded, 1 when it failed, timed out or was stopped.
pub async fn follow(
    deployment: &Deployment,
    run: Option<&str>,
    interval: Duration,
) -> Result<ExitCode, OpsError> {
    let run = followed(deployment, run).await?;
    let terminal = std::io::stdout().is_terminal();
    let mut last_shape = String::new();
    let mut events = Vec::new();
    loop {
        let (text, ended) = show(deployment, &run, &mut events).await?;
        // Only what changes the picture counts as a change: the figures tick on every poll.
        let shape: String = text.chars().filter(|c| !c.is_ascii_digit()).collect();
        if terminal {
            print!("\x1b[2J\x1b[H{text}");
        } else if shape != last_shape {
            print!("{text}");
        }
        last_shape = shape;
        if ended {
            let described = deployment.describe(&run.arn).await?;
            return Ok(if described.status() == &ExecutionStatus::Succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        tokio::time::sleep(interval).await;
    }
}
