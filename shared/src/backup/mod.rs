//! The backup step: checks that the DR vault holds a recent enough copy of every resource the
//! recovery plan names, and that copy jobs into it are not failing.
//!
//! The step is read-only, whatever triggered it: a step request (`verify`, or the contract's
//! `plan`, `status` and `apply`, which all do the same verification and never change anything), an
//! EventBridge schedule, or AWS Backup's "Copy Job State Change" event. A stale or missing backup
//! is a verdict, not an error: the function succeeds and `ready` says whether every backup is
//! fresh. So is a vault that cannot be read (access denied, the vault account's role not
//! assumable, the Backup API failing after the SDK's retries, the vault gone): the resources it
//! could not check are `unknown`, with the reason. The verdicts are context for a failover, never
//! a precondition of it, so nothing here may stop one.
//!
//! Each run prints one CloudWatch Embedded Metric Format line per resource (see [`emf_line`]), so
//! an alarm on `BackupFresh` works without a `PutMetricData` permission.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_backup::operation::describe_backup_vault::DescribeBackupVaultError;
use aws_sdk_backup::operation::list_recovery_points_by_backup_vault::ListRecoveryPointsByBackupVaultError;
use aws_sdk_backup::types::{CopyJobState, RecoveryPointStatus};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::error::{AwsCallError, ErrorKind, StepError};
use crate::result::StepResult;

pub mod config;
pub mod dispatch;
mod metrics;
mod request;
mod screen;

pub use config::{BackupClients, BackupConfig, BackupResource, VaultRole};
pub use dispatch::{VerifyDetail, VerifyRequest};
pub use metrics::emf_line;
pub use request::{BackupRequest, CopyJobEventDetail, VerifyAction};
pub use screen::Screen;

pub const STEP: &str = "verify-backup-copy";

/// The session name the vault account sees in CloudTrail when the role is assumed.
pub const SESSION_NAME: &str = "dr-failover-backup-check";

// ---- errors ----

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackupError {
    #[error("backup vault {vault} not found in {region}")]
    VaultNotFound { vault: String, region: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl StepError for BackupError {
    fn kind(&self) -> ErrorKind {
        match self {
            BackupError::VaultNotFound { .. } => ErrorKind::NotFound,
            BackupError::Config(error) => error.kind(),
            BackupError::Aws(error) => error.kind(),
        }
    }
}

// ---- result ----

/// Ordered from best to worst, so the overall verdict is the maximum. `Unknown` sits just above
/// `Fresh`: a known problem (stale, missing) is what the overall verdict should show first, and
/// the per-resource list and the summary count the unknown ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The newest completed copy is within the resource's RPO.
    Fresh,
    /// The vault or the resource's recovery points could not be read; `reason` says why.
    Unknown,
    /// The newest completed copy is older than the RPO.
    Stale,
    /// The vault holds no completed copy of the resource.
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Request,
    Schedule,
    CopyJobEvent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceCheck {
    pub arn: String,
    pub rpo_minutes: u64,
    pub verdict: Verdict,
    /// The newest completed recovery point; `null` when missing.
    pub recovery_point_arn: Option<String>,
    pub created_at: Option<String>,
    pub age_seconds: Option<u64>,
    /// Failed copy jobs of this resource into the vault in the window; `null` when the copy jobs
    /// could not be listed.
    pub failed_copy_jobs: Option<u64>,
    /// Why the verdict is `unknown` (the AWS error, with its code); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The copy job an AWS Backup event reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCopyJob {
    pub copy_job_id: String,
    pub state: String,
    pub resource_arn: Option<String>,
    pub resource_type: Option<String>,
    pub destination_backup_vault_arn: Option<String>,
    pub status_message: Option<String>,
    /// The resource is one the recovery plan names.
    pub in_plan: bool,
    /// The copy went to this step's vault.
    pub to_this_vault: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupDetail {
    /// `null` when the vault could not be read (`vault_error` says why).
    pub vault_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_error: Option<String>,
    pub overall: Verdict,
    pub checked_at: String,
    pub resources: Vec<ResourceCheck>,
    pub copy_jobs_checked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_jobs_error: Option<String>,
    pub trigger: Trigger,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_copy_job: Option<EventCopyJob>,
}

pub type BackupResult = StepResult<BackupDetail>;

// ---- the step ----

/// Verifies the vault now and prints one metric line per resource.
pub async fn handle(
    request: BackupRequest,
    config: &BackupConfig,
    clients: &BackupClients,
) -> Result<BackupResult, BackupError> {
    let now = SystemTime::now();
    let result = verify(request, config, clients, now).await;
    for check in &result.detail.resources {
        println!("{}", emf_line(config, check, now));
    }
    Ok(result)
}

/// The verification, with the clock as a parameter. Every planned resource is checked whatever the
/// trigger, a copy job event included: one listing per resource is cheap, and the metrics stay
/// complete for each run. It cannot fail: what could not be read is an `unknown` verdict with its
/// reason, and a warning.
pub async fn verify(
    request: BackupRequest,
    config: &BackupConfig,
    clients: &BackupClients,
    now: SystemTime,
) -> BackupResult {
    let (vault_arn, vault_error) = match vault_arn(config, clients).await {
        Ok(arn) => (Some(arn), None),
        Err(error) => (None, Some(error.to_string())),
    };
    let failed = match &vault_arn {
        Some(arn) => failed_copy_jobs(config, clients, arn, now)
            .await
            .map_err(|error| error.to_string()),
        None => Err("the vault could not be read".to_owned()),
    };

    // Once a listing fails with a fault that retries did not mend (a timeout, a 5xx), the vault
    // is taken as not answering: the resources after it are not asked, so that a stalled vault
    // costs one call's timeout rather than one per resource.
    let mut not_answering = vault_error.clone();
    let mut resources = Vec::with_capacity(config.resources.len());
    for resource in &config.resources {
        let newest = match &not_answering {
            Some(error) => Err(error.clone()),
            None => match newest_completed(config, clients, &resource.arn).await {
                Ok(newest) => Ok(newest),
                Err(error) => {
                    if error.kind() == ErrorKind::Retryable {
                        not_answering =
                            Some(format!("not asked, the vault is not answering: {error}"));
                    }
                    Err(error.to_string())
                }
            },
        };
        resources.push(judge(resource, newest, &failed, now));
    }

    let overall = resources
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Verdict::Missing);
    let event_copy_job = match &request {
        BackupRequest::CopyJob { detail, .. } => {
            Some(event_copy_job(detail, config, vault_arn.as_deref()))
        }
        _ => None,
    };
    let warnings = unknown_warnings(&vault_error, &resources);
    let detail = BackupDetail {
        vault_arn,
        vault_error,
        overall,
        checked_at: format_time(&DateTime::from(now)),
        resources,
        copy_jobs_checked: failed.is_ok(),
        copy_jobs_error: failed.as_ref().err().cloned(),
        trigger: request.trigger(),
        event_copy_job,
    };
    StepResult {
        step: STEP.into(),
        action: request.action().contract_action(),
        dry_run: request.dry_run(),
        changed: false,
        ready: overall == Verdict::Fresh,
        refusals: Vec::new(),
        warnings,
        summary: summary(config, &detail),
        detail,
        wait: None,
    }
}

/// One warning for an unreadable vault, else one per resource whose points could not be listed.
fn unknown_warnings(vault_error: &Option<String>, resources: &[ResourceCheck]) -> Vec<String> {
    if let Some(error) = vault_error {
        return vec![format!(
            "backup verdicts unknown, the vault could not be read: {error}"
        )];
    }
    resources
        .iter()
        .filter_map(|r| {
            let reason = r.reason.as_ref()?;
            Some(format!("backup verdict unknown for {}: {reason}", r.arn))
        })
        .collect()
}

async fn vault_arn(config: &BackupConfig, clients: &BackupClients) -> Result<String, BackupError> {
    let output = clients
        .vault
        .describe_backup_vault()
        .backup_vault_name(&config.vault_name)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(DescribeBackupVaultError::ResourceNotFoundException(_)) => vault_not_found(config),
            _ => AwsCallError::new("DescribeBackupVault", &error).into(),
        })?;
    output
        .backup_vault_arn()
        .map(str::to_owned)
        .ok_or_else(|| vault_not_found(config))
}

fn vault_not_found(config: &BackupConfig) -> BackupError {
    BackupError::VaultNotFound {
        vault: config.vault_name.clone(),
        region: config.vault_region.clone(),
    }
}

/// Whether a recovery point in this status can be restored, per "Recovery point status" in the
/// AWS Backup Developer Guide (and the `Status` of `ListRecoveryPointsByBackupVault`):
/// `AVAILABLE` ("the backup was successfully created ... ready for use") and `COMPLETED` (the
/// name older points carry for the same) count; `CREATING` (still being made or copied),
/// `PARTIAL` (a composite point missing nested points), `EXPIRED` (past retention, not deleted),
/// `DELETING` and `STOPPED` (a continuous backup that was disabled) do not, nor does a status this
/// SDK does not know yet: a backup is counted only when AWS says it is usable.
pub fn usable(status: &RecoveryPointStatus) -> bool {
    match status {
        RecoveryPointStatus::Available | RecoveryPointStatus::Completed => true,
        RecoveryPointStatus::Creating
        | RecoveryPointStatus::Partial
        | RecoveryPointStatus::Expired
        | RecoveryPointStatus::Deleting
        | RecoveryPointStatus::Stopped => false,
        _ => false,
    }
}

/// The resource's newest usable recovery point in the vault (see [`usable`]), as (ARN, creation
/// date).
async fn newest_completed(
    config: &BackupConfig,
    clients: &BackupClients,
    resource_arn: &str,
) -> Result<Option<(String, DateTime)>, BackupError> {
    let points = clients
        .vault
        .list_recovery_points_by_backup_vault()
        .backup_vault_name(&config.vault_name)
        .by_resource_arn(resource_arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(ListRecoveryPointsByBackupVaultError::ResourceNotFoundException(_)) => {
                vault_not_found(config)
            }
            _ => AwsCallError::new("ListRecoveryPointsByBackupVault", &error).into(),
        })?;
    Ok(points
        .iter()
        .filter(|point| point.status().is_some_and(usable))
        .filter_map(|point| Some((point.recovery_point_arn()?, *point.creation_date()?)))
        .max_by_key(|(_, created)| *created)
        .map(|(arn, created)| (arn.to_owned(), created)))
}

/// Resource ARNs of the copy jobs into the vault that failed in the window, one entry per job.
/// An error here is reported, not raised: the primary region may be the one that is down, and
/// the vault's contents are what decide readiness.
async fn failed_copy_jobs(
    config: &BackupConfig,
    clients: &BackupClients,
    vault_arn: &str,
    now: SystemTime,
) -> Result<Vec<String>, AwsCallError> {
    let window = Duration::from_secs(config.copy_job_window_hours * 3600);
    let since = now.checked_sub(window).unwrap_or(UNIX_EPOCH);
    let jobs = clients
        .jobs
        .list_copy_jobs()
        .by_state(CopyJobState::Failed)
        .by_created_after(DateTime::from(since))
        .by_destination_vault_arn(vault_arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| AwsCallError::new("ListCopyJobs", &error))?;
    Ok(jobs
        .iter()
        .filter_map(|job| job.resource_arn().map(str::to_owned))
        .collect())
}

fn judge(
    resource: &BackupResource,
    newest: Result<Option<(String, DateTime)>, String>,
    failed: &Result<Vec<String>, String>,
    now: SystemTime,
) -> ResourceCheck {
    let failed_copy_jobs = failed
        .as_ref()
        .ok()
        .map(|arns| arns.iter().filter(|arn| **arn == resource.arn).count() as u64);
    let newest = match newest {
        Ok(newest) => newest,
        Err(reason) => {
            return ResourceCheck {
                arn: resource.arn.clone(),
                rpo_minutes: resource.rpo_minutes,
                verdict: Verdict::Unknown,
                recovery_point_arn: None,
                created_at: None,
                age_seconds: None,
                failed_copy_jobs,
                reason: Some(reason),
            }
        }
    };
    let Some((recovery_point_arn, created)) = newest else {
        return ResourceCheck {
            arn: resource.arn.clone(),
            rpo_minutes: resource.rpo_minutes,
            verdict: Verdict::Missing,
            recovery_point_arn: None,
            created_at: None,
            age_seconds: None,
            failed_copy_jobs,
            reason: None,
        };
    };
    // A creation date ahead of this clock (skew) counts as age zero.
    let age_seconds = u64::try_from(DateTime::from(now).secs() - created.secs()).unwrap_or(0);
    let verdict = if age_seconds <= resource.rpo_minutes * 60 {
        Verdict::Fresh
    } else {
        Verdict::Stale
    };
    ResourceCheck {
        arn: resource.arn.clone(),
        rpo_minutes: resource.rpo_minutes,
        verdict,
        recovery_point_arn: Some(recovery_point_arn),
        created_at: Some(format_time(&created)),
        age_seconds: Some(age_seconds),
        failed_copy_jobs,
        reason: None,
    }
}

fn event_copy_job(
    detail: &CopyJobEventDetail,
    config: &BackupConfig,
    vault_arn: Option<&str>,
) -> EventCopyJob {
    let resource_arn = detail.resource_arn.clone();
    EventCopyJob {
        copy_job_id: detail.copy_job_id.clone(),
        state: detail.state.clone(),
        in_plan: resource_arn
            .as_deref()
            .is_some_and(|arn| config.resources.iter().any(|r| r.arn == arn)),
        to_this_vault: vault_arn.is_some()
            && detail.destination_backup_vault_arn.as_deref() == vault_arn,
        resource_arn,
        resource_type: detail.resource_type.clone(),
        destination_backup_vault_arn: detail.destination_backup_vault_arn.clone(),
        status_message: detail.status_message.clone(),
    }
}

fn summary(config: &BackupConfig, detail: &BackupDetail) -> String {
    let count = |verdict| {
        detail
            .resources
            .iter()
            .filter(|r| r.verdict == verdict)
            .count()
    };
    let mut parts = vec![format!(
        "{} fresh, {} stale, {} missing, {} unknown in {}",
        count(Verdict::Fresh),
        count(Verdict::Stale),
        count(Verdict::Missing),
        count(Verdict::Unknown),
        config.vault_name
    )];
    if let Some(error) = &detail.vault_error {
        parts.push(format!("vault not readable: {error}"));
    }
    match &detail.copy_jobs_error {
        None => {
            let failed: u64 = detail
                .resources
                .iter()
                .filter_map(|r| r.failed_copy_jobs)
                .sum();
            parts.push(format!(
                "{failed} failed copy jobs in the last {}h",
                config.copy_job_window_hours
            ));
        }
        Some(error) => parts.push(format!("copy jobs not checked: {error}")),
    }
    if let Some(job) = &detail.event_copy_job {
        parts.push(format!(
            "event: copy job {} {} for {}",
            job.copy_job_id,
            job.state,
            job.resource_arn.as_deref().unwrap_or("an unnamed resource")
        ));
    }
    parts.join("; ")
}

fn format_time(time: &DateTime) -> String {
    time.fmt(Format::DateTime)
        .unwrap_or_else(|_| time.secs().to_string())
}

#[cfg(test)]
mod tests;
