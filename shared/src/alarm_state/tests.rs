use aws_sdk_cloudwatch::operation::describe_alarms::{DescribeAlarmsError, DescribeAlarmsOutput};
use aws_sdk_cloudwatch::types::{CompositeAlarm, MetricAlarm};
use aws_smithy_mocks::{mock, mock_client, Rule};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::DateTime;
use serde_json::json;

use super::*;
use crate::request::parse_request;

const ALARM: &str = "app-primary-health";

fn request() -> AlarmStateRequest {
    parse_request(json!({
        "action": "alarm-state",
        "request": {"trigger": "alarm", "dry_run": false, "force": false, "reason": "health check alarm went to ALARM",
                    "alarm": {"name": ALARM, "region": "us-east-1", "time": "2026-05-01T12:00:00Z", "previous_state": "OK"}},
        "execution_id": "arn:aws:states:eu-central-1:111111111111:execution:dr-failover:x"
    }))
    .unwrap()
}

/// The request names both alarm types: DescribeAlarms answers composite alarms only when
/// `AlarmTypes` includes `CompositeAlarm` (aws-solutions/media-services-application-mapper#156,
/// boto/boto3#3008), so a health check behind a composite alarm would otherwise read as missing.
fn metric_alarm(state: StateValue) -> Rule {
    let alarm = MetricAlarm::builder()
        .alarm_name(ALARM)
        .state_value(state)
        .state_reason("Threshold Crossed: 1 out of the last 1 datapoints [1.0] was not less than the threshold (1.0).")
        .state_updated_timestamp(DateTime::from_secs(1_777_636_830))
        .state_transitioned_timestamp(DateTime::from_secs(1_777_636_815))
        .build();
    mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(|input| {
            input.alarm_names() == [ALARM.to_owned()]
                && input.alarm_types().contains(&AlarmType::CompositeAlarm)
        })
        .then_output(move || {
            DescribeAlarmsOutput::builder()
                .metric_alarms(alarm.clone())
                .build()
        })
}

async fn read_with(rule: Rule) -> AlarmStateResult {
    let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
    read(&request(), |region| {
        assert_eq!(region, "us-east-1", "the alarm is read in its own Region");
        client
    })
    .await
}

#[tokio::test]
async fn an_alarm_back_in_ok_refuses_and_says_since_when_and_why() {
    let result = read_with(metric_alarm(StateValue::Ok)).await;
    assert!(!result.ready && result.detail.recovered);
    assert_eq!(result.detail.state.as_deref(), Some("OK"));
    // The transition, not the last update of the reason.
    assert_eq!(
        result.detail.state_since.as_deref(),
        Some("2026-05-01T12:00:15Z")
    );
    let [refusal] = result.refusals.as_slice() else {
        panic!("{:?}", result.refusals)
    };
    assert!(
        refusal.contains("is OK since 2026-05-01T12:00:15Z"),
        "{refusal}"
    );
    assert!(refusal.contains("the primary has recovered"), "{refusal}");
    assert!(
        refusal.contains("was not less than the threshold"),
        "{refusal}"
    );
    assert_eq!(result.step, STEP);
    assert!(!result.changed);
}

#[tokio::test]
async fn an_alarm_still_in_alarm_or_without_data_lets_the_failover_proceed() {
    for state in [StateValue::Alarm, StateValue::InsufficientData] {
        let result = read_with(metric_alarm(state.clone())).await;
        assert!(
            result.ready && result.refusals.is_empty() && result.warnings.is_empty(),
            "{state:?}"
        );
        assert!(!result.detail.recovered);
        assert_eq!(result.detail.state.as_deref(), Some(state.as_str()));
        assert!(result.summary.contains("may proceed"), "{}", result.summary);
    }
}

#[tokio::test]
async fn a_composite_alarm_is_read_too() {
    let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(|| {
        DescribeAlarmsOutput::builder()
            .composite_alarms(
                CompositeAlarm::builder()
                    .alarm_name(ALARM)
                    .state_value(StateValue::Ok)
                    .state_updated_timestamp(DateTime::from_secs(1_777_636_830))
                    .build(),
            )
            .build()
    });
    let result = read_with(rule).await;
    assert!(result.detail.recovered && !result.ready);
    assert_eq!(
        result.detail.state_since.as_deref(),
        Some("2026-05-01T12:00:30Z")
    );
}

#[tokio::test]
async fn an_alarm_that_cannot_be_read_lets_the_failover_proceed_and_says_so() {
    let denied = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_error(|| {
        DescribeAlarmsError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("not authorized to perform: cloudwatch:DescribeAlarms")
                .build(),
        )
    });
    // A name that matches no alarm is empty lists, not an error
    // (ansible-collections/amazon.aws#988).
    let missing = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .then_output(|| DescribeAlarmsOutput::builder().build());
    for rule in [denied, missing] {
        let result = read_with(rule).await;
        assert!(result.ready && result.refusals.is_empty());
        assert!(result.detail.state.is_none() && !result.detail.recovered);
        let error = result.detail.read_error.clone().unwrap();
        assert!(
            error.contains("AccessDenied") || error.contains("no alarm named app-primary-health"),
            "{error}"
        );
        let [warning] = result.warnings.as_slice() else {
            panic!("{:?}", result.warnings)
        };
        assert!(warning.contains("was not read again"), "{warning}");
        assert!(
            result.summary.contains("the failover goes on"),
            "{}",
            result.summary
        );
    }
}

#[tokio::test]
async fn a_run_whose_request_names_no_alarm_proceeds_and_says_so() {
    let request: AlarmStateRequest = parse_request(
        json!({"action": "alarm-state", "request": {"trigger": "manual", "dry_run": false}}),
    )
    .unwrap();
    let result = read(&request, |_| panic!("nothing to read")).await;
    assert!(result.ready && result.refusals.is_empty());
    assert!(result.detail.read_error.unwrap().contains("names no alarm"));
    assert!(result.warnings[0].contains("was not read again"));
}

#[test]
fn a_bad_request_names_the_field() {
    let alarm =
        |alarm: serde_json::Value| json!({"action": "alarm-state", "request": {"alarm": alarm}});
    let cases = [
        (json!({"action": "alarm-state"}), "request"),
        (
            alarm(json!({"name": "", "region": "us-east-1"})),
            "request.alarm.name",
        ),
        (
            alarm(json!({"name": "a", "region": "https://evil"})),
            "request.alarm.region",
        ),
        (
            alarm(json!({"name": "a", "region": "us-east-1", "state": "OK"})),
            "request.alarm.state",
        ),
        (
            json!({"action": "alarm-state", "request": {}, "force": true}),
            "force",
        ),
    ];
    for (payload, field) in cases {
        let error = parse_request::<AlarmStateRequest>(payload.clone()).unwrap_err();
        assert_eq!(error.field, field, "{payload}: {error:?}");
    }
    let long = "a".repeat(256);
    let error =
        parse_request::<AlarmStateRequest>(alarm(json!({"name": long, "region": "us-east-1"})))
            .unwrap_err();
    assert_eq!(error.field, "request.alarm.name");
}
