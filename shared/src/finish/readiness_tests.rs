//! Readiness's end: the report summed up from the plans, and when it is published.

use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use serde_json::{json, Value};

use super::readiness::publishes;
use super::tests::config;
use super::*;

const MACHINE: &str = "arn:aws:states:eu-central-1:111111111111:stateMachine:app-readiness";

fn plan(refusals: &[&str], warnings: &[&str]) -> Value {
    json!({"step": "s", "action": "plan", "ready": refusals.is_empty(), "refusals": refusals,
           "warnings": warnings, "summary": "s"})
}

/// What readiness reads of an armed automation: the trigger rule enabled, both alarms OK.
fn armed() -> Value {
    json!({
        "rule": {"name": "app-start-on-alarm", "state": "ENABLED",
                 "arn": "arn:aws:events:eu-central-1:111111111111:rule/app-start-on-alarm"},
        "rule_tags": {"tags": []},
        "health_alarm": {"detail": {"alarm": "app-primary-health", "region": "us-east-1",
                                    "state": "OK", "recovered": true}},
        "unforwarded_alarm": {"detail": {"alarm": "app-dr-failover-unforwarded-alarm",
                                         "region": "us-east-1", "state": "OK", "recovered": true}},
    })
}

fn state(dns_refusals: &[&str], previous: Option<Value>) -> Value {
    let mut state = json!({
        "plan": {"database": plan(&[], &[]), "compute": plan(&[], &["max below target"]),
                 "dns": plan(dns_refusals, &[]), "backup": plan(&[], &["stale copy"]),
                 "automation": armed()},
        "previous": {"arns": []},
        "end": {"outcome": "checked"},
    });
    if let Some(previous) = previous {
        state["previous"] = json!({"output": previous});
    }
    state
}

fn request(state: Value) -> FinishRequest {
    FinishRequest {
        machine: Machine::Readiness,
        state,
        run: RunContext {
            execution: "arn:aws:states:eu-central-1:111111111111:execution:app-readiness:r-1"
                .into(),
            name: "r-1".into(),
            started: "2026-12-01T06:00:00Z".into(),
            finished: "2026-12-01T06:00:09Z".into(),
            state_machine: MACHINE.into(),
            attempt: 0,
        },
    }
}

fn finish(state: Value) -> Ending {
    ending(&request(state), &config()).unwrap()
}

#[test]
fn the_plans_are_summed_up_with_the_fingerprint_step_functions_gave_before() {
    let ending = finish(state(&["api.example.com answers the primary"], None));
    let report = &ending.report;
    assert_eq!(report["ready"], 0);
    assert_eq!(report["refusal_count"], 1);
    assert_eq!(
        report["warning_count"], 2,
        "the backup's warnings count, its refusals never"
    );
    assert_eq!(
        report["step_ready"],
        json!({"database": 1, "compute": 1, "dns": 0, "automation": 1})
    );
    assert_eq!(report["fingerprint"], "[1,0,1,0,0,1]");
    assert_eq!(report["checked_at"], "2026-12-01T06:00:09Z");
    assert_eq!(ending.headline, "readiness NOT READY, 1 refusal(s)");
    assert_eq!(ending.error, None);
    assert!(
        report.get("report_object").is_none(),
        "a readiness report is not stored"
    );
}

#[test]
fn a_change_is_published_and_an_unchanged_readiness_or_a_ready_first_run_is_not() {
    let ready = state(&[], None);
    let report = finish(ready.clone()).report;
    assert!(
        !publishes(&ready, &report),
        "a ready first run is not mailed"
    );
    let not_ready = state(&["x"], None);
    assert!(publishes(&not_ready, &finish(not_ready.clone()).report));
    let same = state(&["y"], Some(json!({"fingerprint": "[1,0,1,0,0,1]"})));
    assert!(
        !publishes(&same, &finish(same.clone()).report),
        "only the text changed"
    );
    let turned = state(&[], Some(json!({"fingerprint": "[1,0,1,0,0,1]"})));
    assert!(publishes(&turned, &finish(turned.clone()).report));
    let old_output = state(&[], Some(json!({"ready": 1})));
    assert!(publishes(&old_output, &finish(old_output.clone()).report));
}

#[test]
fn a_previous_run_that_could_not_be_read_fails_the_run_and_publishes_nothing() {
    let mut state = state(&["x"], None);
    state["previous_error"] = json!({"Error": "Sfn.AccessDeniedException", "Cause": "no"});
    let ending = finish(state.clone());
    assert_eq!(
        ending.error.as_ref().unwrap().error,
        "DrFailover.ReadinessNotCompared"
    );
    assert!(!publishes(&state, &ending.report));
}

#[tokio::test]
async fn an_unchanged_readiness_calls_nothing_and_a_change_is_published_not_stored() {
    let nothing = FinishClients {
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[]),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]),
    };
    let same = state(&[], Some(json!({"fingerprint": "[1,0,1,0,1,0]"})));
    let answer = handle(request(same), &config(), &nothing, None, epoch())
        .await
        .unwrap();
    assert_eq!(answer.error, None);
    assert_eq!(answer.report["ready"], 1);

    let published = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            r.subject() == Some("[dr-failover] app: readiness NOT READY, 1 refusal(s)")
        })
        .then_output(|| PublishOutput::builder().message_id("m").build());
    let stored =
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build());
    let clients = FinishClients {
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&stored]),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&published]),
    };
    let changed = state(&["x"], Some(json!({"fingerprint": "[1,0,1,0,1,0]"})));
    handle(request(changed), &config(), &clients, None, epoch())
        .await
        .unwrap();
    assert_eq!(published.num_calls(), 1);
    assert_eq!(stored.num_calls(), 0);
}

fn epoch() -> std::time::SystemTime {
    std::time::UNIX_EPOCH
}

#[test]
fn a_dr_database_that_is_already_the_writer_is_not_ready_until_re_protected() {
    // After a failover: promote-replica's plan answers "already promoted" (no refusal, ready).
    let mut promoted = state(&[], None);
    promoted["plan"]["database"]["detail"] = json!({"kind": "rds-instance", "identifier": "app-db-dr",
        "status": "available", "writable": true});
    let ending = finish(promoted);
    assert_eq!(ending.report["ready"], 0, "{}", ending.report);
    assert_eq!(ending.report["step_ready"]["database"], 0);
    let refusals = ending.report["steps"]["database"]["refusals"]
        .as_array()
        .unwrap();
    assert_eq!(refusals.len(), 1);
    let refusal = refusals[0].as_str().unwrap();
    assert!(
        refusal.contains("no standby") && refusal.contains("re-protect is needed"),
        "{refusal}"
    );
    assert_eq!(ending.headline, "readiness NOT READY, 1 refusal(s)");

    // A replica still replicating, and an Aurora secondary that is not the writer, stand by.
    let mut replica = state(&[], None);
    replica["plan"]["database"]["detail"] = json!({"kind": "rds-instance", "identifier": "app-db-dr",
        "replica_source": "arn:aws:rds:eu-west-1:111111111111:db:app-db", "writable": false});
    assert_eq!(finish(replica).report["ready"], 1);
    let aurora = |writer: &str| {
        let mut s = state(&[], None);
        s["plan"]["database"]["detail"] = json!({"kind": "aurora-global", "identifier": "app-dr",
            "writer": writer});
        finish(s).report["ready"].clone()
    };
    assert_eq!(
        aurora("arn:aws:rds:eu-west-1:111111111111:cluster:app-primary"),
        1
    );
    assert_eq!(
        aurora("arn:aws:rds:eu-central-1:111111111111:cluster:app-dr"),
        0
    );
    assert_eq!(aurora("app-dr"), 0);
    // A plan that failed (no detail) is not judged here.
    assert_eq!(finish(state(&[], None)).report["ready"], 1);
}

#[test]
fn a_disarmed_automation_is_not_ready_and_names_the_command_that_re_arms_it() {
    // Fail back paused the trigger rule; the alarm has no data; us-east-1 could not forward.
    let mut disarmed = state(&[], None);
    disarmed["plan"]["automation"]["rule"]["state"] = json!("DISABLED");
    disarmed["plan"]["automation"]["rule_tags"] =
        json!({"tags": [{"Key": "dr-failover:paused-by-failback", "Value": "back-1"}]});
    disarmed["plan"]["automation"]["health_alarm"]["detail"]["state"] = json!("INSUFFICIENT_DATA");
    disarmed["plan"]["automation"]["health_alarm"]["detail"]["state_since"] =
        json!("2026-12-01T05:00:00Z");
    disarmed["plan"]["automation"]["unforwarded_alarm"]["detail"]["state"] = json!("ALARM");
    let ending = finish(disarmed);
    let report = &ending.report;
    assert_eq!(report["ready"], 0);
    assert_eq!(report["refusal_count"], 3);
    assert_eq!(report["step_ready"]["automation"], 0);
    assert_eq!(report["automation"]["armed"], false);
    let refusals: Vec<&str> = report["automation"]["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        refusals[0].contains("app-start-on-alarm is DISABLED, paused by the fail back run back-1")
            && refusals[0].ends_with(
                "re-arm: aws events enable-rule --region eu-central-1 --name app-start-on-alarm"
            ),
        "{}",
        refusals[0]
    );
    assert!(
        refusals[1].contains("app-primary-health is INSUFFICIENT_DATA since 2026-12-01T05:00:00Z"),
        "{}",
        refusals[1]
    );
    assert!(
        refusals[2].contains("us-east-1 could not forward"),
        "{}",
        refusals[2]
    );
    assert!(ending.headline.starts_with("readiness NOT READY"));
    // A disarmed automation changes the fingerprint, so the change is published; armed, it is
    // the fingerprint the plans alone give (the first run after an update compares equal).
    assert_eq!(report["fingerprint"], "[1,0,1,0,1,0,0,3]");
    assert_eq!(
        finish(state(&[], None)).report["fingerprint"],
        "[1,0,1,0,1,0]"
    );
}

#[test]
fn an_automation_read_that_failed_is_a_warning_and_us_east_1_as_dr_region_forwards_nothing() {
    let mut unread = state(&[], None);
    unread["plan"]["automation"] = json!({
        "rule_error": {"Error": "EventBridge.AccessDeniedException", "Cause": "not authorized"},
        "health_alarm_error": {"Error": "Lambda.ServiceException"},
        "unforwarded_alarm": {"detail": {"alarm": "app-dr-failover-unforwarded-alarm",
            "read_error": "DescribeAlarms in us-east-1 answered no alarm named app-dr-failover-unforwarded-alarm"}},
    });
    let report = finish(unread).report;
    assert_eq!(report["ready"], 1, "read-only context never refuses");
    let warnings = report["automation"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[0]
        .as_str()
        .unwrap()
        .contains("EventBridge.AccessDeniedException: not authorized"));
    assert!(warnings[2]
        .as_str()
        .unwrap()
        .contains("update the us-east-1 stack"));
    // With the DR region us-east-1 itself, nothing is forwarded and that alarm is not judged.
    let judged = automation::judge(
        &json!({"rule": {"name": "r", "state": "ENABLED"},
        "health_alarm": {"detail": {"alarm": "a", "state": "OK"}}}),
        "us-east-1",
        std::time::SystemTime::now(),
    );
    assert!(judged.armed() && judged.warnings.is_empty(), "{judged:?}");
}

/// A pause mark as ListTagsForResource lists its tags.
fn tag_list(mark: &crate::pause::PauseMark) -> Vec<Value> {
    mark.tags()
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

#[test]
fn an_operators_pause_is_not_ready_until_its_deadline_and_says_who_why_and_how_to_resume() {
    let mark = crate::pause::PauseMark::new(
        "arn:aws:sts::1:assumed-role/op/alice",
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_096_000),
        Some(std::time::Duration::from_secs(14_400)),
        "db upgrade; don't fail over",
    )
    .unwrap();
    let tags = tag_list(&mark);
    let mut paused = state(&[], None);
    paused["plan"]["automation"]["rule"]["arn"] =
        json!("arn:aws:events:eu-central-1:1:rule/app-failover-trigger");
    paused["plan"]["automation"]["rule_tags"] = json!({ "tags": tags });
    // run().finished is 2026-12-01T06:00:09Z: inside the pause (03:33:20 to 07:33:20).
    let report = finish(paused.clone()).report;
    assert_eq!(report["ready"], 0);
    let refusal = report["automation"]["refusals"][0].as_str().unwrap();
    assert!(refusal.starts_with("automation disarmed: paused by arn:aws:sts::1:assumed-role/op/alice since 2026-12-01T03:33:20Z until 2026-12-01T07:33:20Z: db upgrade; don't fail over"), "{refusal}");
    assert!(refusal.contains("resume: dr-failover --region eu-central-1 --deployment app resume (or aws events untag-resource --region eu-central-1 --resource-arn arn:aws:events:eu-central-1:1:rule/app-failover-trigger"), "{refusal}");
    // Past its deadline the automation is armed again, with a warning that the mark remains.
    let later = crate::pause::PauseMark::new(
        "a",
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_000_000),
        Some(std::time::Duration::from_secs(60)),
        "old",
    )
    .unwrap();
    let tags = tag_list(&later);
    paused["plan"]["automation"]["rule_tags"] = json!({ "tags": tags });
    let report = finish(paused).report;
    assert_eq!(report["ready"], 1);
    assert!(report["automation"]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("pause has ended"));
}

#[test]
fn a_witness_that_has_not_reported_disarms_the_automation_and_no_witness_changes_nothing() {
    let now = std::time::SystemTime::now();
    let seen = |at: std::time::SystemTime| {
        json!({"rule_tags": {"tags": [
            {"Key": "dr-failover:witness-seen", "Value": crate::witness::mark::format_time(at)},
            {"Key": "dr-failover:witness-state", "Value": "up"}]}})
    };
    let judged = |read: &Value, configured| {
        let mut automation = automation::Automation {
            refusals: vec![],
            warnings: vec![],
        };
        automation::judge_witness(read, now, configured, &mut automation);
        automation
    };
    assert!(judged(&seen(now), true).armed());
    let late = now - automation::WITNESS_READINESS_MAX_AGE - std::time::Duration::from_secs(60);
    let stale = judged(&seen(late), true);
    assert!(
        stale.refusals[0]
            .starts_with("automation disarmed: the witness is silent (its last probe was at"),
        "{stale:?}"
    );
    let none = judged(&json!({"rule_tags": {"tags": []}}), true);
    assert!(
        none.refusals[0].contains("it has recorded no probe"),
        "{none:?}"
    );
    assert_eq!(
        judged(&json!({"rule_tags": {"tags": []}}), false),
        automation::Automation {
            refusals: vec![],
            warnings: vec![]
        }
    );
    // Tags that could not be read are judge's warning already.
    assert!(judged(&json!({"rule_tags_error": {"Error": "x"}}), true).armed());
}
