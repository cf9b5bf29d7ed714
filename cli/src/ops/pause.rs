//! `dr-failover pause [--for DURATION] --reason TEXT` and `resume`: an operator's pause of the
//! failover automation ([`shared::pause`]): tags on the trigger rule, which the failover reads
//! when the alarm starts it and readiness reports. The rule stays enabled, so the pause ends by
//! itself at its deadline.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use aws_sdk_eventbridge::types::{RuleState, Tag};
use shared::finish::automation::PAUSED_BY_FAILBACK_TAG;
use shared::pause::{PauseMark, PauseState, PAUSE_TAGS};

use super::{aws, Deployment, OpsError};

/// The trigger rule's tags as (key, value).
async fn tags(deployment: &Deployment) -> Result<Vec<(String, String)>, OpsError> {
    let listed = deployment
        .events
        .list_tags_for_resource()
        .resource_arn(deployment.rule_arn())
        .send()
        .await
        .map_err(aws("ListTagsForResource"))?;
    Ok(listed
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect())
}

fn mark_of(tags: &[(String, String)]) -> Result<Option<PauseMark>, OpsError> {
    PauseMark::from_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| OpsError(e.to_string()))
}

async fn rule_state(deployment: &Deployment) -> Result<RuleState, OpsError> {
    let rule = deployment
        .events
        .describe_rule()
        .name(deployment.rule_name())
        .send()
        .await
        .map_err(aws("DescribeRule"))?;
    Ok(rule.state().cloned().unwrap_or(RuleState::Disabled))
}

/// One line: whether the trigger is armed, paused (by whom, since, until, why) or disabled. A
/// read that fails is said, not fatal.
pub async fn trigger_line(deployment: &Deployment) -> String {
    let rule = deployment.rule_name();
    let state = match rule_state(deployment).await {
        Ok(state) => state,
        Err(error) => return format!("trigger {rule}: unknown ({error})"),
    };
    let tags = tags(deployment).await.unwrap_or_default();
    let failback = tags.iter().find(|(k, _)| k == PAUSED_BY_FAILBACK_TAG);
    let mark = mark_of(&tags);
    let now = SystemTime::now();
    match (state, mark) {
        (RuleState::Enabled, Ok(Some(mark))) if mark.state(now) == PauseState::Active => format!(
            "trigger {rule}: PAUSED, automation disarmed: {}; resume: {}",
            mark.describe(),
            deployment.cli(&["resume"])
        ),
        (RuleState::Enabled, _) => format!("trigger {rule}: armed"),
        (state, _) => format!(
            "trigger {rule}: {}, automation disarmed{}; re-arm: {}",
            state.as_str(),
            failback
                .map(|(_, run)| format!(" (held by the fail back run {run})"))
                .unwrap_or_default(),
            deployment.cli(&["resume"])
        ),
    }
}

/// `pause`: tags the trigger rule with a new pause mark (replacing any earlier one).
///
/// # Errors
/// A reason that does not fit a tag, or EventBridge's error (nothing was changed then).
pub async fn pause(
    deployment: &Deployment,
    duration: Option<Duration>,
    reason: &str,
) -> Result<ExitCode, OpsError> {
    let mark = PauseMark::new(&deployment.caller, SystemTime::now(), duration, reason)
        .map_err(|e| OpsError(e.to_string()))?;
    if mark.until.is_none() {
        // An earlier pause's deadline must not outlive this open-ended one.
        deployment
            .events
            .untag_resource()
            .resource_arn(deployment.rule_arn())
            .tag_keys(shared::pause::PAUSED_UNTIL_TAG)
            .send()
            .await
            .map_err(aws("UntagResource"))?;
    }
    let tags = mark
        .tags()
        .into_iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| OpsError(e.to_string()))?;
    deployment
        .events
        .tag_resource()
        .resource_arn(deployment.rule_arn())
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(aws("TagResource"))?;
    println!(
        "paused: a health check alarm now starts no failover of {} ({}).",
        deployment.name,
        mark.describe()
    );
    println!(
        "A failover started by hand still runs: {}",
        deployment.cli(&["failover", "--reason", "<why>"])
    );
    println!("resume: {}", deployment.cli(&["resume"]));
    Ok(ExitCode::SUCCESS)
}

/// `resume`: removes the pause mark, and enables the trigger rule if it was left disabled,
/// unless a fail back holds it (its mark is on the rule; the fail back enables it at its end).
///
/// # Errors
/// EventBridge's error, or a rule a fail back holds (nothing was changed then).
pub async fn resume(deployment: &Deployment) -> Result<ExitCode, OpsError> {
    let tags = tags(deployment).await?;
    if let Some((_, run)) = tags.iter().find(|(k, _)| k == PAUSED_BY_FAILBACK_TAG) {
        if rule_state(deployment).await? != RuleState::Enabled {
            return Err(OpsError(format!(
                "the fail back run {run} holds the trigger rule disabled and enables it when it \
                 ends; follow it: {}",
                deployment.cli(&["status", "--follow", run])
            )));
        }
    }
    let had = mark_of(&tags).ok().flatten();
    deployment
        .events
        .untag_resource()
        .resource_arn(deployment.rule_arn())
        .set_tag_keys(Some(PAUSE_TAGS.iter().map(|k| (*k).to_owned()).collect()))
        .send()
        .await
        .map_err(aws("UntagResource"))?;
    if rule_state(deployment).await? != RuleState::Enabled {
        deployment
            .events
            .enable_rule()
            .name(deployment.rule_name())
            .send()
            .await
            .map_err(aws("EnableRule"))?;
        println!(
            "the trigger rule {} was disabled: enabled",
            deployment.rule_name()
        );
    }
    match had {
        Some(mark) => println!(
            "resumed: the pause is removed (it was {}).",
            mark.describe()
        ),
        None => println!("resumed: there was no pause."),
    }
    println!("{}", trigger_line(deployment).await);
    Ok(ExitCode::SUCCESS)
}
