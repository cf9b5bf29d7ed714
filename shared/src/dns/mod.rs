//! The DNS step: point the recovery plan's Route 53 records at the DR region.
//!
//! Idempotency comes from reading the record sets first: a record that already answers DR is left
//! alone, and when every record does, `apply` makes no call that changes anything. The one change
//! `apply` makes is a single atomic `ChangeResourceRecordSets` batch of UPSERTs, and it is only
//! sent once the DR database accepts writes: DNS must never send traffic to a region that cannot
//! take it.

use std::collections::BTreeSet;

use aws_config::SdkConfig;
use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsError;
use aws_sdk_route53::operation::get_change::GetChangeError;
use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsError;
use aws_sdk_route53::operation::test_dns_answer::TestDNSAnswerError;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord,
    ResourceRecordSet, ResourceRecordSetFailover, RrType,
};
use aws_smithy_types::error::operation::BuildError;
use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError, Source};
use crate::database::{self, DatabaseClients, DatabaseConfig, DatabaseError};
use crate::error::{AwsCallError, ErrorKind, StepError};
use crate::request::{Action, StepRequest};
use crate::result::StepResult;

pub const STEP: &str = "flip-dns";

/// TTL of a simple record's DR values when `DNS_RECORDS` gives none.
pub const DEFAULT_TTL: i64 = 60;
/// Weight of the DR set of a weighted record when `DNS_RECORDS` gives none.
pub const DEFAULT_DR_WEIGHT: i64 = 100;
/// Route 53 rejects a change batch comment longer than this.
const MAX_COMMENT_CHARS: usize = 256;

/// The zone and the records this step flips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    pub zone_id: String,
    pub records: Vec<RecordSpec>,
}

/// One record (name and type) and how it reaches DR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpec {
    /// Fully qualified, with the trailing dot, as configured.
    pub name: String,
    pub record_type: RrType,
    pub routing: Routing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// One record set; the flip replaces its target with `dr`.
    Simple { dr: Target },
    /// Two weighted sets; the flip gives the DR set `dr_weight` and the primary set 0.
    Weighted {
        primary_set_identifier: String,
        dr_set_identifier: String,
        dr_weight: i64,
    },
    /// A PRIMARY and a SECONDARY set; the flip swaps their targets and health checks, so the
    /// PRIMARY answers `dr`.
    Failover {
        primary_set_identifier: String,
        dr_set_identifier: String,
        dr: Target,
    },
}

impl Routing {
    fn kind(&self) -> RoutingKind {
        match self {
            Routing::Simple { .. } => RoutingKind::Simple,
            Routing::Weighted { .. } => RoutingKind::Weighted,
            Routing::Failover { .. } => RoutingKind::Failover,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoutingKind {
    Simple,
    Weighted,
    Failover,
}

/// What a record set answers: values with their TTL, or an alias. Serialized in the same shape as
/// `DNS_RECORDS` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Target {
    Values { values: Vec<String>, ttl: i64 },
    Alias { alias: Alias },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    pub hosted_zone_id: String,
    pub dns_name: String,
    #[serde(default)]
    pub evaluate_target_health: bool,
}

impl Target {
    /// Whether both answer the same. TTL and `evaluate_target_health` do not change where
    /// traffic goes, so they are not compared.
    pub fn answers_like(&self, other: &Target) -> bool {
        match (self, other) {
            (Target::Values { values: a, .. }, Target::Values { values: b, .. }) => {
                normalized_set(a) == normalized_set(b)
            }
            (Target::Alias { alias: a }, Target::Alias { alias: b }) => {
                zone_id(&a.hosted_zone_id).eq_ignore_ascii_case(zone_id(&b.hosted_zone_id))
                    && normalize(&a.dns_name) == normalize(&b.dns_name)
            }
            _ => false,
        }
    }

    /// Whether a DNS answer's record data is this target's.
    fn answered_by(&self, record_data: &[String]) -> bool {
        match self {
            Target::Values { values, .. } => {
                !record_data.is_empty() && normalized_set(record_data) == normalized_set(values)
            }
            Target::Alias { alias } => {
                let name = normalize(&alias.dns_name);
                record_data.iter().any(|data| normalize(data) == name)
            }
        }
    }
}

fn zone_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

/// Route 53 answers names in lower case with any character outside `a-z0-9-_` escaped as `\ddd`
/// (octal), and with a trailing dot; people write them otherwise. Both compare equal after this.
pub fn normalize(name: &str) -> String {
    let mut out = Vec::with_capacity(name.len());
    let bytes = name.trim().as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 4)
            .filter(|digits| digits.iter().all(|d| (b'0'..=b'7').contains(d)))
            .and_then(|digits| u8::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok());
        match (bytes[i], escaped) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    let mut text = String::from_utf8_lossy(&out).to_lowercase();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

fn normalized_set(values: &[String]) -> BTreeSet<String> {
    values.iter().map(|value| normalize(value)).collect()
}

/// `DNS_RECORDS` as written; [`DnsConfig::from_source`] checks it and fills in defaults.
#[derive(Debug, Deserialize)]
#[serde(tag = "routing", rename_all = "lowercase", deny_unknown_fields)]
enum RawRecord {
    Simple {
        name: String,
        #[serde(rename = "type")]
        record_type: String,
        dr: RawTarget,
    },
    Weighted {
        name: String,
        #[serde(rename = "type")]
        record_type: String,
        primary_set_identifier: String,
        dr_set_identifier: String,
        #[serde(default)]
        dr_weight: Option<i64>,
    },
    Failover {
        name: String,
        #[serde(rename = "type")]
        record_type: String,
        primary_set_identifier: String,
        dr_set_identifier: String,
        #[serde(default)]
        dr: Option<RawTarget>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    #[serde(default)]
    values: Option<Vec<String>>,
    #[serde(default)]
    ttl: Option<i64>,
    #[serde(default)]
    alias: Option<Alias>,
}

impl DnsConfig {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let zone_id = config::required(source, "DNS_HOSTED_ZONE_ID")?;
        let raw: Vec<RawRecord> = config::json(source, "DNS_RECORDS")?;
        if raw.is_empty() {
            return Err(invalid(
                "the list is empty: name at least one record".into(),
            ));
        }
        let records = raw
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                RecordSpec::from_raw(record)
                    .map_err(|reason| invalid(format!("at [{index}]: {reason}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = BTreeSet::new();
        for (index, record) in records.iter().enumerate() {
            if !seen.insert((
                normalize(&record.name),
                record.record_type.as_str().to_owned(),
            )) {
                return Err(invalid(format!(
                    "at [{index}]: {} {} is listed twice",
                    record.name,
                    record.record_type.as_str()
                )));
            }
        }
        Ok(DnsConfig { zone_id, records })
    }
}

fn invalid(reason: String) -> ConfigError {
    ConfigError::Invalid {
        name: "DNS_RECORDS",
        reason,
    }
}

impl RecordSpec {
    fn from_raw(raw: RawRecord) -> Result<Self, String> {
        let (name, record_type, routing) = match raw {
            RawRecord::Simple {
                name,
                record_type,
                dr,
            } => (name, record_type, Routing::Simple { dr: target(dr)? }),
            RawRecord::Weighted {
                name,
                record_type,
                primary_set_identifier,
                dr_set_identifier,
                dr_weight,
            } => {
                set_identifiers(&primary_set_identifier, &dr_set_identifier)?;
                let dr_weight = dr_weight.unwrap_or(DEFAULT_DR_WEIGHT);
                if !(1..=255).contains(&dr_weight) {
                    return Err(format!("dr_weight {dr_weight} is outside 1..=255"));
                }
                let routing = Routing::Weighted {
                    primary_set_identifier,
                    dr_set_identifier,
                    dr_weight,
                };
                (name, record_type, routing)
            }
            RawRecord::Failover {
                name,
                record_type,
                primary_set_identifier,
                dr_set_identifier,
                dr,
            } => {
                set_identifiers(&primary_set_identifier, &dr_set_identifier)?;
                let dr = dr.ok_or(
                    "a failover record needs \"dr\": the target the PRIMARY set answers once flipped",
                )?;
                let routing = Routing::Failover {
                    primary_set_identifier,
                    dr_set_identifier,
                    dr: target(dr)?,
                };
                (name, record_type, routing)
            }
        };
        if !name.ends_with('.') || name.len() < 2 {
            return Err(format!(
                "name {name:?} must be fully qualified, ending with '.'"
            ));
        }
        if !RrType::values().contains(&record_type.as_str()) {
            return Err(format!(
                "type {record_type:?} is not a Route 53 record type"
            ));
        }
        Ok(RecordSpec {
            name,
            record_type: RrType::from(record_type.as_str()),
            routing,
        })
    }
}

fn set_identifiers(primary: &str, dr: &str) -> Result<(), String> {
    if primary.trim().is_empty() || dr.trim().is_empty() {
        return Err("primary_set_identifier and dr_set_identifier must not be empty".into());
    }
    if primary == dr {
        return Err(format!(
            "primary_set_identifier and dr_set_identifier are both {primary:?}"
        ));
    }
    Ok(())
}

fn target(raw: RawTarget) -> Result<Target, String> {
    match raw {
        RawTarget {
            values: Some(values),
            ttl,
            alias: None,
        } => {
            if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                return Err("dr.values must list at least one non-empty value".into());
            }
            let ttl = ttl.unwrap_or(DEFAULT_TTL);
            if ttl < 0 {
                return Err(format!("dr.ttl {ttl} is negative"));
            }
            Ok(Target::Values { values, ttl })
        }
        RawTarget {
            values: None,
            ttl: None,
            alias: Some(alias),
        } => {
            if !alias.dns_name.ends_with('.') || alias.hosted_zone_id.trim().is_empty() {
                return Err(
                    "dr.alias needs a hosted_zone_id and a dns_name ending with '.'".into(),
                );
            }
            Ok(Target::Alias { alias })
        }
        RawTarget { alias: Some(_), .. } => Err("dr.alias takes neither values nor ttl".into()),
        RawTarget { .. } => {
            Err("dr needs either \"values\" (with an optional \"ttl\") or \"alias\"".into())
        }
    }
}

/// The clients this step uses: Route 53 (global) and the DR region's database clients, to ask
/// whether the database is writable.
#[derive(Debug, Clone)]
pub struct DnsClients {
    pub route53: aws_sdk_route53::Client,
    pub database: DatabaseClients,
}

impl DnsClients {
    /// `dr` must be configured for the DR region.
    pub fn new(dr: &SdkConfig) -> Self {
        DnsClients {
            route53: aws_sdk_route53::Client::new(dr),
            database: DatabaseClients::new(dr),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DnsError {
    #[error("hosted zone {0} not found")]
    ZoneNotFound(String),
    #[error("record sets not found: {}", .0.join("; "))]
    RecordMissing(Vec<String>),
    #[error("record sets are not as DNS_RECORDS describes them: {}", .0.join("; "))]
    UnexpectedShape(Vec<String>),
    #[error("refusing to point DNS at DR: the DR database is not writable yet ({0})")]
    DatabaseNotWritable(String),
    #[error("could not tell whether the DR database is writable: {0}")]
    Database(#[from] DatabaseError),
    /// Route 53 rejected the batch as a whole (for instance a health check or alias target it
    /// does not accept); nothing changed, and sending the same batch again will not help.
    #[error("Route 53 rejected the change batch: {}", .0.join("; "))]
    InvalidChangeBatch(Vec<String>),
    #[error("Route 53 change {0} not found")]
    ChangeNotFound(String),
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl StepError for DnsError {
    fn kind(&self) -> ErrorKind {
        match self {
            DnsError::ZoneNotFound(_)
            | DnsError::RecordMissing(_)
            | DnsError::ChangeNotFound(_) => ErrorKind::NotFound,
            DnsError::UnexpectedShape(_) | DnsError::InvalidChangeBatch(_) => ErrorKind::Refused,
            DnsError::DatabaseNotWritable(_) => ErrorKind::NotReady,
            DnsError::Database(error) => error.kind(),
            DnsError::Aws(error) => error.kind(),
        }
    }
}

/// What the step found and did; the same shape for every action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsDetail {
    pub zone_id: String,
    pub records: Vec<RecordDetail>,
    /// Whether the DR database accepts writes (`plan` and `apply`); `apply` refuses until it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_writable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The Route 53 change `apply` made, or `status` waited for. Always present (null when there
    /// was none): the state machine passes it to `status` by path, and a missing path fails there.
    pub change_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordDetail {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub routing: RoutingKind,
    /// The record sets as Route 53 holds them, before any change this call made.
    pub current: Vec<RecordSet>,
    /// What the record answers once flipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dr: Option<Target>,
    pub at_dr: bool,
    /// The exact record sets `apply` UPSERTs (would, for `plan`); empty when at DR.
    pub changes: Vec<RecordSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// The read-back (`status`, and `apply` when it finds nothing to change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
}

/// One record set of a record, in the terms the flip cares about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// `PRIMARY` or `SECONDARY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_id: Option<String>,
}

/// Why a record cannot be flipped as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    Missing(String),
    Unexpected(String),
}

impl Problem {
    fn text(&self) -> &str {
        match self {
            Problem::Missing(text) | Problem::Unexpected(text) => text,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub response_code: String,
    pub record_data: Vec<String>,
    pub answers_dr: bool,
}

pub type DnsResult = StepResult<DnsDetail>;

/// Runs one action of the DNS step. `database` names the DR database that must be writable
/// before `apply` changes anything.
pub async fn handle(
    request: StepRequest,
    config: &DnsConfig,
    database: &DatabaseConfig,
    clients: &DnsClients,
) -> Result<DnsResult, DnsError> {
    let action = request.effective_action();
    let mut records = Vec::with_capacity(config.records.len());
    for spec in &config.records {
        let sets = read_record_sets(clients, &config.zone_id, spec).await?;
        records.push(assess(spec, &sets));
    }
    let detail = DnsDetail {
        zone_id: config.zone_id.clone(),
        records,
        database_writable: None,
        database: None,
        change_id: None,
        change_status: None,
    };
    match action {
        Action::Plan => plan(&request, database, clients, detail).await,
        Action::Apply => apply(&request, config, database, clients, detail).await,
        Action::Status => status(&request, config, clients, detail).await,
    }
}

fn result(request: &StepRequest, action: Action, detail: DnsDetail) -> DnsResult {
    StepResult {
        step: STEP.into(),
        action,
        dry_run: request.dry_run,
        changed: false,
        ready: false,
        refusals: Vec::new(),
        warnings: Vec::new(),
        summary: String::new(),
        detail,
        wait: None,
    }
}

fn all_at_dr(detail: &DnsDetail) -> bool {
    detail
        .records
        .iter()
        .all(|r| r.at_dr && r.problem.is_none())
}

fn all_answer_dr(detail: &DnsDetail) -> bool {
    detail
        .records
        .iter()
        .all(|r| r.answer.as_ref().is_some_and(|a| a.answers_dr))
}

fn pending_sets(detail: &DnsDetail) -> usize {
    detail.records.iter().map(|r| r.changes.len()).sum()
}

async fn plan(
    request: &StepRequest,
    database: &DatabaseConfig,
    clients: &DnsClients,
    mut detail: DnsDetail,
) -> Result<DnsResult, DnsError> {
    // Informational only: the database is promoted after this plan is made, so a replica now is
    // no reason to refuse; `apply` checks again and waits.
    match database::writable(database, &clients.database).await {
        Ok((writable, summary)) => {
            detail.database_writable = Some(writable);
            detail.database = Some(summary);
        }
        Err(error) => detail.database = Some(format!("could not tell: {error}")),
    }
    let refusals: Vec<String> = detail
        .records
        .iter()
        .filter_map(|r| r.problem.as_ref().map(|p| p.text().to_owned()))
        .collect();
    let ready = refusals.is_empty() && all_at_dr(&detail);
    let summary = if !refusals.is_empty() {
        format!(
            "apply would refuse: {} record(s) not as configured",
            refusals.len()
        )
    } else if ready {
        format!(
            "all {} record(s) already point at DR; apply would change nothing",
            detail.records.len()
        )
    } else {
        let waits = if detail.database_writable == Some(true) {
            ""
        } else {
            "; the DR database is not writable yet, so apply would wait for it"
        };
        format!(
            "apply would UPSERT {} record set(s) in zone {} in one change{waits}",
            pending_sets(&detail),
            detail.zone_id
        )
    };
    let mut out = result(request, Action::Plan, detail);
    out.ready = ready;
    out.refusals = refusals;
    out.summary = summary;
    Ok(out)
}

async fn apply(
    request: &StepRequest,
    config: &DnsConfig,
    database: &DatabaseConfig,
    clients: &DnsClients,
    mut detail: DnsDetail,
) -> Result<DnsResult, DnsError> {
    let (missing, unexpected): (Vec<&Problem>, Vec<&Problem>) = detail
        .records
        .iter()
        .filter_map(|r| r.problem.as_ref())
        .partition(|p| matches!(p, Problem::Missing(_)));
    if !missing.is_empty() {
        return Err(DnsError::RecordMissing(texts(&missing)));
    }
    if !unexpected.is_empty() {
        return Err(DnsError::UnexpectedShape(texts(&unexpected)));
    }

    if all_at_dr(&detail) {
        // A change this run submitted earlier (the state machine passes its id back) must be
        // INSYNC before DNS counts as done, whoever finds the records already at DR.
        let in_sync = match &request.change_id {
            Some(change_id) => change_in_sync(clients, change_id, &mut detail).await?,
            None => true,
        };
        read_back(clients, config, &mut detail).await?;
        let ready = in_sync && all_answer_dr(&detail);
        let mut out = result(request, Action::Apply, detail);
        out.ready = ready;
        out.summary = format!(
            "all {} record(s) already point at DR; nothing changed{}",
            out.detail.records.len(),
            if ready {
                ""
            } else {
                " (not every record answers DR yet)"
            }
        );
        return Ok(out);
    }

    // `force` does not override this: it is a safety check, not an operator's judgement call.
    let (writable, summary) = database::writable(database, &clients.database).await?;
    detail.database_writable = Some(writable);
    detail.database = Some(summary.clone());
    if !writable {
        return Err(DnsError::DatabaseNotWritable(summary));
    }

    let batch = change_batch(config, &detail, request.execution_id.as_deref())?;
    let output = clients
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(&config.zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(ChangeResourceRecordSetsError::NoSuchHostedZone(_)) => {
                DnsError::ZoneNotFound(config.zone_id.clone())
            }
            Some(ChangeResourceRecordSetsError::InvalidChangeBatch(invalid)) => {
                let mut messages = invalid.messages().to_vec();
                messages.extend(invalid.message().map(str::to_owned));
                DnsError::InvalidChangeBatch(messages)
            }
            _ => AwsCallError::new("ChangeResourceRecordSets", &error).into(),
        })?;
    let (change_id, change_status) = output
        .change_info()
        .map(|info| (info.id().to_owned(), info.status().clone()))
        .unwrap_or_else(|| (String::new(), ChangeStatus::Pending));
    tracing::info!(
        change_id,
        status = change_status.as_str(),
        "change submitted"
    );
    let sets = pending_sets(&detail);
    detail.change_id = Some(change_id.clone());
    detail.change_status = Some(change_status.as_str().to_owned());
    let ready = if change_status == ChangeStatus::Insync {
        read_back(clients, config, &mut detail).await?;
        all_answer_dr(&detail)
    } else {
        false
    };
    let mut out = result(request, Action::Apply, detail);
    out.changed = true;
    out.ready = ready;
    out.summary = format!(
        "submitted change {change_id} UPSERTing {sets} record set(s); status {}",
        change_status.as_str()
    );
    Ok(out)
}

fn texts(problems: &[&Problem]) -> Vec<String> {
    problems.iter().map(|p| p.text().to_owned()).collect()
}

async fn status(
    request: &StepRequest,
    config: &DnsConfig,
    clients: &DnsClients,
    mut detail: DnsDetail,
) -> Result<DnsResult, DnsError> {
    let in_sync = match &request.change_id {
        None => true,
        Some(change_id) => change_in_sync(clients, change_id, &mut detail).await?,
    };
    read_back(clients, config, &mut detail).await?;
    let answering = detail
        .records
        .iter()
        .filter(|r| r.answer.as_ref().is_some_and(|a| a.answers_dr))
        .count();
    let total = detail.records.len();
    let ready = in_sync && answering == total;
    let mut out = result(request, Action::Status, detail);
    out.ready = ready;
    out.summary = match &out.detail.change_status {
        Some(status) => format!("change {status}; {answering} of {total} record(s) answer DR"),
        None => format!("{answering} of {total} record(s) answer DR"),
    };
    Ok(out)
}

/// Whether Route 53 reports `change_id` INSYNC (`GetChange`); records its status in `detail`.
async fn change_in_sync(
    clients: &DnsClients,
    change_id: &str,
    detail: &mut DnsDetail,
) -> Result<bool, DnsError> {
    let output = clients
        .route53
        .get_change()
        .id(change_id)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(GetChangeError::NoSuchChange(_)) => DnsError::ChangeNotFound(change_id.to_owned()),
            _ => AwsCallError::new("GetChange", &error).into(),
        })?;
    let status = output
        .change_info()
        .map(|info| info.status().clone())
        .unwrap_or(ChangeStatus::Pending);
    detail.change_id = Some(change_id.to_owned());
    detail.change_status = Some(status.as_str().to_owned());
    Ok(status == ChangeStatus::Insync)
}

/// The record sets at the record's name and type. Route 53 lists a zone in order from a start
/// name and type, so the listing starts there and stops at the first set past them. The SDK has no
/// paginator for this operation: its next page is named by name, type and set identifier.
async fn read_record_sets(
    clients: &DnsClients,
    zone_id: &str,
    spec: &RecordSpec,
) -> Result<Vec<ResourceRecordSet>, DnsError> {
    let wanted = normalize(&spec.name);
    let is_wanted = |name: &str, record_type: &RrType| {
        normalize(name) == wanted && *record_type == spec.record_type
    };
    let mut sets = Vec::new();
    let mut start = (spec.name.clone(), None::<String>);
    loop {
        let output = clients
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(&start.0)
            .start_record_type(spec.record_type.clone())
            .set_start_record_identifier(start.1.clone())
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(ListResourceRecordSetsError::NoSuchHostedZone(_)) => {
                    DnsError::ZoneNotFound(zone_id.to_owned())
                }
                _ => AwsCallError::new("ListResourceRecordSets", &error).into(),
            })?;
        let mut past = false;
        for set in output.resource_record_sets() {
            if is_wanted(set.name(), set.r#type()) {
                sets.push(set.clone());
            } else {
                past = true;
                break;
            }
        }
        if past || !output.is_truncated() {
            break;
        }
        let next = match (output.next_record_name(), output.next_record_type()) {
            (Some(name), Some(record_type)) if is_wanted(name, record_type) => (
                name.to_owned(),
                output.next_record_identifier().map(str::to_owned),
            ),
            _ => break,
        };
        if next == start {
            break;
        }
        start = next;
    }
    Ok(sets)
}

/// Compares what Route 53 holds with what the configuration says DR is, and works out the exact
/// record sets the flip writes.
fn assess(spec: &RecordSpec, sets: &[ResourceRecordSet]) -> RecordDetail {
    let label = format!("{} {}", spec.name, spec.record_type.as_str());
    let mut detail = RecordDetail {
        name: spec.name.clone(),
        record_type: spec.record_type.as_str().to_owned(),
        routing: spec.routing.kind(),
        current: sets.iter().map(record_set).collect(),
        dr: None,
        at_dr: false,
        changes: Vec::new(),
        problem: None,
        answer: None,
    };
    let outcome = match &spec.routing {
        Routing::Simple { dr } => {
            detail.dr = Some(dr.clone());
            flip_simple(&label, dr, sets)
        }
        Routing::Weighted {
            primary_set_identifier,
            dr_set_identifier,
            dr_weight,
        } => flip_weighted(
            &label,
            primary_set_identifier,
            dr_set_identifier,
            *dr_weight,
            sets,
        )
        .map(|(flip, dr)| {
            detail.dr = dr.target.clone();
            flip
        }),
        Routing::Failover {
            primary_set_identifier,
            dr_set_identifier,
            dr,
        } => {
            detail.dr = Some(dr.clone());
            flip_failover(&label, primary_set_identifier, dr_set_identifier, dr, sets)
        }
    };
    match outcome {
        Ok(None) => detail.at_dr = true,
        Ok(Some(changes)) => detail.changes = changes,
        Err(problem) => detail.problem = Some(problem),
    }
    detail
}

/// `Ok(None)` when the record already points at DR, else the record sets to UPSERT.
type Flip = Result<Option<Vec<RecordSet>>, Problem>;

fn flip_simple(label: &str, dr: &Target, sets: &[ResourceRecordSet]) -> Flip {
    let set = match sets {
        [] => return Err(Problem::Missing(format!("{label} does not exist"))),
        [set] => set,
        _ => {
            return Err(Problem::Unexpected(format!(
                "{label} has {} record sets, not one",
                sets.len()
            )))
        }
    };
    if set.set_identifier().is_some() || set.weight().is_some() || set.failover().is_some() {
        return Err(Problem::Unexpected(format!(
            "{label} has set identifier {:?}: not a simple record",
            set.set_identifier().unwrap_or_default()
        )));
    }
    let current = checked_target(label, set)?;
    if current.answers_like(dr) {
        return Ok(None);
    }
    Ok(Some(vec![RecordSet {
        set_identifier: None,
        weight: None,
        failover: None,
        target: Some(dr.clone()),
        health_check_id: None,
    }]))
}

fn flip_weighted(
    label: &str,
    primary_id: &str,
    dr_id: &str,
    dr_weight: i64,
    sets: &[ResourceRecordSet],
) -> Result<(Option<Vec<RecordSet>>, RecordSet), Problem> {
    let (primary, dr) = pair(label, primary_id, dr_id, sets)?;
    for set in [primary, dr] {
        if set.weight().is_none() {
            return Err(Problem::Unexpected(format!(
                "{label} set {:?} has no weight: not a weighted record set",
                set.set_identifier().unwrap_or_default()
            )));
        }
        checked_target(label, set)?;
    }
    let (primary, dr) = (record_set(primary), record_set(dr));
    if primary.weight == Some(0) && dr.weight.is_some_and(|w| w > 0) {
        return Ok((None, dr));
    }
    let changes = vec![
        RecordSet {
            weight: Some(dr_weight),
            ..dr.clone()
        },
        RecordSet {
            weight: Some(0),
            ..primary
        },
    ];
    Ok((Some(changes), dr))
}

fn flip_failover(
    label: &str,
    primary_id: &str,
    dr_id: &str,
    dr: &Target,
    sets: &[ResourceRecordSet],
) -> Flip {
    let (primary_set, secondary_set) = pair(label, primary_id, dr_id, sets)?;
    for (set, role) in [
        (primary_set, ResourceRecordSetFailover::Primary),
        (secondary_set, ResourceRecordSetFailover::Secondary),
    ] {
        if set.failover() != Some(&role) {
            return Err(Problem::Unexpected(format!(
                "{label} set {:?} has Failover {}, expected {}",
                set.set_identifier().unwrap_or_default(),
                set.failover().map(|f| f.as_str()).unwrap_or("unset"),
                role.as_str()
            )));
        }
        checked_target(label, set)?;
    }
    let (primary, secondary) = (record_set(primary_set), record_set(secondary_set));
    if primary.target.as_ref().is_some_and(|t| t.answers_like(dr)) {
        return Ok(None);
    }
    if !secondary
        .target
        .as_ref()
        .is_some_and(|t| t.answers_like(dr))
    {
        return Err(Problem::Unexpected(format!(
            "{label}: neither the PRIMARY set {primary_id:?} nor the SECONDARY set {dr_id:?} holds the DR target"
        )));
    }
    // The health check moves with its target: left on the PRIMARY, the failed primary
    // endpoint's check would keep hiding the DR answer.
    Ok(Some(vec![
        RecordSet {
            target: secondary.target.clone(),
            health_check_id: secondary.health_check_id.clone(),
            ..primary.clone()
        },
        RecordSet {
            target: primary.target,
            health_check_id: primary.health_check_id,
            ..secondary
        },
    ]))
}

/// The primary and DR sets of a record with set identifiers, and nothing else at that name.
fn pair<'a>(
    label: &str,
    primary_id: &str,
    dr_id: &str,
    sets: &'a [ResourceRecordSet],
) -> Result<(&'a ResourceRecordSet, &'a ResourceRecordSet), Problem> {
    let find = |id: &str| sets.iter().find(|s| s.set_identifier() == Some(id));
    if let Some(other) = sets
        .iter()
        .find(|s| s.set_identifier() != Some(primary_id) && s.set_identifier() != Some(dr_id))
    {
        return Err(Problem::Unexpected(match other.set_identifier() {
            Some(id) => format!("{label} has a record set {id:?} that DNS_RECORDS does not name"),
            None => format!("{label} has a record set without a set identifier"),
        }));
    }
    match (find(primary_id), find(dr_id)) {
        (Some(primary), Some(dr)) => Ok((primary, dr)),
        (primary, dr) => {
            let which: Vec<String> = [(primary_id, primary), (dr_id, dr)]
                .iter()
                .filter(|(_, set)| set.is_none())
                .map(|(id, _)| format!("{id:?}"))
                .collect();
            Err(Problem::Missing(format!(
                "{label} has no record set with set identifier {}",
                which.join(" and ")
            )))
        }
    }
}

/// A routing policy this step does not flip (its settings would be lost by the UPSERT).
fn other_routing(set: &ResourceRecordSet) -> Option<&'static str> {
    if set.weight().is_some() && set.failover().is_some() {
        Some("both weighted and failover")
    } else if set.region().is_some() {
        Some("latency")
    } else if set.geo_location().is_some() {
        Some("geolocation")
    } else if set.geo_proximity_location().is_some() {
        Some("geoproximity")
    } else if set.cidr_routing_config().is_some() {
        Some("IP-based")
    } else if set.multi_value_answer().is_some() {
        Some("multivalue answer")
    } else if set.traffic_policy_instance_id().is_some() {
        Some("traffic policy")
    } else {
        None
    }
}

/// The set's target, once it is clear the set holds nothing else an UPSERT would drop.
fn checked_target(label: &str, set: &ResourceRecordSet) -> Result<Target, Problem> {
    let id = set.set_identifier().unwrap_or_default();
    if let Some(policy) = other_routing(set) {
        return Err(Problem::Unexpected(format!(
            "{label} set {id:?} uses {policy} routing"
        )));
    }
    record_set(set).target.ok_or_else(|| {
        Problem::Unexpected(format!(
            "{label} set {id:?} has neither values nor an alias target"
        ))
    })
}

fn record_set(set: &ResourceRecordSet) -> RecordSet {
    let target = match set.alias_target() {
        Some(alias) => Some(Target::Alias {
            alias: Alias {
                hosted_zone_id: alias.hosted_zone_id().to_owned(),
                dns_name: alias.dns_name().to_owned(),
                evaluate_target_health: alias.evaluate_target_health(),
            },
        }),
        None if !set.resource_records().is_empty() => Some(Target::Values {
            values: set
                .resource_records()
                .iter()
                .map(|r| r.value().to_owned())
                .collect(),
            // Route 53 requires a TTL on every non-alias record set; the default never applies.
            ttl: set.ttl().unwrap_or(DEFAULT_TTL),
        }),
        None => None,
    };
    RecordSet {
        set_identifier: set.set_identifier().map(str::to_owned),
        weight: set.weight(),
        failover: set.failover().map(|f| f.as_str().to_owned()),
        target,
        health_check_id: set.health_check_id().map(str::to_owned),
    }
}

fn change_batch(
    config: &DnsConfig,
    detail: &DnsDetail,
    execution_id: Option<&str>,
) -> Result<ChangeBatch, DnsError> {
    let build = |error: BuildError| DnsError::InvalidChangeBatch(vec![error.to_string()]);
    let mut changes = Vec::new();
    for (spec, record) in config.records.iter().zip(&detail.records) {
        for set in &record.changes {
            let change = Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(sdk_record_set(spec, set).map_err(build)?)
                .build()
                .map_err(build)?;
            changes.push(change);
        }
    }
    let comment: String = format!(
        "dr-failover {STEP}: point DNS at DR for execution {}",
        execution_id.unwrap_or("(none)")
    )
    .chars()
    .take(MAX_COMMENT_CHARS)
    .collect();
    ChangeBatch::builder()
        .set_changes(Some(changes))
        .comment(comment)
        .build()
        .map_err(build)
}

fn sdk_record_set(spec: &RecordSpec, set: &RecordSet) -> Result<ResourceRecordSet, BuildError> {
    let builder = ResourceRecordSet::builder()
        .name(&spec.name)
        .r#type(spec.record_type.clone())
        .set_set_identifier(set.set_identifier.clone())
        .set_weight(set.weight)
        .set_failover(set.failover.as_deref().map(ResourceRecordSetFailover::from))
        .set_health_check_id(set.health_check_id.clone());
    let builder = match &set.target {
        Some(Target::Values { values, ttl }) => builder.ttl(*ttl).set_resource_records(Some(
            values
                .iter()
                .map(|value| ResourceRecord::builder().value(value).build())
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Some(Target::Alias { alias }) => builder.alias_target(
            AliasTarget::builder()
                .hosted_zone_id(&alias.hosted_zone_id)
                .dns_name(&alias.dns_name)
                .evaluate_target_health(alias.evaluate_target_health)
                .build()?,
        ),
        None => builder,
    };
    builder.build()
}

/// Asks Route 53 what each record answers now.
async fn read_back(
    clients: &DnsClients,
    config: &DnsConfig,
    detail: &mut DnsDetail,
) -> Result<(), DnsError> {
    for (spec, record) in config.records.iter().zip(detail.records.iter_mut()) {
        let output = clients
            .route53
            .test_dns_answer()
            .hosted_zone_id(&config.zone_id)
            .record_name(&spec.name)
            .record_type(spec.record_type.clone())
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(TestDNSAnswerError::NoSuchHostedZone(_)) => {
                    DnsError::ZoneNotFound(config.zone_id.clone())
                }
                _ => AwsCallError::new("TestDNSAnswer", &error).into(),
            })?;
        let record_data = output.record_data().to_vec();
        // Route 53 answers an alias record with the alias target's own addresses, which this
        // step cannot know in advance. For an alias, the read-back therefore confirms that
        // Route 53 answers at all, and the record listing (`at_dr`) that the answering record
        // set holds the DR alias. Plain values are compared with the answer itself.
        let answers_dr = output.response_code() == "NOERROR"
            && record.dr.as_ref().is_some_and(|dr| match dr {
                Target::Values { .. } => dr.answered_by(&record_data),
                Target::Alias { .. } => {
                    !record_data.is_empty() && (record.at_dr || dr.answered_by(&record_data))
                }
            });
        record.answer = Some(Answer {
            response_code: output.response_code().to_owned(),
            record_data,
            answers_dr,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
