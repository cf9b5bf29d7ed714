use std::time::{Duration, UNIX_EPOCH};

use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::ErrorMetadata;
use serde_json::{json, Value};

use super::*;
use crate::testing::{fast_retries, no_retries};

const MACHINE: &str = "arn:aws:states:eu-central-1:111111111111:stateMachine:app-failover";

/// The finishing step's configuration every test of this module's machines uses.
pub(super) fn config() -> FinishConfig {
    FinishConfig::from_source(&[
        ("DEPLOYMENT_NAME", "app"),
        (
            "REPORT_TOPIC_ARN",
            "arn:aws:sns:eu-central-1:111111111111:reports",
        ),
        ("REPORT_BUCKET_NAME", "app-reports"),
    ])
    .unwrap()
}

fn run() -> RunContext {
    RunContext {
        execution: format!("{MACHINE}:run-1").replace("stateMachine", "execution"),
        name: "run-1".into(),
        started: "2026-12-01T04:25:41.576Z".into(),
        finished: "2026-12-01T04:25:53.076Z".into(),
        state_machine: MACHINE.into(),
        attempt: 0,
    }
}

fn step(name: &str, refusals: &[&str]) -> Value {
    json!({"step": name, "action": "plan", "changed": false, "ready": true,
           "refusals": refusals, "summary": name, "detail": {}, "warnings": []})
}

fn state(end: Value) -> Value {
    json!({
        "settings": {"deployment": "app"},
        "request": {"trigger": "manual", "dry_run": false, "force": false,
                    "database_mode": "failover", "accept_partial_capacity": false,
                    "reason": "the primary's writer is down"},
        "plan": {"database": step("promote-replica", &[]), "compute": step("scale-asg", &[]),
                 "dns": step("flip-dns", &[]), "backup": step("verify-backup-copy", &[])},
        "end": end,
    })
}

fn stage(changed: bool) -> Value {
    json!({"apply": {"changed": changed}, "status": {"wait": {"elapsed_seconds": 4}}})
}

fn ended(db_outcome: &str, compute_outcome: &str, changed: bool) -> Value {
    let mut state = state(json!({"outcome": "failover-ended"}));
    state["failover"] = json!({
        "database_and_dns": {"outcome": db_outcome, "error": null, "database": stage(changed),
                             "capacity": {"ready": true}, "dns": stage(changed)},
        "compute": {"outcome": compute_outcome, "error": null, "compute": stage(changed)},
    });
    state
}

fn finish(state: Value) -> Ending {
    let request = FinishRequest {
        machine: Machine::Failover,
        state,
        run: run(),
    };
    ending(&request, &config()).unwrap()
}

// ---- the report of each outcome ----

#[test]
fn when_every_stage_is_done_should_report_failed_over_and_succeed() {
    let ending = finish(ended("dns-moved", "compute-ready", true));
    assert_eq!(ending.headline, "failed over to the DR region");
    assert_eq!(ending.error, None);
    let report = &ending.report;
    assert_eq!(report["outcome"], "failed-over");
    assert_eq!(report["deployment"], "app");
    assert_eq!(report["finished"], "2026-12-01T04:25:53.076Z");
    assert_eq!(report["database"]["apply"]["changed"], true);
    assert_eq!(report["backup"]["step"], "verify-backup-copy");
    assert_eq!(
        report["report_object"],
        json!({"bucket": "app-reports", "key": "reports/run-1.json",
               "uri": "s3://app-reports/reports/run-1.json"})
    );
}

#[test]
fn when_no_stage_changed_anything_should_report_already_failed_over() {
    let ending = finish(ended("dns-moved", "compute-ready", false));
    assert_eq!(ending.report["outcome"], "already-failed-over");
    assert_eq!(ending.headline, "already failed over; nothing changed");
}

#[test]
fn when_compute_is_short_after_dns_moved_should_report_degraded_and_succeed() {
    let ending = finish(ended("dns-moved", "compute-short", true));
    assert_eq!(ending.report["outcome"], "failed-over-degraded");
    assert_eq!(ending.report["compute_outcome"], "compute-short");
    assert!(ending.report["compute_error"].is_null());
    assert_eq!(
        ending.headline,
        "failed over, DEGRADED: capacity below target"
    );
    assert_eq!(ending.error, None);
}

#[test]
fn when_dns_did_not_move_after_the_promotion_should_report_incomplete_with_a_finish_command() {
    let ending = finish(ended("dns-timeout", "compute-ready", true));
    let report = &ending.report;
    assert_eq!(report["outcome"], "incomplete");
    assert_eq!(report["stopped_at"], "dns-timeout");
    assert_eq!(report["finish_input"]["accept_partial_capacity"], true);
    assert_eq!(
        report["finish_command"],
        format!(
            "aws stepfunctions start-execution --region eu-central-1 --state-machine-arn {MACHINE} \
             --input '{}'",
            report["finish_input"]
        )
    );
    assert_eq!(ending.error.unwrap().error, "DrFailover.Incomplete");
    assert_eq!(ending.headline, "FAILOVER INCOMPLETE, DNS not moved");
}

#[test]
fn when_compute_failed_and_dns_did_not_move_the_incomplete_report_names_the_compute_error() {
    let mut state = ended("capacity-short", "compute-failed", true);
    let denied = json!({"Error": "DrFailover.AwsError",
                        "Cause": "UpdateAutoScalingGroup failed: AccessDenied: User: ... is not authorized"});
    state["failover"]["compute"]["error"] = denied.clone();
    let ending = finish(state);
    assert_eq!(ending.report["outcome"], "incomplete");
    assert_eq!(ending.report["compute_outcome"], "compute-failed");
    assert_eq!(ending.report["compute_error"], denied);
}

#[test]
fn when_dns_is_at_dr_but_not_confirmed_insync_the_report_does_not_say_dns_did_not_move() {
    let mut state = ended("dns-timeout", "compute-ready", true);
    state["failover"]["database_and_dns"]["dns"]["status"]["detail"] = json!({
        "records_at_dr": 3, "record_count": 3, "change_id": "/change/C1", "change_status": "PENDING"});
    let ending = finish(state.clone());
    assert_eq!(
        ending.headline,
        "FAILOVER INCOMPLETE, DNS changed but not confirmed INSYNC"
    );
    assert!(ending.report["not_done"]
        .as_str()
        .unwrap()
        .contains("INSYNC"));
    assert_eq!(ending.report["outcome"], "incomplete");
    assert_eq!(ending.report["finish_input"]["dns_change_id"], "/change/C1");
    assert!(ending.report["finish_command"]
        .as_str()
        .unwrap()
        .contains("\"dns_change_id\":\"/change/C1\""));

    // One record still at the primary: DNS has not moved.
    state["failover"]["database_and_dns"]["dns"]["status"]["detail"]["records_at_dr"] = json!(2);
    assert_eq!(finish(state).headline, "FAILOVER INCOMPLETE, DNS not moved");
}

#[test]
fn when_the_database_budget_is_spent_should_report_failed_at_database_with_the_wait() {
    let mut state = ended("database-timeout", "compute-ready", true);
    state["failover"]["database_and_dns"]["database"]["status"]["wait"] =
        json!({"elapsed_seconds": 61, "budget_seconds": 60, "pending": "promoting"});
    let ending = finish(state);
    let report = &ending.report;
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["failed_stage"], "database");
    assert_eq!(report["error"]["Error"], "DrFailover.StageTimedOut");
    assert_eq!(
        report["error"]["Cause"],
        "the database stage spent 61 s of its 60 s budget (DatabaseBudgetSeconds) and the DR \
         database does not accept writes; still pending: promoting"
    );
    assert_eq!(report["state"]["failed"]["stage"], "database");
    assert_eq!(report["state"]["failed_stage"], "database");
    assert!(report["state"].get("end").is_none());
    assert_eq!(ending.headline, "FAILOVER FAILED at database");
    assert_eq!(ending.error.unwrap().error, "DrFailover.FailoverFailed");
}

#[test]
fn when_the_database_step_failed_should_report_its_own_error() {
    let mut state = ended("database-failed", "compute-ready", true);
    state["failover"]["database_and_dns"]["error"] =
        json!({"Error": "DrFailover.AwsError", "Cause": "PromoteReadReplica failed"});
    let ending = finish(state);
    assert_eq!(
        ending.report["error"],
        json!({"Error": "DrFailover.AwsError", "Cause": "PromoteReadReplica failed"})
    );
}

#[test]
fn a_rerun_command_runs_as_printed_whatever_the_reason_holds() {
    let mut state = state(json!({"outcome": "failed", "stage": "database-and-compute"}));
    state["request"]["reason"] = json!("eu-west-1's writer is down: `date` $HOME \"x\"");
    state["error"] = json!({"Error": "States.Runtime", "Cause": "boom"});
    let ending = finish(state);
    let command = ending.report["rerun_command"].as_str().unwrap();
    assert!(command.contains("--region eu-central-1"), "{command}");
    // The --input word, unquoted as a POSIX shell would: '...' with '\'' for each quote.
    let word = command.split_once("--input ").unwrap().1;
    let unquoted = word
        .strip_prefix('\'')
        .and_then(|w| w.strip_suffix('\''))
        .unwrap()
        .replace(r"'\''", "'");
    let input: Value = serde_json::from_str(&unquoted).unwrap();
    assert_eq!(
        input["reason"],
        "eu-west-1's writer is down: `date` $HOME \"x\""
    );
    assert_eq!(input["trigger"], "manual");
    assert_eq!(ending.headline, "FAILOVER FAILED at database-and-compute");
}

#[test]
fn a_dry_run_says_ready_or_not_ready_from_the_plans_refusals() {
    let ready = finish(state(json!({"outcome": "dry-run"})));
    assert_eq!(ready.report["verdict"], "ready to fail over");
    assert_eq!(ready.headline, "dry run, nothing changed");
    assert_eq!(ready.error, None);

    let mut refused = state(json!({"outcome": "dry-run"}));
    refused["plan"]["dns"] = step("flip-dns", &["record missing"]);
    let not_ready = finish(refused);
    assert_eq!(
        not_ready.headline,
        "dry run, NOT READY: a pre-flight check refuses; nothing changed"
    );
    assert!(not_ready.report["verdict"]
        .as_str()
        .unwrap()
        .starts_with("NOT READY"));
}

#[test]
fn a_refused_run_ends_refused_with_its_plan() {
    let ending = finish(state(json!({"outcome": "refused"})));
    assert_eq!(ending.report["outcome"], "refused");
    assert!(ending.report["plan"]["database"].is_object());
    assert_eq!(ending.error.unwrap().error, "DrFailover.Refused");
    assert_eq!(ending.headline, "failover refused by a pre-flight check");
    // Every ending names its next step as a command: the same request, by hand, in its region.
    let retry = ending.report["retry_command"].as_str().unwrap();
    assert!(
        retry.starts_with(&format!(
            "aws stepfunctions start-execution --region eu-central-1 --state-machine-arn {MACHINE} --input '"
        )),
        "{retry}"
    );
    assert!(
        retry.contains(r#""trigger":"manual""#) && retry.contains(r#""force":false"#),
        "{retry}"
    );
    assert!(ending.report.get("force_command").is_none());
}

#[test]
fn a_replica_lag_refusal_names_the_command_that_forces_the_promotion() {
    let mut refused = state(json!({"outcome": "refused"}));
    refused["plan"]["database"] = step("promote-replica", &["replica lag 400 s is above 300 s"]);
    refused["plan"]["database"]["detail"] = json!({"kind": "rds-instance"});
    let ending = finish(refused.clone());
    let force = ending.report["force_command"].as_str().unwrap();
    let retry = ending.report["retry_command"].as_str().unwrap();
    assert_eq!(force, retry.replace(r#""force":false"#, r#""force":true"#));
    assert!(ending.report["next_step"]
        .as_str()
        .unwrap()
        .contains("force_command promotes anyway"));
    // Aurora has no lag check to force; a request already forced is not offered it again.
    refused["plan"]["database"]["detail"] = json!({"kind": "aurora-global"});
    assert!(finish(refused.clone())
        .report
        .get("force_command")
        .is_none());
    refused["plan"]["database"]["detail"] = json!({"kind": "rds-instance"});
    refused["request"]["force"] = json!(true);
    assert!(finish(refused).report.get("force_command").is_none());
}

#[test]
fn approval_denied_and_aborted_end_with_their_own_errors_and_notes() {
    let denied = finish(state(json!({"outcome": "approval-denied"})));
    assert_eq!(denied.report["outcome"], "approval-denied");
    assert_eq!(denied.error.unwrap().error, "DrFailover.ApprovalDenied");
    assert_eq!(denied.headline, "approval DENIED, nothing changed");
    let aborted = finish(state(json!({"outcome": "approval-aborted"})));
    assert_eq!(aborted.report["outcome"], "approval-expired-aborted");
    assert_eq!(aborted.error.unwrap().error, "DrFailover.ApprovalExpired");
    assert_eq!(
        aborted.headline,
        "approval not given in time, nothing changed"
    );
}

#[test]
fn an_expired_approval_whose_alarm_is_ok_again_ends_with_what_the_alarm_said() {
    let mut state = state(json!({"outcome": "primary-recovered"}));
    state["approval"] = json!({"Error": "States.Timeout", "Cause": null});
    state["alarm_state"] = json!({"step": "alarm-state", "ready": false,
        "summary": "the health check alarm app-health is OK since 2026-12-01T04:25:30Z",
        "detail": {"alarm": "app-health", "state": "OK", "recovered": true}});
    let ending = finish(state);
    assert_eq!(
        ending.report["outcome"],
        "approval-expired-primary-recovered"
    );
    assert_eq!(ending.report["alarm_state"]["detail"]["state"], "OK");
    assert_eq!(ending.report["approval"]["Error"], "States.Timeout");
    assert!(ending.report["plan"]["database"].is_object());
    assert!(ending.report["note"]
        .as_str()
        .unwrap()
        .contains("nothing was changed"));
    assert_eq!(
        ending.headline,
        "approval expired, primary recovered (alarm OK), nothing changed"
    );
    let error = ending.error.unwrap();
    assert_eq!(error.error, "DrFailover.ApprovalExpired");
    assert!(
        error.cause.contains("is OK since 2026-12-01T04:25:30Z"),
        "{}",
        error.cause
    );
}

#[test]
fn a_run_that_proceeded_on_expiry_reports_what_the_alarm_said_or_that_it_was_not_read() {
    let mut state = ended("dns-moved", "compute-ready", true);
    state["alarm_state"] = json!({"step": "alarm-state", "ready": true,
        "warnings": ["the health check alarm app-health was not read again before proceeding"]});
    let ending = finish(state);
    assert_eq!(ending.report["outcome"], "failed-over");
    assert!(ending.report["alarm_state"]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("not read again"));
    // A run without an approval wait has no alarm_state member.
    let ending = finish(ended("dns-moved", "compute-ready", true));
    assert!(ending.report.get("alarm_state").is_none());
}

#[test]
fn a_plan_made_again_after_the_approval_wait_that_refuses_says_so() {
    let mut state = state(json!({"outcome": "refused"}));
    state["approval"] = json!(true);
    let ending = finish(state);
    assert_eq!(ending.report["outcome"], "refused");
    assert!(ending.report["note"]
        .as_str()
        .unwrap()
        .contains("after the approval wait"));
    let ending = finish(self::state(json!({"outcome": "refused"})));
    assert!(ending.report.get("note").is_none());
}

#[test]
fn a_request_the_check_refused_is_reported_with_the_checks_message() {
    let state = json!({
        "Error": "DrFailover.InvalidInput",
        "Cause": "{\"errorType\":\"DrFailover.InvalidInput\",\"errorMessage\":\"invalid request: field `Dry_Run` is not a field\"}",
        "end": {"outcome": "invalid-request", "input": {"Dry_Run": true}},
    });
    let ending = finish(state);
    assert_eq!(ending.report["outcome"], "invalid-input");
    assert_eq!(
        ending.report["error"]["Cause"],
        "invalid request: field `Dry_Run` is not a field"
    );
    assert_eq!(ending.report["input"], json!({"Dry_Run": true}));
    assert!(ending.report.get("report_object").is_none(), "not stored");
    let error = ending.error.unwrap();
    assert_eq!(error.error, "DrFailover.InvalidInput");
    assert_eq!(
        error.cause,
        "invalid request: field `Dry_Run` is not a field"
    );
    assert_eq!(ending.headline, "refused, invalid input");
}

#[test]
fn a_plan_that_refused_its_input_is_an_invalid_input_and_any_other_plan_error_a_failure() {
    let mut invalid = state(json!({"outcome": "plan-failed", "input": {"dry_run": false}}));
    invalid["plan"]["database"]["error"] = json!({
        "Error": "DrFailover.InvalidInput",
        "Cause": "{\"errorType\":\"DrFailover.InvalidInput\",\"errorMessage\":\"switchover needs Aurora\"}",
    });
    let ending = finish(invalid);
    assert_eq!(ending.report["outcome"], "invalid-input");
    assert_eq!(ending.report["error"]["Cause"], "switchover needs Aurora");
    assert_eq!(ending.report["input"], json!({"dry_run": false}));

    let mut failed = state(json!({"outcome": "plan-failed", "input": {}}));
    failed["plan"]["dns"]["error"] = json!({"Error": "DrFailover.AwsError", "Cause": "x"});
    let ending = finish(failed);
    assert_eq!(ending.report["outcome"], "failed");
    assert_eq!(ending.report["failed_stage"], "plan");
    assert_eq!(ending.headline, "FAILOVER FAILED at plan");
}

#[test]
fn another_run_holding_the_deployment_is_named_in_the_refusal() {
    let ending = finish(state(json!({"outcome": "already-running", "running": 2,
                                     "blocked_by": "arn:aws:states:x:execution:app:older"})));
    assert_eq!(ending.report["outcome"], "refused-already-running");
    assert_eq!(
        ending.report["concurrency"]["blocked_by"],
        "arn:aws:states:x:execution:app:older"
    );
    assert_eq!(ending.error.unwrap().error, "DrFailover.AlreadyRunning");
}

#[test]
fn an_unknown_outcome_is_an_invalid_input_naming_end() {
    let request = FinishRequest {
        machine: Machine::Failover,
        state: state(json!({"outcome": "maybe"})),
        run: run(),
    };
    let error = ending(&request, &config()).unwrap_err();
    assert!(error.to_string().contains("state.end"), "{error}");
}

#[test]
fn the_configuration_names_a_missing_or_bad_variable() {
    assert_eq!(
        FinishConfig::from_source(&[("DEPLOYMENT_NAME", "app")]).unwrap_err(),
        ConfigError::Missing("REPORT_TOPIC_ARN")
    );
    let bad = FinishConfig::from_source(&[
        ("DEPLOYMENT_NAME", "app"),
        ("REPORT_TOPIC_ARN", "arn:aws:sns:eu-central-1:1:t"),
        ("REPORT_BUCKET_NAME", "b"),
        ("REPORT_RETRY_INITIAL_BACKOFF_MS", "0"),
    ])
    .unwrap_err();
    assert!(matches!(
        bad,
        ConfigError::Invalid {
            name: "REPORT_RETRY_INITIAL_BACKOFF_MS",
            ..
        }
    ));
}

#[test]
fn a_subject_is_what_sns_accepts_ascii_one_line_at_most_100_characters() {
    let long = "x".repeat(200);
    assert_eq!(subject("app", &long).chars().count(), 100);
    assert_eq!(truncated("ééé", 2), "éé");
    assert_eq!(
        subject("café", "line\nbreak"),
        "[dr-failover] caf?: line?break"
    );
}

// ---- measured, stored, published ----

fn clients(s3: &[&Rule], sns: &[&Rule]) -> FinishClients {
    FinishClients {
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3.iter().copied(), |c| c
            .retry_config(fast_retries())),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns.iter().copied(), |c| c
            .retry_config(no_retries())),
    }
}

fn stored() -> Rule {
    mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| {
            r.bucket() == Some("app-reports")
                && r.key() == Some("reports/run-1.json")
                && r.content_type() == Some("application/json")
        })
        .then_output(|| PutObjectOutput::builder().build())
}

/// The report in a published message: its last line (`message`'s rule).
pub(super) fn report_line(message: &str) -> &str {
    message.rsplit('\n').next().unwrap_or_default()
}

fn published() -> Rule {
    mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            r.topic_arn() == Some("arn:aws:sns:eu-central-1:111111111111:reports")
                && r.subject() == Some("[dr-failover] app: failed over to the DR region")
                && serde_json::from_str::<Value>(report_line(r.message().unwrap_or_default()))
                    .map(|m| m["outcome"] == "failed-over")
                    .unwrap_or(false)
        })
        .then_output(|| PublishOutput::builder().message_id("m-1").build())
}

fn request(state: Value) -> FinishRequest {
    FinishRequest {
        machine: Machine::Failover,
        state,
        run: run(),
    }
}

async fn handled(state: Value, clients: &FinishClients) -> FinishAnswer {
    let now = UNIX_EPOCH + Duration::from_secs(1_764_563_153);
    handle(request(state), &config(), clients, None, now)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_report_is_stored_then_published_and_the_answer_carries_it() {
    let (put, publish) = (stored(), published());
    let clients = clients(&[&put], &[&publish]);
    let answer = handled(ended("dns-moved", "compute-ready", true), &clients).await;
    assert_eq!(put.num_calls(), 1);
    assert_eq!(publish.num_calls(), 1);
    assert_eq!(answer.error, None);
    assert!(answer.report["report_object"].get("not_stored").is_none());
}

#[tokio::test]
async fn a_report_that_cannot_be_stored_is_still_published_saying_so() {
    let failing = mock!(aws_sdk_s3::Client::put_object)
        .sequence()
        .http_response(|| {
            HttpResponse::new(
                StatusCode::try_from(503).unwrap(),
                SdkBody::from(
                    "<Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>",
                ),
            )
        })
        .times(3)
        .build();
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            serde_json::from_str::<Value>(report_line(r.message().unwrap_or_default()))
                .map(|m| m["report_object"]["not_stored"]["Error"] == "S3.ServiceUnavailable")
                .unwrap_or(false)
        })
        .then_output(|| PublishOutput::builder().build());
    let clients = clients(&[&failing], &[&publish]);
    let answer = handled(ended("dns-moved", "compute-ready", true), &clients).await;
    assert_eq!(failing.num_calls(), 3, "the client's attempts");
    assert_eq!(publish.num_calls(), 1);
    assert_eq!(answer.error, None, "the run ends as its outcome says");
    assert_eq!(
        answer.report["report_object"]["not_stored"]["Error"],
        "S3.ServiceUnavailable"
    );
}

#[tokio::test]
async fn a_report_that_cannot_be_published_ends_the_run_report_not_published_with_the_report() {
    let put = stored();
    let refused = mock!(aws_sdk_sns::Client::publish).then_error(|| {
        PublishError::generic(
            ErrorMetadata::builder()
                .code("AuthorizationError")
                .message("not allowed")
                .build(),
        )
    });
    let clients = clients(&[&put], &[&refused]);
    let answer = handled(state(json!({"outcome": "dry-run"})), &clients).await;
    let error = answer.error.unwrap();
    assert_eq!(error.error, REPORT_NOT_PUBLISHED);
    assert!(
        error.cause.starts_with(
            "the dry-run report of app could not be published to the report topic \
             (SNS.AuthorizationError: not allowed); the report: {"
        ),
        "{}",
        error.cause
    );
    let report: Value =
        serde_json::from_str(error.cause.split_once("; the report: ").unwrap().1).unwrap();
    assert_eq!(report["request"]["reason"], "the primary's writer is down");
}

#[tokio::test]
async fn a_report_that_is_not_stored_is_neither_stored_nor_measured() {
    let put = stored();
    let publish =
        mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().build());
    let clients = clients(&[&put], &[&publish]);
    let state = state(json!({"outcome": "already-running", "running": 1, "blocked_by": "x"}));
    let answer = handled(state, &clients).await;
    assert_eq!(put.num_calls(), 0);
    assert_eq!(publish.num_calls(), 1);
    assert_eq!(answer.error.unwrap().error, "DrFailover.AlreadyRunning");
}

#[tokio::test]
async fn with_chat_notifications_chatbot_the_report_is_published_as_json_per_protocol() {
    let put = stored();
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            let Ok(object) = serde_json::from_str::<Value>(r.message().unwrap_or_default()) else {
                return false;
            };
            let default = object["default"].as_str().unwrap_or_default();
            let https: Value = serde_json::from_str(object["https"].as_str().unwrap_or_default())
                .unwrap_or_default();
            r.message_structure() == Some("json")
                && serde_json::from_str::<Value>(report_line(default))
                    .map(|m| m["outcome"] == "failed-over")
                    .unwrap_or(false)
                && https["source"] == "custom"
        })
        .then_output(|| PublishOutput::builder().build());
    let clients = clients(&[&put], &[&publish]);
    let mut config = config();
    config.chat = message::ChatFormat::Chatbot;
    let now = UNIX_EPOCH + Duration::from_secs(1_764_563_153);
    let state = ended("dns-moved", "compute-ready", true);
    let answer = handle(request(state), &config, &clients, None, now)
        .await
        .unwrap();
    assert_eq!(publish.num_calls(), 1);
    assert_eq!(answer.error, None);
}

#[test]
fn an_alarm_the_witness_did_not_confirm_changes_nothing_and_names_the_command_to_fail_over() {
    let witness = json!({"verdict": "up", "mark": {"seen": "2026-12-01T04:00:00Z", "up": true,
                         "down_since": null, "probe": "HTTP 200"}});
    let ending = finish(state(
        json!({"outcome": "alarm-unconfirmed", "paused": null, "witness": witness}),
    ));
    assert!(ending.error.is_none(), "heard and published, not a failure");
    assert_eq!(
        ending.headline,
        "ALARM NOT CONFIRMED by the witness in eu-central-1; nothing changed"
    );
    let report = &ending.report;
    assert_eq!(report["outcome"], "alarm-unconfirmed");
    assert_eq!(report["witness"]["verdict"], "up");
    let next = report["next_step"].as_str().unwrap();
    assert!(
        next.contains("saw the primary up at 2026-12-01T04:00:00Z (HTTP 200)"),
        "{next}"
    );
    let cli = report["failover_cli_command"].as_str().unwrap();
    assert!(
        cli.starts_with("dr-failover --region eu-central-1 --deployment app failover --reason '"),
        "{cli}"
    );
    assert!(report["failover_command"]
        .as_str()
        .unwrap()
        .contains(r#""trigger":"manual""#));

    let silent = json!({"verdict": "silent", "mark": null});
    let ending = finish(state(
        json!({"outcome": "alarm-unconfirmed", "paused": null, "witness": silent}),
    ));
    assert_eq!(
        ending.headline,
        "ALARM NOT CONFIRMED, the witness is silent; nothing changed"
    );
    assert!(ending.report["next_step"]
        .as_str()
        .unwrap()
        .contains("the witness in eu-central-1 is silent: it has recorded no probe"));
    // The paused end as the state machine now writes it, with the witness beside.
    let ending = finish(state(json!({"outcome": "alarm-paused", "witness": null,
        "paused": {"by": "a", "since": "2026-12-01T04:00:00Z", "until": null, "reason": "r"}})));
    assert_eq!(ending.report["outcome"], "alarm-paused");
}

#[test]
fn an_alarm_a_pause_held_back_changes_nothing_and_names_the_commands_to_fail_over_and_resume() {
    let paused = json!({"by": "arn:aws:sts::1:assumed-role/op/alice", "since": "2026-12-01T04:00:00Z",
                        "until": "2026-12-01T06:00:00Z", "reason": "db upgrade; don't 'fail over'"});
    let ending = finish(state(json!({"outcome": "alarm-paused", "paused": paused})));
    assert!(ending.error.is_none(), "heard and published, not a failure");
    assert_eq!(ending.headline, "ALARM IGNORED, the automation is paused");
    let report = &ending.report;
    assert_eq!(report["outcome"], "alarm-paused");
    assert_eq!(report["paused"]["reason"], "db upgrade; don't 'fail over'");
    let resume = report["resume_command"].as_str().unwrap();
    assert!(
        resume.starts_with(
            "aws events untag-resource --region eu-central-1 --resource-arn \
                                arn:aws:events:eu-central-1:111111111111:rule/app-failover-trigger"
        ),
        "{resume}"
    );
    assert_eq!(
        report["resume_cli_command"],
        "dr-failover --region eu-central-1 --deployment app resume"
    );
    let cli = report["failover_cli_command"].as_str().unwrap();
    assert!(
        cli.starts_with("dr-failover --region eu-central-1 --deployment app failover --reason '")
    );
    assert!(
        cli.contains(r"(db upgrade; don'\''t '\''fail over'\'')"),
        "{cli}"
    );
    let aws = report["failover_command"].as_str().unwrap();
    assert!(
        aws.contains("start-execution --region eu-central-1"),
        "{aws}"
    );
    assert!(report["next_step"]
        .as_str()
        .unwrap()
        .contains("until 2026-12-01T06:00:00Z"));
}
