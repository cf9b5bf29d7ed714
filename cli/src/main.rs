//! `dr-failover`: the one tool an SRE installs. `plan` checks, renders and imports the recovery
//! plan file; the run-time commands drive the deployed state machines.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod import;
mod live;
mod plan;

#[derive(Debug, Parser)]
#[command(
    name = "dr-failover",
    version,
    about = "Fail an application over to its DR region, and prove it still could"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The recovery plan file: check it, render what deploys it, import its DNS section.
    #[command(subcommand)]
    Plan(plan::Command),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Plan(command) => plan::run(command).await,
    }
}
