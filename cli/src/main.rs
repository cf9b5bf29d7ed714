//! `dr-failover`: the one tool an SRE installs. `plan` checks, renders and imports the recovery
//! plan file; the run-time commands drive the deployed state machines (README, "Operating").

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod import;
mod live;
mod ops;
mod plan;

use ops::{start::FailoverOptions, Deployment, Machine, Target};

#[derive(Debug, Parser)]
#[command(
    name = "dr-failover",
    version,
    about = "Fail an application over to its DR region, and prove it still could"
)]
struct Cli {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The recovery plan file: check it, render what deploys it, import its DNS section.
    #[command(subcommand)]
    Plan(plan::Command),
    /// Each state machine's current or last run, stage by stage, and whether the trigger is armed.
    Status {
        /// Follow the run (RUN, else the one running) until it ends.
        #[arg(long)]
        follow: bool,
        /// A run's name or ARN.
        run: Option<String>,
        /// Seconds between two looks while following.
        #[arg(long, default_value_t = 2)]
        interval: u64,
    },
    /// Start a failover by hand (or its dry run).
    Failover {
        /// Why: kept in the run's input and every report.
        #[arg(long)]
        reason: String,
        /// Plan every step and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Fail over although the RDS replica's lag check refuses (accepting the data loss it names).
        #[arg(long)]
        force: bool,
        /// Aurora Global Database: a switchover (both regions up, no data loss).
        #[arg(long)]
        switchover: bool,
        /// Wait for a second person's `dr-failover approve` before anything changes.
        #[arg(long)]
        require_approval: bool,
        /// Follow the run until it ends.
        #[arg(long)]
        follow: bool,
    },
    /// Approve the request a failover or fail back waits on (RUN, else the only one waiting).
    Approve { run: Option<String> },
    /// Deny it: the run ends and changes nothing.
    Deny {
        run: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Start a finished run's state machine again, with what its report says finishes it.
    Rerun { run: String },
    /// Pause the failover automation: an alarm starts no failover until resumed or expired.
    Pause {
        /// How long (`90m`, `2h`, `1d`); without it, until `resume`.
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        duration: Option<std::time::Duration>,
        #[arg(long)]
        reason: String,
    },
    /// Resume the automation: remove the pause, enable a trigger rule left disabled.
    Resume,
    /// The last readiness result, and the trigger as it is now.
    Readiness {
        /// Run readiness now and wait for it.
        #[arg(long)]
        now: bool,
    },
    /// Re-protect after a failover: a standby in the primary region (dry run first).
    Reprotect {
        #[arg(long)]
        reason: String,
        /// Start the real run without a dry run first.
        #[arg(long)]
        skip_dry_run: bool,
        /// Start the real run without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Fail back to the primary region (dry run first; the real run asks for approval).
    Failback {
        #[arg(long)]
        reason: String,
        #[arg(long)]
        skip_dry_run: bool,
        #[arg(long)]
        yes: bool,
    },
    /// A run's report: text, the whole JSON document, or an HTML page.
    Report {
        run: String,
        #[arg(long, conflicts_with = "html")]
        json: bool,
        /// Write the report as a self-contained HTML page to this file.
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
    },
}

async fn operate(target: &Target, command: Command) -> Result<ExitCode, ops::OpsError> {
    let deployment = Deployment::connect(target).await?;
    let d = &deployment;
    match command {
        Command::Plan(_) => unreachable!("plan commands need no deployment"),
        Command::Status {
            follow: true,
            run,
            interval,
        } => {
            ops::status::follow(
                d,
                run.as_deref(),
                std::time::Duration::from_secs(interval.max(1)),
            )
            .await
        }
        Command::Status { run: Some(run), .. } => ops::status::one(d, &run).await,
        Command::Status { .. } => ops::status::status(d).await,
        Command::Failover {
            reason,
            dry_run,
            force,
            switchover,
            require_approval,
            follow,
        } => {
            let options = FailoverOptions {
                reason,
                dry_run,
                force,
                switchover,
                require_approval,
            };
            ops::start::failover(d, &options, follow).await
        }
        Command::Approve { run } => ops::approve::approve(d, run.as_deref()).await,
        Command::Deny { run, reason } => ops::approve::deny(d, run.as_deref(), &reason).await,
        Command::Rerun { run } => ops::start::rerun(d, &run).await,
        Command::Pause { duration, reason } => ops::pause::pause(d, duration, &reason).await,
        Command::Resume => ops::pause::resume(d).await,
        Command::Readiness { now } => ops::report::readiness(d, now).await,
        Command::Reprotect {
            reason,
            skip_dry_run,
            yes,
        } => ops::start::guarded_run(d, Machine::Reprotect, &reason, skip_dry_run, yes).await,
        Command::Failback {
            reason,
            skip_dry_run,
            yes,
        } => ops::start::guarded_run(d, Machine::Failback, &reason, skip_dry_run, yes).await,
        Command::Report { run, json, html } => {
            let form = match (json, html) {
                (_, Some(path)) => ops::report::Form::Page(path),
                (true, None) => ops::report::Form::Json,
                (false, None) => ops::report::Form::Text,
            };
            ops::report::report(d, &run, form).await
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Plan(command) => plan::run(command).await,
        command => match operate(&cli.target, command).await {
            Ok(code) => code,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
    }
}
