//! Beside every AWS CLI command a report names (`<name>_command`), the same step as
//! `dr-failover` runs it (`<name>_cli_command`), region and deployment named, every word quoted
//! for a POSIX shell: a re-run, a finish or a retry is `dr-failover rerun <run>` (which starts the
//! run's state machine with the report's `finish_input`, `rerun_input`, else the run's own
//! input); a forced failover is `dr-failover failover --force --reason ...` with the request's
//! options.

use serde_json::{json, Value};

use super::{cli_command, RunContext};

/// Adds the `dr-failover` forms to `report` (a JSON object; anything else is left alone).
pub fn add(report: &mut Value, run: &RunContext) {
    let Some(members) = report.as_object_mut() else {
        return;
    };
    let deployment = members
        .get("deployment")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if deployment.is_empty() {
        return;
    }
    for key in ["rerun_command", "finish_command", "retry_command"] {
        if members.contains_key(key) {
            let cli = cli_command(run, &deployment, &["rerun", &run.name]);
            members.insert(key.replace("_command", "_cli_command"), json!(cli));
        }
    }
    if members.contains_key("force_command") {
        let request = members.get("request").cloned().unwrap_or(Value::Null);
        let reason = request
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("forced after a lag refusal")
            .to_owned();
        let mut args = vec!["failover", "--force", "--reason", reason.as_str()];
        if request.get("require_approval") == Some(&json!(true)) {
            args.push("--require-approval");
        }
        members.insert(
            "force_cli_command".into(),
            json!(cli_command(run, &deployment, &args)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunContext {
        RunContext {
            execution: "arn:aws:states:eu-central-1:1:execution:app-failover:r1".into(),
            name: "r1".into(),
            started: String::new(),
            finished: String::new(),
            state_machine: "arn:aws:states:eu-central-1:1:stateMachine:app-failover".into(),
            attempt: 0,
        }
    }

    #[test]
    fn every_command_has_its_dr_failover_form_with_the_reason_quoted() {
        let mut report = json!({
            "deployment": "app",
            "rerun_command": "aws ...",
            "force_command": "aws ...",
            "request": {"reason": "eu-west-1's writer `x` $Y", "require_approval": true},
        });
        add(&mut report, &run());
        assert_eq!(
            report["rerun_cli_command"],
            "dr-failover --region eu-central-1 --deployment app rerun r1"
        );
        assert_eq!(
            report["force_cli_command"],
            "dr-failover --region eu-central-1 --deployment app failover --force --reason \
             'eu-west-1'\\''s writer `x` $Y' --require-approval"
        );
        assert!(report.get("finish_cli_command").is_none());
    }
}
