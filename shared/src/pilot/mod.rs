//! The pilot-capacity step: fail back's one scale-in. Once DNS answers from the primary region
//! again, each DR Auto Scaling group goes back to the pilot-light sizes the plan names
//! (`PILOT_CAPACITY`), and the step waits until the group holds no more instances than that.
//!
//! This is the only code in dr-failover that lowers a group, so it is its own function, with its
//! own configuration and a role that may change only the groups `PILOT_CAPACITY` names; the
//! failover's scale-asg never lowers anything. Only the fail back state machine calls it, after
//! DNS has moved back. AWS: "UpdateAutoScalingGroup", Amazon EC2 Auto Scaling API Reference,
//! https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html
//! (lowering the desired capacity terminates instances by the group's termination policy).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use serde::{Deserialize, Serialize};

use crate::bound::Listed;
use crate::compute::{self, scheduled, SizeUpdateError};
use crate::config::{self, ConfigError, Source};
use crate::error::{AwsCallError, ErrorKind, StepError};
use crate::request::{Action, StepRequest};
use crate::result::StepResult;
use aws_sdk_autoscaling::types::Tag;

pub const STEP: &str = "pilot-capacity";

/// A group's sizes, in its own capacity units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sizes {
    pub min: i32,
    pub desired: i32,
    pub max: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    group: String,
    min: i32,
    desired: i32,
    max: i32,
}

/// `PILOT_CAPACITY`: each DR group and its pilot-light sizes,
/// `[{"group": "web-dr", "min": 1, "desired": 1, "max": 2}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PilotConfig {
    pub groups: BTreeMap<String, Sizes>,
}

impl PilotConfig {
    /// Reads `PILOT_CAPACITY`. Errors name the variable and the entry: sizes must hold
    /// `0 <= min <= desired <= max`, each group listed once.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let entries: Vec<Entry> = config::json(source, "PILOT_CAPACITY")?;
        let invalid = |reason: String| ConfigError::Invalid {
            name: "PILOT_CAPACITY",
            reason,
        };
        if entries.is_empty() {
            return Err(invalid("names no group".into()));
        }
        let mut groups = BTreeMap::new();
        for entry in entries {
            if !(0 <= entry.min && entry.min <= entry.desired && entry.desired <= entry.max) {
                return Err(invalid(format!(
                    "{}: sizes must hold 0 <= min <= desired <= max, got {}/{}/{}",
                    entry.group, entry.min, entry.desired, entry.max
                )));
            }
            let sizes = Sizes {
                min: entry.min,
                desired: entry.desired,
                max: entry.max,
            };
            if groups.insert(entry.group.clone(), sizes).is_some() {
                return Err(invalid(format!("{} is listed twice", entry.group)));
            }
        }
        Ok(PilotConfig { groups })
    }
}

/// The DR region's Auto Scaling client.
#[derive(Debug, Clone)]
pub struct PilotClients {
    pub autoscaling: aws_sdk_autoscaling::Client,
}

impl PilotClients {
    /// `dr` must be configured for the DR region.
    pub fn new(dr: &SdkConfig) -> Self {
        PilotClients {
            autoscaling: aws_sdk_autoscaling::Client::new(dr),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PilotError {
    /// A group `PILOT_CAPACITY` names does not exist (`DrFailover.NotFound`).
    #[error("Auto Scaling group(s) not found in the DR region: {}", .0.join(", "))]
    GroupsNotFound(Vec<String>),
    /// Auto Scaling is busy with the group (`DrFailover.NotReady`): waited out.
    #[error("{group}: {message}")]
    Busy { group: String, message: String },
    /// Any other AWS error (`DrFailover.AwsError`, or `DrFailover.Retryable` when transient).
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

impl StepError for PilotError {
    fn kind(&self) -> ErrorKind {
        match self {
            PilotError::GroupsNotFound(_) => ErrorKind::NotFound,
            PilotError::Busy { .. } => ErrorKind::NotReady,
            PilotError::Aws(error) => error.kind(),
        }
    }
}

/// One group: its sizes now and the pilot sizes, and how many instances it still holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PilotGroup {
    pub group: String,
    pub before: Sizes,
    pub pilot: Sizes,
    /// Instances in the group in any lifecycle state (terminating ones count until gone).
    pub instances: usize,
    /// At the pilot sizes and holding no more instances than the pilot's desired capacity.
    pub ready: bool,
}

/// What the step found and did; the same shape for every action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PilotDetail {
    pub groups: Vec<PilotGroup>,
}

impl Listed for PilotDetail {
    fn lists(&self) -> Vec<(&'static str, Vec<bool>)> {
        vec![("groups", self.groups.iter().map(|g| g.ready).collect())]
    }
}

pub type PilotResult = StepResult<PilotDetail>;

/// Runs one action. `plan` (and a dry run's `apply`) only reads and says what each group would
/// go down to; `apply` sets each group not yet at its pilot sizes (`UpdateAutoScalingGroup` with
/// min, desired and max at once); `status` is `ready` once every group is at its pilot sizes and
/// holds no more instances than its desired capacity. Errors: `GroupsNotFound`, `Busy` (a
/// scaling activity or resource contention: waited out), `Aws`.
///
/// A group the failover tagged [`compute::scheduled::SUSPENDED_BY_FAILOVER_TAG`] (it suspended
/// the group's `ScheduledActions`) gets the process back: `apply`, after the sizes, resumes
/// `ScheduledActions` (`ResumeProcesses`) and then removes the tag (`DeleteTags`), so a re-run
/// after a failure in between resumes again. A `ScheduledActions` suspended without the tag (an
/// operator's) stays suspended, and the step says so.
pub async fn handle(
    request: StepRequest,
    config: &PilotConfig,
    clients: &PilotClients,
) -> Result<PilotResult, PilotError> {
    let action = request.effective_action();
    let names: Vec<String> = config.groups.keys().cloned().collect();
    let found =
        compute::describe_groups(&clients.autoscaling, &names, "DescribeAutoScalingGroups").await?;
    let missing: Vec<String> = config
        .groups
        .keys()
        .filter(|name| !found.contains_key(*name))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(PilotError::GroupsNotFound(missing));
    }
    let mut groups: Vec<PilotGroup> = config
        .groups
        .iter()
        .map(|(name, pilot)| {
            let group = &found[name];
            let before = Sizes {
                min: group.min_size().unwrap_or(0),
                desired: group.desired_capacity().unwrap_or(0),
                max: group.max_size().unwrap_or(0),
            };
            let instances = group.instances().len();
            PilotGroup {
                group: name.clone(),
                before,
                pilot: *pilot,
                instances,
                ready: before == *pilot && instances <= pilot.desired as usize,
            }
        })
        .collect();
    // Groups whose ScheduledActions the failover suspended, and groups where someone else did.
    let to_resume: Vec<String> = names
        .iter()
        .filter(|name| scheduled::marked(&found[*name]))
        .cloned()
        .collect();
    let warnings: Vec<String> = names
        .iter()
        .filter(|name| scheduled::is_suspended(&found[*name]) && !scheduled::marked(&found[*name]))
        .map(|name| {
            format!(
                "{name} has ScheduledActions suspended, not by the failover (no {} tag): left suspended",
                scheduled::SUSPENDED_BY_FAILOVER_TAG
            )
        })
        .collect();
    let to_change: Vec<&PilotGroup> = groups.iter().filter(|g| g.before != g.pilot).collect();
    let sizes = |s: &Sizes| format!("{}/{}/{}", s.min, s.desired, s.max);
    let mut changed = false;
    let summary = if to_change.is_empty() {
        let waiting: Vec<String> = groups
            .iter()
            .filter(|g| !g.ready)
            .map(|g| format!("{} holds {} instance(s)", g.group, g.instances))
            .collect();
        if waiting.is_empty() {
            "every DR group is at its pilot capacity".to_owned()
        } else {
            format!(
                "every DR group is at its pilot sizes; waiting for instances to terminate: {}",
                waiting.join(", ")
            )
        }
    } else {
        let changes: Vec<String> = to_change
            .iter()
            .map(|g| {
                format!(
                    "{} {} -> {} (min/desired/max)",
                    g.group,
                    sizes(&g.before),
                    sizes(&g.pilot)
                )
            })
            .collect();
        match action {
            Action::Apply => {
                for group in &to_change {
                    update(&clients.autoscaling, &group.group, group.pilot).await?;
                }
                changed = true;
                format!("set to pilot capacity: {}", changes.join("; "))
            }
            Action::Plan => format!("apply would set to pilot capacity: {}", changes.join("; ")),
            Action::Status => format!("not at pilot capacity yet: {}", changes.join("; ")),
        }
    };
    let summary = match (action, to_resume.is_empty()) {
        (_, true) => summary,
        (Action::Apply, false) => {
            for name in &to_resume {
                if scheduled::is_suspended(&found[name]) {
                    resume_scheduled_actions(&clients.autoscaling, name).await?;
                }
                unmark(&clients.autoscaling, name).await?;
            }
            changed = true;
            format!(
                "{summary}; resumed ScheduledActions the failover suspended on {}",
                to_resume.join(", ")
            )
        }
        (_, false) => format!(
            "{summary}; apply resumes ScheduledActions the failover suspended on {}",
            to_resume.join(", ")
        ),
    };
    if changed {
        for group in &mut groups {
            group.ready = false;
        }
    }
    let ready = !changed && groups.iter().all(|g| g.ready);
    Ok(StepResult {
        step: STEP.into(),
        action,
        dry_run: request.dry_run,
        changed,
        ready,
        refusals: Vec::new(),
        warnings,
        summary,
        detail: PilotDetail { groups },
        wait: None,
    })
}

/// Resumes `ScheduledActions` on `group` (`ResumeProcesses`, that process only). "Suspend and
/// resume Amazon EC2 Auto Scaling processes",
/// https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-suspend-resume-processes.html
async fn resume_scheduled_actions(
    client: &aws_sdk_autoscaling::Client,
    group: &str,
) -> Result<(), PilotError> {
    client
        .resume_processes()
        .auto_scaling_group_name(group)
        .scaling_processes(scheduled::SCHEDULED_ACTIONS)
        .send()
        .await
        .map_err(|error| AwsCallError::new("ResumeProcesses", &error))?;
    Ok(())
}

/// Removes [`scheduled::SUSPENDED_BY_FAILOVER_TAG`] from `group` (`DeleteTags`).
async fn unmark(client: &aws_sdk_autoscaling::Client, group: &str) -> Result<(), PilotError> {
    client
        .delete_tags()
        .tags(
            Tag::builder()
                .resource_id(group)
                .resource_type("auto-scaling-group")
                .key(scheduled::SUSPENDED_BY_FAILOVER_TAG)
                .build(),
        )
        .send()
        .await
        .map_err(|error| AwsCallError::new("DeleteTags", &error))?;
    Ok(())
}

async fn update(
    client: &aws_sdk_autoscaling::Client,
    group: &str,
    sizes: Sizes,
) -> Result<(), PilotError> {
    compute::update_sizes(client, group, sizes.min, sizes.desired, sizes.max)
        .await
        .map_err(|error| match error {
            SizeUpdateError::Busy { group, message } => PilotError::Busy { group, message },
            SizeUpdateError::Aws(error) => PilotError::Aws(error),
        })
}

#[cfg(test)]
mod tests;
