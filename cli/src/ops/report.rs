//! `dr-failover report RUN [--json]` and `readiness [--now]`: a run's report as finish-run made,
//! stored and published it (read back from the run's history: the same document, with no bucket
//! to find), as text or JSON; and the last readiness result.

use std::process::ExitCode;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;

use super::history;
use super::pause::trigger_line;
use super::{Deployment, Machine, OpsError};

/// The lines a person reads first: outcome, what happened, what to do, with every command the
/// report names.
pub fn summary(report: &Value) -> String {
    let word = |key: &str| report.get(key).and_then(Value::as_str);
    let mut text = format!("  outcome: {}\n", word("outcome").unwrap_or("unknown"));
    if let Some(ready) = report.get("ready") {
        text.push_str(&format!("  ready: {ready}\n"));
    }
    for key in ["summary", "note", "next_step", "done", "not_done"] {
        if let Some(value) = word(key) {
            text.push_str(&format!("  {key}: {value}\n"));
        }
    }
    for key in ["refusals", "warnings"] {
        if let Some(items) = report.get(key).and_then(Value::as_array) {
            for item in items.iter().filter_map(Value::as_str) {
                text.push_str(&format!("  {}: {item}\n", key.trim_end_matches('s')));
            }
        }
    }
    if let Some(members) = report.as_object() {
        for (key, value) in members {
            if let (true, Some(command)) = (key.ends_with("_command"), value.as_str()) {
                text.push_str(&format!("  {key}: {command}\n"));
            }
        }
    }
    text
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report as one self-contained HTML page: the summary a person reads first, the console
/// link, then the whole JSON document.
pub fn page(title: &str, console: &str, report: &Value) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\n\
         <style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}\
         pre{{background:#f4f4f4;padding:1em;overflow-x:auto;white-space:pre-wrap}}</style>\
         </head><body>\n<h1>{title}</h1>\n<p><a href=\"{link}\">{link}</a></p>\n\
         <pre>{summary}</pre>\n<h2>Report</h2>\n<pre>{json}</pre>\n</body></html>\n",
        title = escape(title),
        link = escape(console),
        summary = escape(&summary(report)),
        json = escape(&serde_json::to_string_pretty(report).unwrap_or_default()),
    )
}

/// How `report` shows the report.
#[derive(Debug, Clone)]
pub enum Form {
    Text,
    Json,
    /// An HTML page written to this file.
    Page(std::path::PathBuf),
}

/// `report RUN`.
///
/// # Errors
/// No such run, a run that has not ended, a page that cannot be written, or Step Functions'
/// error.
pub async fn report(deployment: &Deployment, run: &str, form: Form) -> Result<ExitCode, OpsError> {
    let run = deployment.find_run(run, &Machine::ALL).await?;
    let events = history::read(deployment, &run.arn).await?;
    let json = matches!(form, Form::Json);
    match history::report(&events) {
        Some(report) if matches!(form, Form::Page(_)) => {
            let Form::Page(path) = form else {
                unreachable!()
            };
            let title = format!(
                "{} {} run {}",
                deployment.name,
                run.machine.label(),
                run.name
            );
            std::fs::write(
                &path,
                page(&title, &deployment.console_url(&run.arn), &report),
            )
            .map_err(|e| OpsError(format!("{}: {e}", path.display())))?;
            println!("wrote {}", path.display());
        }
        Some(report) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        }
        Some(report) => {
            println!("{} run {}", run.machine.label(), run.name);
            println!("  {}", deployment.console_url(&run.arn));
            print!("{}", summary(&report));
            println!(
                "  the whole report: {}",
                deployment.cli(&["report", &run.name, "--json"])
            );
        }
        None if run.status == ExecutionStatus::Running => {
            return Err(OpsError(format!(
                "the run {} has not ended: follow it with {}",
                run.name,
                deployment.cli(&["status", "--follow", &run.name])
            )))
        }
        None => {
            let (error, cause) = history::failure(&events).unwrap_or_default();
            return Err(OpsError(format!(
                "the run {} ended {} without a report (its finishing step failed: {error} \
                 {cause}); its plain message went to the report topic",
                run.name,
                run.status.as_str()
            )));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `readiness [--now]`: the last readiness result (with `--now`, a readiness run started and
/// waited for first), and the trigger as it is now.
///
/// # Errors
/// Step Functions' error, or no readiness run yet.
pub async fn readiness(deployment: &Deployment, now: bool) -> Result<ExitCode, OpsError> {
    if now {
        let started = deployment
            .sfn
            .start_execution()
            .state_machine_arn(deployment.machine_arn(Machine::Readiness))
            .input("{}")
            .send()
            .await
            .map_err(super::aws("StartExecution"))?;
        loop {
            let described = deployment.describe(started.execution_arn()).await?;
            if described.status() != &ExecutionStatus::Running {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let runs = deployment.latest_runs(Machine::Readiness, 10).await?;
    let Some(run) = runs.iter().find(|r| r.status != ExecutionStatus::Running) else {
        return Err(OpsError(format!(
            "no readiness run of {} has ended yet; start one: {}",
            deployment.name,
            deployment.cli(&["readiness", "--now"])
        )));
    };
    let events = history::read(deployment, &run.arn).await?;
    println!("{}", trigger_line(deployment).await);
    let Some(report) = history::report(&events) else {
        let (error, cause) = history::failure(&events).unwrap_or_default();
        return Err(OpsError(format!(
            "the last readiness run {} ended {} without a result: {error} {cause}",
            run.name,
            run.status.as_str()
        )));
    };
    let ready =
        matches!(report.get("ready"), Some(v) if v == &Value::Bool(true) || v.as_u64() == Some(1));
    println!(
        "readiness run {}: {}",
        run.name,
        if ready { "READY" } else { "NOT READY" }
    );
    // Each part readiness judges (the steps' plans, then the automation), refusals first.
    for kind in ["refusal", "warning"] {
        for part in [
            "/steps/database",
            "/steps/compute",
            "/steps/dns",
            "/steps/backup",
            "/automation",
        ] {
            let list = report.pointer(&format!("{part}/{kind}s"));
            for item in list
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                println!("  {kind}: {item}");
            }
        }
    }
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_page_escapes_what_the_report_holds_and_the_summary_names_every_command() {
        let report = json!({"outcome": "failed", "next_step": "fix <it>",
                            "rerun_command": "aws x --reason 'a & b'",
                            "rerun_cli_command": "dr-failover rerun r1"});
        let text = summary(&report);
        assert!(
            text.contains("  rerun_cli_command: dr-failover rerun r1\n"),
            "{text}"
        );
        let html = page("app <run>", "https://console/x?a=1&b=2", &report);
        assert!(html.contains("<title>app &lt;run&gt;</title>"));
        assert!(html.contains("fix &lt;it&gt;"));
        assert!(html.contains("href=\"https://console/x?a=1&amp;b=2\""));
        assert!(!html.contains("<it>"));
    }
}
