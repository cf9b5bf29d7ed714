//! The compute step's configuration: `ASG_TARGETS`, `ASG_READY_PERCENT`,
//! `ASG_DNS_CAPACITY_PERCENT`, `PRIMARY_TIMEOUT_SECONDS` and `ASG_ALLOWED_GROUP_NAMES`.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{self, ConfigError, Source};

/// The share of each group's target that must be InService before DNS moves, unless configured:
/// half the production capacity serves most applications degraded rather than not at all, and
/// waiting for the last instances of a zone short of capacity can take far longer than the
/// database. See `docs/contract.md`.
pub const DEFAULT_DNS_CAPACITY_PERCENT: u32 = 50;

/// The longest `PRIMARY_TIMEOUT_SECONDS` accepted: a third of the template's 30 s function timeout,
/// so a primary region that does not answer leaves the step time to answer.
pub const MAX_PRIMARY_TIMEOUT_SECONDS: u64 = 10;

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
    #[serde(default)]
    max_capacity: Option<i32>,
}

/// `ASG_ALLOWED_GROUP_NAMES` of a role scoped to its region's groups, not to names: what
/// `dr-failover plan render` writes when the plan's groups would take more of the role's policy
/// than IAM's 10,240 characters leave (`shared::plan::render::group_name_scope`); the template's
/// group ARNs then end in `autoScalingGroupName/*`.
pub const ANY_GROUP: &str = "*";

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
    /// The most capacity (in the group's units) this group may be raised to, whatever the target
    /// works out as: what the DR account's EC2 quotas, subnets or budget can take. A target above
    /// it is lowered to it, and the plan says so. `None`: no ceiling.
    pub max_capacity: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeConfig {
    pub groups: Vec<GroupPlan>,
    /// Share of the target (in the group's units) that must be InService and healthy for `ready`.
    pub ready_percent: u32,
    /// Share of the target (in units) every group must have InService before DNS may move
    /// (`ASG_DNS_CAPACITY_PERCENT`, 1..=100, default [`DEFAULT_DNS_CAPACITY_PERCENT`]).
    pub dns_capacity_percent: u32,
    /// Bound on each call into the primary region.
    pub primary_timeout: Duration,
    /// `ASG_ALLOWED_GROUP_NAMES`, comma separated (or [`ANY_GROUP`] alone): the groups this function's IAM role may
    /// change, filled by the template from the parameter (`AsgGroupNames`) that scopes the
    /// role's `autoscaling:UpdateAutoScalingGroup`. The plan refuses any other group.
    pub allowed_groups: BTreeSet<String>,
    /// `apply` suspends `ScheduledActions` on a group that has a scheduled action setting it below
    /// its target (see `compute::scheduled`). `true` from [`ComputeConfig::from_source`] (the
    /// failover's DR groups, which fail back's pilot-capacity resumes); failback-compute sets it
    /// `false`: the primary groups' schedules are production's own, and nothing would resume them.
    pub suspend_scheduled_actions: bool,
}

impl ComputeConfig {
    /// Why the role could not change `group`, if it could not.
    pub fn refusal(&self, group: &str) -> Option<String> {
        (!self.allowed_groups.contains(group) && !self.allowed_groups.contains(ANY_GROUP)).then(
            || {
                format!(
                "{group}: this function's role may not change it (not in ASG_ALLOWED_GROUP_NAMES, \
                 the template's AsgGroupNames, which scopes the role's \
                 autoscaling:UpdateAutoScalingGroup); apply would be denied. Add {group} to the \
                 AsgGroupNames parameter, or remove it from AsgTargets"
            )
            },
        )
    }
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
            if entry.capacity.is_some()
                && (entry.percent_of_primary.is_some() || entry.fallback_capacity.is_some())
            {
                return Err(invalid(format!(
                    "[{index}] sets capacity (a fixed target) together with percent_of_primary \
                     or fallback_capacity (a share of the primary group): give one or the other"
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
            if let Some(max) = entry.max_capacity {
                let least = match &target {
                    Target::Fixed(capacity) => *capacity,
                    Target::ShareOfPrimary { fallback, .. } => *fallback,
                };
                if max < least {
                    return Err(invalid(format!(
                        "[{index}].max_capacity {max} is below the group's {} {least}",
                        if matches!(target, Target::Fixed(_)) {
                            "capacity"
                        } else {
                            "fallback_capacity"
                        }
                    )));
                }
            }
            groups.push(GroupPlan {
                group: entry.group,
                target,
                max_capacity: entry.max_capacity,
            });
        }
        let ready_percent = config::parsed(source, "ASG_READY_PERCENT", 100u32)?;
        if !(1..=100).contains(&ready_percent) {
            return Err(ConfigError::Invalid {
                name: "ASG_READY_PERCENT",
                reason: format!("{ready_percent} is outside 1..=100"),
            });
        }
        let dns_capacity_percent = config::parsed(
            source,
            "ASG_DNS_CAPACITY_PERCENT",
            DEFAULT_DNS_CAPACITY_PERCENT,
        )?;
        if !(1..=100).contains(&dns_capacity_percent) {
            return Err(ConfigError::Invalid {
                name: "ASG_DNS_CAPACITY_PERCENT",
                reason: format!("{dns_capacity_percent} is outside 1..=100"),
            });
        }
        let timeout_seconds = config::parsed(source, "PRIMARY_TIMEOUT_SECONDS", 5u64)?;
        if !(1..=MAX_PRIMARY_TIMEOUT_SECONDS).contains(&timeout_seconds) {
            return Err(ConfigError::Invalid {
                name: "PRIMARY_TIMEOUT_SECONDS",
                reason: format!(
                    "{timeout_seconds} is outside 1..={MAX_PRIMARY_TIMEOUT_SECONDS}: the primary region is context, worth a few seconds of the function's 30 s"
                ),
            });
        }
        let allowed_groups = config::required(source, "ASG_ALLOWED_GROUP_NAMES")?
            .split(',')
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .collect();
        Ok(ComputeConfig {
            groups,
            ready_percent,
            dns_capacity_percent,
            primary_timeout: Duration::from_secs(timeout_seconds),
            allowed_groups,
            suspend_scheduled_actions: true,
        })
    }
}
