//! The DNS step: point the recovery plan's Route 53 records at the DR region.
//!
//! Idempotency comes from reading the record sets first (the whole zone, once per call): a record
//! that already points at DR is left alone. `apply` writes the others with UPSERTs in one atomic
//! `ChangeResourceRecordSets` batch, or in as few batches as Route 53's batch limits allow (see
//! `change.rs`), and only once the DR database accepts writes: DNS must never send traffic to a
//! region that cannot take it.
//!
//! Route 53 limits the API requests of a whole account (10 per second sustained), so every Route 53
//! request of the process waits its turn on one [`Pacer`] (`ROUTE53_REQUESTS_PER_SECOND`, default
//! 5). The pacer spaces out operations; a request the SDK retries after `Throttling` follows the
//! SDK's standard retry backoff instead.

use aws_sdk_route53::types::ChangeStatus;
use serde::{Deserialize, Serialize};

use crate::database::{self, DatabaseConfig, DatabaseError};
use crate::error::{AwsCallError, ErrorKind, StepError};
use crate::request::{Action, StepRequest};
use crate::result::StepResult;

mod assess;
pub use assess::list_record_sets;
mod change;
mod clients;
pub mod config;
pub mod failback;
pub mod gate;
mod read_back;
pub mod recording;

use assess::{assess, read_zone};
use change::{change_batches, change_in_sync, submit, RecordChanges};
pub use change::{MAX_RESOURCE_RECORDS_PER_BATCH, MAX_VALUE_CHARS_PER_BATCH};
pub use clients::DnsClients;
pub use config::{
    iam_name, normalize, Alias, DnsConfig, RecordPermissions, RecordSpec, Routing, RoutingKind,
    Target, DEFAULT_DR_WEIGHT, DEFAULT_ROUTE53_REQUESTS_PER_SECOND, DEFAULT_TTL, MAX_TTL,
};
use read_back::read_back;
pub use read_back::MAX_ANSWER_CHECKS;
use recording::RecordingOutcome;

pub const STEP: &str = "flip-dns";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DnsError {
    #[error("hosted zone {0} not found")]
    ZoneNotFound(String),
    #[error("record sets not found: {}", .0.join("; "))]
    RecordMissing(Vec<String>),
    #[error("record sets are not as DNS_RECORDS describes them: {}", .0.join("; "))]
    UnexpectedShape(Vec<String>),
    /// The role's IAM conditions would deny records of the plan (`DNS_ALLOWED_RECORD_NAMES`,
    /// `DNS_ALLOWED_RECORD_TYPES`): nothing is sent.
    #[error("records this function's role may not change: {}", .0.join("; "))]
    NotPermitted(Vec<String>),
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
    /// Fail back: records whose primary region target was not recorded before the failover
    /// ([`failback`]); nothing is sent.
    #[error("fail back does not know the primary region's target of: {}", .0.join("; "))]
    NotRecorded(Vec<String>),
    /// `apply` sent one of several batches (Route 53's batch limits split the flip); the next
    /// `apply` sends the next one, which Route 53 accepts once this change is processed.
    #[error(
        "submitted change {change_id} UPSERTing {sets} record set(s), the first of {batches} \
         batches Route 53's batch limits call for; {remaining} record(s) still point at the \
         primary and go in the next batch(es)"
    )]
    MoreBatches {
        change_id: String,
        batches: usize,
        sets: usize,
        remaining: usize,
    },
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl StepError for DnsError {
    fn kind(&self) -> ErrorKind {
        match self {
            DnsError::ZoneNotFound(_)
            | DnsError::RecordMissing(_)
            | DnsError::ChangeNotFound(_) => ErrorKind::NotFound,
            DnsError::UnexpectedShape(_)
            | DnsError::InvalidChangeBatch(_)
            | DnsError::NotPermitted(_)
            | DnsError::NotRecorded(_) => ErrorKind::Refused,
            DnsError::DatabaseNotWritable(_) | DnsError::MoreBatches { .. } => ErrorKind::NotReady,
            DnsError::Database(error) => error.kind(),
            DnsError::Aws(error) => error.kind(),
        }
    }
}

/// Records shown in full in a result's `detail.records` (and problems listed in `refusals` or an
/// error): the first this many in `DNS_RECORDS` order, and at most this many more with a problem.
/// Step Functions holds a state's whole input and output within 256 KiB ("Step Functions service
/// quotas", maximum input or output size for a task, state, or execution,
/// https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html); 500 records in full
/// pass that, so the rest are counted, not listed.
pub const MAX_DETAIL_RECORDS: usize = 20;

/// What the step found and did; the same shape for every action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsDetail {
    pub zone_id: String,
    /// The records in full, bounded by [`MAX_DETAIL_RECORDS`]; `record_count` says how many
    /// `DNS_RECORDS` names, `records_at_dr` how many of them point at DR in Route 53's listing.
    pub records: Vec<RecordDetail>,
    #[serde(default)]
    pub record_count: usize,
    #[serde(default)]
    pub records_at_dr: usize,
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
    /// flip-dns `apply` that changed records: what it recorded for fail back first
    /// ([`recording`]); failback-dns: where its targets came from ([`failback`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failback_recording: Option<RecordingOutcome>,
    /// With `DNS_GATE`: the gate's alarm, what this call put and the name servers asked
    /// ([`gate`]); the gated records are listed first in `records`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<gate::GateDetail>,
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
/// before `apply` changes anything. With `DNS_GATE` the failover records move through the gate
/// ([`gate`]: no Route 53 API call) and the other records through record edits, after it.
pub async fn handle(
    request: StepRequest,
    config: &DnsConfig,
    database: &DatabaseConfig,
    clients: &DnsClients,
) -> Result<DnsResult, DnsError> {
    match &config.gate {
        Some(gate) if config.records.iter().any(gate::is_gated) => {
            through_gate(request, config, gate, database, clients, true).await
        }
        _ => handle_edits(request, config, database, clients).await,
    }
}

/// The gated records through [`gate::run`] (`open`: DR answers; else the primary), then the
/// others through record edits; one result for both.
pub(crate) async fn through_gate(
    request: StepRequest,
    config: &DnsConfig,
    gate_config: &gate::GateConfig,
    database: &DatabaseConfig,
    clients: &DnsClients,
    open: bool,
) -> Result<DnsResult, DnsError> {
    let outcome = gate::run(&request, config, gate_config, database, clients, open).await?;
    let rest = DnsConfig {
        records: config
            .records
            .iter()
            .filter(|spec| !gate::is_gated(spec))
            .cloned()
            .collect(),
        gate: None,
        ..config.clone()
    };
    let action = request.effective_action();
    let mut out = if rest.records.is_empty() {
        result(&request, action, empty_detail(&config.zone_id))
    } else {
        Box::pin(handle_edits(request, &rest, database, clients)).await?
    };
    let edits_ready = rest.records.is_empty() || out.ready;
    if action == Action::Plan && !rest.records.is_empty() {
        // Readiness runs this plan: say which records still need Route 53's API to move.
        out.warnings.push(format!(
            "{} weighted or simple record(s) move by Route 53 API edits, whose control plane is \
             in us-east-1: while us-east-1 is down they cannot move (only failover records move \
             through the DNS gate; README, \"DNS through the data plane\")",
            rest.records.len()
        ));
    }
    let mut records = outcome.records;
    records.extend(std::mem::take(&mut out.detail.records));
    records.truncate(MAX_DETAIL_RECORDS);
    out.detail.records = records;
    out.detail.record_count += outcome.detail.records_gated;
    out.detail.records_at_dr += outcome.detail.records_answering;
    out.ready = outcome.ready && edits_ready;
    out.changed |= outcome.changed;
    let mut refusals = outcome.refusals;
    refusals.append(&mut out.refusals);
    out.refusals = refusals;
    let mut warnings = outcome.warnings;
    warnings.append(&mut out.warnings);
    out.warnings = warnings;
    out.summary = if rest.records.is_empty() {
        outcome.summary
    } else {
        format!("{}; record edits: {}", outcome.summary, out.summary)
    };
    out.detail.gate = Some(outcome.detail);
    Ok(out)
}

fn empty_detail(zone_id: &str) -> DnsDetail {
    DnsDetail {
        zone_id: zone_id.to_owned(),
        records: Vec::new(),
        record_count: 0,
        records_at_dr: 0,
        database_writable: None,
        database: None,
        change_id: None,
        change_status: None,
        failback_recording: None,
        gate: None,
    }
}

/// [`handle`] without the gate: every record through record edits.
async fn handle_edits(
    request: StepRequest,
    config: &DnsConfig,
    database: &DatabaseConfig,
    clients: &DnsClients,
) -> Result<DnsResult, DnsError> {
    let action = request.effective_action();
    let zone = read_zone(clients, &config.zone_id).await?;
    tracing::info!(pages = zone.pages, "zone read");
    let records = config
        .records
        .iter()
        .map(|spec| assess(spec, zone.of(spec)))
        .collect();
    let detail = DnsDetail {
        records,
        ..empty_detail(&config.zone_id)
    };
    match action {
        Action::Plan => plan(&request, config, database, clients, detail).await,
        Action::Apply => apply(&request, config, database, clients, detail).await,
        Action::Status => status(&request, config, clients, detail).await,
    }
}

fn result(request: &StepRequest, action: Action, mut detail: DnsDetail) -> DnsResult {
    detail.record_count = detail.records.len();
    detail.records_at_dr = detail.records.iter().filter(|r| r.at_dr).count();
    let mut problems = 0;
    let records = std::mem::take(&mut detail.records);
    detail.records = records
        .into_iter()
        .enumerate()
        .filter(|(index, record)| {
            let shown = *index < MAX_DETAIL_RECORDS
                || (record.problem.is_some() && problems < MAX_DETAIL_RECORDS);
            if *index >= MAX_DETAIL_RECORDS && shown {
                problems += 1;
            }
            shown
        })
        .map(|(_, record)| record)
        .collect();
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

/// Whether DNS answers DR: every record read back answers DR, and every record beyond the
/// read-back's bound ([`MAX_ANSWER_CHECKS`]) points at DR in Route 53's listing.
fn all_answer_dr(detail: &DnsDetail) -> bool {
    detail.records.iter().all(|r| match &r.answer {
        Some(answer) => answer.answers_dr,
        None => r.at_dr && r.problem.is_none(),
    })
}

fn pending_sets(detail: &DnsDetail) -> usize {
    detail.records.iter().map(|r| r.changes.len()).sum()
}

async fn plan(
    request: &StepRequest,
    config: &DnsConfig,
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
    let problems: Vec<&Problem> = detail
        .records
        .iter()
        .filter_map(|r| r.problem.as_ref())
        .collect();
    let not_permitted = not_permitted(config);
    let mut refusals = texts(&problems);
    refusals.extend(not_permitted.iter().cloned());
    let warnings = health_checked_primaries(&detail);
    let ready = refusals.is_empty() && all_at_dr(&detail);
    let summary = if !refusals.is_empty() {
        let parts: Vec<String> = [
            (problems.len(), "not as configured"),
            (not_permitted.len(), "this function's role may not change"),
        ]
        .into_iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} record(s) {what}"))
        .collect();
        format!("apply would refuse: {}", parts.join(", "))
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
        let pending = pending_changes(config, &detail);
        let changes = match change_batches(&pending, None).map(|b| b.len()) {
            Ok(1) | Err(_) => "one change".to_owned(),
            Ok(count) => {
                format!("{count} changes (Route 53's batch limits; each record within one change)")
            }
        };
        format!(
            "apply would UPSERT {} record set(s) in zone {} in {changes}{waits}",
            pending_sets(&detail),
            detail.zone_id
        )
    };
    let mut out = result(request, Action::Plan, detail);
    out.ready = ready;
    out.refusals = refusals;
    out.warnings = warnings;
    out.summary = summary;
    Ok(out)
}

/// Why the role could not change records of the plan, one text per record.
fn not_permitted(config: &DnsConfig) -> Vec<String> {
    config
        .records
        .iter()
        .filter_map(|spec| config.permissions.refusal(spec))
        .collect()
}

/// A failover record not yet at DR whose PRIMARY set carries a health check: Route 53 answers
/// the SECONDARY (DR) set by itself when that check fails ("How health checks work in complex
/// Amazon Route 53 configurations", active-passive failover,
/// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-complex-configs.html),
/// before this failover has made the DR database writable. One warning per such record.
fn health_checked_primaries(detail: &DnsDetail) -> Vec<String> {
    detail
        .records
        .iter()
        .filter(|record| record.routing == RoutingKind::Failover && !record.at_dr)
        .flat_map(|record| {
            record
                .current
                .iter()
                .filter(|set| set.failover.as_deref() == Some("PRIMARY"))
                .filter_map(move |set| {
                    let check = set.health_check_id.as_deref()?;
                    Some(format!(
                        "{} {}: its PRIMARY set carries health check {check}, so Route 53 moves \
                         traffic to the SECONDARY (DR) set by itself when that check fails, \
                         before the DR database accepts writes. To let the failover decide when \
                         DNS moves, take the health check off the PRIMARY set (keep it on the \
                         alarm that starts the failover); see docs/contract.md",
                        record.name, record.record_type
                    ))
                })
        })
        .collect()
}

/// Each record of the plan with the record set changes that take it to DR.
fn pending_changes<'a>(config: &'a DnsConfig, detail: &'a DnsDetail) -> Vec<RecordChanges<'a>> {
    config
        .records
        .iter()
        .zip(&detail.records)
        .map(|(spec, record)| RecordChanges {
            spec,
            sets: &record.changes,
        })
        .collect()
}

async fn apply(
    request: &StepRequest,
    config: &DnsConfig,
    database: &DatabaseConfig,
    clients: &DnsClients,
    mut detail: DnsDetail,
) -> Result<DnsResult, DnsError> {
    let not_permitted = not_permitted(config);
    if !not_permitted.is_empty() {
        return Err(DnsError::NotPermitted(not_permitted));
    }
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
        return confirm(request, config, clients, detail).await;
    }

    // `force` does not override this: it is a safety check, not an operator's judgement call.
    let (writable, summary) = database::writable(database, &clients.database).await?;
    detail.database_writable = Some(writable);
    detail.database = Some(summary.clone());
    if !writable {
        return Err(DnsError::DatabaseNotWritable(summary));
    }

    // What the records answer now, for fail back, before they change; never stops the flip.
    let (recorded, warnings) = recording::record(
        &clients.s3,
        &clients.recording,
        config,
        &detail,
        request.execution_id.as_deref(),
        clients.operation_timeout,
    )
    .await;
    detail.failback_recording = recorded;

    let pending = pending_changes(config, &detail);
    let mut batches = change_batches(&pending, request.execution_id.as_deref())?.into_iter();
    let batch = batches.next().expect("a record not at DR has changes");
    let sets = batch.changes().len();
    let more = batches.len();
    let (change_id, change_status) = submit(clients, &config.zone_id, batch).await?;
    tracing::info!(
        change_id,
        status = change_status.as_str(),
        sets,
        batches_after = more,
        "change submitted"
    );
    if more > 0 {
        // The next `apply` finds this batch's records at DR and sends the next batch; Route 53
        // refuses it (PriorRequestNotComplete, a wait) until it has processed this one.
        let remaining = detail
            .records
            .iter()
            .filter(|r| !r.at_dr)
            .count()
            .saturating_sub(records_in(&pending, sets));
        return Err(DnsError::MoreBatches {
            change_id,
            batches: more + 1,
            sets,
            remaining,
        });
    }
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
    out.warnings = warnings;
    out.summary = format!(
        "submitted change {change_id} UPSERTing {sets} record set(s); status {}",
        change_status.as_str()
    );
    Ok(out)
}

/// Records (with changes) whose sets make up the first `sets` changes of the batches.
fn records_in(pending: &[RecordChanges<'_>], sets: usize) -> usize {
    let mut total = 0;
    pending
        .iter()
        .filter(|record| !record.sets.is_empty())
        .take_while(|record| {
            total += record.sets.len();
            total <= sets
        })
        .count()
}

/// `apply` when every record already points at DR: DNS counts as done once the change that put
/// them there is INSYNC.
///
/// With the change's id (the state machine passes back the one this run submitted), that is a
/// `GetChange`. Without it (a re-run after a crash between `ChangeResourceRecordSets` and its
/// answer, or after a change made by hand) the listing shows the DR values, but not whether every
/// Route 53 name server has them yet. So the same record sets are UPSERTed again, unchanged:
/// Route 53 either refuses with `PriorRequestNotComplete` while an earlier change to the zone is
/// still being processed (a wait, and the next `apply` sends it again), or accepts it with a new
/// change id, and that change is INSYNC only once these values "have propagated to all Route 53
/// DNS servers managing the hosted zone" ("GetChange" and "ChangeResourceRecordSets", Amazon
/// Route 53 API Reference, https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html,
/// https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html:
/// UPSERT of an existing set "updates it with the values in the request"). That change id is
/// answered like a new change's, for `status` to wait on. The UPSERT changes no answer, so it
/// does not wait for the database. When Route 53's batch limits split the records, the first
/// batch is sent: it confirms its own records, and the others are judged by the listing.
async fn confirm(
    request: &StepRequest,
    config: &DnsConfig,
    clients: &DnsClients,
    mut detail: DnsDetail,
) -> Result<DnsResult, DnsError> {
    let records = detail.records.len();
    let (in_sync, changed) = match &request.change_id {
        Some(change_id) => (
            change_in_sync(clients, change_id, &mut detail).await?,
            false,
        ),
        None if request.dry_run => (true, false),
        None => {
            let current: Vec<RecordChanges<'_>> = config
                .records
                .iter()
                .zip(&detail.records)
                .map(|(spec, record)| RecordChanges {
                    spec,
                    sets: &record.current,
                })
                .collect();
            let batch = change_batches(&current, request.execution_id.as_deref())?
                .into_iter()
                .next()
                .expect("every record has record sets");
            let (change_id, status) = submit(clients, &config.zone_id, batch).await?;
            tracing::info!(
                change_id,
                status = status.as_str(),
                "confirming change submitted"
            );
            detail.change_id = Some(change_id);
            detail.change_status = Some(status.as_str().to_owned());
            (status == ChangeStatus::Insync, true)
        }
    };
    read_back(clients, config, &mut detail).await?;
    let ready = in_sync && all_answer_dr(&detail);
    let mut out = result(request, Action::Apply, detail);
    out.ready = ready;
    out.summary = format!(
        "all {records} record(s) already point at DR; {}{}",
        if changed {
            "UPSERTed them unchanged to learn when Route 53 has them everywhere"
        } else {
            "nothing changed"
        },
        if ready {
            ""
        } else if !in_sync {
            " (change not INSYNC yet)"
        } else {
            " (not every record answers DR yet)"
        }
    );
    Ok(out)
}

/// The problems' texts, at most [`MAX_DETAIL_RECORDS`] of them and a count of the rest.
fn texts(problems: &[&Problem]) -> Vec<String> {
    let mut texts: Vec<String> = problems
        .iter()
        .take(MAX_DETAIL_RECORDS)
        .map(|p| p.text().to_owned())
        .collect();
    if problems.len() > MAX_DETAIL_RECORDS {
        texts.push(format!(
            "and {} more record(s)",
            problems.len() - MAX_DETAIL_RECORDS
        ));
    }
    texts
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
    let checked = detail.records.iter().filter(|r| r.answer.is_some()).count();
    let answering = detail
        .records
        .iter()
        .filter(|r| r.answer.as_ref().is_some_and(|a| a.answers_dr))
        .count();
    let total = detail.records.len();
    let listed = detail.records.iter().filter(|r| r.at_dr).count();
    let ready = in_sync && all_answer_dr(&detail);
    let mut out = result(request, Action::Status, detail);
    out.ready = ready;
    let answers = if checked == total {
        format!("{answering} of {total} record(s) answer DR")
    } else {
        format!(
            "{answering} of the first {checked} record(s) answer DR; {listed} of {total} point at DR in Route 53's listing"
        )
    };
    out.summary = match &out.detail.change_status {
        Some(status) => format!("change {status}; {answers}"),
        None => answers,
    };
    Ok(out)
}

#[cfg(test)]
mod tests;
