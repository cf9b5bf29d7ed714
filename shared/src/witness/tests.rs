use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
use aws_sdk_eventbridge::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_eventbridge::operation::tag_resource::{TagResourceError, TagResourceOutput};
use aws_sdk_eventbridge::types::Tag;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
use aws_sdk_sfn::types::error::ExecutionAlreadyExists;
use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::DateTime;
use serde_json::json;

use super::mark::{judge, parse_time, Verdict, DOWN_SINCE_TAG, SEEN_TAG, STATE_TAG};
use super::*;
use crate::config::ConfigError;

const RULE: &str = "arn:aws:events:eu-central-1:111111111111:rule/shop-failover-trigger";
const FAILOVER: &str = "arn:aws:states:eu-central-1:111111111111:stateMachine:shop-failover";

fn config() -> WitnessConfig {
    WitnessConfig {
        url: "https://primary.example.com/health".parse().unwrap(),
        trigger_rule_arn: RULE.into(),
        failover: FAILOVER.into(),
        deployment: "shop".into(),
        region: "eu-central-1".into(),
        namespace: DEFAULT_NAMESPACE.into(),
        alone: Duration::from_secs(600),
        gap: Duration::from_secs(180),
        timeout: Duration::from_secs(5),
    }
}

fn at(text: &str) -> SystemTime {
    parse_time(text).unwrap()
}

fn down(detail: &str) -> probe::Probe {
    probe::Probe {
        up: false,
        detail: detail.into(),
    }
}

fn up() -> probe::Probe {
    probe::Probe {
        up: true,
        detail: "HTTP 200".into(),
    }
}

/// The trigger rule's tags holding a mark: (seen, state, down since).
fn tags(mark: Option<(&'static str, &'static str, &'static str)>) -> Rule {
    mock!(aws_sdk_eventbridge::Client::list_tags_for_resource)
        .match_requests(|r| r.resource_arn() == Some(RULE))
        .then_output(move || {
            let mut out = vec![Tag::builder()
                .key("dr-failover:paused-by")
                .value("someone")
                .build()
                .unwrap()];
            if let Some((seen, state, since)) = mark {
                for (k, v) in [
                    (SEEN_TAG, seen),
                    (STATE_TAG, state),
                    (DOWN_SINCE_TAG, since),
                ] {
                    out.push(Tag::builder().key(k).value(v).build().unwrap());
                }
            }
            ListTagsForResourceOutput::builder()
                .set_tags(Some(out))
                .build()
        })
}

fn tagged(expect: fn(&[Tag]) -> bool) -> Rule {
    mock!(aws_sdk_eventbridge::Client::tag_resource)
        .match_requests(move |r| r.resource_arn() == Some(RULE) && expect(r.tags()))
        .then_output(|| TagResourceOutput::builder().build())
}

fn value(tags: &[Tag], key: &str) -> String {
    tags.iter()
        .find(|t| t.key() == key)
        .map(|t| t.value().to_owned())
        .unwrap_or_else(|| panic!("no tag {key}"))
}

fn put(value: f64) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .match_requests(move |r| {
            r.namespace() == Some(DEFAULT_NAMESPACE)
                && r.metric_data()[0].value() == Some(value)
                && r.metric_data()[0].dimensions()[0].value() == Some("shop")
        })
        .then_output(|| PutMetricDataOutput::builder().build())
}

fn clients(events: &[Rule], cloudwatch: &[Rule], sfn: &[Rule]) -> WitnessClients {
    WitnessClients {
        events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, events),
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, cloudwatch),
        sfn: mock_client!(aws_sdk_sfn, RuleMode::MatchAny, sfn),
    }
}

fn no_runs() -> Rule {
    mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| r.state_machine_arn() == Some(FAILOVER))
        .then_output(|| {
            ListExecutionsOutput::builder()
                .set_executions(Some(vec![]))
                .build()
                .unwrap()
        })
}

fn one_run(second: i64, status: ExecutionStatus, output: &'static str) -> [Rule; 2] {
    let arn = "arn:aws:states:eu-central-1:111111111111:execution:shop-failover:run";
    let status2 = status.clone();
    [
        mock!(aws_sdk_sfn::Client::list_executions).then_output(move || {
            ListExecutionsOutput::builder()
                .executions(
                    ExecutionListItem::builder()
                        .execution_arn(arn)
                        .state_machine_arn(FAILOVER)
                        .name("run")
                        .status(status.clone())
                        .start_date(DateTime::from_secs(second))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        }),
        mock!(aws_sdk_sfn::Client::describe_execution).then_output(move || {
            DescribeExecutionOutput::builder()
                .execution_arn(arn)
                .state_machine_arn(FAILOVER)
                .status(status2.clone())
                .start_date(DateTime::from_secs(second))
                .input(r#"{"trigger":"alarm","dry_run":false}"#)
                .output(output)
                .build()
                .unwrap()
        }),
    ]
}

#[tokio::test]
async fn a_probe_that_finds_the_primary_up_records_up_and_starts_nothing() {
    let clients = clients(
        &[
            tags(Some((
                "2026-12-07T00:00:00Z",
                "down",
                "2026-12-06T23:50:00Z",
            ))),
            tagged(|t| value(t, STATE_TAG) == "up" && value(t, DOWN_SINCE_TAG).is_empty()),
        ],
        &[put(1.0)],
        &[],
    );
    let result = record(&config(), &clients, up(), at("2026-12-07T00:01:00Z"), None).await;
    assert!(result.ready && result.warnings.is_empty(), "{result:?}");
    assert!(result.detail.recorded && result.detail.metric_put);
    assert_eq!(result.detail.down_seconds, None);
    assert_eq!(result.detail.failover_execution, None);
    assert_eq!(result.summary, "the primary is up (HTTP 200)");
}

#[tokio::test]
async fn a_down_streak_goes_on_from_the_last_mark_and_a_gap_begins_a_new_one() {
    let previous = mark::WitnessMark {
        seen: "2026-12-07T00:00:00Z".into(),
        up: false,
        down_since: Some("2026-12-06T23:58:00Z".into()),
        probe: "HTTP 503".into(),
    };
    let gap = Duration::from_secs(180);
    let next = next_mark(
        Some(&previous),
        &down("HTTP 503"),
        at("2026-12-07T00:01:00Z"),
        gap,
    );
    assert_eq!(next.down_since.as_deref(), Some("2026-12-06T23:58:00Z"));
    let late = next_mark(
        Some(&previous),
        &down("HTTP 503"),
        at("2026-12-07T00:04:00Z"),
        gap,
    );
    assert_eq!(
        late.down_since.as_deref(),
        Some("2026-12-07T00:04:00Z"),
        "a gap breaks the streak"
    );
    let fresh = next_mark(
        None,
        &down("timed out after 5 s"),
        at("2026-12-07T00:01:00Z"),
        gap,
    );
    assert_eq!(fresh.down_since.as_deref(), Some("2026-12-07T00:01:00Z"));
    assert!(
        next_mark(Some(&previous), &up(), at("2026-12-07T00:01:00Z"), gap)
            .down_since
            .is_none()
    );
}

#[tokio::test]
async fn down_alone_long_enough_with_no_run_since_starts_the_failover_once_by_name() {
    let clients = clients(
        &[
            tags(Some((
                "2026-12-07T00:09:00Z",
                "down",
                "2026-12-07T00:00:00Z",
            ))),
            tagged(|t| value(t, DOWN_SINCE_TAG) == "2026-12-07T00:00:00Z"),
        ],
        &[put(0.0)],
        &[
            no_runs(),
            mock!(aws_sdk_sfn::Client::start_execution)
                .match_requests(|r| {
                    let input: serde_json::Value =
                        serde_json::from_str(r.input().unwrap()).unwrap();
                    r.state_machine_arn() == Some(FAILOVER)
                        && r.name() == Some("witness-1796601600")
                        && input["trigger"] == "witness"
                        && input["dry_run"] == false
                })
                .then_output(|| {
                    StartExecutionOutput::builder()
                        .execution_arn("arn:x:witness-1796601600")
                        .start_date(DateTime::from_secs(0))
                        .build()
                        .unwrap()
                }),
        ],
    );
    let result = record(
        &config(),
        &clients,
        down("HTTP 503"),
        at("2026-12-07T00:10:00Z"),
        None,
    )
    .await;
    assert_eq!(result.detail.down_seconds, Some(600));
    assert_eq!(
        result.detail.failover_execution.as_deref(),
        Some("arn:x:witness-1796601600"),
        "{result:?}"
    );
    assert_eq!(
        parse_time("2026-12-07T00:00:00Z"),
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_601_600))
    );

    // Its next probe: the name is taken, nothing more is started.
    let clients = self::clients(
        &[
            tags(Some((
                "2026-12-07T00:10:00Z",
                "down",
                "2026-12-07T00:00:00Z",
            ))),
            tagged(|_| true),
        ],
        &[put(0.0)],
        &[
            no_runs(),
            mock!(aws_sdk_sfn::Client::start_execution).then_error(|| {
                StartExecutionError::ExecutionAlreadyExists(
                    ExecutionAlreadyExists::builder().message("exists").build(),
                )
            }),
        ],
    );
    let result = record(
        &config(),
        &clients,
        down("HTTP 503"),
        at("2026-12-07T00:11:00Z"),
        None,
    )
    .await;
    assert_eq!(result.detail.failover_execution, None);
    assert!(
        result
            .detail
            .not_started
            .as_deref()
            .unwrap()
            .contains("already started"),
        "{result:?}"
    );
    assert!(result.warnings.is_empty());
}

#[tokio::test]
async fn a_run_that_answered_the_outage_stops_the_witness_but_an_unconfirmed_one_does_not() {
    let since = "2026-12-07T00:00:00Z";
    let second = DateTime::from(at(since)).secs() + 60;
    let failed_over = one_run(
        second,
        ExecutionStatus::Succeeded,
        r#"{"outcome":"failed-over"}"#,
    );
    let clients = clients(
        &[
            tags(Some(("2026-12-07T00:09:00Z", "down", since))),
            tagged(|_| true),
        ],
        &[put(0.0)],
        &failed_over,
    );
    let result = record(
        &config(),
        &clients,
        down("HTTP 503"),
        at("2026-12-07T00:10:00Z"),
        None,
    )
    .await;
    assert_eq!(result.detail.failover_execution, None);
    let why = result.detail.not_started.unwrap();
    assert!(why.contains("SUCCEEDED (failed-over)"), "{why}");

    let running = one_run(second, ExecutionStatus::Running, "null");
    let clients = self::clients(
        &[
            tags(Some(("2026-12-07T00:09:00Z", "down", since))),
            tagged(|_| true),
        ],
        &[put(0.0)],
        &running,
    );
    let result = record(
        &config(),
        &clients,
        down("HTTP 503"),
        at("2026-12-07T00:10:00Z"),
        None,
    )
    .await;
    assert!(result.detail.not_started.unwrap().contains("is running"));

    let [list, describe] = one_run(
        second,
        ExecutionStatus::Succeeded,
        r#"{"outcome":"alarm-unconfirmed"}"#,
    );
    let clients = self::clients(
        &[
            tags(Some(("2026-12-07T00:09:00Z", "down", since))),
            tagged(|_| true),
        ],
        &[put(0.0)],
        &[
            list,
            describe,
            mock!(aws_sdk_sfn::Client::start_execution).then_output(|| {
                StartExecutionOutput::builder()
                    .execution_arn("arn:x:started")
                    .start_date(DateTime::from_secs(0))
                    .build()
                    .unwrap()
            }),
        ],
    );
    let result = record(
        &config(),
        &clients,
        down("HTTP 503"),
        at("2026-12-07T00:10:00Z"),
        None,
    )
    .await;
    assert_eq!(
        result.detail.failover_execution.as_deref(),
        Some("arn:x:started")
    );
}

#[tokio::test]
async fn a_mark_that_cannot_be_written_is_a_warning_and_not_ready() {
    let clients = clients(
        &[
            tags(None),
            mock!(aws_sdk_eventbridge::Client::tag_resource)
                .then_error(|| TagResourceError::unhandled("AccessDeniedException")),
        ],
        &[put(0.0)],
        &[],
    );
    let result = record(
        &config(),
        &clients,
        down("HTTP 500"),
        at("2026-12-07T00:10:00Z"),
        None,
    )
    .await;
    assert!(!result.ready && !result.detail.recorded && result.detail.metric_put);
    assert!(
        result.warnings[0].contains("could not be written"),
        "{:?}",
        result.warnings
    );
}

#[test]
fn the_judge_confirms_only_a_current_down_mark() {
    let now = at("2026-12-07T00:10:00Z");
    let max = mark::DEFAULT_WITNESS_MAX_AGE;
    let read = |seen: &str, state: &str, since: &str| {
        json!({"Tags": [{"Key": SEEN_TAG, "Value": seen}, {"Key": STATE_TAG, "Value": state},
                        {"Key": DOWN_SINCE_TAG, "Value": since},
                        {"Key": "dr-failover:paused-by", "Value": "x"}]})
    };
    assert!(judge(
        &read("2026-12-07T00:09:30Z", "down", "2026-12-07T00:05:00Z"),
        now,
        max
    )
    .confirmed());
    assert!(matches!(
        judge(&read("2026-12-07T00:09:30Z", "up", ""), now, max),
        Verdict::Up { .. }
    ));
    assert!(matches!(
        judge(
            &read("2026-12-07T00:05:00Z", "down", "2026-12-07T00:01:00Z"),
            now,
            max
        ),
        Verdict::Silent { mark: Some(_) }
    ));
    assert_eq!(
        judge(&json!({"Tags": []}), now, max),
        Verdict::Silent { mark: None }
    );
    assert!(matches!(
        judge(&read("yesterday", "down", ""), now, max),
        Verdict::Silent { mark: None }
    ));
    let unread = judge(
        &json!({"Error": "EventBridge.AccessDeniedException", "Cause": "no"}),
        now,
        max,
    );
    assert_eq!(
        unread,
        Verdict::Unread {
            error: "EventBridge.AccessDeniedException: no".into()
        }
    );
    assert!(!unread.confirmed());
    let text =
        serde_json::to_value(judge(&read("2026-12-07T00:09:30Z", "up", ""), now, max)).unwrap();
    assert_eq!(text["verdict"], "up");
    assert_eq!(text["mark"]["seen"], "2026-12-07T00:09:30Z");
}

#[test]
fn the_configuration_names_the_variable_it_refuses() {
    let env = |pairs: &[(&'static str, &'static str)]| {
        let map: std::collections::BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        map
    };
    let base = [
        ("WITNESS_PRIMARY_URL", "https://primary.example.com/health"),
        ("TRIGGER_RULE_ARN", RULE),
        ("FAILOVER_STATE_MACHINE_ARN", FAILOVER),
        ("DEPLOYMENT_NAME", "shop"),
        ("DR_REGION", "eu-central-1"),
    ];
    let good = WitnessConfig::from_source(&env(&base)).unwrap();
    assert_eq!(good.alone, Duration::from_secs(DEFAULT_ALONE_SECONDS));
    let mut bad = base.to_vec();
    bad[0] = ("WITNESS_PRIMARY_URL", "primary.example.com/health");
    assert!(matches!(
        WitnessConfig::from_source(&env(&bad)),
        Err(ConfigError::Invalid {
            name: "WITNESS_PRIMARY_URL",
            ..
        })
    ));
    let mut bad = base.to_vec();
    bad.push(("WITNESS_ALONE_SECONDS", "0"));
    assert!(matches!(
        WitnessConfig::from_source(&env(&bad)),
        Err(ConfigError::Invalid {
            name: "WITNESS_ALONE_SECONDS",
            ..
        })
    ));
}

#[tokio::test]
async fn the_probe_counts_2xx_and_3xx_as_up_and_anything_else_as_down() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for status in ["200 OK", "302 Found", "503 Service Unavailable"] {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 1024];
            let _ = socket.read(&mut buffer).await;
            let answer =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            socket.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    let client = probe::client().unwrap();
    let url: hyper::Uri = format!("http://{address}/health").parse().unwrap();
    let timeout = Duration::from_secs(5);
    assert_eq!(
        probe::probe(&client, &url, timeout).await,
        probe::Probe {
            up: true,
            detail: "HTTP 200".into()
        }
    );
    assert!(probe::probe(&client, &url, timeout).await.up);
    assert_eq!(
        probe::probe(&client, &url, timeout).await,
        probe::Probe {
            up: false,
            detail: "HTTP 503".into()
        }
    );
    // Nothing listens: down, with the connection's error.
    let closed: hyper::Uri = "http://127.0.0.1:9/health".parse().unwrap();
    let refused = probe::probe(&client, &closed, timeout).await;
    assert!(
        !refused.up && refused.detail.starts_with("no answer"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_mark_that_cannot_be_read_goes_on_from_the_one_this_process_recorded() {
    use aws_sdk_eventbridge::operation::list_tags_for_resource::ListTagsForResourceError;
    let clients = clients(
        &[
            mock!(aws_sdk_eventbridge::Client::list_tags_for_resource)
                .then_error(|| ListTagsForResourceError::unhandled("ServiceUnavailable")),
            tagged(|t| value(t, DOWN_SINCE_TAG) == "2026-12-07T00:00:00Z"),
        ],
        &[put(0.0)],
        &[],
    );
    let remembered = mark::WitnessMark {
        seen: "2026-12-07T00:04:00Z".into(),
        up: false,
        down_since: Some("2026-12-07T00:00:00Z".into()),
        probe: "HTTP 503".into(),
    };
    let result = record(
        &config(),
        &clients,
        down("HTTP 503"),
        at("2026-12-07T00:05:00Z"),
        Some(&remembered),
    )
    .await;
    assert_eq!(result.detail.down_seconds, Some(300), "{result:?}");
    assert!(result.detail.recorded);
    assert!(
        result.warnings[0].contains("could not be read"),
        "{:?}",
        result.warnings
    );
}
