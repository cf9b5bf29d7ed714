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

// ------------------------------------------------------------------ ScheduledActions the failover suspended

use aws_sdk_autoscaling::types::{SuspendedProcess, TagDescription};
use std::sync::{Arc, Mutex};

fn suspended_by(mut g: AutoScalingGroup, tagged: bool) -> AutoScalingGroup {
    g.suspended_processes = Some(vec![SuspendedProcess::builder()
        .process_name("ScheduledActions")
        .build()]);
    if tagged {
        g.tags = Some(vec![TagDescription::builder()
            .resource_id(g.auto_scaling_group_name().unwrap_or_default())
            .key("dr-failover:suspended-scheduled-actions")
            .build()]);
    }
    g
}

/// Rules answering ResumeProcesses, DeleteTags and UpdateAutoScalingGroup, recording each in order.
fn recorded(log: &Arc<Mutex<Vec<String>>>) -> Vec<Rule> {
    let (resume, untag, update) = (log.clone(), log.clone(), log.clone());
    vec![
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
        mock!(aws_sdk_autoscaling::Client::delete_tags)
            .match_requests(move |r| {
                let t = &r.tags()[0];
                untag.lock().unwrap().push(format!(
                    "untag {} {}",
                    t.resource_id().unwrap_or_default(),
                    t.key().unwrap_or_default()
                ));
                true
            })
            .then_output(|| {
                aws_sdk_autoscaling::operation::delete_tags::DeleteTagsOutput::builder().build()
            }),
        mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group)
            .match_requests(move |r| {
                update.lock().unwrap().push(format!(
                    "update {}",
                    r.auto_scaling_group_name().unwrap_or_default()
                ));
                true
            })
            .then_output(|| UpdateAutoScalingGroupOutput::builder().build()),
    ]
}

#[tokio::test]
async fn apply_resumes_scheduled_actions_the_failover_suspended_after_the_sizes_then_removes_its_tag(
) {
    let groups = described(vec![
        suspended_by(group("web-dr", (6, 6, 6), 6), true),
        group("worker-dr", (4, 4, 4), 4),
    ]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let rules = recorded(&log);
    let clients = clients(&[&groups, &rules[0], &rules[1], &rules[2]]);

    let plan = handle(StepRequest::new(Action::Plan), &config(), &clients)
        .await
        .unwrap();
    assert!(log.lock().unwrap().is_empty(), "plan changes nothing");
    assert!(plan
        .summary
        .ends_with("apply resumes ScheduledActions the failover suspended on web-dr"));

    let out = handle(StepRequest::new(Action::Apply), &config(), &clients)
        .await
        .unwrap();

    assert_eq!(
        *log.lock().unwrap(),
        [
            "update web-dr",
            "update worker-dr",
            "resume web-dr [\"ScheduledActions\"]",
            "untag web-dr dr-failover:suspended-scheduled-actions",
        ]
    );
    assert!(out.changed && !out.ready);
}

#[tokio::test]
async fn scheduled_actions_an_operator_suspended_stay_suspended_and_are_named() {
    let groups = described(vec![
        suspended_by(group("web-dr", (1, 1, 2), 1), false),
        group("worker-dr", (0, 0, 1), 0),
    ]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let rules = recorded(&log);
    let clients = clients(&[&groups, &rules[0], &rules[1], &rules[2]]);

    let out = handle(StepRequest::new(Action::Apply), &config(), &clients)
        .await
        .unwrap();

    assert!(log.lock().unwrap().is_empty(), "{:?}", log.lock().unwrap());
    assert_eq!(
        out.warnings,
        ["web-dr has ScheduledActions suspended, not by the failover (no dr-failover:suspended-scheduled-actions tag): left suspended"]
    );
    assert!(out.ready && !out.changed);
}

#[tokio::test]
async fn a_tag_left_after_the_resume_succeeded_is_removed_without_resuming_again() {
    let mut web = group("web-dr", (1, 1, 2), 1);
    web.tags = Some(vec![TagDescription::builder()
        .key("dr-failover:suspended-scheduled-actions")
        .build()]);
    let groups = described(vec![web, group("worker-dr", (0, 0, 1), 0)]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let rules = recorded(&log);
    let clients = clients(&[&groups, &rules[0], &rules[1], &rules[2]]);

    handle(StepRequest::new(Action::Apply), &config(), &clients)
        .await
        .unwrap();

    assert_eq!(
        *log.lock().unwrap(),
        ["untag web-dr dr-failover:suspended-scheduled-actions"]
    );
}

#[tokio::test]
async fn a_failed_resume_keeps_the_tag_so_a_rerun_resumes() {
    let groups = described(vec![
        suspended_by(group("web-dr", (1, 1, 2), 1), true),
        group("worker-dr", (0, 0, 1), 0),
    ]);
    let denied = mock!(aws_sdk_autoscaling::Client::resume_processes).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>denied</Message></Error></ErrorResponse>",
            ),
        )
    });
    let log = Arc::new(Mutex::new(Vec::new()));
    let rules = recorded(&log);
    let clients = clients(&[&groups, &denied, &rules[1], &rules[2]]);

    let error = handle(StepRequest::new(Action::Apply), &config(), &clients)
        .await
        .unwrap_err();

    assert!(error.to_string().contains("ResumeProcesses"), "{error}");
    assert!(
        log.lock().unwrap().is_empty(),
        "the tag stays: {:?}",
        log.lock().unwrap()
    );
}
