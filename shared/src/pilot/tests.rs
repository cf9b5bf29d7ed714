use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::operation::update_auto_scaling_group::{
    UpdateAutoScalingGroupError, UpdateAutoScalingGroupOutput,
};
use aws_sdk_autoscaling::types::error::ScalingActivityInProgressFault;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance, LifecycleState};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

use super::*;
use crate::error::StepFailure;
use crate::testing::no_retries;

fn group(name: &str, (min, desired, max): (i32, i32, i32), instances: usize) -> AutoScalingGroup {
    let mut builder = AutoScalingGroup::builder()
        .auto_scaling_group_name(name)
        .min_size(min)
        .desired_capacity(desired)
        .max_size(max);
    for i in 0..instances {
        builder = builder.instances(
            Instance::builder()
                .instance_id(format!("i-{name}-{i}"))
                .lifecycle_state(LifecycleState::InService)
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

fn update(name: &'static str, min: i32, desired: i32, max: i32) -> Rule {
    mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group)
        .match_requests(move |r| {
            r.auto_scaling_group_name() == Some(name)
                && r.min_size() == Some(min)
                && r.desired_capacity() == Some(desired)
                && r.max_size() == Some(max)
        })
        .then_output(|| UpdateAutoScalingGroupOutput::builder().build())
}

fn clients(rules: &[&Rule]) -> PilotClients {
    PilotClients {
        autoscaling: mock_client!(
            aws_sdk_autoscaling,
            RuleMode::MatchAny,
            rules.iter().copied(),
            |c| c.retry_config(no_retries())
        ),
    }
}

fn config() -> PilotConfig {
    PilotConfig::from_source(&[(
        "PILOT_CAPACITY",
        r#"[{"group": "web-dr", "min": 1, "desired": 1, "max": 2}, {"group": "worker-dr", "min": 0, "desired": 0, "max": 1}]"#,
    )])
    .unwrap()
}

fn scaled_out() -> Vec<AutoScalingGroup> {
    vec![
        group("web-dr", (6, 6, 6), 6),
        group("worker-dr", (4, 4, 4), 4),
    ]
}

#[tokio::test]
async fn plan_says_what_each_group_goes_down_to_and_changes_nothing() {
    let (groups, web, worker) = (
        described(scaled_out()),
        update("web-dr", 1, 1, 2),
        update("worker-dr", 0, 0, 1),
    );
    let clients = clients(&[&groups, &web, &worker]);

    let out = handle(StepRequest::new(Action::Plan), &config(), &clients)
        .await
        .unwrap();

    assert_eq!(
        out.summary,
        "apply would set to pilot capacity: web-dr 6/6/6 -> 1/1/2 (min/desired/max); worker-dr 4/4/4 -> 0/0/1 (min/desired/max)"
    );
    assert!(!out.ready && !out.changed);
    assert_eq!(web.num_calls() + worker.num_calls(), 0);
}

#[tokio::test]
async fn a_dry_run_apply_changes_nothing() {
    let (groups, web) = (described(scaled_out()), update("web-dr", 1, 1, 2));
    let clients = clients(&[&groups, &web]);
    let mut request = StepRequest::new(Action::Apply);
    request.dry_run = true;

    let out = handle(request, &config(), &clients).await.unwrap();

    assert_eq!(out.action, Action::Plan);
    assert_eq!(web.num_calls(), 0);
}

#[tokio::test]
async fn apply_sets_min_desired_and_max_of_each_group_at_once() {
    let (groups, web, worker) = (
        described(scaled_out()),
        update("web-dr", 1, 1, 2),
        update("worker-dr", 0, 0, 1),
    );
    let clients = clients(&[&groups, &web, &worker]);

    let out = handle(StepRequest::new(Action::Apply), &config(), &clients)
        .await
        .unwrap();

    assert!(out.changed && !out.ready);
    assert_eq!((web.num_calls(), worker.num_calls()), (1, 1));
}

#[tokio::test]
async fn ready_only_once_the_extra_instances_are_gone_and_a_rerun_changes_nothing() {
    for (instances, ready) in [((3, 1), false), ((1, 0), true)] {
        let groups = described(vec![
            group("web-dr", (1, 1, 2), instances.0),
            group("worker-dr", (0, 0, 1), instances.1),
        ]);
        let web = update("web-dr", 1, 1, 2);
        let clients = clients(&[&groups, &web]);

        let status = handle(StepRequest::new(Action::Status), &config(), &clients)
            .await
            .unwrap();
        let again = handle(StepRequest::new(Action::Apply), &config(), &clients)
            .await
            .unwrap();

        assert_eq!(status.ready, ready, "{}", status.summary);
        assert_eq!(again.ready, ready);
        assert!(!again.changed);
        assert_eq!(
            web.num_calls(),
            0,
            "a group at its pilot sizes is not updated again"
        );
    }
}

#[tokio::test]
async fn a_missing_group_is_not_found_and_nothing_changes() {
    let (groups, web) = (
        described(vec![group("web-dr", (6, 6, 6), 6)]),
        update("web-dr", 1, 1, 2),
    );
    let clients = clients(&[&groups, &web]);

    let error = handle(StepRequest::new(Action::Apply), &config(), &clients)
        .await
        .unwrap_err();

    assert_eq!(error, PilotError::GroupsNotFound(vec!["worker-dr".into()]));
    assert_eq!(StepFailure::from(error).kind, ErrorKind::NotFound);
    assert_eq!(web.num_calls(), 0);
}

#[tokio::test]
async fn a_scaling_activity_in_progress_is_waited_out() {
    let groups = described(scaled_out());
    let busy = mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group).then_error(|| {
        UpdateAutoScalingGroupError::ScalingActivityInProgressFault(
            ScalingActivityInProgressFault::builder()
                .message("busy")
                .build(),
        )
    });
    let clients = clients(&[&groups, &busy]);

    let error = handle(StepRequest::new(Action::Apply), &config(), &clients)
        .await
        .unwrap_err();

    assert_eq!(StepFailure::from(error).kind, ErrorKind::NotReady);
}

#[test]
fn configuration_mistakes_are_named() {
    for raw in [
        "[]",
        r#"[{"group": "web-dr", "min": 2, "desired": 1, "max": 2}]"#,
        r#"[{"group": "web-dr", "min": 1, "desired": 3, "max": 2}]"#,
        r#"[{"group": "web-dr", "min": -1, "desired": 0, "max": 2}]"#,
        r#"[{"group": "a", "min": 0, "desired": 0, "max": 1}, {"group": "a", "min": 0, "desired": 0, "max": 1}]"#,
        r#"[{"group": "web-dr", "min": 1, "desired": 1, "max": 2, "capacity": 1}]"#,
    ] {
        let error = PilotConfig::from_source(&[("PILOT_CAPACITY", raw)]).unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    name: "PILOT_CAPACITY",
                    ..
                }
            ),
            "{raw}: {error}"
        );
    }
    assert_eq!(
        PilotConfig::from_source(&[("UNRELATED", "1")]),
        Err(ConfigError::Missing("PILOT_CAPACITY"))
    );
}
