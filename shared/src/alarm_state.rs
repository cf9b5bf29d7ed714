//! The health check alarm, read again when a failover is about to proceed without a person's
//! answer (approval expiry with `ApprovalExpiryAction` proceed).
//!
//! An alarm-started run carries the alarm that started it (`alarm` `{name, region, time,
//! previous_state}`, the template's alarm rule fills it in). Minutes may pass in the approval wait;
//! when the primary has recovered in them, the alarm is back in `OK` and a failover would cut
//! replication from a healthy primary. So before the failover proceeds it reads the alarm where it
//! lives (the Route 53 health check alarm is in us-east-1: a cross-Region, read-only
//! `DescribeAlarms`, "DescribeAlarms", Amazon CloudWatch API Reference,
//! https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
//!
//! `OK` is a refusal: the run stops, changing nothing, and says what the alarm said. Anything
//! else goes on: `ALARM` and `INSUFFICIENT_DATA` (the health check's metric missing is no sign of
//! recovery), and an alarm that could not be read (a Region or a control plane on the path is a
//! dependency the failover must survive), which is a warning that the published report carries.

use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use aws_smithy_types::date_time::Format;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::bound::Listed;
use crate::error::AwsCallError;
use crate::lambda::Traced;
use crate::request::Action;
use crate::result::StepResult;

/// The result's `step`, and the request's `action`.
pub const STEP: &str = "alarm-state";

/// The most characters CloudWatch allows in an alarm name (`AlarmName`, 1 to 255, PutMetricAlarm
/// API reference).
pub const MAX_ALARM_NAME_CHARS: usize = 255;

/// The alarm to read, as the execution input carries it (`alarm` of an alarm-started run).
/// `time` and `previous_state` are accepted so the input's `alarm` can be passed unchanged, and
/// reported back; only `name` and `region` are used to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmRef {
    #[serde(deserialize_with = "alarm_name")]
    pub name: String,
    #[serde(deserialize_with = "region")]
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<String>,
}

fn alarm_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let name = String::deserialize(deserializer)?;
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_ALARM_NAME_CHARS {
        return Err(D::Error::custom(format!(
            "an alarm name has 1 to {MAX_ALARM_NAME_CHARS} characters, not {chars}"
        )));
    }
    Ok(name)
}

/// A Region code: lowercase letters, digits and hyphens, as `us-east-1` (anything else would
/// make an endpoint host of it).
fn region<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let region = String::deserialize(deserializer)?;
    let valid = (1..=32).contains(&region.len())
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && region.contains('-');
    if !valid {
        return Err(D::Error::custom(format!(
            "{region:?} is not a Region code such as \"us-east-1\""
        )));
    }
    Ok(region)
}

/// The only action of an [`AlarmStateRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlarmStateAction {
    #[serde(rename = "alarm-state")]
    AlarmState,
}

/// `{"action": "alarm-state", "request": {...the run's request...}, "execution_id"?}`: sent by
/// the failover state machine when its approval wait ends without an answer. `request` is the
/// run's whole request (`$.request`); only its `alarm` (absent in a run the alarm did not start)
/// and `reason` are read. Unknown fields at the top level and in `alarm` are refused
/// (`DrFailover.InvalidInput` naming the field).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmStateRequest {
    pub action: AlarmStateAction,
    pub request: RunRequest,
    #[serde(default)]
    pub execution_id: Option<String>,
}

/// What the alarm read takes of the run's request. Its other fields (`trigger`, `dry_run`, ...)
/// are the state machine's, checked by it, and not read here.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RunRequest {
    #[serde(default)]
    pub alarm: Option<AlarmRef>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Traced for AlarmStateRequest {
    fn execution_id(&self) -> Option<&str> {
        self.execution_id.as_deref()
    }
    fn action_name(&self) -> String {
        STEP.to_owned()
    }
    fn reason(&self) -> Option<&str> {
        self.request.reason.as_deref()
    }
}

/// What the alarm said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmStateDetail {
    /// The alarm that was read, and its Region (`None`: the run's request names no alarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`; `None` when it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// CloudWatch's `StateReason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// When the alarm last changed state (`StateTransitionedTimestamp`, else
    /// `StateUpdatedTimestamp`), RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_since: Option<String>,
    /// The alarm is `OK`: the primary has recovered, and the failover stops.
    pub recovered: bool,
    /// Why the alarm could not be read (the failover then goes on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
}

impl Listed for AlarmStateDetail {
    fn lists(&self) -> Vec<(&'static str, Vec<bool>)> {
        Vec::new()
    }
}

pub type AlarmStateResult = StepResult<AlarmStateDetail>;

/// Reads the alarm the run's request names with the client `cloudwatch_in` gives for the alarm's
/// Region (see [`client_for`]). Never fails: a request that names no alarm, or an alarm that
/// cannot be read (an error, or no such alarm), is a result with `read_error` and a warning, so
/// that the failover goes on.
///
/// The result: `refusals` holds one text when the alarm is `OK` (the failover stops), `ready` is
/// true when it is not (the failover may proceed), `action` is `status`.
pub async fn read(
    request: &AlarmStateRequest,
    cloudwatch_in: impl FnOnce(&str) -> aws_sdk_cloudwatch::Client,
) -> AlarmStateResult {
    let mut result = StepResult {
        step: STEP.into(),
        action: Action::Status,
        dry_run: false,
        changed: false,
        ready: true,
        refusals: Vec::new(),
        warnings: Vec::new(),
        summary: String::new(),
        detail: AlarmStateDetail {
            alarm: None,
            region: None,
            state: None,
            state_reason: None,
            state_since: None,
            recovered: false,
            read_error: None,
        },
        wait: None,
    };
    let Some(alarm) = &request.request.alarm else {
        let error = "the run's request names no alarm (alarm.name, alarm.region)".to_owned();
        result.summary = format!(
            "the health check alarm was not read again: {error}; the failover goes on as ApprovalExpiryAction says"
        );
        result.warnings.push(format!(
            "the health check alarm was not read again before proceeding ({error}): whether the primary had recovered is unknown"
        ));
        result.detail.read_error = Some(error);
        return result;
    };
    result.detail.alarm = Some(alarm.name.clone());
    result.detail.region = Some(alarm.region.clone());
    let cloudwatch = cloudwatch_in(&alarm.region);
    let answer = cloudwatch
        .describe_alarms()
        .alarm_names(&alarm.name)
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .send()
        .await;
    let found = match answer {
        Err(error) => Err(AwsCallError::new("DescribeAlarms", &error).to_string()),
        Ok(output) => {
            let metric = output.metric_alarms().iter().find_map(|a| {
                (a.alarm_name() == Some(alarm.name.as_str())).then(|| {
                    (
                        a.state_value().cloned(),
                        a.state_reason().map(str::to_owned),
                        a.state_transitioned_timestamp()
                            .or(a.state_updated_timestamp())
                            .cloned(),
                    )
                })
            });
            let composite = || {
                output.composite_alarms().iter().find_map(|a| {
                    (a.alarm_name() == Some(alarm.name.as_str())).then(|| {
                        (
                            a.state_value().cloned(),
                            a.state_reason().map(str::to_owned),
                            a.state_transitioned_timestamp()
                                .or(a.state_updated_timestamp())
                                .cloned(),
                        )
                    })
                })
            };
            metric.or_else(composite).ok_or_else(|| {
                format!(
                    "DescribeAlarms in {} answered no alarm named {}",
                    alarm.region, alarm.name
                )
            })
        }
    };
    match found {
        Err(error) => {
            result.summary = format!(
                "health check alarm {} ({}) could not be read: {error}; the failover goes on as ApprovalExpiryAction says",
                alarm.name, alarm.region
            );
            result.warnings.push(format!(
                "the health check alarm {} was not read again before proceeding ({error}): whether the primary had recovered is unknown",
                alarm.name
            ));
            result.detail.read_error = Some(error);
        }
        Ok((state, reason, since)) => {
            let mut detail = result.detail;
            detail.state = state.as_ref().map(|s| s.as_str().to_owned());
            detail.state_reason = reason;
            detail.state_since = since.and_then(|t| t.fmt(Format::DateTime).ok());
            detail.recovered = state == Some(StateValue::Ok);
            let since_text = detail
                .state_since
                .as_deref()
                .map(|t| format!(" since {t}"))
                .unwrap_or_default();
            let state_text = detail.state.as_deref().unwrap_or("in no state");
            let reason_text = detail
                .state_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            if detail.recovered {
                let text = format!(
                    "the health check alarm {} is OK{since_text}{reason_text}: the primary has recovered, so proceeding would fail over from a healthy primary",
                    alarm.name
                );
                result.ready = false;
                result.summary = text.clone();
                result.refusals.push(text);
            } else {
                result.summary = format!(
                    "the health check alarm {} is {state_text}{since_text}{reason_text}: the failover may proceed",
                    alarm.name
                );
            }
            result.detail = detail;
        }
    }
    result
}

/// A CloudWatch client for `region`, from `base` (its credentials, timeouts and endpoint).
pub fn client_for(base: &aws_config::SdkConfig, region: &str) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&crate::aws::in_region(base, region))
}

#[cfg(test)]
mod tests;
