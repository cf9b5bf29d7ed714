//! The DNS gate: failover records moved through Route 53's data plane, with no Route 53 API call.
//!
//! With `DNS_GATE=cloudwatch-alarm` ([`GateConfig`]), each failover record's PRIMARY set carries
//! the gate's health check, a Route 53 health check of type `CLOUDWATCH_METRIC` on the gate's
//! alarm in the DR region (the template's `DnsGateHealthCheck` and `DnsGateAlarm`). The flip is
//! one `PutMetricData` of [`GATE_METRIC`] = 1 in the DR region (a regional data-plane call): the
//! alarm goes to ALARM, Route 53's health checkers see it, the health check turns unhealthy, and
//! Route 53's name servers answer the SECONDARY (DR) set ("Active-passive failover",
//! https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-types.html). The alarm
//! treats missing data as `ignore` (the state holds), and the health check's
//! `InsufficientDataHealthStatus` is `LastKnownStatus`: losing the DR region, or the metric
//! stopping, never moves traffic. Fail back puts 0.
//!
//! The safety rule is unchanged: the gate opens only once the DR database accepts writes. The
//! confirmation reads what the zone's authoritative name servers answer, over DNS
//! ([`authoritative`]), not `TestDNSAnswer` (Route 53's API, in us-east-1). Weighted and simple
//! records are still edited through Route 53's API (`super`), after the gate has opened.

pub mod authoritative;
pub mod config;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use serde::{Deserialize, Serialize};

use super::{
    Answer, DnsClients, DnsConfig, DnsError, RecordDetail, RecordSpec, Routing, RoutingKind, Target,
};
use crate::database::{self, DatabaseConfig};
use crate::error::AwsCallError;
use crate::request::{Action, StepRequest};
use authoritative::ServerAnswer;
pub use config::{
    GateConfig, GateMode, NameServers, DEFAULT_NAMESPACE, GATE_DIMENSION, GATE_METRIC,
};

/// How long one DNS question waits for one server.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the gate's part of a call found and did, in `detail.gate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateDetail {
    pub mode: String,
    /// The alarm in the DR region the gate's health check follows.
    pub alarm_name: String,
    /// Its state when read (`OK`, `ALARM`, `INSUFFICIENT_DATA`); null when it could not be read.
    pub alarm_state: Option<String>,
    /// `DnsGate` value this call put: 1 (opened), 0 (closed); null when it put none.
    pub put: Option<u8>,
    /// The name servers asked, `address:port`.
    pub servers: Vec<String>,
    pub health_check_id: Option<String>,
    /// How many of the gated (failover) records answer the target wanted at every server that
    /// answered.
    pub records_answering: usize,
    pub records_gated: usize,
}

/// The records the gate moves: every failover record of the plan.
pub fn is_gated(spec: &RecordSpec) -> bool {
    matches!(spec.routing, Routing::Failover { .. })
}

/// The gate's part of a call: the gated records' details (answers read over DNS), whether the
/// call changed anything, and what to say.
#[derive(Debug, Clone, PartialEq)]
pub struct GateOutcome {
    pub records: Vec<RecordDetail>,
    pub detail: GateDetail,
    pub changed: bool,
    pub ready: bool,
    pub refusals: Vec<String>,
    pub warnings: Vec<String>,
    pub summary: String,
}

/// Runs `request`'s action on the gated records of `config` (those [`is_gated`] selects).
/// `open` is the state wanted: true for a failover (done when every server that answers gives
/// the record's `dr` target), false for fail back (done when they answer, and not `dr`: the
/// PRIMARY set, which the plan does not type).
///
/// # Errors
/// [`DnsError::DatabaseNotWritable`] (apply, the gate stays as it is), or `PutMetricData`'s error.
pub async fn run(
    request: &StepRequest,
    config: &DnsConfig,
    gate: &GateConfig,
    database: &DatabaseConfig,
    clients: &DnsClients,
    open: bool,
) -> Result<GateOutcome, DnsError> {
    let action = request.effective_action();
    let specs: Vec<&RecordSpec> = config.records.iter().filter(|s| is_gated(s)).collect();
    let mut warnings = Vec::new();
    let mut refusals = Vec::new();
    let mut put = None;
    let mut database_note = None;
    match action {
        Action::Plan => {
            if let Ok((writable, summary)) = database::writable(database, &clients.database).await {
                if !writable {
                    database_note = Some(format!(
                        "the database is not writable yet ({summary}), so apply would wait for it"
                    ));
                }
            }
            match attachment(config, gate, clients, &specs).await {
                Ok(problems) => refusals.extend(problems),
                Err(error) => warnings.push(format!(
                    "whether every failover record's PRIMARY set carries the gate's health check is \
                     unchecked: Route 53's API did not answer ({}); moving traffic does not need it",
                    brief(&error)
                )),
            }
        }
        Action::Apply => {
            // `force` does not override this: it is a safety check, not an operator's call.
            let (writable, summary) = database::writable(database, &clients.database).await?;
            if !writable {
                return Err(DnsError::DatabaseNotWritable(summary));
            }
            put_gate(clients, gate, open).await?;
            put = Some(u8::from(open));
        }
        Action::Status => {}
    }
    let alarm_state = match alarm_state(clients, gate).await {
        Ok(None) => {
            if action == Action::Plan {
                refusals.push(format!(
                    "the gate's alarm {} does not exist in {}: putting {GATE_METRIC} would move \
                     nothing (the DR stack creates it with DnsGate: cloudwatch-alarm)",
                    gate.alarm_name, clients.cloudwatch_region
                ));
            }
            None
        }
        Ok(state) => state,
        Err(error) => {
            warnings.push(format!(
                "the gate's alarm {} could not be read: {error}",
                gate.alarm_name
            ));
            None
        }
    };
    let (records, servers, answer_warnings) = read_answers(gate, &specs).await;
    warnings.extend(answer_warnings);
    if action == Action::Plan && open && alarm_state.as_deref() != Some("ALARM") {
        // Readiness runs this plan: a gate that is shut must have a healthy health check, or
        // Route 53 is answering DR already, with the DR database still a replica.
        if let Some(check) = &gate.health_check_id {
            match health_check_healthy(clients, check).await {
                Ok(Some(false)) => refusals.push(format!(
                    "the gate's health check {check} is unhealthy while the gate is shut (alarm {}): \
                     Route 53 answers the SECONDARY (DR) sets already; check the health check's \
                     alarm and InsufficientDataHealthStatus",
                    alarm_state.as_deref().unwrap_or("unread")
                )),
                Ok(_) => {}
                Err(error) => warnings.push(format!(
                    "the gate's health check {check} could not be read ({}); moving traffic does not need it",
                    brief(&error)
                )),
            }
        }
    }
    if action == Action::Plan && open && alarm_state.as_deref() == Some("ALARM") {
        warnings.push(format!(
            "the DNS gate is open (alarm {} in ALARM): the failover records are meant to answer DR; \
             fail back closes it",
            gate.alarm_name
        ));
    }
    let answering = records
        .iter()
        .filter(|r| match (&r.answer, open) {
            (Some(answer), true) => answer.answers_dr,
            (Some(answer), false) => {
                answer.response_code == "NOERROR" && !r.at_dr && !answer.record_data.is_empty()
            }
            (None, _) => false,
        })
        .count();
    let ready = refusals.is_empty() && answering == records.len();
    let side = if open { "DR" } else { "the primary" };
    let summary = match (action, put) {
        (Action::Apply, Some(value)) => format!(
            "{} the DNS gate (PutMetricData {GATE_METRIC}={value} in {}); {answering} of {} failover record(s) answer {side} at the zone's name servers",
            if open { "opened" } else { "closed" },
            clients.cloudwatch_region,
            records.len()
        ),
        (Action::Plan, _) if !refusals.is_empty() => format!("apply would not move {} failover record(s): {}", refusals.len(), refusals.join("; ")),
        (Action::Plan, _) if ready => format!("all {} failover record(s) already answer {side}; apply would change nothing", records.len()),
        (Action::Plan, _) => format!(
            "apply would {} the DNS gate (PutMetricData {GATE_METRIC}={} in {}, no Route 53 API call); {answering} of {} failover record(s) answer {side} now{}",
            if open { "open" } else { "close" },
            u8::from(open),
            clients.cloudwatch_region,
            records.len(),
            database_note.map(|n| format!("; {n}")).unwrap_or_default()
        ),
        _ => format!("{answering} of {} failover record(s) answer {side} at the zone's name servers", records.len()),
    };
    Ok(GateOutcome {
        detail: GateDetail {
            mode: "cloudwatch-alarm".into(),
            alarm_name: gate.alarm_name.clone(),
            alarm_state,
            put,
            servers: servers.iter().map(ToString::to_string).collect(),
            health_check_id: gate.health_check_id.clone(),
            records_answering: answering,
            records_gated: records.len(),
        },
        records,
        changed: put.is_some(),
        ready,
        refusals,
        warnings,
        summary,
    })
}

/// An error in a few words: an AWS call's operation and code (a connection failure's full
/// chain says nothing more to an operator).
fn brief(error: &DnsError) -> String {
    match error {
        DnsError::Aws(call) => format!("{} failed: {}", call.operation, call.code),
        other => other.to_string(),
    }
}

/// `PutMetricData` of [`GATE_METRIC`] (1 open, 0 closed) in the DR region ("PutMetricData",
/// Amazon CloudWatch API Reference,
/// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
async fn put_gate(clients: &DnsClients, gate: &GateConfig, open: bool) -> Result<(), DnsError> {
    let datum = MetricDatum::builder()
        .metric_name(GATE_METRIC)
        .dimensions(
            Dimension::builder()
                .name(GATE_DIMENSION)
                .value(&gate.deployment)
                .build(),
        )
        .value(if open { 1.0 } else { 0.0 })
        .unit(StandardUnit::None)
        .timestamp(aws_smithy_types::DateTime::from(
            std::time::SystemTime::now(),
        ))
        .build();
    clients
        .cloudwatch
        .put_metric_data()
        .namespace(&gate.namespace)
        .metric_data(datum)
        .send()
        .await
        .map_err(|error| AwsCallError::new("PutMetricData", &error))?;
    tracing::info!(open, alarm = gate.alarm_name, "DNS gate metric put");
    Ok(())
}

/// Whether Route 53's health checkers find the gate's health check healthy, by majority of their
/// latest observations (`GetHealthCheckStatus`, Route 53's API: a read-only check for readiness;
/// "GetHealthCheckStatus", https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHealthCheckStatus.html).
/// `None` when no checker reported.
async fn health_check_healthy(clients: &DnsClients, check: &str) -> Result<Option<bool>, DnsError> {
    clients.pace.wait().await;
    let output = clients
        .route53
        .get_health_check_status()
        .health_check_id(check)
        .send()
        .await
        .map_err(|error| AwsCallError::new("GetHealthCheckStatus", &error))?;
    let reports: Vec<bool> = output
        .health_check_observations()
        .iter()
        .filter_map(|o| o.status_report()?.status())
        .map(|status| status.starts_with("Success"))
        .collect();
    if reports.is_empty() {
        return Ok(None);
    }
    let healthy = reports.iter().filter(|h| **h).count();
    Ok(Some(healthy * 2 > reports.len()))
}

/// The gate alarm's state (`DescribeAlarms` in the DR region); `None` when it does not exist.
async fn alarm_state(
    clients: &DnsClients,
    gate: &GateConfig,
) -> Result<Option<String>, AwsCallError> {
    let output = clients
        .cloudwatch
        .describe_alarms()
        .alarm_names(&gate.alarm_name)
        .send()
        .await
        .map_err(|error| AwsCallError::new("DescribeAlarms", &error))?;
    Ok(output
        .metric_alarms()
        .first()
        .and_then(|alarm| alarm.state_value())
        .map(|state| state.as_str().to_owned()))
}

/// For `plan`: the gated records whose PRIMARY set lacks the gate's health check, or that have
/// no SECONDARY set, read from Route 53's listing (its API: may fail while us-east-1 is down).
async fn attachment(
    config: &DnsConfig,
    gate: &GateConfig,
    clients: &DnsClients,
    specs: &[&RecordSpec],
) -> Result<Vec<String>, DnsError> {
    let Some(check) = &gate.health_check_id else {
        return Ok(Vec::new());
    };
    let zone = super::assess::read_zone(clients, &config.zone_id).await?;
    Ok(specs
        .iter()
        .filter_map(|spec| {
            let Routing::Failover { primary_set_identifier, dr_set_identifier, .. } = &spec.routing else {
                return None;
            };
            let sets = zone.of(spec);
            let label = format!("{} {}", spec.name, spec.record_type.as_str());
            let primary = sets.iter().find(|s| s.set_identifier() == Some(primary_set_identifier.as_str()));
            let secondary = sets.iter().find(|s| s.set_identifier() == Some(dr_set_identifier.as_str()));
            match (primary, secondary) {
                (None, _) => Some(format!("{label}: no PRIMARY set {primary_set_identifier}")),
                (_, None) => Some(format!("{label}: no SECONDARY set {dr_set_identifier}: nothing would answer DR")),
                (Some(p), _) if p.health_check_id() != Some(check.as_str()) => Some(format!(
                    "{label}: its PRIMARY set {} the gate's health check {check}, so the gate does not move it \
                     (README, \"Moving records to the DNS gate\")",
                    p.health_check_id().map_or("carries no health check, not".to_owned(), |other| format!("carries health check {other}, not"))
                )),
                _ => None,
            }
        })
        .collect())
}

/// What each gated record answers at the zone's name servers: `at_dr` when every server that
/// answered (at least one) gave the record's `dr` target.
async fn read_answers(
    gate: &GateConfig,
    specs: &[&RecordSpec],
) -> (Vec<RecordDetail>, Vec<SocketAddr>, Vec<String>) {
    let mut warnings = Vec::new();
    let servers = match specs.first() {
        None => Vec::new(),
        Some(first) => {
            match authoritative::servers(&gate.servers, &first.name, QUERY_TIMEOUT).await {
                Ok(servers) => servers,
                Err(error) => {
                    warnings.push(format!("the zone's name servers were not found: {error}"));
                    Vec::new()
                }
            }
        }
    };
    let mut questions = tokio::task::JoinSet::new();
    for (index, spec) in specs.iter().enumerate() {
        for server in &servers {
            let (server, name, kind) = (
                *server,
                spec.name.clone(),
                spec.record_type.as_str().to_owned(),
            );
            questions.spawn(async move {
                (
                    index,
                    authoritative::ask(server, &name, &kind, QUERY_TIMEOUT).await,
                )
            });
        }
    }
    let mut answers: BTreeMap<usize, Vec<ServerAnswer>> = BTreeMap::new();
    while let Some(done) = questions.join_next().await {
        if let Ok((index, answer)) = done {
            answers.entry(index).or_default().push(answer);
        }
    }
    let mut alias_addresses: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut records = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let target = match &spec.routing {
            Routing::Failover { dr, .. } => Some(dr.clone()),
            _ => None,
        };
        let heard = answers.remove(&index).unwrap_or_default();
        let answered: Vec<&ServerAnswer> = heard.iter().filter(|a| a.answered()).collect();
        let mut all = !answered.is_empty();
        for answer in &answered {
            let matches = match &target {
                None => false,
                Some(target) => {
                    target.answered_by(&answer.record_data)
                        || match target {
                            Target::Alias { alias } => {
                                let name = super::normalize(&alias.dns_name);
                                if !alias_addresses.contains_key(&name) {
                                    let found = authoritative::resolve(&name, QUERY_TIMEOUT).await;
                                    alias_addresses.insert(name.clone(), found);
                                }
                                let addresses = &alias_addresses[&name];
                                answer.record_data.iter().any(|d| addresses.contains(d))
                            }
                            Target::Values { .. } => false,
                        }
                }
            };
            all &= matches;
        }
        let first = answered.first().copied().or(heard.first());
        records.push(RecordDetail {
            name: spec.name.clone(),
            record_type: spec.record_type.as_str().to_owned(),
            routing: RoutingKind::Failover,
            current: Vec::new(),
            dr: target,
            at_dr: all,
            changes: Vec::new(),
            problem: None,
            answer: first.map(|a| Answer {
                response_code: a.response_code.clone(),
                record_data: a.record_data.clone(),
                answers_dr: all,
            }),
        });
    }
    (records, servers, warnings)
}
