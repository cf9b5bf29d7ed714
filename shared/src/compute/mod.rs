//! The compute step: raise the DR Auto Scaling groups to the capacity production needs.
//!
//! A failover never scales in: `apply` only ever raises min, desired and max, and a group already
//! at or above its target is left alone. The target is either a fixed number or a share of the
//! primary group's desired capacity, read from the primary region when it answers in time and
//! taken from a configured fallback when it does not (the primary region may be the one down).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_autoscaling::operation::update_auto_scaling_group::UpdateAutoScalingGroupError;
use aws_sdk_autoscaling::types::{AutoScalingGroup, LifecycleState};
use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError, Source};
use crate::error::{AwsCallError, ErrorKind, StepError};
use crate::request::{Action, StepRequest};
use crate::result::StepResult;

pub const STEP: &str = "scale-asg";

/// One entry of `ASG_TARGETS` as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetEntry {
    group: String,
    #[serde(default)]
    capacity: Option<i32>,
    #[serde(default)]
    primary_group: Option<String>,
    #[serde(default)]
    percent_of_primary: Option<u32>,
    #[serde(default)]
    fallback_capacity: Option<i32>,
}

/// The capacity one DR group must reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Fixed(i32),
    ShareOfPrimary {
        primary_group: String,
        percent: u32,
        fallback: i32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    pub group: String,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeConfig {
    pub groups: Vec<GroupPlan>,
    /// Share of the target that must be InService and healthy for `ready`.
    pub ready_percent: u32,
    /// Bound on each call into the primary region.
    pub primary_timeout: Duration,
}

impl ComputeConfig {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let entries: Vec<TargetEntry> = config::json(source, "ASG_TARGETS")?;
        let invalid = |reason: String| ConfigError::Invalid {
            name: "ASG_TARGETS",
            reason,
        };
        if entries.is_empty() {
            return Err(invalid("names no group".into()));
        }
        let mut groups = Vec::with_capacity(entries.len());
        for (index, entry) in entries.into_iter().enumerate() {
            if entry.group.trim().is_empty() {
                return Err(invalid(format!("[{index}].group is empty")));
            }
            if groups.iter().any(|g: &GroupPlan| g.group == entry.group) {
                return Err(invalid(format!(
                    "[{index}].group {} appears twice",
                    entry.group
                )));
            }
            let target = match (entry.capacity, entry.primary_group) {
                (Some(_), Some(_)) => {
                    return Err(invalid(format!(
                        "[{index}] sets both capacity and primary_group"
                    )))
                }
                (Some(capacity), None) if capacity >= 1 => Target::Fixed(capacity),
                (Some(capacity), None) => {
                    return Err(invalid(format!(
                        "[{index}].capacity {capacity} must be at least 1"
                    )))
                }
                (None, Some(primary_group)) => {
                    let percent = entry.percent_of_primary.unwrap_or(100);
                    if !(1..=1000).contains(&percent) {
                        return Err(invalid(format!(
                            "[{index}].percent_of_primary {percent} is outside 1..=1000"
                        )));
                    }
                    let fallback = entry.fallback_capacity.ok_or_else(|| {
                        invalid(format!(
                            "[{index}].fallback_capacity is required with primary_group, for when the primary region does not answer"
                        ))
                    })?;
                    if fallback < 1 {
                        return Err(invalid(format!(
                            "[{index}].fallback_capacity must be at least 1"
                        )));
                    }
                    Target::ShareOfPrimary {
                        primary_group,
                        percent,
                        fallback,
                    }
                }
                (None, None) => {
                    return Err(invalid(format!(
                        "[{index}] needs capacity or primary_group"
                    )))
                }
            };
            groups.push(GroupPlan {
                group: entry.group,
                target,
            });
        }
        let ready_percent = config::parsed(source, "ASG_READY_PERCENT", 100u32)?;
        if !(1..=100).contains(&ready_percent) {
            return Err(ConfigError::Invalid {
                name: "ASG_READY_PERCENT",
                reason: format!("{ready_percent} is outside 1..=100"),
            });
        }
        let timeout_seconds = config::parsed(source, "PRIMARY_TIMEOUT_SECONDS", 5u64)?;
        Ok(ComputeConfig {
            groups,
            ready_percent,
            primary_timeout: Duration::from_secs(timeout_seconds.max(1)),
        })
    }
}

/// Auto Scaling clients in both regions; the primary one carries the operation timeout.
#[derive(Debug, Clone)]
pub struct ComputeClients {
    pub dr: aws_sdk_autoscaling::Client,
    pub primary: aws_sdk_autoscaling::Client,
}

impl ComputeClients {
    pub fn new(dr: &SdkConfig, primary_region: &str, config: &ComputeConfig) -> Self {
        let primary = crate::aws::with_operation_timeout(
            &crate::aws::in_region(dr, primary_region),
            config.primary_timeout,
        );
        ComputeClients {
            dr: aws_sdk_autoscaling::Client::new(dr),
            primary: aws_sdk_autoscaling::Client::new(&primary),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ComputeError {
    #[error("Auto Scaling group {0} not found in the DR region")]
    GroupNotFound(String),
    #[error("Auto Scaling group {group} is busy: {message}")]
    Busy { group: String, message: String },
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl StepError for ComputeError {
    fn kind(&self) -> ErrorKind {
        match self {
            ComputeError::GroupNotFound(_) => ErrorKind::NotFound,
            ComputeError::Busy { .. } => ErrorKind::Retryable,
            ComputeError::Aws(error) => error.kind(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub min: i32,
    pub desired: i32,
    pub max: i32,
}

/// Where a group's target came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetSource {
    Fixed,
    Primary,
    Fallback,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDetail {
    pub group: String,
    pub target: i32,
    pub target_source: TargetSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_note: Option<String>,
    /// Capacity when this call started.
    pub before: Capacity,
    /// Capacity after `apply` (the same as `before` when nothing had to change).
    pub after: Capacity,
    pub in_service: i32,
    pub required_in_service: i32,
    pub ready: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeDetail {
    pub groups: Vec<GroupDetail>,
}

pub type ComputeResult = StepResult<ComputeDetail>;

/// Runs one action of the compute step.
pub async fn handle(
    request: StepRequest,
    config: &ComputeConfig,
    clients: &ComputeClients,
) -> Result<ComputeResult, ComputeError> {
    let action = request.effective_action();
    let names: Vec<String> = config.groups.iter().map(|g| g.group.clone()).collect();
    let current = describe(&clients.dr, &names, "DescribeAutoScalingGroups").await?;

    let primary = primary_groups(config, clients).await;

    let mut details = Vec::with_capacity(config.groups.len());
    let mut refusals = Vec::new();
    let mut changed = false;
    for plan in &config.groups {
        let Some(group) = current.get(&plan.group) else {
            if action == Action::Plan {
                refusals.push(format!(
                    "Auto Scaling group {} not found in the DR region",
                    plan.group
                ));
                continue;
            }
            return Err(ComputeError::GroupNotFound(plan.group.clone()));
        };
        let (target, target_source, target_note) = resolve_target(&plan.target, &primary);
        let before = capacity(group);
        // A group already at or above its target is left alone entirely.
        let after = if before.desired >= target {
            before
        } else {
            raised(before, target)
        };
        if action == Action::Apply && after != before {
            update(&clients.dr, &plan.group, after).await?;
            changed = true;
        }
        let in_service = in_service(group);
        let required_in_service = required(target, config.ready_percent);
        details.push(GroupDetail {
            group: plan.group.clone(),
            target,
            target_source,
            target_note,
            before,
            after: if action == Action::Apply {
                after
            } else {
                before
            },
            in_service,
            required_in_service,
            ready: before.desired >= target && in_service >= required_in_service,
        });
    }

    let ready = refusals.is_empty() && details.iter().all(|g| g.ready);
    let summary = summarize(action, &details, changed);
    Ok(StepResult {
        step: STEP.into(),
        action,
        dry_run: request.dry_run,
        changed,
        ready,
        refusals,
        summary,
        detail: ComputeDetail { groups: details },
    })
}

fn summarize(action: Action, groups: &[GroupDetail], changed: bool) -> String {
    let parts: Vec<String> = groups
        .iter()
        .map(|g| match action {
            Action::Plan if g.before.desired >= g.target => {
                format!(
                    "{} at {} (target {}): no change",
                    g.group, g.before.desired, g.target
                )
            }
            Action::Plan => format!("{} {} -> {}", g.group, g.before.desired, g.target),
            Action::Apply if g.after != g.before => {
                format!(
                    "{} raised {} -> {}",
                    g.group, g.before.desired, g.after.desired
                )
            }
            Action::Apply => format!(
                "{} already at {} (target {})",
                g.group, g.before.desired, g.target
            ),
            Action::Status => format!(
                "{} {}/{} InService",
                g.group, g.in_service, g.required_in_service
            ),
        })
        .collect();
    let head = match (action, changed) {
        (Action::Apply, false) => "nothing to change: ",
        _ => "",
    };
    format!("{head}{}", parts.join("; "))
}

/// Never lower: each bound becomes at least the target.
fn raised(before: Capacity, target: i32) -> Capacity {
    Capacity {
        min: before.min.max(target),
        desired: before.desired.max(target),
        max: before.max.max(target),
    }
}

fn capacity(group: &AutoScalingGroup) -> Capacity {
    Capacity {
        min: group.min_size().unwrap_or(0),
        desired: group.desired_capacity().unwrap_or(0),
        max: group.max_size().unwrap_or(0),
    }
}

fn in_service(group: &AutoScalingGroup) -> i32 {
    group
        .instances()
        .iter()
        .filter(|i| {
            i.lifecycle_state() == Some(&LifecycleState::InService)
                && i.health_status() == Some("Healthy")
        })
        .count() as i32
}

fn required(target: i32, ready_percent: u32) -> i32 {
    ((target as i64 * ready_percent as i64 + 99) / 100) as i32
}

/// The primary groups that targets are shares of, read in one call: when the primary region is
/// down, the failover waits for its timeout once, not once per group.
async fn primary_groups(
    config: &ComputeConfig,
    clients: &ComputeClients,
) -> Result<BTreeMap<String, AutoScalingGroup>, String> {
    let names: Vec<String> = config
        .groups
        .iter()
        .filter_map(|g| match &g.target {
            Target::ShareOfPrimary { primary_group, .. } => Some(primary_group.clone()),
            Target::Fixed(_) => None,
        })
        .collect();
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    describe(
        &clients.primary,
        &names,
        "DescribeAutoScalingGroups (primary)",
    )
    .await
    .map_err(|error| {
        tracing::warn!(%error, "primary region did not answer; using fallback capacities");
        error.to_string()
    })
}

fn resolve_target(
    target: &Target,
    primary: &Result<BTreeMap<String, AutoScalingGroup>, String>,
) -> (i32, TargetSource, Option<String>) {
    match target {
        Target::Fixed(capacity) => (*capacity, TargetSource::Fixed, None),
        Target::ShareOfPrimary {
            primary_group,
            percent,
            fallback,
        } => match primary {
            Ok(groups) => match groups.get(primary_group).and_then(|g| g.desired_capacity()) {
                Some(desired) if desired > 0 => {
                    let share = ((desired as i64 * *percent as i64 + 99) / 100) as i32;
                    (
                        share,
                        TargetSource::Primary,
                        Some(format!("{percent}% of {primary_group}'s desired {desired}")),
                    )
                }
                Some(_) => (
                    *fallback,
                    TargetSource::Fallback,
                    Some(format!(
                        "{primary_group} has no desired capacity; fallback used"
                    )),
                ),
                None => (
                    *fallback,
                    TargetSource::Fallback,
                    Some(format!(
                        "{primary_group} not found in the primary region; fallback used"
                    )),
                ),
            },
            Err(error) => (
                *fallback,
                TargetSource::Fallback,
                Some(format!(
                    "primary region did not answer ({error}); fallback used"
                )),
            ),
        },
    }
}

async fn describe(
    client: &aws_sdk_autoscaling::Client,
    names: &[String],
    operation: &'static str,
) -> Result<BTreeMap<String, AutoScalingGroup>, ComputeError> {
    let groups: Vec<AutoScalingGroup> = client
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names(Some(names.to_vec()))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(|error| AwsCallError::new(operation, &error))?;
    Ok(groups
        .into_iter()
        .filter_map(|g| Some((g.auto_scaling_group_name()?.to_owned(), g)))
        .collect())
}

async fn update(
    client: &aws_sdk_autoscaling::Client,
    group: &str,
    capacity: Capacity,
) -> Result<(), ComputeError> {
    client
        .update_auto_scaling_group()
        .auto_scaling_group_name(group)
        .min_size(capacity.min)
        .desired_capacity(capacity.desired)
        .max_size(capacity.max)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(UpdateAutoScalingGroupError::ResourceContentionFault(fault)) => {
                ComputeError::Busy {
                    group: group.to_owned(),
                    message: fault.message().unwrap_or("resource contention").to_owned(),
                }
            }
            Some(UpdateAutoScalingGroupError::ScalingActivityInProgressFault(fault)) => {
                ComputeError::Busy {
                    group: group.to_owned(),
                    message: fault
                        .message()
                        .unwrap_or("scaling activity in progress")
                        .to_owned(),
                }
            }
            _ => AwsCallError::new("UpdateAutoScalingGroup", &error).into(),
        })?;
    Ok(())
}

#[cfg(test)]
mod tests;
