//! Re-protect's ends: each outcome's report, headline and run error.

use serde_json::{json, Value};

use super::reprotect::End;
use super::tests::config;
use super::*;

const MACHINE: &str = "arn:aws:states:eu-central-1:111111111111:stateMachine:app-reprotect";

fn state(end: Value) -> Value {
    json!({
        "settings": {"deployment": "app"},
        "request": {"dry_run": false, "reason": "standby"},
        "plan": {"step": "reprotect-database", "ready": false, "refusals": [],
                 "detail": {"topology": "writer eu-central-1, no standby"}},
        "end": end,
    })
}

fn finish(state: Value) -> Ending {
    let request = FinishRequest {
        machine: Machine::Reprotect,
        state,
        run: RunContext {
            execution: "arn:aws:states:eu-central-1:111111111111:execution:app-reprotect:rp-1"
                .into(),
            name: "rp-1".into(),
            started: "2026-12-01T05:00:00Z".into(),
            finished: "2026-12-01T05:40:00Z".into(),
            state_machine: MACHINE.into(),
            attempt: 0,
        },
    };
    ending(&request, &config()).unwrap()
}

#[test]
fn every_outcome_the_state_machine_writes_is_one_of_re_protects() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/statemachine/reprotect.asl.json"
    ))
    .unwrap();
    let asl: Value = serde_json::from_str(&text).unwrap();
    let ends: Vec<&Value> = asl["States"]
        .as_object()
        .unwrap()
        .values()
        .filter(|s| s["ResultPath"] == "$.end")
        .collect();
    assert_eq!(ends.len(), 8);
    for end in ends {
        let written = end
            .get("Result")
            .cloned()
            .unwrap_or_else(|| super::failback_tests::as_written(&end["Parameters"]));
        let parsed: Result<End, _> = serde_json::from_value(written);
        assert!(parsed.is_ok(), "{end}");
    }
}

#[test]
fn each_outcome_has_its_headline_and_error() {
    let cases = [
        (
            "refused",
            "re-protect refused by its plan",
            Some("DrFailover.Refused"),
        ),
        (
            "already-reprotected",
            "already re-protected; nothing changed",
            None,
        ),
        ("dry-run", "re-protect dry run, nothing changed", None),
        (
            "reprotected",
            "re-protected: the DR region's writer has a standby in the primary region",
            None,
        ),
    ];
    for (outcome, headline, error) in cases {
        let mut state = state(json!({"outcome": outcome}));
        state["replica"] =
            json!({"last": {"detail": {"topology": "writer eu-central-1, standby eu-west-1"}}});
        let ending = finish(state);
        assert_eq!(ending.headline, headline);
        assert_eq!(ending.error.as_ref().map(|e| e.error.as_str()), error);
        assert_eq!(ending.report["outcome"], outcome);
        assert_eq!(ending.report["report_object"]["key"], "reports/rp-1.json");
        let topology = if outcome == "reprotected" {
            "writer eu-central-1, standby eu-west-1"
        } else {
            "writer eu-central-1, no standby"
        };
        assert_eq!(ending.report["topology"], topology);
    }
}

#[test]
fn a_failed_replica_stage_names_the_rerun_and_keeps_the_state() {
    let mut state = state(json!({"outcome": "failed", "stage": "replica"}));
    state["error"] =
        json!({"Error": "DrFailover.StageTimedOut", "Cause": "ReprotectBudgetSeconds"});
    let ending = finish(state);
    assert_eq!(ending.headline, "RE-PROTECT FAILED at replica");
    assert_eq!(ending.error.unwrap().error, "DrFailover.ReprotectFailed");
    assert_eq!(ending.report["state"]["request"]["reason"], "standby");
    assert_eq!(
        ending.report["rerun_command"],
        format!(
            "aws stepfunctions start-execution --region eu-central-1 --state-machine-arn {MACHINE} \
             --input '{{\"dry_run\":false,\"reason\":\"standby\"}}'"
        )
    );
}

#[test]
fn an_invalid_request_names_the_field_and_a_plan_refusing_its_input_is_invalid_too() {
    let mut state1 = state(json!({"outcome": "invalid-request"}));
    state1["input"] = json!({"reason": "standby"});
    let ending = finish(state1);
    let cause = ending.error.unwrap().cause;
    assert!(
        cause.contains("no input starts a real re-protect"),
        "{cause}"
    );
    assert!(
        cause.contains("events/statemachine/reprotect-dry-run.json"),
        "{cause}"
    );

    let mut state2 = state(json!({"outcome": "plan-failed"}));
    state2["error"] = json!({"Error": "DrFailover.InvalidInput",
        "Cause": "{\"errorType\":\"DrFailover.InvalidInput\",\"errorMessage\":\"unknown field `colour`\"}"});
    let ending = finish(state2);
    assert_eq!(ending.headline, "re-protect refused, invalid input");
    assert_eq!(ending.report["error"]["Cause"], "unknown field `colour`");
}

#[test]
fn a_blocked_re_protect_names_the_run_that_holds_the_deployment_and_its_stop_command() {
    let holder = json!({
        "execution_arn": "arn:aws:states:eu-central-1:1:execution:app-failback:back",
        "machine": "failback", "started": "2026-12-01T05:01:00Z",
        "stop_command": "aws stepfunctions stop-execution --region eu-central-1 --execution-arn arn:aws:states:eu-central-1:1:execution:app-failback:back",
    });
    let ending =
        finish(json!({"end": {"outcome": "blocked", "blocked_by": holder}, "request": {}}));
    assert_eq!(
        ending.headline,
        "re-protect refused, another run of this deployment is running"
    );
    assert_eq!(ending.error.unwrap().error, "DrFailover.AlreadyRunning");
    assert_eq!(ending.report["blocked_by"], holder);
    let next = ending.report["next_step"].as_str().unwrap();
    assert!(
        next.contains(holder["stop_command"].as_str().unwrap()),
        "{next}"
    );
}
