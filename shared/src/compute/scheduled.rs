//! A DR group's own scheduled actions: the ones that would set it below the failover's target are
//! named by the plan, and `apply` suspends the group's `ScheduledActions` process so none of them
//! runs while the DR region serves production; fail back's pilot-capacity resumes it.
//!
//! A scheduled action sets a group's minimum, maximum and/or desired capacity at its time (once,
//! or on a cron `Recurrence`). "Scheduled scaling for Amazon EC2 Auto Scaling",
//! https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-scheduled-scaling.html
//! While the `ScheduledActions` process is suspended, Auto Scaling runs none of them. "Suspend
//! and resume Amazon EC2 Auto Scaling processes",
//! https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-suspend-resume-processes.html

use aws_sdk_autoscaling::types::{AutoScalingGroup, ScheduledUpdateGroupAction, Tag};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use crate::error::AwsCallError;

/// The scaling process that runs a group's scheduled actions.
pub const SCHEDULED_ACTIONS: &str = "ScheduledActions";

/// The tag scale-asg puts on a DR group before it suspends `ScheduledActions` there, and
/// pilot-capacity reads (resuming the process) and removes: a process an operator suspended on
/// purpose carries no such tag and stays suspended.
pub const SUSPENDED_BY_FAILOVER_TAG: &str = "dr-failover:suspended-scheduled-actions";

/// The tag's value, for whoever reads the group's tags.
const TAG_VALUE: &str = "ScheduledActions suspended by the failover; fail back resumes it";

/// `ScheduledActions` is among the group's suspended processes.
pub fn is_suspended(group: &AutoScalingGroup) -> bool {
    group
        .suspended_processes()
        .iter()
        .any(|p| p.process_name() == Some(SCHEDULED_ACTIONS))
}

/// The group carries [`SUSPENDED_BY_FAILOVER_TAG`] (as `DescribeAutoScalingGroups` lists tags).
pub fn marked(group: &AutoScalingGroup) -> bool {
    group
        .tags()
        .iter()
        .any(|t| t.key() == Some(SUSPENDED_BY_FAILOVER_TAG))
}

/// Every scheduled action of `group` (`DescribeScheduledActions`, every page).
pub async fn read(
    client: &aws_sdk_autoscaling::Client,
    group: &str,
) -> Result<Vec<ScheduledUpdateGroupAction>, AwsCallError> {
    client
        .describe_scheduled_actions()
        .auto_scaling_group_name(group)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| AwsCallError::new("DescribeScheduledActions", &error))
}

/// The actions that would set the group below `target` (a minimum, maximum or desired capacity
/// under it) and can still run at `now` (a recurring action whose `EndTime` has passed cannot),
/// each described as `"<name> (next <time>, recurrence <cron>): min/max/desired a/b/c"` (`-` for a
/// size the action leaves alone; times in UTC, RFC 3339).
pub fn lowering(actions: &[ScheduledUpdateGroupAction], target: i32, now: DateTime) -> Vec<String> {
    actions
        .iter()
        .filter(|a| a.end_time().is_none_or(|end| end.secs() > now.secs()))
        .filter(|a| {
            [a.min_size(), a.max_size(), a.desired_capacity()]
                .into_iter()
                .flatten()
                .any(|size| size < target)
        })
        .map(|a| {
            let size = |s: Option<i32>| s.map_or("-".to_owned(), |s| s.to_string());
            let mut when = Vec::new();
            if let Some(next) = a.start_time() {
                when.push(format!(
                    "next {}",
                    next.fmt(Format::DateTime).unwrap_or_default()
                ));
            }
            if let Some(recurrence) = a.recurrence() {
                when.push(format!("recurrence {recurrence}"));
            }
            if let Some(zone) = a.time_zone() {
                when.push(format!("time zone {zone}"));
            }
            format!(
                "{} ({}): min/max/desired {}/{}/{}",
                a.scheduled_action_name().unwrap_or("unnamed"),
                when.join(", "),
                size(a.min_size()),
                size(a.max_size()),
                size(a.desired_capacity()),
            )
        })
        .collect()
}

/// Tags `group` with [`SUSPENDED_BY_FAILOVER_TAG`] (`CreateOrUpdateTags`, not propagated to
/// instances), before `suspend`: were the suspension to succeed and the tag to fail, a re-run
/// would find the process suspended, untagged, and fail back would leave it suspended.
pub async fn mark(client: &aws_sdk_autoscaling::Client, group: &str) -> Result<(), AwsCallError> {
    client
        .create_or_update_tags()
        .tags(
            Tag::builder()
                .resource_id(group)
                .resource_type("auto-scaling-group")
                .key(SUSPENDED_BY_FAILOVER_TAG)
                .value(TAG_VALUE)
                .propagate_at_launch(false)
                .build(),
        )
        .send()
        .await
        .map_err(|error| AwsCallError::new("CreateOrUpdateTags", &error))?;
    Ok(())
}

/// Suspends `ScheduledActions` on `group` (`SuspendProcesses`, that process only).
pub async fn suspend(
    client: &aws_sdk_autoscaling::Client,
    group: &str,
) -> Result<(), AwsCallError> {
    client
        .suspend_processes()
        .auto_scaling_group_name(group)
        .scaling_processes(SCHEDULED_ACTIONS)
        .send()
        .await
        .map_err(|error| AwsCallError::new("SuspendProcesses", &error))?;
    Ok(())
}
