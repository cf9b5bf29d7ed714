//! The backup step: checks that the DR vault holds a recent enough copy of every resource the
//! recovery plan names, and that copy jobs into it are not failing.
//!
//! The step is read-only, whatever triggered it: a step request (`verify`, or the contract's
//! `plan`, `status` and `apply`, which all do the same verification and never change anything), an
//! EventBridge schedule, or AWS Backup's "Copy Job State Change" event. A stale or missing backup
//! is a verdict, not an error: the function succeeds and `ready` says whether every backup is
//! fresh.
//!
//! Each run prints one CloudWatch Embedded Metric Format line per resource (see [`emf_line`]), so
//! an alarm on `BackupFresh` works without a `PutMetricData` permission.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::sts::AssumeRoleProvider;
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_backup::operation::describe_backup_vault::DescribeBackupVaultError;
use aws_sdk_backup::operation::list_recovery_points_by_backup_vault::ListRecoveryPointsByBackupVaultError;
use aws_sdk_backup::types::{CopyJobState, RecoveryPointStatus};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use crate::config::{self, ConfigError, Regions, Source};
use crate::error::{AwsCallError, ErrorKind, StepError};
use crate::lambda::Traced;
use crate::request::{parse_request, Action, InputError};
use crate::result::StepResult;

pub const STEP: &str = "verify-backup-copy";

/// The session name the vault account sees in CloudTrail when the role is assumed.
pub const SESSION_NAME: &str = "dr-failover-backup-check";

/// Bound on each call into the primary region, which may be the region that failed: the copy job
/// listing is worth waiting for only this long.
const PRIMARY_CALL_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEDULE_SOURCE: &str = "aws.events";
const SCHEDULE_DETAIL_TYPE: &str = "Scheduled Event";
const BACKUP_SOURCE: &str = "aws.backup";
const COPY_JOB_DETAIL_TYPE: &str = "Copy Job State Change";

// ---- configuration ----

/// A resource whose copies must be in the DR vault, and how old the newest may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupResource {
    pub arn: String,
    pub rpo_minutes: u64,
}

/// A role in the vault's account, assumed to read the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRole {
    pub role_arn: String,
    pub external_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// Names this recovery plan; the `Deployment` metric dimension.
    pub deployment: String,
    pub vault_name: String,
    pub vault_region: String,
    /// Set when the vault is in another account.
    pub vault_role: Option<VaultRole>,
    pub resources: Vec<BackupResource>,
    pub copy_job_window_hours: u64,
    pub metric_namespace: String,
}

impl BackupConfig {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let vault_region = match config::optional(source, "BACKUP_VAULT_REGION") {
            Some(region) => region,
            None => config::required(source, "DR_REGION")?,
        };
        let vault_role = match (
            config::optional(source, "BACKUP_VAULT_ROLE_ARN"),
            config::optional(source, "BACKUP_VAULT_EXTERNAL_ID"),
        ) {
            (Some(role_arn), Some(external_id)) => {
                if !role_arn.starts_with("arn:") || !role_arn.contains(":role/") {
                    return Err(ConfigError::Invalid {
                        name: "BACKUP_VAULT_ROLE_ARN",
                        reason: format!("{role_arn:?} is not an IAM role ARN"),
                    });
                }
                Some(VaultRole {
                    role_arn,
                    external_id,
                })
            }
            (Some(_), None) => {
                return Err(ConfigError::Invalid {
                    name: "BACKUP_VAULT_EXTERNAL_ID",
                    reason: "unset, but required when BACKUP_VAULT_ROLE_ARN is set".into(),
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "BACKUP_VAULT_EXTERNAL_ID",
                    reason: "set, but BACKUP_VAULT_ROLE_ARN is not: there is no role to assume"
                        .into(),
                })
            }
            (None, None) => None,
        };
        let copy_job_window_hours = config::parsed(source, "BACKUP_COPY_JOB_WINDOW_HOURS", 24)?;
        if copy_job_window_hours == 0 {
            return Err(ConfigError::Invalid {
                name: "BACKUP_COPY_JOB_WINDOW_HOURS",
                reason: "must be at least 1".into(),
            });
        }
        Ok(BackupConfig {
            deployment: config::required(source, "DEPLOYMENT_NAME")?,
            vault_name: config::required(source, "BACKUP_VAULT_NAME")?,
            vault_region,
            vault_role,
            resources: resources(source)?,
            copy_job_window_hours,
            metric_namespace: config::optional(source, "METRIC_NAMESPACE")
                .unwrap_or_else(|| "DrFailover".into()),
        })
    }
}

fn resources(source: &dyn Source) -> Result<Vec<BackupResource>, ConfigError> {
    const NAME: &str = "BACKUP_RESOURCES";
    let invalid = |reason: String| ConfigError::Invalid { name: NAME, reason };
    let resources: Vec<BackupResource> = config::json(source, NAME)?;
    if resources.is_empty() {
        return Err(invalid("lists no resource; name at least one".into()));
    }
    for (index, resource) in resources.iter().enumerate() {
        if !resource.arn.starts_with("arn:") {
            return Err(invalid(format!(
                "at [{index}].arn: {:?} is not an ARN",
                resource.arn
            )));
        }
        if resource.rpo_minutes == 0 {
            return Err(invalid(format!(
                "at [{index}].rpo_minutes: must be greater than 0"
            )));
        }
        if let Some(first) = resources[..index]
            .iter()
            .position(|r| r.arn == resource.arn)
        {
            return Err(invalid(format!(
                "at [{index}].arn: {} is already listed at [{first}]",
                resource.arn
            )));
        }
    }
    Ok(resources)
}

// ---- clients ----

#[derive(Debug, Clone)]
pub struct BackupClients {
    /// The vault's account and region, through the assumed role when one is configured.
    pub vault: aws_sdk_backup::Client,
    /// The workload account in the primary region: copy jobs belong to the source region.
    pub jobs: aws_sdk_backup::Client,
    /// STS with the vault's credentials, so a caller can confirm which principal they resolve to
    /// (`GetCallerIdentity`). The verification itself does not call it.
    pub vault_sts: aws_sdk_sts::Client,
}

impl BackupClients {
    /// `dr` must be configured for the DR region; its credentials are the function's own. The
    /// assumed role's credentials come from a provider, not a one-off `AssumeRole` call, so the
    /// client's identity cache renews them before they expire in a long-lived execution
    /// environment.
    pub async fn new(dr: &SdkConfig, regions: &Regions, config: &BackupConfig) -> Self {
        let in_vault_region = crate::aws::in_region(dr, &config.vault_region);
        let vault = match &config.vault_role {
            None => in_vault_region,
            Some(role) => {
                let provider = AssumeRoleProvider::builder(role.role_arn.clone())
                    .external_id(role.external_id.clone())
                    .session_name(SESSION_NAME)
                    .configure(&in_vault_region)
                    .build()
                    .await;
                in_vault_region
                    .to_builder()
                    .credentials_provider(SharedCredentialsProvider::new(provider))
                    .build()
            }
        };
        let primary = crate::aws::with_operation_timeout(
            &crate::aws::in_region(dr, &regions.primary),
            PRIMARY_CALL_TIMEOUT,
        );
        BackupClients {
            vault: aws_sdk_backup::Client::new(&vault),
            jobs: aws_sdk_backup::Client::new(&primary),
            vault_sts: aws_sdk_sts::Client::new(&vault),
        }
    }
}

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

// ---- request ----

/// The actions a step request may name. All are the same read-only verification: `verify` is this
/// step's own word, the others are accepted so a caller that sends every step the contract's
/// actions gets an answer rather than an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyAction {
    Verify,
    Plan,
    Status,
    Apply,
}

impl VerifyAction {
    /// The contract's [`Action`] reported in the result. It has no `verify`; `status` ("report
    /// the state") is what a verification is.
    fn contract_action(self) -> Action {
        match self {
            VerifyAction::Plan => Action::Plan,
            VerifyAction::Apply => Action::Apply,
            VerifyAction::Verify | VerifyAction::Status => Action::Status,
        }
    }

    fn name(self) -> &'static str {
        match self {
            VerifyAction::Verify => "verify",
            VerifyAction::Plan => "plan",
            VerifyAction::Status => "status",
            VerifyAction::Apply => "apply",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepRequestFields {
    action: VerifyAction,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    execution_id: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// The `detail` of AWS Backup's "Copy Job State Change" event; fields AWS adds later are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyJobEventDetail {
    pub copy_job_id: String,
    pub state: String,
    #[serde(default)]
    pub resource_arn: Option<String>,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub source_backup_vault_arn: Option<String>,
    #[serde(default)]
    pub destination_backup_vault_arn: Option<String>,
    #[serde(default)]
    pub destination_recovery_point_arn: Option<String>,
    #[serde(default)]
    pub status_message: Option<String>,
}

/// What started the verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupRequest {
    /// `{"action": "verify", "execution_id": "..."}` from the state machine or a person.
    Step {
        action: VerifyAction,
        dry_run: bool,
        execution_id: Option<String>,
        reason: Option<String>,
    },
    /// An EventBridge scheduled rule.
    Schedule { event_id: Option<String> },
    /// AWS Backup reporting a copy job's new state.
    CopyJob {
        event_id: Option<String>,
        detail: CopyJobEventDetail,
    },
}

impl BackupRequest {
    pub fn verify() -> Self {
        BackupRequest::Step {
            action: VerifyAction::Verify,
            dry_run: false,
            execution_id: None,
            reason: None,
        }
    }

    /// Tells the three triggers apart by `source`: the step request has none.
    pub fn from_value(payload: Value) -> Result<Self, InputError> {
        let source = match payload.get("source") {
            None => None,
            Some(Value::String(source)) => Some(source.clone()),
            Some(_) => return Err(input_error("source", "expected a string".into())),
        };
        match source.as_deref() {
            None => {
                let fields: StepRequestFields = parse_request(payload)?;
                Ok(BackupRequest::Step {
                    action: fields.action,
                    dry_run: fields.dry_run,
                    execution_id: fields.execution_id,
                    reason: fields.reason,
                })
            }
            Some(SCHEDULE_SOURCE) => {
                let event: EventBridgeEvent<Value> = parse_request(payload)?;
                expect_detail_type(&event.detail_type, SCHEDULE_SOURCE, SCHEDULE_DETAIL_TYPE)?;
                Ok(BackupRequest::Schedule { event_id: event.id })
            }
            Some(BACKUP_SOURCE) => {
                let event: EventBridgeEvent<CopyJobEventDetail> = parse_request(payload)?;
                expect_detail_type(&event.detail_type, BACKUP_SOURCE, COPY_JOB_DETAIL_TYPE)?;
                Ok(BackupRequest::CopyJob {
                    event_id: event.id,
                    detail: event.detail,
                })
            }
            Some(other) => Err(input_error(
                "source",
                format!(
                    "{other:?} is not {SCHEDULE_SOURCE:?} ({SCHEDULE_DETAIL_TYPE}) or {BACKUP_SOURCE:?} \
                     ({COPY_JOB_DETAIL_TYPE}); a step request has no source"
                ),
            )),
        }
    }

    pub fn trigger(&self) -> Trigger {
        match self {
            BackupRequest::Step { .. } => Trigger::Request,
            BackupRequest::Schedule { .. } => Trigger::Schedule,
            BackupRequest::CopyJob { .. } => Trigger::CopyJobEvent,
        }
    }

    fn action(&self) -> VerifyAction {
        match self {
            BackupRequest::Step { action, .. } => *action,
            _ => VerifyAction::Verify,
        }
    }

    fn dry_run(&self) -> bool {
        matches!(self, BackupRequest::Step { dry_run: true, .. })
    }
}

fn expect_detail_type(detail_type: &str, source: &str, expected: &str) -> Result<(), InputError> {
    if detail_type == expected {
        Ok(())
    } else {
        Err(input_error(
            "detail-type",
            format!("{detail_type:?} is not handled; from {source} only {expected:?} is"),
        ))
    }
}

fn input_error(field: &str, message: String) -> InputError {
    InputError {
        field: field.into(),
        message,
    }
}

/// Through [`parse_request`], which names the field from the error at the top level: the field
/// found by [`BackupRequest::from_value`] is put first in backquotes so it comes through.
impl<'de> Deserialize<'de> for BackupRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let payload = Value::deserialize(deserializer)?;
        BackupRequest::from_value(payload).map_err(|error| {
            D::Error::custom(format!(
                "`{}`: {}",
                error.field,
                error.message.replace('`', "'")
            ))
        })
    }
}

impl Traced for BackupRequest {
    /// The state machine's execution, or the EventBridge event id for an event.
    fn execution_id(&self) -> Option<&str> {
        match self {
            BackupRequest::Step { execution_id, .. } => execution_id.as_deref(),
            BackupRequest::Schedule { event_id } | BackupRequest::CopyJob { event_id, .. } => {
                event_id.as_deref()
            }
        }
    }

    fn action_name(&self) -> String {
        self.action().name().to_owned()
    }

    fn reason(&self) -> Option<&str> {
        match self {
            BackupRequest::Step { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }
}

// ---- result ----

/// Ordered from best to worst, so the overall verdict is the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The newest completed copy is within the resource's RPO.
    Fresh,
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
    pub vault_arn: String,
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
    let result = verify(request, config, clients, now).await?;
    for check in &result.detail.resources {
        println!("{}", emf_line(config, check, now));
    }
    Ok(result)
}

/// The verification, with the clock as a parameter. Every planned resource is checked whatever the
/// trigger, a copy job event included: one listing per resource is cheap, and the metrics stay
/// complete for each run.
pub async fn verify(
    request: BackupRequest,
    config: &BackupConfig,
    clients: &BackupClients,
    now: SystemTime,
) -> Result<BackupResult, BackupError> {
    let vault_arn = vault_arn(config, clients).await?;
    let failed = failed_copy_jobs(config, clients, &vault_arn, now).await;

    let mut resources = Vec::with_capacity(config.resources.len());
    for resource in &config.resources {
        let newest = newest_completed(config, clients, &resource.arn).await?;
        resources.push(judge(resource, newest, &failed, now));
    }

    let overall = resources
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Verdict::Missing);
    let event_copy_job = match &request {
        BackupRequest::CopyJob { detail, .. } => Some(event_copy_job(detail, config, &vault_arn)),
        _ => None,
    };
    let detail = BackupDetail {
        vault_arn,
        overall,
        checked_at: format_time(&DateTime::from(now)),
        resources,
        copy_jobs_checked: failed.is_ok(),
        copy_jobs_error: failed.as_ref().err().map(ToString::to_string),
        trigger: request.trigger(),
        event_copy_job,
    };
    Ok(StepResult {
        step: STEP.into(),
        action: request.action().contract_action(),
        dry_run: request.dry_run(),
        changed: false,
        ready: overall == Verdict::Fresh,
        refusals: Vec::new(),
        warnings: Vec::new(),
        summary: summary(config, &detail),
        detail,
        wait: None,
    })
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

/// The resource's newest `COMPLETED` recovery point in the vault, as (ARN, creation date).
/// Points still being copied, partial or expired ones cannot be restored and do not count.
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
        .filter(|point| point.status() == Some(&RecoveryPointStatus::Completed))
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
    newest: Option<(String, DateTime)>,
    failed: &Result<Vec<String>, AwsCallError>,
    now: SystemTime,
) -> ResourceCheck {
    let failed_copy_jobs = failed
        .as_ref()
        .ok()
        .map(|arns| arns.iter().filter(|arn| **arn == resource.arn).count() as u64);
    let Some((recovery_point_arn, created)) = newest else {
        return ResourceCheck {
            arn: resource.arn.clone(),
            rpo_minutes: resource.rpo_minutes,
            verdict: Verdict::Missing,
            recovery_point_arn: None,
            created_at: None,
            age_seconds: None,
            failed_copy_jobs,
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
    }
}

fn event_copy_job(
    detail: &CopyJobEventDetail,
    config: &BackupConfig,
    vault_arn: &str,
) -> EventCopyJob {
    let resource_arn = detail.resource_arn.clone();
    EventCopyJob {
        copy_job_id: detail.copy_job_id.clone(),
        state: detail.state.clone(),
        in_plan: resource_arn
            .as_deref()
            .is_some_and(|arn| config.resources.iter().any(|r| r.arn == arn)),
        to_this_vault: detail.destination_backup_vault_arn.as_deref() == Some(vault_arn),
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
        "{} fresh, {} stale, {} missing in {}",
        count(Verdict::Fresh),
        count(Verdict::Stale),
        count(Verdict::Missing),
        config.vault_name
    )];
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

// ---- metrics ----

/// One CloudWatch Embedded Metric Format record for a resource, dimensions `Deployment` and
/// `ResourceArn`. EMF requires every metric a directive declares to be present in the record, so
/// a missing backup, which has no age, gets a directive that declares `BackupFresh` only: its
/// `BackupFresh` is 0 and `BackupAgeSeconds` has no datapoint (an alarm on the age should treat
/// missing data as breaching). `Verdict` is a plain property, searchable in Logs Insights.
pub fn emf_line(config: &BackupConfig, check: &ResourceCheck, now: SystemTime) -> Value {
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let fresh = u8::from(check.verdict == Verdict::Fresh);
    let fresh_metric = json!({"Name": "BackupFresh", "Unit": "Count"});
    let (metrics, age) = match check.age_seconds {
        Some(age) => (
            json!([{"Name": "BackupAgeSeconds", "Unit": "Seconds"}, fresh_metric]),
            Some(age),
        ),
        None => (json!([fresh_metric]), None),
    };
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": config.metric_namespace,
                "Dimensions": [["Deployment", "ResourceArn"]],
                "Metrics": metrics,
            }],
        },
        "Deployment": config.deployment,
        "ResourceArn": check.arn,
        "BackupFresh": fresh,
        "Verdict": check.verdict,
    });
    if let Some(age) = age {
        line["BackupAgeSeconds"] = json!(age);
    }
    line
}

#[cfg(test)]
mod tests;
