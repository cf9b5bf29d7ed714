use serde_json::{json, Value};

use super::message::*;
use super::{Machine, RunContext};

const MACHINE: &str = "arn:aws:states:eu-central-1:111111111111:stateMachine:app-failover";
const EXECUTION: &str = "arn:aws:states:eu-central-1:111111111111:execution:app-failover:run-1";

fn run() -> RunContext {
    RunContext {
        execution: EXECUTION.into(),
        name: "run-1".into(),
        started: "2026-12-01T04:25:41.576Z".into(),
        finished: "2026-12-01T04:25:53.076Z".into(),
        state_machine: MACHINE.into(),
        attempt: 0,
    }
}

fn failed_report(reason: &str) -> Value {
    json!({
        "deployment": "app",
        "execution": EXECUTION,
        "outcome": "failed",
        "request": {"trigger": "manual", "dry_run": false, "reason": reason},
        "error": {"Error": "DrFailover.StageTimedOut", "Cause": "app-db-dr still modifying after 900 s"},
        "next_step": "Fix the cause named in error, then run rerun_command.",
        "rerun_command": format!(
            "aws stepfunctions start-execution --region eu-central-1 --state-machine-arn {MACHINE} \
             --input '{{\"trigger\":\"manual\",\"dry_run\":false}}'"
        ),
    })
}

fn notice_of(report: &Value, headline: &str) -> Notice {
    let subject = format!("[dr-failover] app: {headline}");
    notice(Machine::Failover, &subject, "app", headline, report, &run())
}

/// The rule every reader follows: the report is the last line, the paragraph what precedes the
/// first empty line.
fn split(message: &str) -> (&str, Value) {
    let (paragraph, _) = message.split_once("\n\n").expect("an empty line");
    let last = message.rsplit('\n').next().unwrap();
    (
        paragraph,
        serde_json::from_str(last).expect("the last line is the report"),
    )
}

#[test]
fn a_failed_run_says_what_happened_what_to_run_and_where_to_look_before_its_report() {
    let report = failed_report("the primary's writer is down");
    let notice = notice_of(&report, "FAILOVER FAILED at database");
    let message = body(&notice, &report);
    let (paragraph, parsed) = split(&message);
    assert_eq!(parsed, report, "the report, whole, after the paragraph");
    let lines: Vec<&str> = paragraph.lines().collect();
    assert_eq!(
        lines,
        [
            "app: FAILOVER FAILED at database. The failover run run-1 in eu-central-1, reason \
             \"the primary's writer is down\".",
            "Error DrFailover.StageTimedOut: app-db-dr still modifying after 900 s",
            "What to do: Fix the cause named in error, then run rerun_command.",
            &format!("rerun_command: {}", report["rerun_command"].as_str().unwrap()),
            "Console: https://eu-central-1.console.aws.amazon.com/states/home?region=eu-central-1\
             #/v2/executions/details/arn:aws:states:eu-central-1:111111111111:execution:app-failover:run-1",
        ]
    );
}

#[test]
fn the_console_link_is_the_executions_page_in_its_region() {
    assert_eq!(
        console_link("eu-west-1", "arn:aws:states:eu-west-1:1:execution:m:n"),
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:1:execution:m:n"
    );
}

#[test]
fn a_reason_with_line_breaks_and_braces_stays_on_its_line_and_the_report_stays_last() {
    let reason = "line one\n\n{\"not\": \"the report\"}\r\n\tend";
    let report = failed_report(reason);
    let message = body(&notice_of(&report, "FAILOVER FAILED at database"), &report);
    let (paragraph, parsed) = split(&message);
    assert_eq!(
        parsed["request"]["reason"], reason,
        "unchanged in the report"
    );
    assert!(paragraph.contains(r#"reason "line one  {"not": "the report"}   end""#));
    assert!(!paragraph.contains("\n\n"));
    assert!(paragraph.lines().all(|line| !line.trim().is_empty()));
}

#[test]
fn every_command_the_report_gives_is_listed_in_order_with_a_blocking_runs_stop_command() {
    let report = json!({
        "outcome": "incomplete",
        "force_command": "aws force",
        "finish_command": "aws finish",
        "retry_command": "aws retry",
        "enable_command": "aws enable",
        "rerun_command": "aws rerun",
        "rerun_cli_command": "dr-failover rerun run-1",
        "pause_command": "aws pause",
        "concurrency": {"blocked_by": {"stop_command": "aws stepfunctions stop-execution --region eu-central-1 --execution-arn x"}},
    });
    let notice = notice_of(&report, "FAILOVER INCOMPLETE, DNS not moved");
    assert_eq!(
        notice.next_steps,
        [
            "finish_command: aws finish",
            "retry_command: aws retry",
            "force_command: aws force",
            "rerun_cli_command: dr-failover rerun run-1",
            "rerun_command: aws rerun",
            "enable_command: aws enable",
            "pause_command: aws pause",
            "stop_command: aws stepfunctions stop-execution --region eu-central-1 --execution-arn x",
        ]
    );
}

#[test]
fn refusals_are_quoted_three_at_most_with_how_many_more_the_report_holds() {
    let report = json!({
        "outcome": "not-ready",
        "steps": {"database": {"refusals": ["lag 900 s above 60 s"]},
                  "dns": {"refusals": ["www.example.com. A is missing", "api.example.com. A is missing"]}},
        "automation": {"refusals": ["the trigger rule is DISABLED; re-arm: aws events enable-rule --region eu-central-1 --name r"]},
    });
    let notice = notice(
        Machine::Readiness,
        "[dr-failover] app: readiness NOT READY, 4 refusal(s)",
        "app",
        "readiness NOT READY, 4 refusal(s)",
        &report,
        &run(),
    );
    assert_eq!(
        notice.lines[1],
        "Refused (4): lag 900 s above 60 s; www.example.com. A is missing; api.example.com. A is \
         missing (and 1 more in the report)"
    );
    assert!(notice.lines[0]
        .starts_with("app: readiness NOT READY, 4 refusal(s). The readiness run run-1"));
    assert!(
        notice.lines[2].starts_with("What to do: Fix what each refusal names"),
        "{}",
        notice.lines[2]
    );
}

#[test]
fn a_ready_readiness_run_asks_nothing() {
    let report = json!({"outcome": "ready", "steps": {"database": {"refusals": []}}});
    let notice = notice(
        Machine::Readiness,
        "[dr-failover] app: readiness ready, 0 refusal(s)",
        "app",
        "readiness ready, 0 refusal(s)",
        &report,
        &run(),
    );
    assert_eq!(notice.lines.len(), 1, "{:?}", notice.lines);
    assert!(notice.next_steps.is_empty());
}

#[test]
fn a_long_cause_is_cut_in_the_paragraph_and_whole_in_the_report() {
    let mut report = failed_report("r");
    let cause = "x".repeat(5000);
    report["error"]["Cause"] = json!(cause);
    let message = body(&notice_of(&report, "FAILOVER FAILED at plan"), &report);
    let (paragraph, parsed) = split(&message);
    assert_eq!(parsed["error"]["Cause"], cause);
    let error_line = paragraph.lines().nth(1).unwrap();
    assert_eq!(
        error_line.len(),
        "Error DrFailover.StageTimedOut: ".len() + 400 + 3
    );
}

#[test]
fn the_paragraph_adds_at_most_its_commands_and_a_few_kilobytes_to_the_report() {
    // The longest a request makes it: a 1,024-byte reason of apostrophes (each quoted as four
    // bytes in every command), a cause and five refusals at their bounds.
    let reason = "'".repeat(1024);
    let mut report = failed_report(&reason);
    let input = json!({"trigger": "manual", "dry_run": false, "reason": reason});
    let command = super::start_execution_command(&run(), &input);
    for name in ["retry_command", "force_command", "rerun_command"] {
        report[name] = json!(command);
    }
    report["error"]["Cause"] = json!("c".repeat(32_768));
    report["plan"] = json!({"database": {"refusals": vec!["r".repeat(2000); 5]}});
    let notice = notice_of(&report, "failover refused by a pre-flight check");
    let paragraph = notice.paragraph();
    let commands: usize = notice.next_steps.iter().map(String::len).sum();
    assert!(commands > 3 * 4096, "{commands}");
    assert!(
        paragraph.len() <= commands + 4096,
        "paragraph {} bytes, of which commands {commands}",
        paragraph.len()
    );
}

#[test]
fn chatbot_format_publishes_the_message_as_default_and_a_custom_notification_as_https() {
    let report = failed_report("the primary's writer is down");
    let notice = notice_of(&report, "FAILOVER FAILED at database");
    let publication = publication(ChatFormat::Chatbot, &notice, &report, "app", &run());
    assert_eq!(publication.structure, Some("json"));
    let object: Value = serde_json::from_str(&publication.message).unwrap();
    let keys: Vec<&String> = object.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["default", "https"]);
    assert_eq!(object["default"], body(&notice, &report));
    let custom: Value = serde_json::from_str(object["https"].as_str().unwrap()).unwrap();
    assert_eq!(custom["version"], "1.0");
    assert_eq!(custom["source"], "custom");
    assert_eq!(custom["content"]["textType"], "client-markdown");
    assert_eq!(
        custom["content"]["title"],
        "[dr-failover] app: FAILOVER FAILED at database"
    );
    let description = custom["content"]["description"].as_str().unwrap();
    assert!(description.starts_with("app: FAILOVER FAILED at database. The failover run run-1"));
    assert!(description.ends_with(&format!("Console: {}", notice.console)));
    assert_eq!(
        custom["content"]["nextSteps"],
        json!([format!(
            "rerun_command: `{}`",
            report["rerun_command"].as_str().unwrap()
        )])
    );
    assert_eq!(custom["content"]["keywords"], json!(["app", "failed"]));
    assert_eq!(custom["metadata"]["threadId"], EXECUTION);
    assert_eq!(custom["metadata"]["eventType"], "failed");
}

#[test]
fn a_command_holding_a_backtick_is_not_put_in_markdown_code() {
    let mut report = failed_report("r");
    report["rerun_command"] = json!("aws x --input '{\"reason\":\"`date`\"}'");
    let notice = notice_of(&report, "FAILOVER FAILED at database");
    let custom = chatbot(&notice, "app", "failed", &run());
    assert_eq!(
        custom["content"]["nextSteps"],
        json!(["rerun_command: aws x --input '{\"reason\":\"`date`\"}'"])
    );
}

#[test]
fn without_chat_notifications_every_protocol_gets_the_one_message() {
    let report = failed_report("r");
    let notice = notice_of(&report, "FAILOVER FAILED at database");
    let publication = publication(ChatFormat::None, &notice, &report, "app", &run());
    assert_eq!(publication.structure, None);
    assert_eq!(publication.message, body(&notice, &report));
}

#[test]
fn a_chatbot_message_past_snss_limit_is_published_plain_so_the_report_still_goes_out() {
    let mut report = failed_report("r");
    // Fits alone; with every quote escaped in `default`, it does not fit twice.
    report["detail"] = json!(vec!["\"quoted\""; 18_000]);
    let notice = notice_of(&report, "FAILOVER FAILED at database");
    let plain = body(&notice, &report);
    assert!(plain.len() < MAX_MESSAGE_BYTES, "{}", plain.len());
    let publication = publication(ChatFormat::Chatbot, &notice, &report, "app", &run());
    assert_eq!(publication.structure, None);
    assert_eq!(publication.message, plain);
}

#[test]
fn chat_notifications_is_none_or_chatbot() {
    assert_eq!(ChatFormat::parse("none"), Some(ChatFormat::None));
    assert_eq!(ChatFormat::parse("chatbot"), Some(ChatFormat::Chatbot));
    assert_eq!(ChatFormat::parse("slack"), None);
    let source = [
        ("DEPLOYMENT_NAME", "app"),
        (
            "REPORT_TOPIC_ARN",
            "arn:aws:sns:eu-central-1:111111111111:reports",
        ),
        ("REPORT_BUCKET_NAME", "app-reports"),
        ("CHAT_NOTIFICATIONS", "slack"),
    ];
    let error = super::FinishConfig::from_source(&source).unwrap_err();
    assert!(error.to_string().contains("CHAT_NOTIFICATIONS"), "{error}");
    let source = [
        ("DEPLOYMENT_NAME", "app"),
        (
            "REPORT_TOPIC_ARN",
            "arn:aws:sns:eu-central-1:111111111111:reports",
        ),
        ("REPORT_BUCKET_NAME", "app-reports"),
        ("CHAT_NOTIFICATIONS", "chatbot"),
    ];
    assert_eq!(
        super::FinishConfig::from_source(&source).unwrap().chat,
        ChatFormat::Chatbot
    );
}
