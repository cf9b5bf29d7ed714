//! A run, stage by stage, from its Step Functions execution history
//! (`GetExecutionHistory`, <https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html>):
//! which of the state machine's stages are done, which runs or waits, and how much of each
//! stage's time budget it has used. Also what the history holds for the other commands: the
//! task token of a waiting approval request and the run's report (finish-run's answer).

use std::time::{Duration, SystemTime};

use aws_sdk_sfn::types::HistoryEvent;
use serde_json::Value;

use super::{aws, Deployment, Machine, OpsError};

/// One history event, as much of it as the commands read.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event's id: 1 for the execution's start, rising by one per event.
    pub id: i64,
    /// The event's type (`TaskStateEntered`, `TaskScheduled`, `ExecutionFailed`...).
    pub kind: String,
    pub time: SystemTime,
    /// The state a `*StateEntered` or `*StateExited` event is about.
    pub state: Option<String>,
    /// A state's input (entered) or output (exited), as JSON.
    pub data: Option<Value>,
    /// A `TaskScheduled` event's resource (`publish.waitForTaskToken`) and parameters (text).
    pub resource: Option<String>,
    pub parameters: Option<String>,
    /// An `ExecutionFailed` event's error and cause.
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Event {
    fn from_sdk(event: &HistoryEvent) -> Self {
        let kind = event.r#type().as_str().to_owned();
        let time = SystemTime::try_from(*event.timestamp()).unwrap_or(SystemTime::UNIX_EPOCH);
        let parse = |text: Option<&str>| text.and_then(|t| serde_json::from_str(t).ok());
        let mut out = Event {
            id: event.id(),
            kind,
            time,
            state: None,
            data: None,
            resource: None,
            parameters: None,
            error: None,
            cause: None,
        };
        if let Some(entered) = event.state_entered_event_details() {
            out.state = Some(entered.name().to_owned());
            out.data = parse(entered.input());
        }
        if let Some(exited) = event.state_exited_event_details() {
            out.state = Some(exited.name().to_owned());
            out.data = parse(exited.output());
        }
        if let Some(task) = event.task_scheduled_event_details() {
            out.resource = Some(task.resource().to_owned());
            out.parameters = Some(task.parameters().to_owned());
        }
        if let Some(failed) = event.execution_failed_event_details() {
            out.error = failed.error().map(str::to_owned);
            out.cause = failed.cause().map(str::to_owned);
        }
        out
    }

    fn entered(&self) -> bool {
        self.kind.ends_with("StateEntered")
    }

    fn exited(&self) -> bool {
        self.kind.ends_with("StateExited")
    }
}

/// Every event of a run, oldest first (all pages).
///
/// # Errors
/// Step Functions' error (the run's history is gone after 90 days: `ExecutionDoesNotExist`).
pub async fn read(deployment: &Deployment, execution_arn: &str) -> Result<Vec<Event>, OpsError> {
    let mut events = Vec::new();
    update(&deployment.sfn, execution_arn, &mut events).await?;
    Ok(events)
}

/// Brings `events` (oldest first, as read before; empty the first time) up to date: the history
/// is read newest first (`reverseOrder`), a page at a time (Step Functions' default of 100
/// events), only until an event already held, so following a long run costs a page a look, not
/// its whole history (GetExecutionHistory is throttled per account).
///
/// # Errors
/// Step Functions' error; `events` is unchanged then.
pub async fn update(
    client: &aws_sdk_sfn::Client,
    execution_arn: &str,
    events: &mut Vec<Event>,
) -> Result<(), OpsError> {
    let held = events.last().map_or(0, |e| e.id);
    let mut newer = Vec::new();
    let mut pages = client
        .get_execution_history()
        .execution_arn(execution_arn)
        .reverse_order(true)
        .into_paginator()
        .send();
    'pages: while let Some(page) = pages.next().await {
        let page = page.map_err(aws("GetExecutionHistory"))?;
        for event in page.events() {
            if event.id() <= held {
                break 'pages;
            }
            newer.push(Event::from_sdk(event));
        }
    }
    newer.reverse();
    events.extend(newer);
    Ok(())
}

/// Where a stage is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    NotStarted,
    Running,
    /// Waiting for a person (an approval request).
    Waiting,
    Done,
}

/// One stage of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub progress: Progress,
    pub started: Option<SystemTime>,
    pub ended: Option<SystemTime>,
    /// The stage's time budget, in seconds, when the run names one.
    pub budget_seconds: Option<u64>,
}

impl Stage {
    /// How long the stage has taken, up to `now` while it runs.
    pub fn elapsed(&self, now: SystemTime) -> Option<Duration> {
        let started = self.started?;
        let until = self.ended.unwrap_or(now);
        Some(until.duration_since(started).unwrap_or_default())
    }

    /// `12 s of 300 s (4 %)`, or `12 s`.
    pub fn usage(&self, now: SystemTime) -> String {
        let Some(elapsed) = self.elapsed(now) else {
            return match self.budget_seconds {
                Some(budget) => format!("budget {budget} s"),
                None => String::new(),
            };
        };
        let seconds = elapsed.as_secs_f64();
        match self.budget_seconds {
            Some(budget) if budget > 0 => format!(
                "{seconds:.0} s of {budget} s ({:.0} %)",
                100.0 * seconds / budget as f64
            ),
            _ => format!("{seconds:.0} s"),
        }
    }
}

/// The stages each machine shows even before they start, in order.
fn expected(machine: Machine) -> &'static [&'static str] {
    match machine {
        Machine::Failover => &[
            "checks", "plan", "approval", "database", "compute", "dns", "report",
        ],
        Machine::Reprotect => &["checks", "plan", "standby", "report"],
        Machine::Failback => &[
            "checks", "plan", "approval", "pause", "compute", "freeze", "database", "dns", "drain",
            "pilot", "standby", "re-arm", "report",
        ],
        Machine::Readiness => &["plan", "compare", "report"],
    }
}

/// The stage a state belongs to; `current` is the fail back stage whose loop runs now.
fn stage_of(machine: Machine, state: &str, current: Option<&str>) -> Option<String> {
    let named = |s: &str| Some(s.to_owned());
    match machine {
        Machine::Failover => match state {
            "CheckRequest"
            | "CheckConcurrency"
            | "ReadPause"
            | "PublishRequestNotChecked"
            | "PublishConcurrencyUnchecked" => named("checks"),
            "PlanFailed" | "PlanStepFailed" => None,
            "RequestApproval" | "ReadAlarm" | "PublishApprovalExpiredProceeding" => {
                named("approval")
            }
            "FinishRun" | "PublishPlain" => named("report"),
            s if s.starts_with("Plan") => named("plan"),
            s if s.starts_with("Promote") || s.starts_with("Capacity") => named("database"),
            s if s.starts_with("Scale") => named("compute"),
            s if s.starts_with("FlipDns") => named("dns"),
            _ => None,
        },
        Machine::Failback => match state {
            "CheckHolder" => named("checks"),
            "PlanFailed" => None,
            "BuildApprovalRequest" | "RequestApproval" => named("approval"),
            "ReadAlarmRule" | "MarkPause" | "ReadPauseMark" | "PauseFailover" => named("pause"),
            "ComputeStage" => named("compute"),
            "DatabaseStage" => named("database"),
            "DnsStage" => named("dns"),
            "PilotStage" => named("pilot"),
            "StandbyStage" => named("standby"),
            "FreezeBegin" | "LagCheck" | "LagWait" => named("freeze"),
            "DrainDr" => named("drain"),
            "CheckArmed" | "ResumeFailover" | "UnmarkPause" => named("re-arm"),
            "FinishRun" | "PublishPlain" => named("report"),
            s if s.starts_with("Plan") => named("plan"),
            s if s.starts_with("Stage") => current.map(str::to_owned),
            _ => None,
        },
        Machine::Reprotect => match state {
            "CheckHolder" => named("checks"),
            "Plan" => named("plan"),
            "FinishRun" | "PublishPlain" => named("report"),
            s if s.starts_with("Create") || s.starts_with("Replica") => named("standby"),
            _ => None,
        },
        Machine::Readiness => match state {
            "PreviousRun" | "DescribePreviousRun" => named("compare"),
            "FinishRun" | "PutMetrics" | "Heartbeat" | "PublishPlain" => named("report"),
            "Plan" | "PlanDatabase" | "PlanCompute" | "PlanDns" | "VerifyBackup"
            | "TriggerRule" | "TriggerRuleTags" | "HealthAlarm" | "UnforwardedAlarm" => {
                named("plan")
            }
            _ => None,
        },
    }
}

fn budget(machine: Machine, stage: &str, events: &[Event]) -> Option<u64> {
    let number = |value: &Value, pointer: &str| value.pointer(pointer).and_then(Value::as_u64);
    events
        .iter()
        .filter_map(|e| e.data.as_ref())
        .find_map(|data| match machine {
            Machine::Failover => match stage {
                "database" | "compute" | "dns" => {
                    number(data, &format!("/settings/budgets/{stage}"))
                }
                "approval" => number(data, "/settings/approval/timeout_seconds"),
                _ => None,
            },
            Machine::Failback => match stage {
                "approval" => number(data, "/settings/approval_seconds"),
                _ if data.pointer("/stage/name").and_then(Value::as_str) == Some(stage) => {
                    number(data, "/stage/budget_seconds")
                }
                _ => None,
            },
            _ => None,
        })
}

/// The run's stages from its `events`; `ended` is whether the run has ended (no stage runs then).
pub fn stages(machine: Machine, events: &[Event], ended: bool) -> Vec<Stage> {
    let mut list: Vec<Stage> = Vec::new();
    let mut open: Vec<(String, i64)> = Vec::new();
    let mut current: Option<String> = None;
    let mut waiting: Option<String> = None;
    for event in events {
        let Some(state) = event.state.as_deref() else {
            continue;
        };
        let Some(stage) = stage_of(machine, state, current.as_deref()) else {
            continue;
        };
        if machine == Machine::Failback && state.ends_with("Stage") && event.entered() {
            current = Some(stage.clone());
        }
        let index = match list.iter().position(|s| s.name == stage) {
            Some(index) => index,
            None => {
                list.push(Stage {
                    name: stage.clone(),
                    progress: Progress::Running,
                    started: Some(event.time),
                    ended: None,
                    budget_seconds: budget(machine, &stage, events),
                });
                open.push((stage.clone(), 0));
                list.len() - 1
            }
        };
        let count = &mut open[index].1;
        if event.entered() {
            *count += 1;
            if state == "RequestApproval" {
                waiting = Some(stage.clone());
            }
        } else if event.exited() {
            *count -= 1;
            list[index].ended = Some(event.time);
            if state == "RequestApproval" {
                waiting = None;
            }
        }
    }
    for (stage, (_, count)) in list.iter_mut().zip(&open) {
        stage.progress = if *count > 0 && !ended {
            if waiting.as_deref() == Some(stage.name.as_str()) {
                Progress::Waiting
            } else {
                stage.ended = None;
                Progress::Running
            }
        } else {
            Progress::Done
        };
        if stage.progress == Progress::Waiting {
            stage.ended = None;
        }
    }
    // The stages not reached yet (an approval only when one is asked), then all in order.
    for name in expected(machine) {
        if ended || list.iter().any(|s| s.name == *name) {
            continue;
        }
        if machine == Machine::Failover && *name == "approval" {
            continue;
        }
        list.push(Stage {
            name: (*name).to_owned(),
            progress: Progress::NotStarted,
            started: None,
            ended: None,
            budget_seconds: budget(machine, name, events),
        });
    }
    let rank = |name: &str| expected(machine).iter().position(|n| *n == name);
    list.sort_by_key(|stage| rank(&stage.name));
    list
}

/// The task token of the approval request the run waits on now: the last `waitForTaskToken`
/// task scheduled, when its state has not exited since. The token is read from the published
/// request's approve command (`--task-token <token>`), which both state machines publish.
pub fn waiting_token(events: &[Event]) -> Option<(String, Value)> {
    let scheduled = events.iter().rposition(|e| {
        e.kind == "TaskScheduled"
            && e.resource
                .as_deref()
                .is_some_and(|r| r.ends_with("waitForTaskToken"))
    })?;
    let answered = events[scheduled..]
        .iter()
        .any(|e| e.exited() && e.state.as_deref() == Some("RequestApproval"));
    if answered {
        return None;
    }
    let parameters = events[scheduled].parameters.as_deref()?;
    let request: Value = serde_json::from_str(parameters).ok()?;
    let token = token_in(&request)?;
    (!token.is_empty()).then_some((token, request))
}

fn token_in(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => text
            .split("--task-token ")
            .nth(1)?
            .split(|c: char| c.is_whitespace() || c == '\'')
            .next()
            .map(str::to_owned),
        Value::Array(items) => items.iter().find_map(token_in),
        Value::Object(members) => members.values().find_map(token_in),
        _ => None,
    }
}

/// The run's report: finish-run's answer, as the `FinishRun` state left it
/// (`$.finished.report`).
pub fn report(events: &[Event]) -> Option<Value> {
    events
        .iter()
        .rev()
        .filter(|e| e.exited() && e.state.as_deref() == Some("FinishRun"))
        .find_map(|e| e.data.as_ref()?.pointer("/finished/report").cloned())
        .filter(|r| !r.is_null())
}

/// The run's failure, when it failed: (error, cause).
pub fn failure(events: &[Event]) -> Option<(String, String)> {
    events
        .iter()
        .rev()
        .find(|e| e.kind == "ExecutionFailed")
        .map(|e| {
            (
                e.error.clone().unwrap_or_default(),
                e.cause.clone().unwrap_or_default(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
    use aws_sdk_sfn::types::{HistoryEventType, StateEnteredEventDetails};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use serde_json::json;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + seconds)
    }

    fn state(kind: &str, name: &str, t: u64, data: Value) -> Event {
        Event {
            id: 0,
            kind: kind.into(),
            time: at(t),
            state: Some(name.into()),
            data: Some(data),
            resource: None,
            parameters: None,
            error: None,
            cause: None,
        }
    }

    fn settings() -> Value {
        json!({"settings": {"budgets": {"database": 300, "compute": 600, "dns": 120},
                            "approval": {"timeout_seconds": 900}}})
    }

    fn waiting_failover() -> Vec<Event> {
        let mut scheduled = state("TaskScheduled", "", 6, Value::Null);
        scheduled.state = None;
        scheduled.resource = Some("arn:aws:states:::sns:publish.waitForTaskToken".into());
        scheduled.parameters = Some(
            json!({"TopicArn": "t", "Message": {"approve_command":
                "aws stepfunctions send-task-success --region r --task-token AAAA/bb+cc== --task-output true"}})
            .to_string(),
        );
        vec![
            state("TaskStateEntered", "CheckRequest", 0, json!({})),
            state("TaskStateExited", "CheckRequest", 1, json!({})),
            state("TaskStateEntered", "CheckConcurrency", 1, settings()),
            state("TaskStateExited", "CheckConcurrency", 2, settings()),
            state("ParallelStateEntered", "Plan", 2, settings()),
            state("TaskStateEntered", "PlanDatabase", 2, settings()),
            state("TaskStateExited", "PlanDatabase", 4, settings()),
            state("ParallelStateExited", "Plan", 5, settings()),
            state("TaskStateEntered", "RequestApproval", 5, settings()),
            scheduled,
        ]
    }

    #[test]
    fn a_run_waiting_for_approval_shows_it_and_the_stages_still_to_come() {
        let events = waiting_failover();
        let list = stages(Machine::Failover, &events, false);
        let names: Vec<_> = list.iter().map(|s| (s.name.as_str(), s.progress)).collect();
        assert_eq!(
            names,
            [
                ("checks", Progress::Done),
                ("plan", Progress::Done),
                ("approval", Progress::Waiting),
                ("database", Progress::NotStarted),
                ("compute", Progress::NotStarted),
                ("dns", Progress::NotStarted),
                ("report", Progress::NotStarted),
            ]
        );
        assert_eq!(list[2].budget_seconds, Some(900));
        assert_eq!(list[2].usage(at(95)), "90 s of 900 s (10 %)");
        assert_eq!(list[3].usage(at(95)), "budget 300 s");
        let (token, request) = waiting_token(&events).unwrap();
        assert_eq!(token, "AAAA/bb+cc==");
        assert_eq!(request["TopicArn"], "t");
    }

    #[test]
    fn an_answered_request_has_no_token_and_parallel_stages_run_together() {
        let mut events = waiting_failover();
        events.push(state("TaskStateExited", "RequestApproval", 30, settings()));
        events.push(state("ParallelStateEntered", "Failover", 31, settings()));
        events.push(state("TaskStateEntered", "PromoteApply", 31, settings()));
        events.push(state("TaskStateEntered", "ScaleApply", 31, settings()));
        events.push(state("TaskStateExited", "ScaleApply", 33, settings()));
        events.push(state("WaitStateEntered", "ScaleWait", 33, settings()));
        assert_eq!(waiting_token(&events), None);
        let list = stages(Machine::Failover, &events, false);
        let database = list.iter().find(|s| s.name == "database").unwrap();
        let compute = list.iter().find(|s| s.name == "compute").unwrap();
        assert_eq!(database.progress, Progress::Running);
        assert_eq!(compute.progress, Progress::Running);
        assert_eq!(compute.usage(at(91)), "60 s of 600 s (10 %)");
        let ended = stages(Machine::Failover, &events, true);
        assert!(ended.iter().all(|s| s.progress == Progress::Done));
    }

    #[test]
    fn a_fail_back_stage_loop_belongs_to_the_stage_that_entered_it() {
        let stage =
            |name: &str, budget: u64| json!({"stage": {"name": name, "budget_seconds": budget}});
        let events = vec![
            state("PassStateEntered", "ComputeStage", 0, json!({})),
            state("PassStateExited", "ComputeStage", 0, stage("compute", 600)),
            state("TaskStateEntered", "StageApply", 0, stage("compute", 600)),
            state("TaskStateExited", "StageApply", 2, stage("compute", 600)),
            state("PassStateEntered", "DnsStage", 3, json!({})),
            state("PassStateExited", "DnsStage", 3, stage("dns", 120)),
            state("TaskStateEntered", "StageApply", 3, stage("dns", 120)),
        ];
        let list = stages(Machine::Failback, &events, false);
        let compute = list.iter().find(|s| s.name == "compute").unwrap();
        let dns = list.iter().find(|s| s.name == "dns").unwrap();
        assert_eq!(compute.progress, Progress::Done);
        assert_eq!(compute.budget_seconds, Some(600));
        assert_eq!(dns.progress, Progress::Running);
        assert_eq!(dns.budget_seconds, Some(120));
    }

    fn page(ids: std::ops::RangeInclusive<i64>, next: Option<&str>) -> GetExecutionHistoryOutput {
        let events = ids
            .rev()
            .map(|id| {
                HistoryEvent::builder()
                    .id(id)
                    .timestamp(aws_smithy_types::DateTime::from_secs(1_000 + id))
                    .r#type(HistoryEventType::PassStateEntered)
                    .state_entered_event_details(
                        StateEnteredEventDetails::builder()
                            .name(format!("S{id}"))
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            })
            .collect::<Vec<_>>();
        GetExecutionHistoryOutput::builder()
            .set_events(Some(events))
            .set_next_token(next.map(str::to_owned))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn the_history_is_read_newest_first_across_pages_and_then_only_what_is_new() {
        // First look: 150 events on two pages, newest first.
        let first = mock!(aws_sdk_sfn::Client::get_execution_history)
            .match_requests(|r| r.reverse_order() == Some(true) && r.next_token().is_none())
            .then_output(|| page(51..=150, Some("p2")));
        let second = mock!(aws_sdk_sfn::Client::get_execution_history)
            .match_requests(|r| r.next_token() == Some("p2"))
            .then_output(|| page(1..=50, None));
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&first, &second]);
        let mut events = Vec::new();
        update(&client, "arn", &mut events).await.unwrap();
        assert_eq!(events.len(), 150);
        assert_eq!((events[0].id, events[149].id), (1, 150), "oldest first");
        // Next look: the newest page holds 3 new events and what is held; nothing more is read.
        let newest = mock!(aws_sdk_sfn::Client::get_execution_history)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| page(54..=153, Some("p2")));
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&newest]);
        update(&client, "arn", &mut events).await.unwrap();
        assert_eq!(newest.num_calls(), 1);
        assert_eq!(events.len(), 153);
        assert_eq!(events[150].state.as_deref(), Some("S151"));
    }

    #[test]
    fn the_report_is_finish_runs_answer() {
        let events = vec![state(
            "TaskStateExited",
            "FinishRun",
            9,
            json!({"finished": {"report": {"outcome": "failed-over"}, "error": null}}),
        )];
        assert_eq!(report(&events).unwrap()["outcome"], "failed-over");
        assert_eq!(report(&[]), None);
    }
}
