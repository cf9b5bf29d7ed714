//! What the failover's records answered before it flipped them, kept for fail back.
//!
//! Fail back points every record back at the primary region. For a weighted record that is the
//! failover's own configuration with the set identifiers swapped; for a simple or a failover
//! record it is the primary region's target (values and TTL, or alias), which the failover's
//! configuration does not hold and which the zone no longer shows once the failover has flipped
//! it. So flip-dns, in an `apply` about to change records, first writes what each of them
//! answers now into one object of the deployment's report bucket, [`RECORDING_KEY`], and
//! failback-dns reads it (`super::failback`).
//!
//! Liveness first: the recording never stops or holds up a failover. Each S3 call has a third
//! of `SDK_OPERATION_TIMEOUT_SECONDS` (at least 1 s), the whole recording two thirds; whatever
//! fails (the bucket unset, access denied, S3 failing or stalled, an object that is not a
//! recording), the flip goes on and its result carries a warning naming the records not recorded
//! and what that means for fail back.
//!
//! The object, JSON ([`Recording`]): the deployment, the hosted zone, when and by which execution
//! it was last written, and one entry per record ([`RecordedRecord`]). A later `apply` (the next
//! batch of a large flip, a re-run after a failure) merges: it records the records it is about
//! to change (they still answer the primary region, so what the zone holds is what fail back
//! needs) and keeps every other entry, so a record already flipped is never recorded with its
//! flipped values. An object recorded for another hosted zone is replaced.
//!
//! S3 calls: `GetObject` and `PutObject` ("GetObject" and "PutObject", Amazon S3 API Reference,
//! https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
//! https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html). S3 answers a missing key
//! with `NoSuchKey` only to a caller allowed `s3:ListBucket` on the bucket, and with
//! `AccessDenied` otherwise (GetObject, "Permissions"), so the roles that read it are granted
//! that too.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::date_time::{DateTime, Format};
use serde::{Deserialize, Serialize};

use super::{normalize, DnsConfig, DnsDetail, RecordSet, RecordSpec, Routing, RoutingKind, Target};
use crate::config::{self, ConfigError, Source};
use crate::error::AwsCallError;

/// The object's key in the report bucket (`REPORT_BUCKET_NAME`).
pub const RECORDING_KEY: &str = "failback/dns-before-failover.json";

/// Records named in a warning before "and N more".
const NAMED: usize = 5;

/// The recording object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// `DEPLOYMENT_NAME` of the flip-dns that wrote it last.
    #[serde(default)]
    pub deployment: Option<String>,
    /// The hosted zone the records are in (`DNS_HOSTED_ZONE_ID`).
    pub hosted_zone_id: String,
    /// When it was last written, RFC 3339 (UTC).
    #[serde(default)]
    pub updated_at: Option<String>,
    /// The failover execution that last wrote it.
    #[serde(default)]
    pub execution_id: Option<String>,
    pub records: Vec<RecordedRecord>,
}

/// One record as it answered before the failover flipped it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedRecord {
    /// As in `DNS_RECORDS` (compared case-insensitively, trailing dot or not).
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub routing: RoutingKind,
    /// The primary region's target: the simple record's, the PRIMARY set's, or the primary
    /// weighted set's; `{"values": [...], "ttl": 60}` or `{"alias": {...}}`.
    pub primary: Target,
    /// Every record set as Route 53 held it (set identifiers, weights, failover roles, targets,
    /// health checks). Optional in an entry written by hand: a failover record is then moved
    /// back by swapping its two sets (the SECONDARY set must hold `primary`), a weighted one with
    /// weight 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<RecordSet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
}

impl RecordedRecord {
    fn key(&self) -> (String, String) {
        (normalize(&self.name), self.record_type.to_ascii_uppercase())
    }

    /// The same entry, whenever and by whichever run it was recorded.
    fn same_as(&self, other: &RecordedRecord) -> bool {
        self.key() == other.key()
            && self.routing == other.routing
            && self.primary == other.primary
            && self.sets == other.sets
    }

    /// The recorded set with this identifier.
    pub fn set(&self, identifier: &str) -> Option<&RecordSet> {
        self.sets
            .iter()
            .find(|set| set.set_identifier.as_deref() == Some(identifier))
    }
}

impl Recording {
    /// The entry for `spec`, if recorded.
    pub fn entry(&self, spec: &RecordSpec) -> Option<&RecordedRecord> {
        let key = (normalize(&spec.name), spec.record_type.as_str().to_owned());
        self.records.iter().find(|record| record.key() == key)
    }
}

/// Where flip-dns records, from its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingConfig {
    /// failback-dns: it reads the recording, never writes it.
    Off,
    /// `REPORT_BUCKET_NAME`, and `DEPLOYMENT_NAME` to name the deployment in the object.
    To {
        bucket: String,
        deployment: Option<String>,
    },
    /// `REPORT_BUCKET_NAME` unset: every `apply` that changes records warns that nothing was
    /// recorded (the failover goes on).
    Unset,
}

impl RecordingConfig {
    /// Reads `REPORT_BUCKET_NAME` and `DEPLOYMENT_NAME`, both optional. Never an error: a
    /// missing bucket must not stop a failover.
    ///
    /// # Errors
    /// None today; the `Result` keeps the shape of every configuration reader.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        Ok(match config::optional(source, "REPORT_BUCKET_NAME") {
            Some(bucket) => RecordingConfig::To {
                bucket,
                deployment: config::optional(source, "DEPLOYMENT_NAME"),
            },
            None => RecordingConfig::Unset,
        })
    }
}

/// An S3 client for the recording: `sdk`'s region (the report bucket's, the DR region) and
/// credentials, each call bounded by `timeout`, path-style addressing when an endpoint override
/// is set (the stand-in answers buckets on paths).
pub fn s3_client(sdk: &SdkConfig, timeout: Duration) -> aws_sdk_s3::Client {
    let bounded = crate::aws::with_operation_timeout(sdk, timeout);
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&bounded)
            .force_path_style(sdk.endpoint_url().is_some())
            .build(),
    )
}

/// The bound on one S3 call of the recording, from the function's AWS call bound: a third of it,
/// at least 1 s.
pub fn call_timeout(operation: Duration) -> Duration {
    (operation / 3).max(Duration::from_secs(1))
}

/// Why the recording could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// S3 failed in a way that may pass (throttling, 5xx, a timeout).
    Transient(AwsCallError),
    /// It will not pass by itself: access denied, no such bucket, an object that is not a
    /// recording (the text says which).
    Lasting(String),
}

/// The recording, `None` when the object does not exist.
pub async fn read(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<Recording>, ReadError> {
    let output = match s3
        .get_object()
        .bucket(bucket)
        .key(RECORDING_KEY)
        .send()
        .await
    {
        Ok(output) => output,
        Err(error) => {
            if matches!(error.as_service_error(), Some(GetObjectError::NoSuchKey(_))) {
                return Ok(None);
            }
            let failed = AwsCallError::new("GetObject", &error);
            return Err(if failed.retryable {
                ReadError::Transient(failed)
            } else {
                ReadError::Lasting(failed.to_string())
            });
        }
    };
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|error| {
            ReadError::Transient(AwsCallError {
                operation: "GetObject",
                code: "ResponseError".into(),
                message: format!("reading the object's body: {error}"),
                retryable: true,
            })
        })?
        .into_bytes();
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(&mut deserializer)
        .map(Some)
        .map_err(|error| {
            ReadError::Lasting(format!(
                "it is not a recording: at {}: {}",
                error.path(),
                error.inner()
            ))
        })
}

/// Where the object is, for messages: `s3://<bucket>/failback/dns-before-failover.json`.
pub fn object_url(bucket: &str) -> String {
    format!("s3://{bucket}/{RECORDING_KEY}")
}

/// What an `apply` recorded, in its result's `detail.failback_recording`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingOutcome {
    /// `s3://<bucket>/<key>`, or null when `REPORT_BUCKET_NAME` is unset.
    pub object: Option<String>,
    /// Records this call is about to change, whose entries are now in the object.
    pub recorded: usize,
    /// Of those, the ones the object held already, unchanged (not written again).
    pub unchanged: usize,
    /// Entries of other records the object keeps (records flipped by an earlier call).
    pub kept: usize,
    /// Records this call is about to change that are NOT recorded.
    pub not_recorded: usize,
    /// Why not, when `not_recorded` is above 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The entry for a record about to be flipped: what it answers now, from the primary region.
fn entry(
    spec: &RecordSpec,
    current: &[RecordSet],
    now: &str,
    execution_id: Option<&str>,
) -> Option<RecordedRecord> {
    let target_of = |identifier: &str| {
        current
            .iter()
            .find(|set| set.set_identifier.as_deref() == Some(identifier))
            .and_then(|set| set.target.clone())
    };
    let primary = match &spec.routing {
        Routing::Simple { .. } => current.first().and_then(|set| set.target.clone()),
        Routing::Weighted {
            primary_set_identifier,
            ..
        }
        | Routing::Failover {
            primary_set_identifier,
            ..
        } => target_of(primary_set_identifier),
        Routing::FailoverRestore { .. } => None,
    }?;
    Some(RecordedRecord {
        name: spec.name.clone(),
        record_type: spec.record_type.as_str().to_owned(),
        routing: spec.routing.kind(),
        primary,
        sets: current.to_vec(),
        recorded_at: Some(now.to_owned()),
        execution_id: execution_id.map(str::to_owned),
    })
}

/// Labels `name type`, the first [`NAMED`] of them and how many more.
fn named(labels: &[String]) -> String {
    let mut text = labels
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if labels.len() > NAMED {
        text.push_str(&format!(" and {} more", labels.len() - NAMED));
    }
    text
}

/// Records what the records `apply` is about to change answer now (`detail`, as assessed), before
/// they change. Never fails: answers what it recorded and the warnings for the result. Bounded
/// by two [`call_timeout`]s of `operation`, whatever S3 does.
pub(super) async fn record(
    s3: &aws_sdk_s3::Client,
    recording: &RecordingConfig,
    config: &DnsConfig,
    detail: &DnsDetail,
    execution_id: Option<&str>,
    operation: Duration,
) -> (Option<RecordingOutcome>, Vec<String>) {
    let now = DateTime::from(SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_default();
    let mut entries = Vec::new();
    let mut unrecordable = Vec::new();
    for (spec, record) in config.records.iter().zip(&detail.records) {
        if record.at_dr || record.problem.is_some() || record.changes.is_empty() {
            continue;
        }
        match entry(spec, &record.current, &now, execution_id) {
            Some(entry) => entries.push(entry),
            None => unrecordable.push(format!("{} {}", spec.name, spec.record_type.as_str())),
        }
    }
    if entries.is_empty() && unrecordable.is_empty() {
        return (None, Vec::new());
    }
    // The records fail back needs an entry for (a weighted one is derived without).
    let labels: Vec<String> = entries
        .iter()
        .filter(|e| e.routing != RoutingKind::Weighted)
        .map(|e| format!("{} {}", e.name, e.record_type))
        .chain(unrecordable.iter().cloned())
        .collect();
    let all = entries.len() + unrecordable.len();
    let (bucket, deployment) = match recording {
        RecordingConfig::Off => return (None, Vec::new()),
        RecordingConfig::Unset => {
            let outcome = RecordingOutcome {
                object: None,
                recorded: 0,
                unchanged: 0,
                kept: 0,
                not_recorded: all,
                error: Some("REPORT_BUCKET_NAME is not set".into()),
            };
            return (
                Some(outcome),
                vec![not_recorded_warning(
                    &labels,
                    "REPORT_BUCKET_NAME is not set",
                    None,
                )],
            );
        }
        RecordingConfig::To { bucket, deployment } => (bucket, deployment),
    };
    let budget = call_timeout(operation) * 2;
    let write = write(
        s3,
        bucket,
        deployment.as_deref(),
        config,
        detail,
        entries,
        (&now, execution_id),
    );
    let outcome = match tokio::time::timeout(budget, write).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!(
            "S3 did not answer within {:.1} s (two thirds of SDK_OPERATION_TIMEOUT_SECONDS)",
            budget.as_secs_f64()
        )),
    };
    match outcome {
        Ok((mut written, mut warnings)) => {
            if !unrecordable.is_empty() {
                written.not_recorded += unrecordable.len();
                written.error = Some("no target in the record sets Route 53 lists".into());
                warnings.push(not_recorded_warning(
                    &unrecordable,
                    "Route 53 lists no target for them",
                    Some(bucket),
                ));
            }
            (Some(written), warnings)
        }
        Err(error) => {
            tracing::warn!(error = %error, records = all, "fail back targets not recorded");
            let outcome = RecordingOutcome {
                object: Some(object_url(bucket)),
                recorded: 0,
                unchanged: 0,
                kept: 0,
                not_recorded: all,
                error: Some(error.clone()),
            };
            (
                Some(outcome),
                vec![not_recorded_warning(&labels, &error, Some(bucket))],
            )
        }
    }
}

fn not_recorded_warning(labels: &[String], why: &str, bucket: Option<&str>) -> String {
    let object = bucket.map_or_else(|| format!("report bucket, {RECORDING_KEY}"), object_url);
    let why: String = why.chars().take(160).collect();
    if labels.is_empty() {
        return format!(
            "fail back: the weights of the weighted records this failover moves were NOT \
             recorded; the failover goes on, and fail back gives their primary sets weight 100 \
             ({object}: {why})"
        );
    }
    format!(
        "fail back: NOT recorded before the flip, the primary targets of {} record(s): {}. The \
         failover goes on. Fail back's plan refuses each of them until its target is written \
         into {object} by hand (docs/contract.md, \"Fail back's DNS targets\"): note them now. \
         Why: {why}",
        labels.len(),
        named(labels)
    )
}

/// Reads the object, merges `entries` in and writes it when anything changed. Answers what it
/// recorded and warnings about records at DR that have no entry; `Err` with the reason nothing
/// was recorded.
async fn write(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    deployment: Option<&str>,
    config: &DnsConfig,
    detail: &DnsDetail,
    entries: Vec<RecordedRecord>,
    (now, execution_id): (&str, Option<&str>),
) -> Result<(RecordingOutcome, Vec<String>), String> {
    let existing = match read(s3, bucket).await {
        Ok(existing) => existing,
        Err(ReadError::Transient(error)) => return Err(format!("reading it failed: {error}")),
        Err(ReadError::Lasting(error)) => {
            return Err(format!(
                "reading it failed, and it is left as it is: {error}"
            ))
        }
    };
    let mut warnings = Vec::new();
    let mut merged: BTreeMap<(String, String), RecordedRecord> = BTreeMap::new();
    if let Some(existing) = existing {
        if existing.hosted_zone_id == config.zone_id {
            for record in existing.records {
                merged.insert(record.key(), record);
            }
        } else {
            warnings.push(format!(
                "fail back: {} recorded hosted zone {}, not {}: its {} entr(ies) are replaced",
                object_url(bucket),
                existing.hosted_zone_id,
                config.zone_id,
                existing.records.len()
            ));
        }
    }
    let (mut recorded, mut unchanged) = (0, 0);
    let changing: Vec<(String, String)> = entries.iter().map(RecordedRecord::key).collect();
    for entry in entries {
        recorded += 1;
        match merged.get(&entry.key()) {
            Some(known) if known.same_as(&entry) => unchanged += 1,
            _ => {
                merged.insert(entry.key(), entry);
            }
        }
    }
    let kept = merged.len() - changing.len();
    // Records already at DR whose primary target is nowhere: flipped by an earlier call whose
    // recording failed, by hand, or before this deployment recorded. Weighted records need none.
    let unknown: Vec<String> = config
        .records
        .iter()
        .zip(&detail.records)
        .filter(|(spec, record)| {
            record.at_dr
                && spec.routing.kind() != RoutingKind::Weighted
                && !merged
                    .contains_key(&(normalize(&spec.name), spec.record_type.as_str().to_owned()))
        })
        .map(|(spec, _)| format!("{} {}", spec.name, spec.record_type.as_str()))
        .collect();
    if !unknown.is_empty() {
        warnings.push(not_recorded_warning(
            &unknown,
            "they already answered DR, with no entry",
            Some(bucket),
        ));
    }
    let outcome = RecordingOutcome {
        object: Some(object_url(bucket)),
        recorded,
        unchanged,
        kept,
        not_recorded: 0,
        error: None,
    };
    if unchanged == recorded && !merged.is_empty() {
        return Ok((outcome, warnings));
    }
    // In DNS_RECORDS order, then entries of records no longer configured.
    let mut records: Vec<RecordedRecord> = config
        .records
        .iter()
        .filter_map(|spec| {
            merged.remove(&(normalize(&spec.name), spec.record_type.as_str().to_owned()))
        })
        .collect();
    records.extend(merged.into_values());
    let object = Recording {
        deployment: deployment.map(str::to_owned),
        hosted_zone_id: config.zone_id.clone(),
        updated_at: Some(now.to_owned()),
        execution_id: execution_id.map(str::to_owned),
        records,
    };
    let body = serde_json::to_vec_pretty(&object).map_err(|e| e.to_string())?;
    s3.put_object()
        .bucket(bucket)
        .key(RECORDING_KEY)
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|error| {
            format!(
                "writing it failed: {}",
                AwsCallError::new("PutObject", &error)
            )
        })?;
    tracing::info!(recorded, unchanged, kept, "fail back targets recorded");
    Ok((outcome, warnings))
}
