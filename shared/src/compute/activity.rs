//! Why capacity is not coming: suspended processes, and failed launches as Auto Scaling's
//! scaling activities tell them.

use std::time::SystemTime;

use aws_sdk_autoscaling::types::{AutoScalingGroup, ScalingActivityStatusCode};

use super::ComputeError;
use crate::error::AwsCallError;

/// The scaling processes that, while suspended, keep a group from gaining capacity: `Launch`
/// stops every scale-out, `AddToLoadBalancer` leaves new instances without traffic. `apply`
/// resumes these two (and only these): they are usually left over from maintenance, and a
/// failover that refused on them would leave the application down for want of one API call.
/// "Suspend and resume Amazon EC2 Auto Scaling processes",
/// https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-suspend-resume-processes.html
pub const SCALE_OUT_PROCESSES: [&str; 2] = ["Launch", "AddToLoadBalancer"];

/// How many of a group's newest scaling activities status reads.
const ACTIVITIES_READ: i32 = 20;

/// The suspended processes of `group` that block scale-out.
pub fn blocking_suspensions(group: &AutoScalingGroup) -> Vec<String> {
    group
        .suspended_processes()
        .iter()
        .filter_map(|p| p.process_name())
        .filter(|name| SCALE_OUT_PROCESSES.contains(name))
        .map(str::to_owned)
        .collect()
}

/// Resumes `processes` on `group` (`ResumeProcesses`).
pub async fn resume(
    client: &aws_sdk_autoscaling::Client,
    group: &str,
    processes: &[String],
) -> Result<(), ComputeError> {
    client
        .resume_processes()
        .auto_scaling_group_name(group)
        .set_scaling_processes(Some(processes.to_vec()))
        .send()
        .await
        .map_err(|error| AwsCallError::new("ResumeProcesses", &error))?;
    Ok(())
}

/// The failed or cancelled scaling activities of `group` that started at or after `since`, newest
/// first, each as `"<description>: <status message>"` in Auto Scaling's words (for example
/// "We currently do not have sufficient m6i.large capacity in the Availability Zone you
/// requested"). Diagnostic context only: the caller reports an error as a warning, never as the
/// stage's failure. Errors: [`ComputeError`] naming `DescribeScalingActivities` when the call fails.
/// "Troubleshoot Amazon EC2 Auto Scaling: EC2 instance launch failures",
/// https://docs.aws.amazon.com/autoscaling/ec2/userguide/ts-as-instancelaunchfailure.html
pub async fn failed_launches(
    client: &aws_sdk_autoscaling::Client,
    group: &str,
    since: Option<SystemTime>,
) -> Result<Vec<String>, ComputeError> {
    let output = client
        .describe_scaling_activities()
        .auto_scaling_group_name(group)
        .max_records(ACTIVITIES_READ)
        .send()
        .await
        .map_err(|error| AwsCallError::new("DescribeScalingActivities", &error))?;
    Ok(output
        .activities()
        .iter()
        .filter(|a| {
            matches!(
                a.status_code(),
                Some(ScalingActivityStatusCode::Failed)
                    | Some(ScalingActivityStatusCode::Cancelled)
            )
        })
        .filter(|a| match (since, a.start_time()) {
            (Some(since), Some(started)) => {
                SystemTime::try_from(*started).is_ok_and(|started| started >= since)
            }
            _ => true,
        })
        .map(|a| {
            let what = a.description().unwrap_or("scaling activity");
            match a.status_message() {
                Some(message) => format!("{what}: {message}"),
                None => what.to_owned(),
            }
        })
        .collect())
}
