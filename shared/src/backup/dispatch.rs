//! verify-backup-copy's requests: the backup verification ([`BackupRequest`]) and the health check
//! alarm's re-read before an expired approval proceeds ([`AlarmStateRequest`]). Both are
//! read-only; the function is the state machine's read-only helper.

use aws_config::SdkConfig;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{BackupClients, BackupConfig, BackupDetail, BackupError, BackupRequest};
use crate::alarm_state::{self, AlarmStateDetail, AlarmStateRequest};
use crate::aws::SdkTimeouts;
use crate::bound::Listed;
use crate::config::{ProcessEnv, Regions};
use crate::lambda::Setup;
use crate::lambda::Traced;
use crate::request::parse_request;
use crate::result::StepResult;

/// A request to verify-backup-copy: `{"action": "alarm-state", ...}` reads the alarm, anything
/// else is a [`BackupRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyRequest {
    Backup(BackupRequest),
    AlarmState(AlarmStateRequest),
}

impl<'de> Deserialize<'de> for VerifyRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let payload = Value::deserialize(deserializer)?;
        if payload.get("action").and_then(Value::as_str) == Some(alarm_state::STEP) {
            // The field is put first in backquotes, so that the caller's error names it.
            return parse_request(payload)
                .map(VerifyRequest::AlarmState)
                .map_err(|error| {
                    D::Error::custom(format!(
                        "`{}`: {}",
                        error.field,
                        error.message.replace('`', "'")
                    ))
                });
        }
        BackupRequest::deserialize(payload)
            .map(VerifyRequest::Backup)
            .map_err(D::Error::custom)
    }
}

impl Traced for VerifyRequest {
    fn execution_id(&self) -> Option<&str> {
        match self {
            VerifyRequest::Backup(request) => request.execution_id(),
            VerifyRequest::AlarmState(request) => request.execution_id(),
        }
    }
    fn action_name(&self) -> String {
        match self {
            VerifyRequest::Backup(request) => request.action_name(),
            VerifyRequest::AlarmState(request) => request.action_name(),
        }
    }
    fn reason(&self) -> Option<&str> {
        match self {
            VerifyRequest::Backup(request) => request.reason(),
            VerifyRequest::AlarmState(request) => request.reason(),
        }
    }
}

/// The `detail` of either answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum VerifyDetail {
    Backup(BackupDetail),
    AlarmState(AlarmStateDetail),
}

impl Listed for VerifyDetail {
    fn lists(&self) -> Vec<(&'static str, Vec<bool>)> {
        match self {
            VerifyDetail::Backup(detail) => detail.lists(),
            VerifyDetail::AlarmState(detail) => detail.lists(),
        }
    }
}

fn with_detail<D>(
    result: StepResult<D>,
    wrap: impl FnOnce(D) -> VerifyDetail,
) -> StepResult<VerifyDetail> {
    StepResult {
        step: result.step,
        action: result.action,
        dry_run: result.dry_run,
        changed: result.changed,
        ready: result.ready,
        refusals: result.refusals,
        warnings: result.warnings,
        summary: result.summary,
        detail: wrap(result.detail),
        wait: result.wait,
    }
}

/// What verify-backup-copy serves with: its configuration, its clients, and the DR region's SDK
/// configuration (the alarm read derives its own Region's client from it).
pub type Service = (BackupConfig, BackupClients, SdkConfig);

/// verify-backup-copy's setup, from its environment (`DR_REGION`, `PRIMARY_REGION`, the SDK
/// timeouts and [`BackupConfig`]'s variables), read once at start.
///
/// # Errors
/// The [`crate::config::ConfigError`] naming the variable (answered to every invocation).
pub async fn setup() -> Setup<Service> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = BackupConfig::from_source(&ProcessEnv)?;
    let dr = crate::aws::load(&regions.dr, timeouts).await;
    let clients = BackupClients::new(&dr, &regions, &config).await;
    Ok(((config, clients, dr), timeouts.operation))
}

/// Answers either request. `base` is the function's SDK configuration: the alarm is read with a
/// CloudWatch client for the alarm's own Region ([`alarm_state::client_for`]).
///
/// Errors: the backup verification's ([`super::handle`]); the alarm read never fails.
pub async fn handle(
    request: VerifyRequest,
    config: &BackupConfig,
    clients: &BackupClients,
    base: &SdkConfig,
) -> Result<StepResult<VerifyDetail>, BackupError> {
    match request {
        VerifyRequest::Backup(request) => super::handle(request, config, clients)
            .await
            .map(|result| with_detail(result, VerifyDetail::Backup)),
        VerifyRequest::AlarmState(request) => {
            let result =
                alarm_state::read(&request, |region| alarm_state::client_for(base, region)).await;
            Ok(with_detail(result, VerifyDetail::AlarmState))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_alarm_state_request_is_told_apart_from_a_verification_and_checked_as_one() {
        let alarm: VerifyRequest = parse_request(json!({"action": "alarm-state",
            "request": {"alarm": {"name": "app-health", "region": "us-east-1"}}}))
        .unwrap();
        assert!(matches!(alarm, VerifyRequest::AlarmState(_)));
        assert_eq!(alarm.action_name(), "alarm-state");
        let verify: VerifyRequest = parse_request(json!({"action": "verify"})).unwrap();
        assert!(matches!(verify, VerifyRequest::Backup(_)));
        let error = parse_request::<VerifyRequest>(json!({"action": "alarm-state",
            "request": {"alarm": {"name": "app-health", "region": "us-east-1", "stat": "OK"}}}))
        .unwrap_err();
        assert_eq!(error.field, "request.alarm.stat", "{error:?}");
        let error = parse_request::<VerifyRequest>(json!({"action": "verify", "dryrun": true}))
            .unwrap_err();
        assert_eq!(error.field, "dryrun", "{error:?}");
    }
}
