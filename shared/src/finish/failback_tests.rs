//! The fail back's ends: each outcome's report, headline and run error.

use serde_json::{json, Value};

use super::failback::{invalid_request_cause, End};
use super::tests::config;
use super::*;

const MACHINE: &str = "arn:aws:states:eu-central-1:111111111111:stateMachine:app-failback";

fn run() -> RunContext {
    RunContext {
        execution: "arn:aws:states:eu-central-1:111111111111:execution:app-failback:fb-1".into(),
        name: "fb-1".into(),
        started: "2026-12-01T04:25:41.576Z".into(),
        finished: "2026-12-01T04:45:53.076Z".into(),
        state_machine: MACHINE.into(),
        attempt: 0,
    }
}

fn step(name: &str, refusals: &[&str]) -> Value {
    json!({"step": name, "action": "plan", "changed": false, "ready": false,
           "refusals": refusals, "summary": name, "detail": {}, "warnings": []})
}

fn record(name: &str, changed: bool) -> Value {
    json!({"name": name, "function": format!("arn:aws:lambda:eu-central-1:111111111111:function:{name}"),
           "budget_name": "ComputeBudgetSeconds", "budget_seconds": 600,
           "started_at": "2026-12-01T04:30:00Z", "apply": {"changed": changed, "ready": !changed}})
}

fn state(end: Value) -> Value {
    json!({
        "settings": {"deployment": "app", "alarm_rule_name": "app-alarm-rule"},
        "request": {"dry_run": false, "reason": "the primary's back; it's time"},
        "plan": {"compute": step("failback-compute", &[]), "database": step("failback-database", &["lag 3s"]),
                 "dns": step("failback-dns", &[]), "pilot": step("pilot-capacity", &[])},
        "stages": {},
        "end": end,
    })
}

fn finish(state: Value) -> Ending {
    let request = FinishRequest {
        machine: Machine::Failback,
        state,
        run: run(),
    };
    ending(&request, &config()).unwrap()
}

fn error_name(ending: &Ending) -> Option<&str> {
    ending.error.as_ref().map(|e| e.error.as_str())
}

/// A Pass state's `Parameters` as the state machine writes them: each path (`key.$`) a string.
pub(super) fn as_written(parameters: &Value) -> Value {
    let written =
        parameters
            .as_object()
            .unwrap()
            .iter()
            .map(|(key, value)| match key.strip_suffix(".$") {
                Some(key) => (key.to_owned(), json!(format!("from {value}"))),
                None => (key.clone(), value.clone()),
            });
    Value::Object(written.collect())
}

#[test]
fn every_outcome_the_state_machine_writes_is_one_of_the_fail_backs() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/statemachine/failback.asl.json"
    ))
    .unwrap();
    let asl: Value = serde_json::from_str(&text).unwrap();
    let mut outcomes = 0;
    for (name, definition) in asl["States"].as_object().unwrap() {
        if definition["ResultPath"] != "$.end" {
            continue;
        }
        let end = definition
            .get("Result")
            .cloned()
            .unwrap_or_else(|| as_written(&definition["Parameters"]));
        let parsed: Result<End, _> = serde_json::from_value(end.clone());
        assert!(parsed.is_ok(), "{name}: {end}");
        outcomes += 1;
    }
    assert!(outcomes >= 10, "{outcomes}");
}

#[test]
fn a_fail_back_that_ended_and_re_armed_succeeds_with_its_stages_by_name() {
    let mut state = state(json!({"outcome": "failed-back"}));
    state["stages"] = json!({"compute": record("compute", true), "dns": record("dns", true)});
    state["approval"] = json!({"approved_by": "ana"});
    state["alarm_rule"] = json!({"state": "ENABLED", "resume": true});
    let ending = finish(state);
    assert_eq!(ending.headline, "failed back to the primary region");
    assert_eq!(ending.error, None);
    let report = &ending.report;
    assert_eq!(report["outcome"], "failed-back");
    assert_eq!(report["approval"], json!({"approved_by": "ana"}));
    assert_eq!(report["stages"]["dns"]["apply"]["changed"], true);
    assert!(
        report["stages"]["dns"].get("function").is_none(),
        "the function ARN is wiring, not news"
    );
    assert_eq!(
        report["report_object"]["uri"],
        "s3://app-reports/reports/fb-1.json"
    );
}

#[test]
fn a_fail_back_whose_automation_is_not_re_armed_names_the_command_that_re_arms_it() {
    let mut state = state(json!({"outcome": "failed-back-not-rearmed"}));
    state["armed_error"] = json!({"Error": "Lambda.Unknown", "Cause": "timeout"});
    let ending = finish(state);
    assert_eq!(ending.error, None);
    assert_eq!(
        ending.headline,
        "failed back to the primary region; failover automation NOT re-armed"
    );
    assert_eq!(ending.report["armed"]["error"]["Error"], "Lambda.Unknown");
    assert_eq!(
        ending.report["enable_command"],
        "aws events enable-rule --region eu-central-1 --name 'app-alarm-rule'"
    );
}

#[test]
fn a_stage_that_failed_after_the_pause_reports_the_whole_state_the_rerun_and_the_paused_rule() {
    let mut state = state(json!({"outcome": "failed", "stage": "standby"}));
    state["stages"] = json!({"compute": record("compute", true), "pilot": record("pilot", true)});
    state["stage"] = record("standby", false);
    state["error"] = json!({"Error": "DrFailover.StageTimedOut", "Cause": "the standby stage spent its budget (ReprotectBudgetSeconds)"});
    let ending = finish(state);
    assert_eq!(ending.headline, "FAIL BACK FAILED at standby");
    assert_eq!(error_name(&ending), Some("DrFailover.FailbackFailed"));
    let report = &ending.report;
    assert_eq!(report["failed_stage"], "standby");
    assert_eq!(report["state"]["stages"]["standby"]["name"], "standby");
    assert_eq!(
        report["state"]["stages"]["pilot"]["started_at"],
        "2026-12-01T04:30:00Z"
    );
    assert!(report["state"].get("stage").is_none());
    assert!(report["automation"].as_str().unwrap().contains("DISABLED"));
    assert_eq!(
        report["rerun_command"],
        format!(
            "aws stepfunctions start-execution --region eu-central-1 --state-machine-arn {MACHINE} \
             --input '{{\"dry_run\":false,\"reason\":\"the primary'\\''s back; it'\\''s time\"}}'"
        )
    );
}

#[test]
fn a_failure_before_the_pause_says_nothing_was_changed() {
    for stage in ["plan", "approval"] {
        let mut state = state(json!({"outcome": "failed", "stage": stage}));
        state["error"] = json!({"Error": "SNS.AuthorizationErrorException", "Cause": "denied"});
        let ending = finish(state);
        assert!(ending.report["next_step"]
            .as_str()
            .unwrap()
            .starts_with("Nothing was changed"));
        assert!(ending.report.get("enable_command").is_none(), "{stage}");
    }
}

#[test]
fn a_plan_that_refused_its_input_is_an_invalid_input_and_any_other_plan_error_a_failure() {
    let mut invalid = state(json!({"outcome": "plan-failed"}));
    invalid["error"] = json!({"Error": "DrFailover.InvalidInput",
        "Cause": "{\"errorType\":\"DrFailover.InvalidInput\",\"errorMessage\":\"invalid request: unknown field `colour`\"}"});
    let ending = finish(invalid);
    assert_eq!(error_name(&ending), Some("DrFailover.InvalidInput"));
    assert_eq!(
        ending.report["error"]["Cause"],
        "invalid request: unknown field `colour`"
    );
    assert_eq!(
        ending.report["request"]["reason"],
        "the primary's back; it's time"
    );

    let mut failed = state(json!({"outcome": "plan-failed"}));
    failed["error"] = json!({"Error": "States.TaskFailed", "Cause": "throttled"});
    let ending = finish(failed);
    assert_eq!(ending.headline, "FAIL BACK FAILED at plan");
}

#[test]
fn refused_dry_run_denied_expired_and_blocked_end_as_before_with_their_errors() {
    let cases = [
        (
            "refused",
            "fail back refused by its plan",
            Some("DrFailover.Refused"),
        ),
        ("dry-run", "fail back dry run, nothing changed", None),
        (
            "approval-denied",
            "fail back denied; nothing changed",
            Some("DrFailover.ApprovalDenied"),
        ),
        (
            "approval-expired",
            "fail back NOT approved in time; nothing changed",
            Some("DrFailover.ApprovalExpired"),
        ),
        (
            "blocked",
            "fail back refused, another run of this deployment is running",
            Some("DrFailover.AlreadyRunning"),
        ),
    ];
    for (outcome, headline, error) in cases {
        let mut state = state(json!({"outcome": outcome}));
        state["error"] =
            json!({"Error": "Whatever.TheApproverTyped", "Cause": "not during the sale"});
        let ending = finish(state);
        assert_eq!(ending.headline, headline, "{outcome}");
        assert_eq!(error_name(&ending), error, "{outcome}");
        assert_eq!(ending.report["outcome"], outcome);
        if outcome == "approval-denied" {
            assert_eq!(ending.report["error"]["Cause"], "not during the sale");
        }
        if outcome == "blocked" {
            assert!(ending.report.get("blocked_by").is_some());
            assert!(ending.report.get("report_object").is_none());
        } else {
            assert!(ending.report.get("report_object").is_some(), "{outcome}");
        }
    }
}

#[test]
fn a_refused_input_names_its_field() {
    let cause = |input: Value| invalid_request_cause(&input).unwrap_or_default();
    assert!(cause(json!({})).contains("dry_run is required"));
    assert!(cause(json!([1])).contains("dry_run is required"));
    assert_eq!(
        cause(json!({"dry_run": "no"})),
        "invalid request: field `dry_run` must be true or false"
    );
    assert_eq!(
        cause(json!({"dry_run": true, "reason": 3})),
        "invalid request: field `reason` must be text"
    );
    assert!(
        cause(json!({"dry_run": false, "force": true, "alarm": {}})).contains("`force`, `alarm`")
    );
    assert_eq!(
        invalid_request_cause(&json!({"dry_run": true, "reason": "x"})),
        None
    );

    let mut state = state(json!({"outcome": "invalid-request"}));
    state["input"] = json!({"dry_run": "no"});
    let ending = finish(state);
    assert_eq!(ending.headline, "fail back refused, invalid input");
    assert_eq!(
        ending.error,
        Some(RunError::new(
            "DrFailover.InvalidInput",
            "invalid request: field `dry_run` must be true or false"
        ))
    );
    assert_eq!(ending.report["input"], json!({"dry_run": "no"}));
}

#[test]
fn an_outcome_of_another_machine_is_an_invalid_input_naming_end() {
    let request = FinishRequest {
        machine: Machine::Failback,
        state: state(json!({"outcome": "failover-ended"})),
        run: run(),
    };
    let error = ending(&request, &config()).unwrap_err();
    assert!(error.to_string().contains("state.end"), "{error}");
}

#[test]
fn a_blocked_fail_back_names_the_run_that_holds_the_deployment_and_its_stop_command() {
    let holder = json!({
        "execution_arn": "arn:aws:states:eu-central-1:1:execution:app-failover:by-hand",
        "machine": "failover", "started": "2026-12-01T05:01:00Z",
        "stop_command": "aws stepfunctions stop-execution --region eu-central-1 --execution-arn arn:aws:states:eu-central-1:1:execution:app-failover:by-hand",
    });
    let ending = finish(state(json!({"outcome": "blocked", "blocked_by": holder})));
    assert_eq!(error_name(&ending), Some("DrFailover.AlreadyRunning"));
    assert_eq!(ending.report["blocked_by"], holder);
    let next = ending.report["next_step"].as_str().unwrap();
    assert!(
        next.contains(
            "the failover run arn:aws:states:eu-central-1:1:execution:app-failover:by-hand"
        ),
        "{next}"
    );
    assert!(
        next.contains(holder["stop_command"].as_str().unwrap()),
        "{next}"
    );
}

#[test]
fn a_plan_that_refuses_after_the_approval_says_it_was_approved_and_nothing_changed() {
    let mut state = state(json!({"outcome": "refused"}));
    state["plan"]["dns"] = step("failback-dns", &["api.example.com. has no DR record set"]);
    state["approval"] = json!({"approved_by": "ana"});
    let ending = finish(state);
    assert_eq!(ending.headline, "fail back refused by its plan");
    assert_eq!(error_name(&ending), Some("DrFailover.Refused"));
    assert_eq!(ending.report["approval"], json!({"approved_by": "ana"}));
    assert!(ending.report["note"]
        .as_str()
        .unwrap()
        .contains("approved, then made its plan again"));
}
