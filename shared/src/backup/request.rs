//! What starts a verification: a step request, an EventBridge schedule, or AWS Backup's "Copy
//! Job State Change" event, parsed into a [`BackupRequest`].

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::Trigger;
use crate::lambda::Traced;
use crate::request::{parse_request, Action, InputError};

const SCHEDULE_SOURCE: &str = "aws.events";
const SCHEDULE_DETAIL_TYPE: &str = "Scheduled Event";
const BACKUP_SOURCE: &str = "aws.backup";
const COPY_JOB_DETAIL_TYPE: &str = "Copy Job State Change";

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
    pub(super) fn contract_action(self) -> Action {
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
                    "an EventBridge event from {other:?} is neither a state machine input nor \
                     an event verify-backup-copy takes (it takes {SCHEDULE_SOURCE:?} \
                     {SCHEDULE_DETAIL_TYPE} and {BACKUP_SOURCE:?} {COPY_JOB_DETAIL_TYPE}). To \
                     fail over by hand, start the state machine with {{\"trigger\": \"manual\", \
                     \"dry_run\": true or false, \"reason\": \"...\"}} \
                     (events/statemachine/manual-failover.json); the alarm rule turns the health \
                     check alarm's event into such an input itself"
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

    /// What the request asks; events are verifications.
    pub(super) fn action(&self) -> VerifyAction {
        match self {
            BackupRequest::Step { action, .. } => *action,
            _ => VerifyAction::Verify,
        }
    }

    pub(super) fn dry_run(&self) -> bool {
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

    /// The run's reason, for a step request that gives one; events have none.
    fn reason(&self) -> Option<&str> {
        match self {
            BackupRequest::Step { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }
}
