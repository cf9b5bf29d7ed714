//! The compute step: raise the DR Auto Scaling groups to the capacity production needs.
//!
//! A failover never scales in: `apply` only ever raises min, desired and max, and a group already
//! at or above its target is left alone. The target is either a fixed number or a share of the
//! primary group's desired capacity, read from the primary region when it answers in time and
//! taken from a configured fallback when it does not (the primary region may be the one down).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_autoscaling::operation::update_auto_scaling_group::UpdateAutoScalingGroupError;
use aws_sdk_autoscaling::types::{AutoScalingGroup, LifecycleState};
use aws_smithy_types::DateTime;
use serde::{Deserialize, Serialize};

use crate::error::{AwsCallError, ErrorKind, StepError};
use crate::request::{Action, StepRequest};
use crate::result::StepResult;

mod activity;
pub mod config;
pub mod scheduled;

pub use config::{ComputeConfig, GroupPlan, Target, DEFAULT_DNS_CAPACITY_PERCENT};

pub const STEP: &str = "scale-asg";

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
    /// Groups of the plan the role's IAM policy would deny (`ASG_ALLOWED_GROUP_NAMES`): nothing
    /// is changed.
    #[error("groups this function's role may not change: {}", .0.join("; "))]
    NotPermitted(Vec<String>),
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl StepError for ComputeError {
    fn kind(&self) -> ErrorKind {
        match self {
            ComputeError::GroupNotFound(_) => ErrorKind::NotFound,
            ComputeError::Busy { .. } => ErrorKind::Retryable,
            ComputeError::NotPermitted(_) => ErrorKind::Refused,
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
    /// Given in the request (`targets`): resolved once by the plan, the same for the whole run.
    Pinned,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDetail {
    pub group: String,
    /// The capacity to reach, in the group's own units (instance weights of a mixed instances
    /// policy; 1 an instance otherwise), as Auto Scaling counts desired capacity.
    pub target: i32,
    pub target_source: TargetSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_note: Option<String>,
    /// Capacity when this call started.
    pub before: Capacity,
    /// Capacity after `apply` (the same as `before` when nothing had to change).
    pub after: Capacity,
    /// Units of InService, healthy instances.
    pub in_service: i32,
    /// Units InService for `ready` (`ASG_READY_PERCENT` of the target).
    pub required_in_service: i32,
    /// Units InService before DNS may move (`ASG_DNS_CAPACITY_PERCENT` of the target).
    pub dns_threshold: i32,
    /// Scale-out processes that are suspended (before `apply` resumes them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspended_processes: Vec<String>,
    /// The group's scheduled actions that would set it below its target (plan and apply), each
    /// as [`scheduled::lowering`] describes it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lowering_scheduled_actions: Vec<String>,
    /// `ScheduledActions` is suspended on the group (after `apply`, when it suspended it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scheduled_actions_suspended: bool,
    /// Failed launches in this stage, with Auto Scaling's reason (status, while not ready).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_launches: Vec<String>,
    pub ready: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeDetail {
    pub groups: Vec<GroupDetail>,
    /// Each group's target in units, to pin in later requests (`targets`).
    pub targets: BTreeMap<String, i32>,
    /// Every group has at least its DNS threshold InService: DNS may move.
    pub dns_threshold_met: bool,
    /// The least share of its target any group has InService, in percent (0..=100).
    pub capacity_percent: u32,
}

pub type ComputeResult = StepResult<ComputeDetail>;

/// Runs one action of the compute step.
///
/// Targets come from `request.targets` when given (the plan's, pinned for the run), else they
/// are resolved now. `apply` raises min, desired and max to the target (never lowers) and resumes
/// the suspended processes that block scale-out; `status` also reads the scaling activities of
/// groups that are not ready and reports failed launches with AWS's reason.
///
/// `plan` and `apply` read each group's scheduled actions (`DescribeScheduledActions`) and warn
/// about each one that would set the group below its target; a failure to read them is a warning.
/// With `config.suspend_scheduled_actions` (the failover), `apply` tags such a group
/// [`scheduled::SUSPENDED_BY_FAILOVER_TAG`] and suspends its `ScheduledActions` process before
/// raising it, unless the process is already suspended (then it changes nothing, and the fail
/// back leaves it as it found it).
pub async fn handle(
    request: StepRequest,
    config: &ComputeConfig,
    clients: &ComputeClients,
) -> Result<ComputeResult, ComputeError> {
    let action = request.effective_action();
    let names: Vec<String> = config.groups.iter().map(|g| g.group.clone()).collect();
    let current = describe_groups(&clients.dr, &names, "DescribeAutoScalingGroups").await?;

    let pinned = request.targets.as_ref();
    let needs_primary = config
        .groups
        .iter()
        .any(|g| pinned.and_then(|t| t.get(&g.group)).is_none());
    let primary = if needs_primary {
        primary_groups(config, clients).await
    } else {
        Ok(BTreeMap::new())
    };
    let since = request
        .wait
        .as_ref()
        .and_then(|w| w.started().ok())
        .or_else(|| SystemTime::now().checked_sub(Duration::from_secs(3600)));

    let mut details = Vec::with_capacity(config.groups.len());
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();
    // Groups whose scaling activities could not be read, with the error: the summary says so.
    let mut unread: BTreeMap<String, String> = BTreeMap::new();
    let mut changed = false;
    let not_permitted: Vec<String> = config
        .groups
        .iter()
        .filter_map(|plan| config.refusal(&plan.group))
        .collect();
    if action == Action::Apply && !not_permitted.is_empty() {
        return Err(ComputeError::NotPermitted(not_permitted));
    }
    refusals.extend(not_permitted);
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
        let (mut target, target_source, mut target_note) =
            match pinned.and_then(|t| t.get(&plan.group)) {
                Some(pinned) => (*pinned, TargetSource::Pinned, None),
                None => resolve_target(&plan.target, &primary),
            };
        if let Some(ceiling) = plan.max_capacity.filter(|ceiling| target > *ceiling) {
            warnings.push(format!(
                "{} target {target} is above its max_capacity {ceiling}: the failover raises it to {ceiling} only",
                plan.group
            ));
            target_note = Some(match target_note {
                Some(note) => format!("{note}; capped at max_capacity {ceiling}"),
                None => format!("capped at max_capacity {ceiling}"),
            });
            target = ceiling;
        }
        let before = capacity(group);
        if before.desired < target && before.max < target {
            warnings.push(format!(
                "{} maximum {} is below its target {target}: apply raises the maximum to {target}",
                plan.group, before.max
            ));
        }
        // A group already at or above its target is left alone entirely.
        let after = if before.desired >= target {
            before
        } else {
            raised(before, target)
        };
        let scheduled_suspended = scheduled::is_suspended(group);
        let lowering = if action == Action::Status {
            Vec::new()
        } else {
            match scheduled::read(&clients.dr, &plan.group).await {
                Ok(actions) => {
                    scheduled::lowering(&actions, target, DateTime::from(SystemTime::now()))
                }
                Err(error) => {
                    warnings.push(format!(
                        "{}: its scheduled actions could not be read ({error}); any that would lower it below {target} are not known{}",
                        plan.group,
                        if config.suspend_scheduled_actions && !scheduled_suspended {
                            ", and apply does not suspend them"
                        } else {
                            ""
                        }
                    ));
                    Vec::new()
                }
            }
        };
        let to_suspend =
            config.suspend_scheduled_actions && !lowering.is_empty() && !scheduled_suspended;
        for described in &lowering {
            warnings.push(format!(
                "{}: scheduled action {described} would set it below the failover's target {target}; {}",
                plan.group,
                if scheduled_suspended {
                    "ScheduledActions is already suspended on the group, so it does not run".to_owned()
                } else if config.suspend_scheduled_actions {
                    "apply suspends ScheduledActions on the group (fail back resumes it)".to_owned()
                } else {
                    "it runs at its time unless ScheduledActions is suspended".to_owned()
                }
            ));
        }
        let suspended = activity::blocking_suspensions(group);
        if !suspended.is_empty() {
            warnings.push(format!(
                "{} has {} suspended, which blocks scale-out; apply resumes {}",
                plan.group,
                suspended.join(" and "),
                if suspended.len() == 1 { "it" } else { "them" }
            ));
        }
        if action == Action::Apply {
            if !suspended.is_empty() {
                activity::resume(&clients.dr, &plan.group, &suspended).await?;
                changed = true;
            }
            if to_suspend {
                if !scheduled::marked(group) {
                    scheduled::mark(&clients.dr, &plan.group).await?;
                }
                scheduled::suspend(&clients.dr, &plan.group).await?;
                changed = true;
            }
            if after != before {
                update(&clients.dr, &plan.group, after).await?;
                changed = true;
            }
        }
        let in_service = in_service_units(group);
        let required_in_service = share(target, config.ready_percent);
        let dns_threshold = share(target, config.dns_capacity_percent);
        let ready = before.desired >= target && in_service >= required_in_service;
        // Context only: why capacity is not coming. A failed read (AccessDenied included) is
        // reported as a warning and never changes the stage's answer.
        let failed_launches = if action == Action::Status && !ready {
            match activity::failed_launches(&clients.dr, &plan.group, since).await {
                Ok(failed) => failed,
                Err(error) => {
                    warnings.push(format!(
                        "{}: its scaling activities could not be read ({error}); why capacity is not coming is not known",
                        plan.group
                    ));
                    unread.insert(plan.group.clone(), error.to_string());
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
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
            dns_threshold,
            suspended_processes: suspended,
            lowering_scheduled_actions: lowering,
            scheduled_actions_suspended: scheduled_suspended
                || (action == Action::Apply && to_suspend),
            failed_launches,
            ready,
        });
    }

    let ready = refusals.is_empty() && details.iter().all(|g| g.ready);
    let summary = summarize(action, &details, changed, &unread);
    let capacity_percent = details
        .iter()
        .map(|g| percent_of(g.in_service, g.target))
        .min()
        .unwrap_or(100);
    Ok(StepResult {
        step: STEP.into(),
        action,
        dry_run: request.dry_run,
        changed,
        ready,
        refusals,
        warnings,
        summary,
        detail: ComputeDetail {
            targets: details
                .iter()
                .map(|g| (g.group.clone(), g.target))
                .collect(),
            dns_threshold_met: !details.is_empty()
                && details.iter().all(|g| g.in_service >= g.dns_threshold),
            capacity_percent,
            groups: details,
        },
        wait: None,
    })
}

fn percent_of(part: i32, whole: i32) -> u32 {
    if whole <= 0 {
        return 100;
    }
    ((part.max(0) as i64 * 100 / whole as i64).min(100)) as u32
}

fn summarize(
    action: Action,
    groups: &[GroupDetail],
    changed: bool,
    unread: &BTreeMap<String, String>,
) -> String {
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
            Action::Status if unread.contains_key(&g.group) => format!(
                "{} {}/{} InService; scaling activities not read: {}",
                g.group, g.in_service, g.required_in_service, unread[&g.group]
            ),
            Action::Status if g.failed_launches.is_empty() => format!(
                "{} {}/{} InService",
                g.group, g.in_service, g.required_in_service
            ),
            Action::Status => format!(
                "{} {}/{} InService; launches failing: {}",
                g.group, g.in_service, g.required_in_service, g.failed_launches[0]
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

/// Units of InService, healthy instances: each counts its `WeightedCapacity` (a mixed
/// instances policy's weight), or 1 without one, as Auto Scaling counts desired capacity.
/// "Configure instance weighting for Amazon EC2 Auto Scaling",
/// https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-mixed-instances-groups-instance-weighting.html
fn in_service_units(group: &AutoScalingGroup) -> i32 {
    group
        .instances()
        .iter()
        .filter(|i| {
            i.lifecycle_state() == Some(&LifecycleState::InService)
                && i.health_status() == Some("Healthy")
        })
        .map(|i| {
            i.weighted_capacity()
                .and_then(|w| w.trim().parse::<i32>().ok())
                .filter(|w| *w >= 1)
                .unwrap_or(1)
        })
        .sum()
}

/// `percent` of `target`, rounded up: the share is a floor the group must reach.
fn share(target: i32, percent: u32) -> i32 {
    ((target as i64 * percent as i64 + 99) / 100) as i32
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
    describe_groups(
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

/// The named groups as `DescribeAutoScalingGroups` gives them (every page), by name; a name
/// that does not exist is simply absent. `operation` names the call in an error. Shared by the
/// failover's raise and fail back's return to pilot capacity.
pub async fn describe_groups(
    client: &aws_sdk_autoscaling::Client,
    names: &[String],
    operation: &'static str,
) -> Result<BTreeMap<String, AutoScalingGroup>, AwsCallError> {
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
    update_sizes(client, group, capacity.min, capacity.desired, capacity.max)
        .await
        .map_err(|error| match error {
            SizeUpdateError::Busy { group, message } => ComputeError::Busy { group, message },
            SizeUpdateError::Aws(error) => ComputeError::Aws(error),
        })
}

/// Why `UpdateAutoScalingGroup` did not set a group's sizes.
#[derive(Debug, Clone, PartialEq)]
pub enum SizeUpdateError {
    /// `ResourceContention` or `ScalingActivityInProgress`: the group is busy, and the same call
    /// succeeds once it is not (a wait, not a failure).
    Busy {
        group: String,
        message: String,
    },
    Aws(AwsCallError),
}

/// Sets a group's minimum, desired and maximum size (`UpdateAutoScalingGroup`, nothing else of
/// the group: the scaling role may change sizes only). Shared by the failover's raise and fail
/// back's return to pilot capacity. Errors: [`SizeUpdateError`].
pub async fn update_sizes(
    client: &aws_sdk_autoscaling::Client,
    group: &str,
    min: i32,
    desired: i32,
    max: i32,
) -> Result<(), SizeUpdateError> {
    client
        .update_auto_scaling_group()
        .auto_scaling_group_name(group)
        .min_size(min)
        .desired_capacity(desired)
        .max_size(max)
        .send()
        .await
        .map_err(|error| {
            let busy = match error.as_service_error() {
                Some(UpdateAutoScalingGroupError::ResourceContentionFault(fault)) => {
                    Some(fault.message().unwrap_or("resource contention"))
                }
                Some(UpdateAutoScalingGroupError::ScalingActivityInProgressFault(fault)) => {
                    Some(fault.message().unwrap_or("scaling activity in progress"))
                }
                _ => None,
            };
            match busy {
                Some(message) => SizeUpdateError::Busy {
                    group: group.to_owned(),
                    message: message.to_owned(),
                },
                None => SizeUpdateError::Aws(AwsCallError::new("UpdateAutoScalingGroup", &error)),
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests;
