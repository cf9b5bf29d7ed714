use crate::config::ConfigError;
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::operation::update_auto_scaling_group::{
    UpdateAutoScalingGroupError, UpdateAutoScalingGroupOutput,
};
use aws_sdk_autoscaling::types::error::ScalingActivityInProgressFault;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance, LifecycleState};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

use super::*;
use crate::error::StepFailure;
use crate::testing::fast_retries;

const WEB: &str = "web-dr";
const WORKER: &str = "worker-dr";
const PRIMARY_WORKER: &str = "worker";

fn group(
    name: &str,
    min: i32,
    desired: i32,
    max: i32,
    in_service: usize,
    pending: usize,
) -> AutoScalingGroup {
    let mut builder = AutoScalingGroup::builder()
        .auto_scaling_group_name(name)
        .min_size(min)
        .desired_capacity(desired)
        .max_size(max);
    for i in 0..in_service + pending {
        let state = if i < in_service {
            LifecycleState::InService
        } else {
            LifecycleState::Pending
        };
        builder = builder.instances(
            Instance::builder()
                .instance_id(format!("i-{name}-{i}"))
                .lifecycle_state(state)
                .health_status("Healthy")
                .build(),
        );
    }
    builder.build()
}

fn described(groups: Vec<AutoScalingGroup>) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(move || {
        DescribeAutoScalingGroupsOutput::builder()
            .set_auto_scaling_groups(Some(groups.clone()))
            .build()
    })
}

fn no_activities() -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_scaling_activities).then_output(|| {
        aws_sdk_autoscaling::operation::describe_scaling_activities::DescribeScalingActivitiesOutput::builder().build()
    })
}

fn update_rule(name: &'static str, min: i32, desired: i32, max: i32) -> Rule {
    mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group)
        .match_requests(move |r| {
            r.auto_scaling_group_name() == Some(name)
                && r.min_size() == Some(min)
                && r.desired_capacity() == Some(desired)
                && r.max_size() == Some(max)
        })
        .then_output(|| UpdateAutoScalingGroupOutput::builder().build())
}

fn any_update() -> Rule {
    mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group)
        .then_output(|| UpdateAutoScalingGroupOutput::builder().build())
}

/// Groups with no scheduled action: the rule every client falls back on.
fn no_scheduled_actions() -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_scheduled_actions).then_output(|| {
        aws_sdk_autoscaling::operation::describe_scheduled_actions::DescribeScheduledActionsOutput::builder().build()
    })
}

fn clients(dr: &[&Rule], primary: &[&Rule]) -> ComputeClients {
    let none = no_scheduled_actions();
    ComputeClients {
        dr: mock_client!(
            aws_sdk_autoscaling,
            RuleMode::MatchAny,
            dr.iter().copied().chain([&none]),
            |c| c.retry_config(fast_retries())
        ),
        primary: mock_client!(
            aws_sdk_autoscaling,
            RuleMode::MatchAny,
            primary.iter().copied(),
            |c| c.retry_config(fast_retries())
        ),
    }
}

fn fixed(groups: &[(&str, i32)], ready_percent: u32) -> ComputeConfig {
    ComputeConfig {
        groups: groups
            .iter()
            .map(|(name, capacity)| GroupPlan {
                group: name.to_string(),
                target: Target::Fixed(*capacity),
                max_capacity: None,
            })
            .collect(),
        ready_percent,
        dns_capacity_percent: DEFAULT_DNS_CAPACITY_PERCENT,
        primary_timeout: Duration::from_secs(1),
        allowed_groups: groups.iter().map(|(name, _)| name.to_string()).collect(),
        suspend_scheduled_actions: true,
    }
}

fn share_of_primary(percent: u32, fallback: i32) -> ComputeConfig {
    ComputeConfig {
        groups: vec![GroupPlan {
            group: WORKER.into(),
            target: Target::ShareOfPrimary {
                primary_group: PRIMARY_WORKER.into(),
                percent,
                fallback,
            },
            max_capacity: None,
        }],
        dns_capacity_percent: DEFAULT_DNS_CAPACITY_PERCENT,
        ready_percent: 100,
        primary_timeout: Duration::from_secs(1),
        allowed_groups: [WORKER.to_string()].into(),
        suspend_scheduled_actions: true,
    }
}

fn request(action: Action) -> StepRequest {
    StepRequest::new(action)
}

#[tokio::test]
async fn when_group_is_at_pilot_capacity_plan_should_report_the_raise_without_changing_it() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let update = any_update();
    let clients = clients(&[&describe, &update], &[]);

    let out = handle(request(Action::Plan), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(update.num_calls(), 0);
    assert!(out.refusals.is_empty() && !out.ready && !out.changed);
    assert_eq!(out.detail.groups[0].target, 6);
    assert_eq!(out.summary, "web-dr 1 -> 6");
}

#[tokio::test]
async fn the_plan_says_when_apply_will_raise_the_maximum() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let clients = clients(&[&describe], &[]);

    let out = handle(request(Action::Plan), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(
        out.warnings,
        vec!["web-dr maximum 2 is below its target 6: apply raises the maximum to 6".to_string()]
    );
}

#[tokio::test]
async fn a_target_above_the_groups_max_capacity_is_capped_and_the_plan_names_the_ceiling() {
    let describe = described(vec![group(WORKER, 0, 0, 1, 0, 0)]);
    let primary = described(vec![group(PRIMARY_WORKER, 40, 40, 40, 40, 0)]);
    let update = update_rule(WORKER, 20, 20, 20);
    let clients = clients(&[&describe, &update], &[&primary]);
    let mut config = share_of_primary(100, 4);
    config.groups[0].max_capacity = Some(20);

    let plan = handle(request(Action::Plan), &config, &clients)
        .await
        .unwrap();
    let apply = handle(request(Action::Apply), &config, &clients)
        .await
        .unwrap();

    assert_eq!(plan.detail.groups[0].target, 20);
    assert_eq!(
        plan.detail.groups[0].target_note.as_deref(),
        Some("100% of worker's desired 40; capped at max_capacity 20")
    );
    assert!(
        plan.warnings.contains(
            &"worker-dr target 40 is above its max_capacity 20: the failover raises it to 20 only"
                .to_string()
        ),
        "{:?}",
        plan.warnings
    );
    assert_eq!(update.num_calls(), 1, "raised to the ceiling, not to 40");
    assert_eq!(apply.detail.groups[0].after.max, 20);
}

#[tokio::test]
async fn when_a_group_is_missing_plan_should_refuse_naming_it() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let clients = clients(&[&describe], &[]);

    let out = handle(
        request(Action::Plan),
        &fixed(&[(WEB, 6), ("ghost-dr", 2)], 100),
        &clients,
    )
    .await
    .unwrap();

    assert_eq!(
        out.refusals,
        vec!["Auto Scaling group ghost-dr not found in the DR region".to_string()]
    );
    assert!(!out.ready);
}

#[tokio::test]
async fn when_a_group_is_missing_apply_should_fail_as_not_found_without_updating() {
    let describe = described(vec![]);
    let update = any_update();
    let clients = clients(&[&describe, &update], &[]);

    let error = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap_err();

    assert_eq!(error, ComputeError::GroupNotFound(WEB.into()));
    assert_eq!(
        StepFailure::from(error).kind.error_name(),
        "DrFailover.NotFound"
    );
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn when_below_target_apply_should_raise_min_desired_and_max_to_the_target() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let update = update_rule(WEB, 6, 6, 6);
    let clients = clients(&[&describe, &update], &[]);

    let out = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(update.num_calls(), 1);
    assert!(out.changed && !out.ready);
    assert_eq!(
        out.detail.groups[0].after,
        Capacity {
            min: 6,
            desired: 6,
            max: 6
        }
    );
}

#[tokio::test]
async fn when_max_is_already_higher_apply_should_keep_it() {
    let describe = described(vec![group(WEB, 1, 2, 20, 2, 0)]);
    let update = update_rule(WEB, 6, 6, 20);
    let clients = clients(&[&describe, &update], &[]);

    handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(
        update.num_calls(),
        1,
        "max 20 must be sent unchanged, never lowered to 6"
    );
}

#[tokio::test]
async fn when_group_is_above_target_apply_should_never_scale_in() {
    let describe = described(vec![group(WEB, 2, 10, 12, 10, 0)]);
    let update = any_update();
    let clients = clients(&[&describe, &update], &[]);

    let first = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();
    let second = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(update.num_calls(), 0);
    assert!(!first.changed && first.ready);
    assert_eq!(first, second, "a repeated apply reports the same result");
    assert!(first.summary.starts_with("nothing to change"));
}

#[tokio::test]
async fn when_only_one_of_two_groups_needs_scaling_apply_should_update_only_that_one() {
    let describe = described(vec![
        group(WEB, 6, 6, 6, 6, 0),
        group(WORKER, 0, 0, 1, 0, 0),
    ]);
    let web = update_rule(WEB, 6, 6, 6);
    let worker = update_rule(WORKER, 3, 3, 3);
    let clients = clients(&[&describe, &web, &worker], &[]);

    let out = handle(
        request(Action::Apply),
        &fixed(&[(WEB, 6), (WORKER, 3)], 100),
        &clients,
    )
    .await
    .unwrap();

    assert_eq!((web.num_calls(), worker.num_calls()), (0, 1));
    assert!(out.changed);
}

#[tokio::test]
async fn when_apply_is_a_dry_run_should_never_update() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let update = any_update();
    let clients = clients(&[&describe, &update], &[]);
    let request = StepRequest {
        dry_run: true,
        ..StepRequest::new(Action::Apply)
    };

    let out = handle(request, &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(update.num_calls(), 0);
    assert!(out.dry_run && !out.changed);
    assert_eq!(out.action, Action::Plan);
}

#[tokio::test]
async fn when_target_is_a_share_of_primary_apply_should_read_the_primary_region() {
    let dr = described(vec![group(WORKER, 1, 1, 2, 1, 0)]);
    let primary = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .match_requests(|r| r.auto_scaling_group_names() == [PRIMARY_WORKER.to_string()])
        .then_output(|| {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(group(PRIMARY_WORKER, 4, 9, 12, 9, 0))
                .build()
        });
    let update = update_rule(WORKER, 5, 5, 5);
    let clients = clients(&[&dr, &update], &[&primary]);

    let out = handle(request(Action::Apply), &share_of_primary(50, 2), &clients)
        .await
        .unwrap();

    assert_eq!(update.num_calls(), 1, "50% of 9 rounds up to 5");
    assert_eq!(out.detail.groups[0].target_source, TargetSource::Primary);
}

#[tokio::test]
async fn when_primary_region_does_not_answer_apply_should_use_the_fallback() {
    let dr = described(vec![group(WORKER, 1, 1, 2, 1, 0)]);
    let primary = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .sequence()
        .http_status(503, None)
        .times(3)
        .build();
    let update = update_rule(WORKER, 4, 4, 4);
    let clients = clients(&[&dr, &update], &[&primary]);

    let out = handle(request(Action::Apply), &share_of_primary(100, 4), &clients)
        .await
        .unwrap();

    assert_eq!(update.num_calls(), 1);
    let detail = &out.detail.groups[0];
    assert_eq!(detail.target_source, TargetSource::Fallback);
    assert!(detail
        .target_note
        .as_deref()
        .unwrap()
        .contains("did not answer"));
}

#[tokio::test]
async fn when_primary_group_is_gone_plan_should_use_the_fallback() {
    let dr = described(vec![group(WORKER, 1, 1, 2, 1, 0)]);
    let primary = described(vec![]);
    let clients = clients(&[&dr], &[&primary]);

    let out = handle(request(Action::Plan), &share_of_primary(100, 4), &clients)
        .await
        .unwrap();

    assert_eq!(out.detail.groups[0].target, 4);
    assert_eq!(out.detail.groups[0].target_source, TargetSource::Fallback);
}

#[tokio::test]
async fn when_instances_are_still_launching_status_should_not_be_ready() {
    let describe = described(vec![group(WEB, 6, 6, 6, 4, 2)]);
    let activities = no_activities();
    let clients = clients(&[&describe, &activities], &[]);

    let out = handle(request(Action::Status), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert!(!out.ready);
    assert_eq!(out.summary, "web-dr 4/6 InService");
}

#[tokio::test]
async fn when_the_ready_share_is_in_service_status_should_be_ready() {
    let describe = described(vec![group(WEB, 6, 6, 6, 5, 1)]);
    let clients = clients(&[&describe], &[]);

    let out = handle(request(Action::Status), &fixed(&[(WEB, 6)], 80), &clients)
        .await
        .unwrap();

    assert!(out.ready, "80% of 6 rounds up to 5");
    assert_eq!(out.detail.groups[0].required_in_service, 5);
}

#[tokio::test]
async fn when_unhealthy_instances_are_in_service_status_should_not_count_them() {
    let mut g = group(WEB, 2, 2, 2, 2, 0);
    g.instances = Some(vec![
        Instance::builder()
            .instance_id("i-1")
            .lifecycle_state(LifecycleState::InService)
            .health_status("Unhealthy")
            .build(),
        Instance::builder()
            .instance_id("i-2")
            .lifecycle_state(LifecycleState::InService)
            .health_status("Healthy")
            .build(),
    ]);
    let describe = described(vec![g]);
    let activities = no_activities();
    let clients = clients(&[&describe, &activities], &[]);

    let out = handle(request(Action::Status), &fixed(&[(WEB, 2)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(out.detail.groups[0].in_service, 1);
    assert!(!out.ready);
}

#[tokio::test]
async fn when_a_scaling_activity_is_in_progress_apply_should_fail_as_retryable() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let update = mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group).then_error(|| {
        UpdateAutoScalingGroupError::ScalingActivityInProgressFault(
            ScalingActivityInProgressFault::builder()
                .message("activity in progress")
                .build(),
        )
    });
    let clients = clients(&[&describe, &update], &[]);

    let error = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap_err();

    assert!(matches!(error, ComputeError::Busy { .. }));
    assert_eq!(
        StepFailure::from(error).kind.error_name(),
        "DrFailover.Retryable"
    );
}

#[tokio::test]
async fn when_update_is_throttled_once_apply_should_retry_and_succeed() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let update = mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group)
        .sequence()
        .http_status(503, None)
        .output(|| UpdateAutoScalingGroupOutput::builder().build())
        .build();
    let clients = clients(&[&describe, &update], &[]);

    let out = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert!(out.changed);
    assert_eq!(update.num_calls(), 2);
}

#[tokio::test]
async fn when_describe_is_throttled_once_status_should_retry_and_answer() {
    let describe = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .sequence()
        .http_status(503, None)
        .output(|| {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(group(WEB, 6, 6, 6, 6, 0))
                .build()
        })
        .build();
    let clients = clients(&[&describe], &[]);

    let out = handle(request(Action::Status), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert!(out.ready);
    assert_eq!(describe.num_calls(), 2);
}

#[test]
fn config_reads_fixed_and_share_targets() {
    let env = [
        (
            "ASG_TARGETS",
            r#"[{"group": "web-dr", "capacity": 6},
            {"group": "worker-dr", "primary_group": "worker", "percent_of_primary": 50, "fallback_capacity": 2}]"#,
        ),
        ("ASG_ALLOWED_GROUP_NAMES", "web-dr, worker-dr"),
    ];
    let config = ComputeConfig::from_source(&env).unwrap();
    assert_eq!(config.groups[0].target, Target::Fixed(6));
    assert_eq!(
        config.groups[1].target,
        Target::ShareOfPrimary {
            primary_group: "worker".into(),
            percent: 50,
            fallback: 2
        }
    );
    assert_eq!(config.ready_percent, 100);
}

#[test]
fn config_names_the_entry_that_is_wrong() {
    for (raw, expected) in [
        ("[]", "names no group"),
        (
            r#"[{"group": "a", "capacity": 2, "primary_group": "b"}]"#,
            "[0] sets both",
        ),
        (
            r#"[{"group": "a", "primary_group": "b"}]"#,
            "[0].fallback_capacity is required",
        ),
        (r#"[{"group": "a", "capacity": 0}]"#, "[0].capacity 0"),
        (
            r#"[{"group": "a", "capacity": 1}, {"group": "a", "capacity": 2}]"#,
            "[1].group a appears twice",
        ),
        (
            r#"[{"group": "a", "capacty": 1}]"#,
            "unknown field `capacty`",
        ),
        (
            r#"[{"group": "a", "capacity": 6, "max_capacity": 4}]"#,
            "[0].max_capacity 4 is below the group's capacity 6",
        ),
        (
            r#"[{"group": "a", "primary_group": "b", "fallback_capacity": 3, "max_capacity": 2}]"#,
            "[0].max_capacity 2 is below the group's fallback_capacity 3",
        ),
        (
            r#"[{"group": "a", "capacity": 6, "percent_of_primary": 50}]"#,
            "[0] sets capacity (a fixed target) together with percent_of_primary",
        ),
        (
            r#"[{"group": "a", "capacity": 6, "fallback_capacity": 2}]"#,
            "or fallback_capacity (a share of the primary group)",
        ),
    ] {
        let env = [("ASG_TARGETS", raw)];
        let error = ComputeConfig::from_source(&env).unwrap_err().to_string();
        assert!(
            error.contains("ASG_TARGETS") && error.contains(expected),
            "{raw}: {error}"
        );
    }
}

#[test]
fn config_refuses_a_primary_timeout_that_would_not_leave_the_step_time_to_answer() {
    for raw in ["0", "11", "30"] {
        let env = [
            ("ASG_TARGETS", r#"[{"group": "a", "capacity": 1}]"#),
            ("PRIMARY_TIMEOUT_SECONDS", raw),
        ];
        let error = ComputeConfig::from_source(&env).unwrap_err().to_string();
        assert!(error.contains("PRIMARY_TIMEOUT_SECONDS"), "{raw}: {error}");
    }
}

#[test]
fn config_refuses_a_ready_percent_outside_range() {
    let env = [
        ("ASG_TARGETS", r#"[{"group": "a", "capacity": 1}]"#),
        ("ASG_READY_PERCENT", "0"),
    ];
    assert!(matches!(
        ComputeConfig::from_source(&env),
        Err(ConfigError::Invalid {
            name: "ASG_READY_PERCENT",
            ..
        })
    ));
}

#[tokio::test]
async fn when_several_groups_share_the_primary_plan_should_read_the_primary_region_once() {
    let dr = described(vec![
        group(WORKER, 1, 1, 2, 1, 0),
        group(WEB, 1, 1, 2, 1, 0),
    ]);
    let primary = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .match_requests(|r| {
            r.auto_scaling_group_names() == ["worker".to_string(), "web".to_string()]
        })
        .then_output(|| {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(group(PRIMARY_WORKER, 4, 4, 8, 4, 0))
                .auto_scaling_groups(group("web", 6, 6, 8, 6, 0))
                .build()
        });
    let clients = clients(&[&dr], &[&primary]);
    let config = ComputeConfig {
        groups: [(WORKER, PRIMARY_WORKER), (WEB, "web")]
            .into_iter()
            .map(|(group, primary_group)| GroupPlan {
                group: group.into(),
                target: Target::ShareOfPrimary {
                    primary_group: primary_group.into(),
                    percent: 100,
                    fallback: 1,
                },
                max_capacity: None,
            })
            .collect(),
        dns_capacity_percent: DEFAULT_DNS_CAPACITY_PERCENT,
        ready_percent: 100,
        primary_timeout: Duration::from_secs(1),
        allowed_groups: [WORKER.to_string(), WEB.to_string()].into(),
        suspend_scheduled_actions: true,
    };

    let out = handle(request(Action::Plan), &config, &clients)
        .await
        .unwrap();

    assert_eq!(primary.num_calls(), 1);
    let targets: Vec<i32> = out.detail.groups.iter().map(|g| g.target).collect();
    assert_eq!(targets, [4, 6]);
}

// ---- capacity in units, pinned targets, what keeps capacity from coming ----

fn weighted_group(name: &str, desired: i32, weights: &[&str]) -> AutoScalingGroup {
    let mut builder = AutoScalingGroup::builder()
        .auto_scaling_group_name(name)
        .min_size(desired)
        .desired_capacity(desired)
        .max_size(desired);
    for (i, weight) in weights.iter().enumerate() {
        builder = builder.instances(
            Instance::builder()
                .instance_id(format!("i-{name}-{i}"))
                .lifecycle_state(LifecycleState::InService)
                .health_status("Healthy")
                .weighted_capacity(*weight)
                .build(),
        );
    }
    builder.build()
}

#[tokio::test]
async fn capacity_counts_instance_weights_as_auto_scaling_counts_desired_capacity() {
    let describe = described(vec![weighted_group(WEB, 6, &["2", "2", "2"])]);
    let clients = clients(&[&describe], &[]);

    let out = handle(request(Action::Status), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(
        out.detail.groups[0].in_service, 6,
        "three instances of weight 2"
    );
    assert!(out.ready);
    assert_eq!(out.detail.capacity_percent, 100);
}

#[tokio::test]
async fn a_pinned_target_is_used_as_given_and_the_primary_region_is_not_asked() {
    let describe = described(vec![group(WORKER, 1, 1, 1, 1, 0)]);
    let update = update_rule(WORKER, 9, 9, 9);
    let clients = clients(&[&describe, &update], &[]);
    let mut request = request(Action::Apply);
    request.targets = Some([(WORKER.to_owned(), 9)].into_iter().collect());

    let out = handle(request, &share_of_primary(100, 2), &clients)
        .await
        .unwrap();

    assert_eq!(update.num_calls(), 1);
    assert_eq!(out.detail.groups[0].target, 9);
    assert_eq!(out.detail.groups[0].target_source, TargetSource::Pinned);
    assert_eq!(out.detail.targets.get(WORKER), Some(&9));
}

#[tokio::test]
async fn a_suspended_launch_process_is_named_by_plan_and_resumed_by_apply() {
    let mut g = group(WEB, 1, 1, 1, 1, 0);
    g.suspended_processes = Some(vec![
        aws_sdk_autoscaling::types::SuspendedProcess::builder()
            .process_name("Launch")
            .build(),
        aws_sdk_autoscaling::types::SuspendedProcess::builder()
            .process_name("AZRebalance")
            .build(),
    ]);
    let describe = described(vec![g]);
    let resume = mock!(aws_sdk_autoscaling::Client::resume_processes)
        .match_requests(|r| {
            r.auto_scaling_group_name() == Some(WEB) && r.scaling_processes() == ["Launch"]
        })
        .then_output(|| {
            aws_sdk_autoscaling::operation::resume_processes::ResumeProcessesOutput::builder()
                .build()
        });
    let update = update_rule(WEB, 6, 6, 6);
    let clients = clients(&[&describe, &resume, &update], &[]);

    let plan = handle(request(Action::Plan), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();
    let apply = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert!(plan.refusals.is_empty());
    assert!(
        plan.warnings.iter().any(|w| w.contains("Launch")),
        "{:?}",
        plan.warnings
    );
    assert_eq!(resume.num_calls(), 1, "only apply resumes, and only Launch");
    assert!(apply.changed);
}

#[tokio::test]
async fn while_launches_fail_status_reports_auto_scalings_reason() {
    use aws_sdk_autoscaling::types::{Activity, ScalingActivityStatusCode};
    let describe = described(vec![group(WEB, 6, 6, 6, 2, 0)]);
    let activities = mock!(aws_sdk_autoscaling::Client::describe_scaling_activities)
        .match_requests(|r| r.auto_scaling_group_name() == Some(WEB))
        .then_output(|| {
            aws_sdk_autoscaling::operation::describe_scaling_activities::DescribeScalingActivitiesOutput::builder()
                .activities(
                    Activity::builder()
                        .activity_id("a-1")
                        .auto_scaling_group_name(WEB)
                        .cause("capacity change")
                        .start_time(aws_smithy_types::DateTime::from(std::time::SystemTime::now()))
                        .status_code(ScalingActivityStatusCode::Failed)
                        .description("Launching a new EC2 instance. Status Reason: failed")
                        .status_message("We currently do not have sufficient m6i.large capacity in the Availability Zone you requested (eu-central-1a).")
                        .build(),
                )
                .activities(
                    Activity::builder()
                        .activity_id("a-0")
                        .auto_scaling_group_name(WEB)
                        .cause("capacity change")
                        .start_time(aws_smithy_types::DateTime::from(std::time::SystemTime::now()))
                        .status_code(ScalingActivityStatusCode::Successful)
                        .description("Launching a new EC2 instance: i-1")
                        .build(),
                )
                .build()
        });
    let clients = clients(&[&describe, &activities], &[]);

    let out = handle(request(Action::Status), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    let failed = &out.detail.groups[0].failed_launches;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("sufficient m6i.large capacity"));
    assert!(out.summary.contains("launches failing"), "{}", out.summary);
}

#[tokio::test]
async fn the_dns_threshold_is_met_once_every_group_has_its_share_in_service() {
    let describe = described(vec![
        group(WEB, 6, 6, 6, 3, 0),
        group(WORKER, 4, 4, 4, 1, 0),
    ]);
    let activities = no_activities();
    let short = clients(&[&describe, &activities], &[]);
    let config = fixed(&[(WEB, 6), (WORKER, 4)], 100);

    let out = handle(request(Action::Status), &config, &short)
        .await
        .unwrap();

    assert_eq!(out.detail.groups[0].dns_threshold, 3, "50% of 6");
    assert_eq!(out.detail.groups[1].dns_threshold, 2, "50% of 4");
    assert!(
        !out.detail.dns_threshold_met,
        "worker has 1 of the 2 it needs"
    );
    assert_eq!(out.detail.capacity_percent, 25);

    let describe = described(vec![
        group(WEB, 6, 6, 6, 3, 0),
        group(WORKER, 4, 4, 4, 2, 0),
    ]);
    let filled = clients(&[&describe, &activities], &[]);
    let out = handle(request(Action::Status), &config, &filled)
        .await
        .unwrap();
    assert!(out.detail.dns_threshold_met && !out.ready);
}

#[test]
fn the_dns_capacity_share_is_configurable_within_1_to_100() {
    let env = [
        ("ASG_TARGETS", r#"[{"group": "web-dr", "capacity": 6}]"#),
        ("ASG_DNS_CAPACITY_PERCENT", "0"),
    ];
    let error = ComputeConfig::from_source(&env).unwrap_err();
    assert!(
        error.to_string().contains("ASG_DNS_CAPACITY_PERCENT"),
        "{error}"
    );
    let env = [
        ("ASG_TARGETS", r#"[{"group": "web-dr", "capacity": 6}]"#),
        ("ASG_DNS_CAPACITY_PERCENT", "75"),
        ("ASG_ALLOWED_GROUP_NAMES", "web-dr"),
    ];
    assert_eq!(
        ComputeConfig::from_source(&env)
            .unwrap()
            .dns_capacity_percent,
        75
    );
}

#[tokio::test]
async fn plan_refuses_a_group_the_role_may_not_change_and_apply_changes_nothing() {
    let dr = described(vec![
        group(WEB, 1, 1, 2, 1, 0),
        group(WORKER, 1, 1, 2, 1, 0),
    ]);
    let update = any_update();
    let clients = clients(&[&dr, &update], &[]);
    // The template's AsgGroupNames forgot the worker group.
    let config = ComputeConfig {
        allowed_groups: [WEB.to_string()].into(),
        ..fixed(&[(WEB, 4), (WORKER, 2)], 100)
    };

    let plan = handle(request(Action::Plan), &config, &clients)
        .await
        .unwrap();
    assert!(!plan.ready);
    assert_eq!(plan.refusals.len(), 1, "{:?}", plan.refusals);
    assert!(
        plan.refusals[0].starts_with(&format!("{WORKER}: this function's role may not change it"))
            && plan.refusals[0].contains("ASG_ALLOWED_GROUP_NAMES"),
        "{:?}",
        plan.refusals
    );

    let error = handle(request(Action::Apply), &config, &clients)
        .await
        .unwrap_err();
    assert!(matches!(error, ComputeError::NotPermitted(_)), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::Refused);
    assert_eq!(
        update.num_calls(),
        0,
        "not even the permitted group is raised"
    );
}

#[test]
fn the_allowed_groups_are_required_and_read_as_a_list() {
    let targets = r#"[{"group": "web-dr", "capacity": 6}]"#;
    assert_eq!(
        ComputeConfig::from_source(&[("ASG_TARGETS", targets)]).unwrap_err(),
        ConfigError::Missing("ASG_ALLOWED_GROUP_NAMES")
    );
    let config = ComputeConfig::from_source(&[
        ("ASG_TARGETS", targets),
        ("ASG_ALLOWED_GROUP_NAMES", " web-dr , worker-dr,"),
    ])
    .unwrap();
    assert_eq!(
        config.allowed_groups,
        ["web-dr".to_string(), "worker-dr".to_string()].into()
    );
    assert!(config.refusal("web-dr").is_none() && config.refusal("other").is_some());
}

// ------------------------------------------------------------------ the DR groups' own scheduled actions

use aws_sdk_autoscaling::operation::describe_scheduled_actions::DescribeScheduledActionsOutput;
use aws_sdk_autoscaling::types::{ScheduledUpdateGroupAction, SuspendedProcess, TagDescription};
use std::sync::{Arc, Mutex};

/// A scheduled action of `WEB` setting min/max/desired (`None`: left alone).
fn scheduled_action(
    name: &str,
    (min, max, desired): (Option<i32>, Option<i32>, Option<i32>),
    recurrence: Option<&str>,
) -> ScheduledUpdateGroupAction {
    ScheduledUpdateGroupAction::builder()
        .auto_scaling_group_name(WEB)
        .scheduled_action_name(name)
        .set_min_size(min)
        .set_max_size(max)
        .set_desired_capacity(desired)
        .set_recurrence(recurrence.map(str::to_owned))
        .start_time(aws_smithy_types::DateTime::from_secs(1_900_000_000))
        .build()
}

fn scheduled(actions: Vec<ScheduledUpdateGroupAction>) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_scheduled_actions)
        .match_requests(|r| r.auto_scaling_group_name() == Some(WEB))
        .then_output(move || {
            DescribeScheduledActionsOutput::builder()
                .set_scheduled_update_group_actions(Some(actions.clone()))
                .build()
        })
}

fn with_suspended(mut g: AutoScalingGroup, processes: &[&str]) -> AutoScalingGroup {
    g.suspended_processes = Some(
        processes
            .iter()
            .map(|p| SuspendedProcess::builder().process_name(*p).build())
            .collect(),
    );
    g
}

/// Rules that record, in order, the changing calls they answer.
fn recorded(log: &Arc<Mutex<Vec<String>>>) -> Vec<Rule> {
    let (tag, suspend, resume, update) = (log.clone(), log.clone(), log.clone(), log.clone());
    vec![
        mock!(aws_sdk_autoscaling::Client::create_or_update_tags)
            .match_requests(move |r| {
                let t = &r.tags()[0];
                tag.lock().unwrap().push(format!(
                    "tag {} {} propagate={:?}",
                    t.resource_id().unwrap_or_default(),
                    t.key().unwrap_or_default(),
                    t.propagate_at_launch()
                ));
                true
            })
            .then_output(|| {
                aws_sdk_autoscaling::operation::create_or_update_tags::CreateOrUpdateTagsOutput::builder().build()
            }),
        mock!(aws_sdk_autoscaling::Client::suspend_processes)
            .match_requests(move |r| {
                suspend.lock().unwrap().push(format!(
                    "suspend {} {:?}",
                    r.auto_scaling_group_name().unwrap_or_default(),
                    r.scaling_processes()
                ));
                true
            })
            .then_output(|| {
                aws_sdk_autoscaling::operation::suspend_processes::SuspendProcessesOutput::builder()
                    .build()
            }),
        mock!(aws_sdk_autoscaling::Client::resume_processes)
            .match_requests(move |r| {
                resume.lock().unwrap().push(format!(
                    "resume {} {:?}",
                    r.auto_scaling_group_name().unwrap_or_default(),
                    r.scaling_processes()
                ));
                true
            })
            .then_output(|| {
                aws_sdk_autoscaling::operation::resume_processes::ResumeProcessesOutput::builder()
                    .build()
            }),
        mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group)
            .match_requests(move |r| {
                update.lock().unwrap().push(format!(
                    "update {} {:?}",
                    r.auto_scaling_group_name().unwrap_or_default(),
                    r.desired_capacity()
                ));
                true
            })
            .then_output(|| UpdateAutoScalingGroupOutput::builder().build()),
    ]
}

fn run_with(rules: &[Rule], extra: &[&Rule]) -> ComputeClients {
    let all: Vec<&Rule> = extra.iter().copied().chain(rules.iter()).collect();
    clients(&all, &[])
}

#[tokio::test]
async fn plan_names_each_scheduled_action_that_would_lower_a_group_below_its_target_and_changes_nothing(
) {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let actions = scheduled(vec![
        scheduled_action(
            "nightly-zero",
            (Some(0), Some(0), Some(0)),
            Some("0 22 * * *"),
        ),
        scheduled_action(
            "business-hours",
            (Some(6), Some(12), Some(8)),
            Some("0 7 * * MON-FRI"),
        ),
        scheduled_action("cap-at-four", (None, Some(4), None), None),
    ]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let clients = run_with(&recorded(&log), &[&describe, &actions]);

    let plan = handle(request(Action::Plan), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    let about: Vec<&String> = plan
        .warnings
        .iter()
        .filter(|w| w.contains("scheduled action"))
        .collect();
    assert_eq!(about.len(), 2, "{:?}", plan.warnings);
    assert_eq!(
        about[0],
        "web-dr: scheduled action nightly-zero (next 2030-03-17T17:46:40Z, recurrence 0 22 * * *): \
         min/max/desired 0/0/0 would set it below the failover's target 6; apply suspends \
         ScheduledActions on the group (fail back resumes it)"
    );
    assert!(about[1].contains("cap-at-four (next 2030-03-17T17:46:40Z): min/max/desired -/4/-"));
    assert!(plan.refusals.is_empty(), "a warning, never a refusal");
    assert_eq!(plan.detail.groups[0].lowering_scheduled_actions.len(), 2);
    assert!(log.lock().unwrap().is_empty(), "plan changes nothing");
}

#[tokio::test]
async fn apply_tags_the_group_and_suspends_scheduled_actions_before_raising_it() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let actions = scheduled(vec![scheduled_action(
        "nightly-zero",
        (Some(0), Some(0), Some(0)),
        Some("0 22 * * *"),
    )]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let clients = run_with(&recorded(&log), &[&describe, &actions]);

    let apply = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(
        *log.lock().unwrap(),
        [
            "tag web-dr dr-failover:suspended-scheduled-actions propagate=Some(false)",
            "suspend web-dr [\"ScheduledActions\"]",
            "update web-dr Some(6)",
        ]
    );
    assert!(apply.changed && apply.detail.groups[0].scheduled_actions_suspended);
}

#[tokio::test]
async fn a_group_at_its_target_with_a_lowering_action_is_still_suspended() {
    let describe = described(vec![group(WEB, 6, 6, 6, 6, 0)]);
    let actions = scheduled(vec![scheduled_action(
        "nightly-zero",
        (None, None, Some(0)),
        None,
    )]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let clients = run_with(&recorded(&log), &[&describe, &actions]);

    let apply = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(log.lock().unwrap().len(), 2, "{:?}", log.lock().unwrap());
    assert!(apply.changed);
}

#[tokio::test]
async fn a_rerun_finds_scheduled_actions_suspended_and_changes_nothing() {
    let g = with_suspended(group(WEB, 6, 6, 6, 6, 0), &["ScheduledActions"]);
    let mut g = g;
    g.tags = Some(vec![TagDescription::builder()
        .key(scheduled::SUSPENDED_BY_FAILOVER_TAG)
        .value("x")
        .build()]);
    let describe = described(vec![g]);
    let actions = scheduled(vec![scheduled_action(
        "nightly-zero",
        (None, None, Some(0)),
        None,
    )]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let clients = run_with(&recorded(&log), &[&describe, &actions]);

    let apply = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert!(log.lock().unwrap().is_empty(), "{:?}", log.lock().unwrap());
    assert!(!apply.changed);
    assert!(apply
        .warnings
        .iter()
        .any(|w| w.contains("already suspended")));
}

#[tokio::test]
async fn a_tag_left_by_a_failed_suspension_is_not_written_twice() {
    let mut g = group(WEB, 6, 6, 6, 6, 0);
    g.tags = Some(vec![TagDescription::builder()
        .key(scheduled::SUSPENDED_BY_FAILOVER_TAG)
        .build()]);
    let describe = described(vec![g]);
    let actions = scheduled(vec![scheduled_action(
        "nightly-zero",
        (None, None, Some(0)),
        None,
    )]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let clients = run_with(&recorded(&log), &[&describe, &actions]);

    handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(
        *log.lock().unwrap(),
        ["suspend web-dr [\"ScheduledActions\"]"]
    );
}

#[tokio::test]
async fn resuming_suspended_launches_never_resumes_scheduled_actions() {
    let g = with_suspended(
        group(WEB, 1, 1, 1, 1, 0),
        &["Launch", "ScheduledActions", "AddToLoadBalancer"],
    );
    let describe = described(vec![g]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let clients = run_with(&recorded(&log), &[&describe]);

    handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(
        *log.lock().unwrap(),
        [
            "resume web-dr [\"Launch\", \"AddToLoadBalancer\"]",
            "update web-dr Some(6)"
        ]
    );
}

#[tokio::test]
async fn actions_that_keep_the_group_at_its_target_or_have_ended_are_not_warned_about() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let mut ended = scheduled_action("old-nightly", (None, None, Some(0)), Some("0 22 * * *"));
    ended.end_time = Some(aws_smithy_types::DateTime::from_secs(1_000_000_000));
    let actions = scheduled(vec![
        ended,
        scheduled_action("peak", (Some(6), Some(20), Some(10)), Some("0 7 * * *")),
    ]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let clients = run_with(&recorded(&log), &[&describe, &actions]);

    let apply = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert!(
        !apply
            .warnings
            .iter()
            .any(|w| w.contains("scheduled action")),
        "{:?}",
        apply.warnings
    );
    assert_eq!(*log.lock().unwrap(), ["update web-dr Some(6)"]);
}

#[tokio::test]
async fn scheduled_actions_on_a_later_page_are_read() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let first = mock!(aws_sdk_autoscaling::Client::describe_scheduled_actions)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            DescribeScheduledActionsOutput::builder()
                .scheduled_update_group_actions(scheduled_action(
                    "peak",
                    (Some(6), Some(20), Some(10)),
                    None,
                ))
                .next_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_autoscaling::Client::describe_scheduled_actions)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeScheduledActionsOutput::builder()
                .scheduled_update_group_actions(scheduled_action(
                    "nightly-zero",
                    (None, None, Some(0)),
                    None,
                ))
                .build()
        });
    let log = Arc::new(Mutex::new(Vec::new()));
    let clients = run_with(&recorded(&log), &[&describe, &first, &second]);

    let plan = handle(request(Action::Plan), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert_eq!(second.num_calls(), 1);
    assert!(
        plan.warnings.iter().any(|w| w.contains("nightly-zero")),
        "{:?}",
        plan.warnings
    );
}

#[tokio::test]
async fn scheduled_actions_that_cannot_be_read_are_a_warning_and_apply_still_raises() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let denied = mock!(aws_sdk_autoscaling::Client::describe_scheduled_actions).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform: autoscaling:DescribeScheduledActions</Message></Error></ErrorResponse>",
            ),
        )
    });
    let log = Arc::new(Mutex::new(Vec::new()));
    let clients = run_with(&recorded(&log), &[&describe, &denied]);

    let plan = handle(request(Action::Plan), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();
    let apply = handle(request(Action::Apply), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert!(plan.refusals.is_empty());
    assert!(
        plan.warnings.iter().any(|w| w
            .starts_with("web-dr: its scheduled actions could not be read")
            && w.contains("DescribeScheduledActions")),
        "{:?}",
        plan.warnings
    );
    assert_eq!(*log.lock().unwrap(), ["update web-dr Some(6)"]);
    assert!(apply.changed);
}

#[tokio::test]
async fn fail_backs_raise_of_the_primary_groups_warns_and_suspends_nothing() {
    let describe = described(vec![group(WEB, 1, 1, 2, 1, 0)]);
    let actions = scheduled(vec![scheduled_action(
        "nightly-zero",
        (None, None, Some(0)),
        None,
    )]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let clients = run_with(&recorded(&log), &[&describe, &actions]);
    let config = ComputeConfig {
        suspend_scheduled_actions: false,
        ..fixed(&[(WEB, 6)], 100)
    };

    let apply = handle(request(Action::Apply), &config, &clients)
        .await
        .unwrap();

    assert!(apply
        .warnings
        .iter()
        .any(|w| w.contains("nightly-zero") && w.contains("it runs at its time")));
    assert_eq!(*log.lock().unwrap(), ["update web-dr Some(6)"]);
}

fn activities_answering(status: u16, body: &'static str) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_scaling_activities).then_http_response(move || {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
            aws_smithy_types::body::SdkBody::from(body),
        )
    })
}

#[tokio::test]
async fn scaling_activities_that_are_denied_are_a_warning_and_status_still_answers() {
    // Issue 22: the role lacked autoscaling:DescribeScalingActivities; the read is context only.
    let describe = described(vec![group(WEB, 6, 6, 6, 2, 4)]);
    let denied = activities_answering(
        403,
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: autoscaling:DescribeScalingActivities</Message></Error></ErrorResponse>",
    );
    let clients = clients(&[&describe, &denied], &[]);

    let out = handle(request(Action::Status), &fixed(&[(WEB, 6)], 100), &clients)
        .await
        .unwrap();

    assert!(!out.ready, "2 of 6 InService");
    assert!(out.refusals.is_empty());
    assert!(out.detail.groups[0].failed_launches.is_empty());
    assert!(
        out.summary
            .starts_with("web-dr 2/6 InService; scaling activities not read: ")
            && out.summary.contains("AccessDenied"),
        "{}",
        out.summary
    );
    assert!(
        out.warnings.iter().any(|w| w
            .starts_with("web-dr: its scaling activities could not be read")
            && w.contains("DescribeScalingActivities")
            && w.contains("AccessDenied")),
        "{:?}",
        out.warnings
    );
}

#[tokio::test]
async fn scaling_activities_that_keep_failing_are_a_warning_and_a_ready_group_never_reads_them() {
    let describe = described(vec![group(WEB, 6, 6, 6, 1, 5)]);
    let unavailable = activities_answering(
        503,
        "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>try again</Message></Error></ErrorResponse>",
    );
    let out = handle(
        request(Action::Status),
        &fixed(&[(WEB, 6)], 100),
        &clients(&[&describe, &unavailable], &[]),
    )
    .await
    .unwrap();
    assert!(!out.ready);
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("scaling activities could not be read")
                && w.contains("ServiceUnavailable")),
        "{:?}",
        out.warnings
    );

    // Ready: nothing to explain, so the read is not made at all.
    let describe = described(vec![group(WEB, 6, 6, 6, 6, 0)]);
    let unavailable = activities_answering(503, "<ErrorResponse/>");
    let out = handle(
        request(Action::Status),
        &fixed(&[(WEB, 6)], 100),
        &clients(&[&describe, &unavailable], &[]),
    )
    .await
    .unwrap();
    assert!(out.ready && out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(unavailable.num_calls(), 0);
}

#[tokio::test]
async fn when_the_primary_region_read_is_denied_apply_uses_the_fallback_and_says_why() {
    // Issue 22: the primary groups are read for the target only; AccessDenied there is the
    // primary region not answering, and the fallback capacity is the verdict's input.
    let dr = described(vec![group(WORKER, 1, 1, 2, 1, 0)]);
    let denied = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: autoscaling:DescribeAutoScalingGroups</Message></Error></ErrorResponse>",
            ),
        )
    });
    let update = update_rule(WORKER, 4, 4, 4);
    let clients = clients(&[&dr, &update], &[&denied]);

    let out = handle(request(Action::Apply), &share_of_primary(100, 4), &clients)
        .await
        .unwrap();

    assert_eq!(update.num_calls(), 1);
    let detail = &out.detail.groups[0];
    assert_eq!(detail.target_source, TargetSource::Fallback);
    let note = detail.target_note.as_deref().unwrap();
    assert!(note.contains("AccessDenied"), "{note}");
}

#[test]
fn a_role_scoped_to_the_regions_groups_refuses_none_by_name() {
    let config = ComputeConfig::from_source(&[
        ("ASG_TARGETS", r#"[{"group": "web-dr", "capacity": 6}]"#),
        ("ASG_ALLOWED_GROUP_NAMES", "*"),
    ])
    .unwrap();
    assert!(config.refusal("web-dr").is_none() && config.refusal("any-other").is_none());
}
