//! `dr-failover plan`: check a plan file, print its JSON Schema, render what deploys it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use shared::plan::check::check_text;
use shared::plan::render::{environment, stack_parameters};
use shared::plan::yaml::render;
use shared::plan::Plan;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a plan offline (no AWS account): every mistake that would fail a deploy or a first
    /// run, by name and line. Prints `ok: N records, M groups, K backup resources` first on
    /// success; exits 1 with the mistakes otherwise.
    Check {
        /// The plan file (YAML).
        file: PathBuf,
    },
    /// Print the plan's JSON Schema (what `infra/plans/plan.schema.json` holds).
    Schema,
    /// Check a plan, then write what deploys it into DIR: `layer/dr-failover/plan.json` (the
    /// Lambda layer every function carries), `environment.json` (every function's variables the
    /// plan gives) and `<stack>.parameters.json` for each stack (for
    /// `aws cloudformation deploy --parameter-overrides file://...`).
    Render {
        /// The plan file (YAML).
        file: PathBuf,
        /// Where to write (created if missing).
        #[arg(long, default_value = "target/deploy")]
        out: PathBuf,
    },
}

pub async fn run(command: Command) -> ExitCode {
    match command {
        Command::Check { file } => match load(&file) {
            Ok((_, summary)) => {
                println!("{summary}");
                println!("plan version {}", summary.version);
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Schema => {
            let schema = schemars::schema_for!(Plan);
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("a schema serializes")
            );
            ExitCode::SUCCESS
        }
        Command::Render { file, out } => {
            let (plan, summary) = match load(&file) {
                Ok(loaded) => loaded,
                Err(code) => return code,
            };
            match write_rendered(&plan, &out) {
                Ok(written) => {
                    println!("{summary}");
                    println!("plan version {}", summary.version);
                    for path in written {
                        println!("wrote {}", path.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: writing to {}: {error}", out.display());
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Reads and checks `file`, printing its mistakes (with their lines) to stderr.
fn load(file: &Path) -> Result<(Plan, shared::plan::check::Summary), ExitCode> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", file.display());
            return Err(ExitCode::FAILURE);
        }
    };
    match check_text(&text) {
        Ok((parsed, summary)) => Ok((parsed.plan, summary)),
        Err(errors) => {
            eprint!("{}", render(&file.display().to_string(), &text, &errors));
            eprintln!(
                "{}: {} mistake{} found; nothing was rendered or deployed",
                file.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            Err(ExitCode::FAILURE)
        }
    }
}

fn write_rendered(plan: &Plan, out: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let layer = out.join("layer").join("dr-failover");
    std::fs::create_dir_all(&layer)?;
    let plan_file = layer.join("plan.json");
    std::fs::write(&plan_file, plan.to_json())?;
    written.push(plan_file);
    let env_file = out.join("environment.json");
    std::fs::write(
        &env_file,
        serde_json::to_string_pretty(&environment(plan)).expect("a map serializes"),
    )?;
    written.push(env_file);
    for (stack, parameters) in stack_parameters(plan) {
        let list: Vec<serde_json::Value> = parameters
            .iter()
            .map(|(key, value)| serde_json::json!({"ParameterKey": key, "ParameterValue": value}))
            .collect();
        let path = out.join(format!("{stack}.parameters.json"));
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&list).expect("a list serializes"),
        )?;
        written.push(path);
    }
    Ok(written)
}
