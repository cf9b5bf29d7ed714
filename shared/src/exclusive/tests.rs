use aws_sdk_sfn::operation::describe_execution::{DescribeExecutionError, DescribeExecutionOutput};
use aws_sdk_sfn::operation::list_executions::{ListExecutionsError, ListExecutionsOutput};
use aws_sdk_sfn::types::error::{ExecutionDoesNotExist, StateMachineDoesNotExist};
use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::DateTime;

use super::*;
use crate::error::StepFailure;
use crate::testing::no_retries;

const NO_PAUSE: std::time::Duration = std::time::Duration::ZERO;

const MACHINES: &str = "arn:aws:states:eu-central-1:111111111111:stateMachine:shop";

fn machines() -> Machines {
    Machines {
        failover: format!("{MACHINES}-failover"),
        failback: format!("{MACHINES}-failback"),
        reprotect: format!("{MACHINES}-reprotect"),
    }
}

fn execution(machine: &str, name: &str) -> String {
    format!("arn:aws:states:eu-central-1:111111111111:execution:shop-{machine}:{name}")
}

/// One page of ListExecutions: `runs` of `machine`, each (name, start second).
fn page(machine: &str, runs: &[(&str, i64)]) -> ListExecutionsOutput {
    let items = runs.iter().map(|(name, second)| {
        ExecutionListItem::builder()
            .execution_arn(execution(machine, name))
            .state_machine_arn(format!("{MACHINES}-{machine}"))
            .name(*name)
            .status(ExecutionStatus::Running)
            .start_date(DateTime::from_secs(*second))
            .build()
            .unwrap()
    });
    ListExecutionsOutput::builder()
        .set_executions(Some(items.collect()))
        .build()
        .unwrap()
}

/// `runs` of `machine` as ListExecutions lists them, on one page: (name, start second).
fn listed(machine: &'static str, runs: &'static [(&'static str, i64)]) -> Rule {
    mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(move |r| r.state_machine_arn() == Some(&format!("{MACHINES}-{machine}")))
        .then_output(move || page(machine, runs))
}

fn none_of(machine: &'static str) -> Rule {
    listed(machine, &[])
}

/// `name` of `machine` described with `input`.
fn described(machine: &'static str, name: &'static str, input: &'static str) -> Rule {
    mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(move |r| r.execution_arn() == Some(execution(machine, name).as_str()))
        .then_output(move || {
            DescribeExecutionOutput::builder()
                .execution_arn(execution(machine, name))
                .state_machine_arn(format!("{MACHINES}-{machine}"))
                .status(ExecutionStatus::Running)
                .start_date(DateTime::from_secs(0))
                .input(input)
                .build()
                .unwrap()
        })
}

/// [`check`] of the test's machines by `caller` ((machine, execution name), or a person by hand),
/// without pauses between readings.
async fn check_as(
    client: &aws_sdk_sfn::Client,
    caller: Option<(&str, &str)>,
    on_doubt: OnDoubt,
) -> Result<Vec<String>, ExclusiveError> {
    let caller = caller.map(|(machine, name)| execution(machine, name));
    check(client, &machines(), caller.as_deref(), on_doubt, NO_PAUSE).await
}

fn client(rules: &[&Rule]) -> aws_sdk_sfn::Client {
    mock_client!(
        aws_sdk_sfn,
        RuleMode::MatchAny,
        rules.iter().copied(),
        |c| c.retry_config(no_retries())
    )
}

#[tokio::test]
async fn the_oldest_real_run_of_any_of_the_three_machines_holds_and_a_dry_run_holds_nothing() {
    // The issue's case: a fail back drains (started at 100), an on-call starts a failover by
    // hand (at 200); a weekly dry run is older than both.
    let rules = [
        listed("failover", &[("by-hand", 200), ("weekly-drill", 50)]),
        listed("failback", &[("back", 100)]),
        none_of("reprotect"),
        described(
            "failover",
            "by-hand",
            r#"{"trigger":"manual","reason":"on-call"}"#,
        ),
        described("failover", "weekly-drill", r#"{"dry_run":true}"#),
        described("failback", "back", r#"{"dry_run":false}"#),
    ];
    let client = client(&rules.iter().collect::<Vec<_>>());
    let holding = holding(&client, &machines()).await.unwrap();
    let holder = holding.holder.clone().unwrap();
    assert_eq!(holder.execution_arn, execution("failback", "back"));
    assert_eq!(holder.machine, "failback");
    assert_eq!(holding.real_runs.len(), 2);
    assert_eq!(holding.dry_runs, 1);
    assert_eq!(
        holder.stop_command,
        "aws stepfunctions stop-execution --region eu-central-1 --execution-arn \
         arn:aws:states:eu-central-1:111111111111:execution:shop-failback:back"
    );

    let refused = decide(&holding, Some(&execution("failover", "by-hand"))).unwrap_err();
    let failure = StepFailure::from(refused);
    assert_eq!(failure.kind.error_name(), "DrFailover.AlreadyRunning");
    assert!(
        failure.message.contains(&holder.execution_arn),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains(&holder.stop_command),
        "{}",
        failure.message
    );
    assert!(decide(&holding, Some(&execution("failback", "back"))).is_ok());
    // A person invoking a function by hand (no execution_id) is refused while any real run runs.
    let by_hand = decide(&holding, None).unwrap_err();
    assert!(
        by_hand.to_string().contains("without execution_id"),
        "{by_hand}"
    );
}

#[tokio::test]
async fn with_no_real_run_anyone_may_change_and_a_missing_machine_runs_nothing() {
    let missing = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| r.state_machine_arn() == Some(&format!("{MACHINES}-reprotect")))
        .then_error(|| {
            ListExecutionsError::StateMachineDoesNotExist(
                StateMachineDoesNotExist::builder().message("gone").build(),
            )
        });
    let rules = [
        listed("failover", &[("drill", 10)]),
        none_of("failback"),
        described(
            "failover",
            "drill",
            r#"{"dry_run":true,"trigger":"schedule"}"#,
        ),
    ];
    let mut all: Vec<&Rule> = rules.iter().collect();
    all.push(&missing);
    let client = client(&all);
    let warnings = check_as(&client, None, OnDoubt::Refuse).await.unwrap();
    assert!(warnings.is_empty());
}

#[tokio::test]
async fn an_execution_gone_or_ended_since_it_was_listed_does_not_hold() {
    let gone = mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(|r| r.execution_arn() == Some(execution("failover", "old").as_str()))
        .then_error(|| {
            DescribeExecutionError::ExecutionDoesNotExist(
                ExecutionDoesNotExist::builder().message("no").build(),
            )
        });
    let ended = mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(|r| r.execution_arn() == Some(execution("reprotect", "done").as_str()))
        .then_output(|| {
            DescribeExecutionOutput::builder()
                .execution_arn(execution("reprotect", "done"))
                .state_machine_arn(format!("{MACHINES}-reprotect"))
                .status(ExecutionStatus::Succeeded)
                .start_date(DateTime::from_secs(0))
                .build()
                .unwrap()
        });
    let rules = [
        listed("failover", &[("old", 1), ("new", 9)]),
        none_of("failback"),
        listed("reprotect", &[("done", 2)]),
        described("failover", "new", "{}"),
    ];
    let mut all: Vec<&Rule> = rules.iter().collect();
    all.extend([&gone, &ended]);
    let holding = holding(&client(&all), &machines()).await.unwrap();
    assert_eq!(
        holding.holder.unwrap().execution_arn,
        execution("failover", "new")
    );
}

#[tokio::test]
async fn every_page_of_a_listing_is_read() {
    let first = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| {
            r.state_machine_arn() == Some(&format!("{MACHINES}-failover"))
                && r.next_token().is_none()
        })
        .then_output(|| {
            ListExecutionsOutput::builder()
                .executions(
                    ExecutionListItem::builder()
                        .execution_arn(execution("failover", "newer"))
                        .state_machine_arn(format!("{MACHINES}-failover"))
                        .name("newer")
                        .status(ExecutionStatus::Running)
                        .start_date(DateTime::from_secs(20))
                        .build()
                        .unwrap(),
                )
                .next_token("page-2")
                .build()
                .unwrap()
        });
    let second = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            ListExecutionsOutput::builder()
                .executions(
                    ExecutionListItem::builder()
                        .execution_arn(execution("failover", "older"))
                        .state_machine_arn(format!("{MACHINES}-failover"))
                        .name("older")
                        .status(ExecutionStatus::Running)
                        .start_date(DateTime::from_secs(10))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
    let rules = [
        none_of("failback"),
        none_of("reprotect"),
        described("failover", "newer", "{}"),
        described("failover", "older", "{}"),
    ];
    let mut all: Vec<&Rule> = vec![&first, &second];
    all.extend(rules.iter());
    let holding = holding(&client(&all), &machines()).await.unwrap();
    assert_eq!(
        holding.holder.unwrap().execution_arn,
        execution("failover", "older")
    );
}

fn throttled() -> Rule {
    mock!(aws_sdk_sfn::Client::list_executions).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
        )
    })
}

#[tokio::test]
async fn a_listing_that_fails_lets_a_failover_go_on_with_a_warning_and_refuses_the_others() {
    let rule = throttled();
    let client = client(&[&rule]);
    let warnings = check_as(&client, Some(("failover", "alarm")), OnDoubt::GoOn)
        .await
        .unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("going on"), "{}", warnings[0]);

    let refused = check_as(&client, Some(("failback", "back")), OnDoubt::Refuse)
        .await
        .unwrap_err();
    assert!(matches!(refused, ExclusiveError::Unchecked(_)));
    assert_eq!(refused.kind(), ErrorKind::Retryable, "{refused}");
}

#[test]
fn who_goes_on_in_doubt_is_the_failover_by_its_execution_or_by_its_step() {
    let m = machines();
    assert_eq!(
        m.on_doubt("failback-dns", Some(&execution("failover", "x"))),
        OnDoubt::GoOn
    );
    assert_eq!(
        m.on_doubt("flip-dns", Some(&execution("failback", "x"))),
        OnDoubt::Refuse
    );
    assert_eq!(m.on_doubt("promote-replica", None), OnDoubt::GoOn);
    assert_eq!(m.on_doubt("reprotect-database", None), OnDoubt::Refuse);
    // An execution of another deployment whose name starts the same is not this one's.
    let other = "arn:aws:states:eu-central-1:111111111111:execution:shop-failover-2:x";
    assert_eq!(m.machine_of(other), None);
    assert_eq!(
        m.machine_of(&execution("reprotect", "r")),
        Some("reprotect")
    );
}

#[test]
fn machines_are_read_from_the_environment_and_a_bad_arn_names_its_variable() {
    let env = [
        (
            "FAILOVER_STATE_MACHINE_ARN",
            "arn:aws:states:eu-central-1:1:stateMachine:a-failover",
        ),
        (
            "FAILBACK_STATE_MACHINE_ARN",
            "arn:aws:states:eu-central-1:1:stateMachine:a-failback",
        ),
        ("REPROTECT_STATE_MACHINE_ARN", "a-reprotect"),
    ];
    let error = Machines::from_source(&env).unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::Invalid {
                name: "REPROTECT_STATE_MACHINE_ARN",
                ..
            }
        ),
        "{error}"
    );
    let error = Machines::from_source(&[env[0]]).unwrap_err();
    assert!(
        matches!(error, ConfigError::Missing("FAILBACK_STATE_MACHINE_ARN")),
        "{error}"
    );
}

#[test]
fn a_stop_command_quotes_what_a_shell_would_read() {
    assert_eq!(shell_word("eu-west-1"), "eu-west-1");
    assert_eq!(shell_word("a b'c"), r"'a b'\''c'");
    assert_eq!(shell_word("$(x)"), "'$(x)'");
    assert_eq!(shell_word(""), "''");
}

#[test]
fn only_a_json_true_dry_run_is_a_dry_run() {
    assert!(is_dry_run(Some(r#"{"dry_run": true}"#)));
    for input in [
        None,
        Some("{}"),
        Some(r#"{"dry_run":"true"}"#),
        Some("not json"),
    ] {
        assert!(!is_dry_run(input), "{input:?}");
    }
}

/// `machine`'s listing as ListExecutions answers it: `first` at the first reading, `later` at
/// every reading after it (a listing that catches up).
fn listed_then(
    machine: &'static str,
    first: &'static [(&'static str, i64)],
    later: &'static [(&'static str, i64)],
) -> Rule {
    mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(move |r| r.state_machine_arn() == Some(&format!("{MACHINES}-{machine}")))
        .sequence()
        .output(move || page(machine, first))
        .output(move || page(machine, later))
        .repeatedly()
        .build()
}

/// ListExecutions is eventually consistent: a listing that does not show the caller yet may miss
/// a run started just before it, so it is read again until it shows the caller.
#[tokio::test]
async fn a_listing_that_does_not_show_the_caller_yet_is_read_again_until_it_does() {
    // A fail back started a moment before a failover by hand: the first reading shows neither;
    // the second shows both, and the fail back (older) holds.
    let rules = [
        listed_then("failover", &[], &[("by-hand", 200)]),
        listed_then("failback", &[], &[("back", 199)]),
        none_of("reprotect"),
        described("failover", "by-hand", r#"{"trigger":"manual"}"#),
        described("failback", "back", r#"{"dry_run":false}"#),
    ];
    let client = client(&rules.iter().collect::<Vec<_>>());
    let refused = check_as(&client, Some(("failover", "by-hand")), OnDoubt::GoOn)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ExclusiveError::HeldBy { holder, .. } if holder.machine == "failback"),
        "{refused}"
    );
    assert_eq!(rules[0].num_calls(), 2);
}

#[tokio::test]
async fn a_listing_that_never_shows_the_caller_is_a_doubt() {
    let rules = [
        listed("failover", &[]),
        listed("failback", &[]),
        none_of("reprotect"),
    ];
    let client = client(&rules.iter().collect::<Vec<_>>());
    // The failover goes on, saying why.
    let warnings = check_as(&client, Some(("failover", "alarm")), OnDoubt::GoOn)
        .await
        .unwrap();
    assert_eq!(rules[0].num_calls(), LISTING_ATTEMPTS as usize);
    assert!(
        warnings[0].contains("did not list") && warnings[0].contains("eventually consistent"),
        "{}",
        warnings[0]
    );
    // A fail back waits (Retryable: its loop asks again).
    let refused = check_as(&client, Some(("failback", "back")), OnDoubt::Refuse)
        .await
        .unwrap_err();
    assert!(matches!(
        refused,
        ExclusiveError::Unchecked(Doubt::NotYetListed { .. })
    ));
    assert_eq!(refused.kind(), ErrorKind::Retryable);
    // A call without an execution (a person invoking a function) cannot be listed: read once.
    let before = rules[0].num_calls();
    assert!(check_as(&client, None, OnDoubt::Refuse)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(rules[0].num_calls(), before + 1);
}

#[tokio::test]
async fn an_alarm_started_run_the_witness_does_not_confirm_is_held_back_before_any_listing() {
    let now = crate::witness::mark::format_time(std::time::SystemTime::now());
    let up = serde_json::json!({"Tags": [
        {"Key": "dr-failover:witness-seen", "Value": now},
        {"Key": "dr-failover:witness-state", "Value": "up"}]});
    let request = |trigger: &str, read: serde_json::Value| HoldRequest {
        action: HoldAction::Hold,
        execution_id: execution("failover", "alarm-run"),
        pause: Some(PauseRead {
            trigger: trigger.into(),
            dry_run: false,
            read,
        }),
    };
    // No rule: a listing would fail the test with the mock's error.
    let guard = Guard {
        client: client(&[]),
        machines: machines(),
        listing_pause: NO_PAUSE,
        witness_confirms_alarm: true,
    };
    let answer = hold(&guard, "promote-replica", &request("alarm", up.clone()))
        .await
        .unwrap();
    assert!(!answer.holds);
    assert_eq!(answer.held_back, Some(ALARM_UNCONFIRMED));
    assert!(answer.paused.is_none());
    assert!(
        answer
            .summary
            .contains("the witness in eu-central-1 saw the primary up"),
        "{}",
        answer.summary
    );
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(json["witness"]["verdict"], "up");

    // A silent witness (no mark) holds it back too: missing data alone never fails over.
    let silent = hold(
        &guard,
        "promote-replica",
        &request("alarm", serde_json::json!({"Tags": []})),
    )
    .await
    .unwrap();
    assert_eq!(silent.held_back, Some(ALARM_UNCONFIRMED));
    assert!(silent.summary.contains("is silent"), "{}", silent.summary);
}

#[tokio::test]
async fn without_a_witness_or_for_a_manual_run_the_hold_reads_the_runs_as_before() {
    let up = serde_json::json!({"Tags": []});
    for (trigger, confirms) in [("alarm", false), ("manual", true)] {
        let rules = [
            listed("failover", &[("run", 100)]),
            none_of("failback"),
            none_of("reprotect"),
            described("failover", "run", r#"{"dry_run": false}"#),
        ];
        let guard = Guard {
            client: client(&rules.iter().collect::<Vec<_>>()),
            machines: machines(),
            listing_pause: NO_PAUSE,
            witness_confirms_alarm: confirms,
        };
        let request = HoldRequest {
            action: HoldAction::Hold,
            execution_id: execution("failover", "run"),
            pause: Some(PauseRead {
                trigger: trigger.into(),
                dry_run: false,
                read: up.clone(),
            }),
        };
        let answer = hold(&guard, "promote-replica", &request).await.unwrap();
        assert!(
            answer.holds && answer.held_back.is_none(),
            "{trigger}: {answer:?}"
        );
        assert!(answer.witness.is_none());
    }
}
