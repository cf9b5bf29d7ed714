//! The DNS step: point the recovery plan's Route 53 records at the DR region.
//!
//! Idempotency comes from reading the record sets first: a record that already answers DR is left
//! alone, and when every record does, `apply` makes no call that changes anything. The one change
//! `apply` makes is a single atomic `ChangeResourceRecordSets` batch of UPSERTs, and it is only
//! sent once the DR database accepts writes: DNS must never send traffic to a region that cannot
//! take it.

use aws_config::SdkConfig;
use aws_sdk_route53::types::ChangeStatus;
use serde::{Deserialize, Serialize};

use crate::database::{self, DatabaseClients, DatabaseConfig, DatabaseError};
use crate::error::{AwsCallError, ErrorKind, StepError};
use crate::request::{Action, StepRequest};
use crate::result::StepResult;

mod assess;
mod change;
mod config;
mod read_back;

use assess::{assess, read_record_sets};
use change::{change_batch, change_in_sync, submit};
pub use config::{
    normalize, Alias, DnsConfig, RecordSpec, Routing, RoutingKind, Target, DEFAULT_DR_WEIGHT,
    DEFAULT_TTL,
};
use read_back::read_back;

pub const STEP: &str = "flip-dns";

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
    let (change_id, change_status) = submit(clients, &config.zone_id, batch).await?;
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

#[cfg(test)]
mod tests;
