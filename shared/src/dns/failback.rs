//! failback-dns: the failover's records pointed back at the primary region, derived from the
//! failover's own configuration (`DNS_RECORDS`) and what flip-dns recorded before it flipped
//! them ([`super::recording`]); nothing is typed a second time.
//!
//! Per record of `DNS_RECORDS`:
//! - weighted: the same record with the two set identifiers swapped; the primary set gets back
//!   the weight it had when recorded (1 to 255), else [`DEFAULT_DR_WEIGHT`], and the DR set 0;
//! - simple: the recorded primary target, written whatever the zone holds now;
//! - failover: both sets as recorded ([`Routing::FailoverRestore`]): the PRIMARY set the recorded
//!   primary target with its health check, the SECONDARY set its recorded target (or, if that no
//!   longer answers like the failover's `dr`, the failover's `dr`: what the next failover needs
//!   it to hold) with its health check. An entry written by hand without `sets` swaps the two
//!   sets back ([`Routing::Failover`] with the recorded primary target as `dr`).
//!
//! A simple or failover record with no usable entry (no object, no entry, an object that cannot
//! be read or is for another zone, an entry of another routing, or one whose primary target is
//! the DR target) is refused by name: `plan` lists it in `refusals`, `apply` answers
//! `DrFailover.Refused` before any change. The refusal says what is missing and how to write the
//! entry by hand.

use serde_json::json;

use super::recording::{self, ReadError, RecordedRecord, Recording, RecordingOutcome};
use super::{
    handle, DnsClients, DnsConfig, DnsError, DnsResult, RecordSpec, Routing, DEFAULT_DR_WEIGHT,
};
use crate::config::{self, ConfigError, Source};
use crate::database::DatabaseConfig;
use crate::failback::PREFIX;
use crate::request::{Action, StepRequest};

/// The variables failback-dns reads as the failover has them, without `FAILBACK_`: the records,
/// the recording's bucket, and the DNS gate ([`super::gate`]), which fail back closes.
pub const FROM_THE_FAILOVER: [&str; 8] = [
    "DNS_RECORDS",
    "REPORT_BUCKET_NAME",
    "DNS_GATE",
    "DNS_GATE_ALARM_NAME",
    "DNS_GATE_HEALTH_CHECK_ID",
    "DNS_AUTHORITATIVE_SERVERS",
    "METRIC_NAMESPACE",
    "DEPLOYMENT_NAME",
];

/// failback-dns's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailbackDnsConfig {
    /// The failover's records (`DNS_RECORDS`), with fail back's zone, permissions and request
    /// rate (`FAILBACK_DNS_HOSTED_ZONE_ID`, `FAILBACK_DNS_ALLOWED_RECORD_NAMES`,
    /// `FAILBACK_DNS_ALLOWED_RECORD_TYPES`, `FAILBACK_ROUTE53_REQUESTS_PER_SECOND`).
    pub failover: DnsConfig,
    /// `REPORT_BUCKET_NAME`: where the recording is.
    pub bucket: String,
}

/// Reads `DNS_RECORDS` (and `REPORT_BUCKET_NAME`) as they are, every other name with
/// `FAILBACK_` in front.
struct FromTheFailover<'a>(&'a dyn Source);

impl Source for FromTheFailover<'_> {
    fn get(&self, name: &str) -> Option<String> {
        if FROM_THE_FAILOVER.contains(&name) {
            self.0.get(name)
        } else {
            self.0.get(&format!("{PREFIX}{name}"))
        }
    }
}

impl FailbackDnsConfig {
    /// # Errors
    /// [`ConfigError::Missing`] or [`ConfigError::Invalid`] naming the variable, as
    /// [`DnsConfig::from_source`] does.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        Ok(FailbackDnsConfig {
            failover: DnsConfig::from_source(&FromTheFailover(source))?,
            bucket: config::required(source, "REPORT_BUCKET_NAME")?,
        })
    }
}

/// Runs one action of fail back's DNS step: reads the recording, derives the records and runs
/// [`handle`] on those that could be derived. Errors: as [`handle`]; [`DnsError::NotRecorded`]
/// for an `apply` (not a dry run) while any record cannot be derived; a transient S3 failure
/// reading the recording as [`DnsError::Aws`] (retryable).
pub async fn handle_failback(
    request: StepRequest,
    config: &FailbackDnsConfig,
    database: &DatabaseConfig,
    clients: &DnsClients,
) -> Result<DnsResult, DnsError> {
    let read = match recording::read(&clients.s3, &config.bucket).await {
        Ok(Some(recording)) => Read::Found(recording),
        Ok(None) => Read::Missing,
        Err(ReadError::Lasting(error)) => Read::Unreadable(error),
        Err(ReadError::Transient(error)) => return Err(error.into()),
    };
    let (records, refusals) = derive(&config.failover, &read, &config.bucket);
    let action = request.effective_action();
    if action == Action::Apply && !refusals.is_empty() {
        return Err(DnsError::NotRecorded(refusals));
    }
    let derived = DnsConfig {
        records,
        ..config.failover.clone()
    };
    // Gated failover records were never edited: fail back closes the gate (DnsGate=0), and the
    // others go back by record edits.
    let mut result = match &derived.gate {
        Some(gate) if derived.records.iter().any(super::gate::is_gated) => {
            super::through_gate(request, &derived, gate, database, clients, false).await?
        }
        _ => handle(request, &derived, database, clients).await?,
    };
    result.detail.failback_recording = Some(outcome(&read, &config.bucket, &refusals));
    result.detail.record_count += refusals.len();
    if action == Action::Plan && !refusals.is_empty() {
        result.ready = false;
        result.summary = format!(
            "apply would refuse: {} record(s) with no recorded primary target; {}",
            refusals.len(),
            result.summary
        );
        let mut all = refusals;
        all.append(&mut result.refusals);
        result.refusals = all;
    }
    Ok(result)
}

/// What reading the recording found.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    Found(Recording),
    Missing,
    Unreadable(String),
}

fn outcome(read: &Read, bucket: &str, refusals: &[String]) -> RecordingOutcome {
    RecordingOutcome {
        object: Some(recording::object_url(bucket)),
        recorded: match read {
            Read::Found(recording) => recording.records.len(),
            _ => 0,
        },
        unchanged: 0,
        kept: 0,
        not_recorded: refusals.len(),
        error: match read {
            Read::Missing => Some("the object does not exist".into()),
            Read::Unreadable(error) => Some(error.clone()),
            Read::Found(_) => None,
        },
    }
}

/// Fail back's records from the failover's, and a refusal for each that cannot be derived.
pub fn derive(failover: &DnsConfig, read: &Read, bucket: &str) -> (Vec<RecordSpec>, Vec<String>) {
    let mut records = Vec::new();
    let mut refusals = Vec::new();
    for spec in &failover.records {
        if failover.gate.is_some() && super::gate::is_gated(spec) {
            // Moved by the gate, never edited, so never recorded: kept as it is.
            records.push(spec.clone());
            continue;
        }
        match derive_one(spec, &failover.zone_id, read) {
            Ok(routing) => records.push(RecordSpec {
                routing,
                ..spec.clone()
            }),
            Err(why) => refusals.push(refusal(spec, &why, bucket)),
        }
    }
    (records, refusals)
}

fn derive_one(spec: &RecordSpec, zone_id: &str, read: &Read) -> Result<Routing, String> {
    let entry = match read {
        Read::Found(recording) if recording.hosted_zone_id == zone_id => recording.entry(spec),
        _ => None,
    };
    match &spec.routing {
        Routing::Weighted {
            primary_set_identifier,
            dr_set_identifier,
            ..
        } => {
            let weight = entry
                .and_then(|entry| entry.set(primary_set_identifier))
                .and_then(|set| set.weight)
                .filter(|weight| (1..=255).contains(weight))
                .unwrap_or(DEFAULT_DR_WEIGHT);
            Ok(Routing::Weighted {
                primary_set_identifier: dr_set_identifier.clone(),
                dr_set_identifier: primary_set_identifier.clone(),
                dr_weight: weight,
            })
        }
        Routing::Simple { dr } => {
            let entry = usable(spec, zone_id, read, entry, dr)?;
            Ok(Routing::Simple {
                dr: entry.primary.clone(),
            })
        }
        Routing::Failover {
            primary_set_identifier,
            dr_set_identifier,
            dr,
        } => {
            let entry = usable(spec, zone_id, read, entry, dr)?;
            let primary = entry.set(primary_set_identifier);
            let secondary = entry.set(dr_set_identifier);
            Ok(match (primary, secondary) {
                (Some(primary), Some(secondary)) => Routing::FailoverRestore {
                    primary_set_identifier: primary_set_identifier.clone(),
                    secondary_set_identifier: dr_set_identifier.clone(),
                    primary: entry.primary.clone(),
                    primary_health_check_id: primary.health_check_id.clone(),
                    secondary: secondary
                        .target
                        .clone()
                        .filter(|target| target.answers_like(dr))
                        .unwrap_or_else(|| dr.clone()),
                    secondary_health_check_id: secondary.health_check_id.clone(),
                },
                _ => Routing::Failover {
                    primary_set_identifier: primary_set_identifier.clone(),
                    dr_set_identifier: dr_set_identifier.clone(),
                    dr: entry.primary.clone(),
                },
            })
        }
        Routing::FailoverRestore { .. } => Err("DNS_RECORDS cannot hold a restore routing".into()),
    }
}

/// The entry, if fail back can use it for `spec`, else why not.
fn usable<'a>(
    spec: &RecordSpec,
    zone_id: &str,
    read: &Read,
    entry: Option<&'a RecordedRecord>,
    dr: &super::Target,
) -> Result<&'a RecordedRecord, String> {
    let entry = match (read, entry) {
        (Read::Missing, _) => return Err("the object does not exist".into()),
        (Read::Unreadable(error), _) => return Err(format!("the object cannot be read: {error}")),
        (Read::Found(recording), _) if recording.hosted_zone_id != zone_id => {
            return Err(format!(
                "the object records hosted zone {}, not {zone_id}",
                recording.hosted_zone_id
            ))
        }
        (Read::Found(_), None) => return Err("the object has no entry for it".into()),
        (Read::Found(_), Some(entry)) => entry,
    };
    if entry.routing != spec.routing.kind() {
        return Err(format!(
            "its entry is for {:?} routing, DNS_RECORDS says {:?}",
            entry.routing,
            spec.routing.kind()
        ));
    }
    if entry.primary.answers_like(dr) {
        return Err("its entry's primary target is the DR target".into());
    }
    Ok(entry)
}

fn refusal(spec: &RecordSpec, why: &str, bucket: &str) -> String {
    let example = json!({
        "name": spec.name,
        "type": spec.record_type.as_str(),
        "routing": spec.routing.kind(),
        "primary": {"values": ["<the primary region's value>"], "ttl": 60},
    });
    format!(
        "{} {}: fail back does not know its primary region target: {why} ({}). The failover \
         records it before it flips a record; fail back never guesses. Add the entry by hand \
         (docs/contract.md, \"Fail back's DNS targets\"), e.g. {example}, then plan again",
        spec.name,
        spec.record_type.as_str(),
        recording::object_url(bucket)
    )
}
