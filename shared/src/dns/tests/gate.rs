//! The DNS gate ([`crate::dns::gate`]): its configuration, the DNS questions to a name server (a
//! small authoritative server on a loopback UDP port, answering as the test says), and the
//! failover's and fail back's actions with CloudWatch mocked.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};
use hickory_net::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_net::proto::rr::{rdata, RData, Record};

use super::*;
use crate::dns::gate::authoritative::{self, ServerAnswer};
use crate::dns::gate::{GateConfig, NameServers};

const DR_IP: &str = "203.0.113.20";
const PRIMARY_IP: &str = "198.51.100.10";

/// A name server on a free loopback UDP port answering every question `answer(name)` (`None`:
/// REFUSED) with the AA bit; answers how many questions it got.
async fn name_server(answer: fn(&str) -> Option<&'static str>) -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    tokio::spawn(async move {
        let mut buffer = [0u8; 1500];
        while let Ok((size, peer)) = socket.recv_from(&mut buffer).await {
            counter.fetch_add(1, Ordering::SeqCst);
            let query = Message::from_vec(&buffer[..size]).unwrap();
            let question = query.queries[0].clone();
            let name = question.name().to_ascii();
            let mut response =
                Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
            response.metadata.authoritative = true;
            response.add_query(question.clone());
            match answer(&name) {
                Some(ip) => {
                    response.add_answer(Record::from_rdata(
                        question.name().clone(),
                        60,
                        RData::A(rdata::A(ip.parse().unwrap())),
                    ));
                }
                None => response.metadata.response_code = ResponseCode::Refused,
            }
            let _ = socket.send_to(&response.to_vec().unwrap(), peer).await;
        }
    });
    (address, asked)
}

fn gate_config(server: SocketAddr) -> DnsConfig {
    let records = json!([
        {"name": "app.example.com.", "type": "A", "routing": "failover",
         "primary_set_identifier": "primary", "dr_set_identifier": "secondary",
         "dr": {"values": [DR_IP], "ttl": 60}}
    ]);
    let (names, types) = allowed(&records);
    let records = records.to_string();
    let servers = server.to_string();
    DnsConfig::from_source(&[
        ("DNS_HOSTED_ZONE_ID", ZONE),
        ("DNS_RECORDS", records.as_str()),
        ("DNS_ALLOWED_RECORD_NAMES", names.as_str()),
        ("DNS_ALLOWED_RECORD_TYPES", types.as_str()),
        ("DNS_GATE", "cloudwatch-alarm"),
        ("DNS_GATE_ALARM_NAME", "app-dr-failover-dns-gate"),
        ("DNS_GATE_HEALTH_CHECK_ID", "hc-gate"),
        ("DEPLOYMENT_NAME", "app"),
        ("DNS_AUTHORITATIVE_SERVERS", servers.as_str()),
    ])
    .unwrap()
}

fn alarm(state: StateValue) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(|r| r.alarm_names() == ["app-dr-failover-dns-gate"])
        .then_output(move || {
            DescribeAlarmsOutput::builder()
                .metric_alarms(MetricAlarm::builder().state_value(state.clone()).build())
                .build()
        })
}

/// `PutMetricData` of DnsGate = `value` for deployment app in namespace DrFailover.
fn put(value: f64) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .match_requests(move |r| {
            let datum = &r.metric_data()[0];
            r.namespace() == Some("DrFailover")
                && datum.metric_name() == Some("DnsGate")
                && datum.value() == Some(value)
                && datum.dimensions()[0].value() == Some("app")
        })
        .then_output(|| PutMetricDataOutput::builder().build())
}

/// Route 53's health checkers' latest observations of the gate's health check.
fn checkers(healthy: bool) -> Rule {
    use aws_sdk_route53::operation::get_health_check_status::GetHealthCheckStatusOutput;
    use aws_sdk_route53::types::{HealthCheckObservation, StatusReport};
    mock!(Route53::get_health_check_status)
        .match_requests(|r| r.health_check_id() == Some("hc-gate"))
        .then_output(move || {
            let status = if healthy {
                "Success: alarm OK"
            } else {
                "Failure: alarm ALARM"
            };
            GetHealthCheckStatusOutput::builder()
                .set_health_check_observations(Some(
                    (0..3)
                        .map(|_| {
                            HealthCheckObservation::builder()
                                .status_report(StatusReport::builder().status(status).build())
                                .build()
                        })
                        .collect(),
                ))
                .build()
                .unwrap()
        })
}

fn checkers_unreachable() -> Rule {
    use aws_sdk_route53::operation::get_health_check_status::GetHealthCheckStatusError;
    mock!(Route53::get_health_check_status)
        .sequence()
        .error(|| GetHealthCheckStatusError::unhandled("connection reset"))
        .repeatedly()
        .build()
}

/// Route 53's API not answering a listing (us-east-1 down), however often asked.
fn listing_unreachable() -> Rule {
    mock!(Route53::list_resource_record_sets)
        .sequence()
        .error(|| ListResourceRecordSetsError::unhandled("connection reset"))
        .repeatedly()
        .build()
}

/// flip-dns's plan with the gate against `server`, the other services answering by the rules.
async fn plan_with(
    server: SocketAddr,
    route53: &[&Rule],
    rds: &[&Rule],
    cloudwatch: &[&Rule],
) -> DnsResult {
    let clients = gate_clients(route53, rds, cloudwatch);
    handle(
        request(Action::Plan),
        &gate_config(server),
        &database(),
        &clients,
    )
    .await
    .unwrap()
}

fn gate_clients(route53: &[&Rule], rds: &[&Rule], cloudwatch: &[&Rule]) -> DnsClients {
    DnsClients {
        cloudwatch: mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            cloudwatch.iter().copied(),
            |c| c.retry_config(crate::testing::no_retries())
        ),
        ..clients_with_database(route53, rds)
    }
}

fn database() -> DatabaseConfig {
    DatabaseConfig::Instance {
        replica_id: "db-dr".into(),
        max_lag_seconds: 300,
        backup_retention_days: 7,
    }
}

#[test]
fn the_gate_is_off_unless_named_and_a_wrong_one_is_refused_by_name() {
    assert_eq!(GateConfig::from_source(&[("DNS_GATE", "")]).unwrap(), None);
    assert_eq!(
        GateConfig::from_source(&[("DNS_GATE", "off")]).unwrap(),
        None
    );
    let wrong = GateConfig::from_source(&[("DNS_GATE", "route53-arc")]).unwrap_err();
    assert!(
        matches!(
            wrong,
            ConfigError::Invalid {
                name: "DNS_GATE",
                ..
            }
        ),
        "{wrong:?}"
    );
    let unnamed =
        GateConfig::from_source(&[("DNS_GATE", "cloudwatch-alarm"), ("DEPLOYMENT_NAME", "app")])
            .unwrap_err();
    assert_eq!(unnamed, ConfigError::Missing("DNS_GATE_ALARM_NAME"));
    let bad = GateConfig::from_source(&[
        ("DNS_GATE", "cloudwatch-alarm"),
        ("DNS_GATE_ALARM_NAME", "a"),
        ("DEPLOYMENT_NAME", "app"),
        (
            "DNS_AUTHORITATIVE_SERVERS",
            "127.0.0.1:53,ns-1.awsdns-01.org",
        ),
    ])
    .unwrap_err();
    assert!(
        matches!(
            bad,
            ConfigError::Invalid {
                name: "DNS_AUTHORITATIVE_SERVERS",
                ..
            }
        ),
        "{bad:?}"
    );
    let gate = GateConfig::from_source(&[
        ("DNS_GATE", "cloudwatch-alarm"),
        ("DNS_GATE_ALARM_NAME", "a"),
        ("DEPLOYMENT_NAME", "app"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(gate.servers, NameServers::Discover);
    assert_eq!(gate.namespace, "DrFailover");
}

#[tokio::test]
async fn a_name_server_is_asked_directly_and_its_code_spelt_as_dns_tools_do() {
    let (server, _) = name_server(|name| (name == "app.example.com.").then_some(DR_IP)).await;
    let answer = authoritative::ask(server, "app.example.com.", "A", Duration::from_secs(2)).await;
    assert_eq!(
        answer,
        ServerAnswer {
            server,
            response_code: "NOERROR".into(),
            record_data: vec![DR_IP.into()],
            authoritative: true,
        }
    );
    assert!(answer.answered());
    let refused =
        authoritative::ask(server, "other.example.org.", "A", Duration::from_secs(2)).await;
    assert_eq!(refused.response_code, "REFUSED");
    assert!(!refused.answered());
}

#[tokio::test]
async fn a_name_server_that_does_not_answer_is_a_timeout_not_an_answer() {
    // A bound socket that never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = silent.local_addr().unwrap();
    let answer =
        authoritative::ask(server, "app.example.com.", "A", Duration::from_millis(300)).await;
    assert_eq!(answer.response_code, "TIMEOUT");
    assert!(!answer.answered());
}

#[tokio::test]
async fn apply_opens_the_gate_without_any_route53_call_and_is_ready_once_dns_answers_dr() {
    let (server, asked) = name_server(|_| Some(DR_IP)).await;
    let opened = put(1.0);
    let clients = gate_clients(
        &[],
        &[&replica(None)],
        &[&opened, &alarm(StateValue::Alarm)],
    );
    let result = handle(
        request(Action::Apply),
        &gate_config(server),
        &database(),
        &clients,
    )
    .await
    .unwrap();
    assert_eq!(opened.num_calls(), 1);
    assert!(result.changed && result.ready, "{result:?}");
    let gate = result.detail.gate.clone().unwrap();
    assert_eq!(gate.put, Some(1));
    assert_eq!(gate.alarm_state.as_deref(), Some("ALARM"));
    assert_eq!((gate.records_gated, gate.records_answering), (1, 1));
    assert_eq!(
        result.detail.records[0]
            .answer
            .as_ref()
            .unwrap()
            .record_data,
        vec![DR_IP]
    );
    assert!(asked.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn apply_leaves_the_gate_shut_while_the_database_is_a_replica() {
    let (server, _) = name_server(|_| Some(PRIMARY_IP)).await;
    let opened = put(1.0);
    let clients = gate_clients(&[], &[&replica(Some("db-primary"))], &[&opened]);
    let error = handle(
        request(Action::Apply),
        &gate_config(server),
        &database(),
        &clients,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, DnsError::DatabaseNotWritable(_)),
        "{error:?}"
    );
    assert_eq!(opened.num_calls(), 0);
}

#[tokio::test]
async fn status_waits_while_the_name_servers_still_answer_the_primary() {
    let (server, _) = name_server(|_| Some(PRIMARY_IP)).await;
    let clients = gate_clients(&[], &[], &[&alarm(StateValue::Ok)]);
    let result = handle(
        status_request(),
        &gate_config(server),
        &database(),
        &clients,
    )
    .await
    .unwrap();
    assert!(!result.ready && !result.changed, "{result:?}");
    assert!(
        result
            .summary
            .contains("0 of 1 failover record(s) answer DR"),
        "{}",
        result.summary
    );
}

#[tokio::test]
async fn plan_without_route53s_api_warns_and_a_primary_without_the_gate_is_refused() {
    let (server, _) = name_server(|_| Some(PRIMARY_IP)).await;
    let (down, checks_down) = (listing_unreachable(), checkers_unreachable());
    let result = plan_with(
        server,
        &[&down, &checks_down],
        &[&replica(None)],
        &[&alarm(StateValue::Ok)],
    )
    .await;
    assert!(result.refusals.is_empty(), "{result:?}");
    for expected in ["Route 53's API did not answer", "hc-gate could not be read"] {
        assert!(
            result.warnings.iter().any(|w| w.contains(expected)),
            "{expected}: {:?}",
            result.warnings
        );
    }

    let ungated = mock!(Route53::list_resource_record_sets).then_output(|| {
        ListResourceRecordSetsOutput::builder()
            .resource_record_sets(
                values("app.example.com.", &[PRIMARY_IP])
                    .set_identifier("primary")
                    .failover(ResourceRecordSetFailover::Primary)
                    .build()
                    .unwrap(),
            )
            .resource_record_sets(
                values("app.example.com.", &[DR_IP])
                    .set_identifier("secondary")
                    .failover(ResourceRecordSetFailover::Secondary)
                    .build()
                    .unwrap(),
            )
            .is_truncated(false)
            .max_items(300)
            .build()
            .unwrap()
    });
    let healthy = checkers(true);
    let result = plan_with(
        server,
        &[&ungated, &healthy],
        &[&replica(None)],
        &[&alarm(StateValue::Ok)],
    )
    .await;
    assert!(!result.ready);
    let expected = "carries no health check, not the gate's health check hc-gate";
    assert!(
        result.refusals.iter().any(|r| r.contains(expected)),
        "{:?}",
        result.refusals
    );
}

#[tokio::test]
async fn fail_back_closes_the_gate_and_is_done_when_the_primary_answers() {
    let (server, _) = name_server(|_| Some(PRIMARY_IP)).await;
    let closed = put(0.0);
    let clients = gate_clients(&[], &[&replica(None)], &[&closed, &alarm(StateValue::Ok)]);
    let config = gate_config(server);
    let gate = config.gate.clone().unwrap();
    let result = through_gate(
        request(Action::Apply),
        &config,
        &gate,
        &database(),
        &clients,
        false,
    )
    .await
    .unwrap();
    assert_eq!(closed.num_calls(), 1);
    assert!(result.ready, "{result:?}");
    assert!(
        result.summary.starts_with("closed the DNS gate"),
        "{}",
        result.summary
    );
}

#[tokio::test]
async fn plan_refuses_a_gate_whose_alarm_does_not_exist() {
    let (server, _) = name_server(|_| Some(PRIMARY_IP)).await;
    let none = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .then_output(|| DescribeAlarmsOutput::builder().build());
    let (down, checks_down) = (listing_unreachable(), checkers_unreachable());
    let result = plan_with(server, &[&down, &checks_down], &[&replica(None)], &[&none]).await;
    let expected = "app-dr-failover-dns-gate does not exist";
    assert!(
        result.refusals.iter().any(|r| r.contains(expected)),
        "{:?}",
        result.refusals
    );
}

#[tokio::test]
async fn plan_refuses_a_shut_gate_whose_health_check_is_unhealthy() {
    let (server, _) = name_server(|_| Some(DR_IP)).await;
    let (down, unhealthy) = (listing_unreachable(), checkers(false));
    let primary = replica(Some("db-primary"));
    let result = plan_with(
        server,
        &[&down, &unhealthy],
        &[&primary],
        &[&alarm(StateValue::Ok)],
    )
    .await;
    let expected = "hc-gate is unhealthy while the gate is shut";
    assert!(
        result.refusals.iter().any(|r| r.contains(expected)),
        "{:?}",
        result.refusals
    );
}
