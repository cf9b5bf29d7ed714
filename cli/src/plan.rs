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
        /// Also run every step's read-only plan against AWS with the plan's configuration: each
        /// named resource exists in the shape a failover needs (read-only credentials for the DR
        /// and primary regions; changes nothing).
        #[arg(long)]
        live: bool,
    },
    /// Write the plan's `dns` section from a hosted zone as it is (ListResourceRecordSets):
    /// failover pairs, and weighted pairs told apart by set identifier or by Region. What cannot
    /// be classified is listed, never guessed.
    Import {
        /// The hosted zone's id (without /hostedzone/).
        #[arg(long)]
        zone: String,
        /// The primary's set identifier of weighted pairs (with --dr-set).
        #[arg(long, requires = "dr_set", conflicts_with_all = ["primary_region", "dr_region"])]
        primary_set: Option<String>,
        /// The DR's set identifier of weighted pairs (with --primary-set).
        #[arg(long, requires = "primary_set")]
        dr_set: Option<String>,
        /// Tell weighted pairs apart by the Region in their set identifier, values or alias
        /// target (with --dr-region).
        #[arg(long, requires = "dr_region")]
        primary_region: Option<String>,
        /// See --primary-region.
        #[arg(long, requires = "primary_region")]
        dr_region: Option<String>,
        /// Where to write the section (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
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
        Command::Check { file, live } => match load(&file) {
            Ok((plan, summary)) => {
                println!("{summary}");
                println!("plan version {}", summary.version);
                if live {
                    return check_live(&plan).await;
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Import {
            zone,
            primary_set,
            dr_set,
            primary_region,
            dr_region,
            out,
        } => {
            let sides = match (primary_set, dr_set, primary_region, dr_region) {
                (Some(primary), Some(dr), _, _) => {
                    crate::import::Sides::SetIdentifiers { primary, dr }
                }
                (_, _, Some(primary), Some(dr)) => crate::import::Sides::Regions { primary, dr },
                _ => {
                    eprintln!("error: give --primary-set and --dr-set, or --primary-region and --dr-region: how the primary's and DR's sets of a weighted record are told apart");
                    return ExitCode::from(2);
                }
            };
            let zone = zone.trim_start_matches("/hostedzone/").to_owned();
            // Route 53's API is served from us-east-1 whatever the zone holds.
            let config = shared::aws::load("us-east-1", shared::aws::SdkTimeouts::default()).await;
            let route53 = aws_sdk_route53::Client::new(&config);
            match crate::import::import(&route53, &zone, &sides).await {
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
                Ok(imported) => {
                    let text = crate::import::to_yaml(&zone, &imported);
                    for line in &imported.unclassified {
                        eprintln!("not imported: {line}");
                    }
                    eprintln!(
                        "imported {} record(s); {} not imported",
                        imported.records.len(),
                        imported.unclassified.len()
                    );
                    match out {
                        None => {
                            print!("{text}");
                            ExitCode::SUCCESS
                        }
                        Some(path) => match std::fs::write(&path, text) {
                            Ok(()) => ExitCode::SUCCESS,
                            Err(error) => {
                                eprintln!("error: writing {}: {error}", path.display());
                                ExitCode::FAILURE
                            }
                        },
                    }
                }
            }
        }
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

/// `--live`: every step's read-only plan, printed; refusals fail the check.
async fn check_live(plan: &Plan) -> ExitCode {
    match crate::live::check(plan).await {
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
        Ok(findings) => {
            let mut refused = false;
            for finding in findings {
                let mark = if finding.refusals.is_empty() {
                    "ok"
                } else {
                    "REFUSED"
                };
                refused |= !finding.refusals.is_empty();
                println!("{mark:>8}  {:<9} {}", finding.step, finding.summary);
                for refusal in &finding.refusals {
                    println!("          refusal: {refusal}");
                }
                for warning in &finding.warnings {
                    println!("          warning: {warning}");
                }
            }
            if refused {
                println!("live: a failover now would be refused (see each refusal)");
                ExitCode::FAILURE
            } else {
                println!("live: every step's plan passes against AWS");
                ExitCode::SUCCESS
            }
        }
    }
}

/// Reads and checks `file`, printing its mistakes (with their lines) to stderr.
pub(crate) fn load(file: &Path) -> Result<(Plan, shared::plan::check::Summary), ExitCode> {
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
