//! One real run at a time per deployment, across its failover, fail back and re-protect state
//! machines: which run holds the deployment, and whether a run (or a person invoking a function
//! by hand) may change something now.
//!
//! The running executions of the three state machines are listed (Step Functions
//! `ListExecutions` with `statusFilter` `RUNNING`, every page:
//! https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html) and
//! each is described (`DescribeExecution`, whose `input` is the execution's JSON input:
//! https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html).
//! An input with `dry_run` `true` is a dry run and never holds anything; every other running
//! execution is a real run. The real run that started first (`startDate`, then the execution ARN
//! for two started in the same millisecond) holds the deployment; every other real run is refused
//! before each change, and at its start.
//!
//! `ListExecutions` "is eventually consistent. The results are best effort and may not reflect
//! very recent updates and changes" (its API reference, above): a run started a moment ago may be
//! missing from it. A listing is taken as current only once it shows the run that asks (its own
//! start is then in it, and so is every run started before it); until then it is read again, up to
//! [`LISTING_ATTEMPTS`] times [`LISTING_PAUSE`] apart, and a listing that never shows the caller is
//! a doubt.
//!
//! What a doubt does (the listing fails after the SDK's retries, or never shows the caller) depends on who asks
//! ([`OnDoubt`]): a failover goes on, with a warning, because read-only context must never block
//! a failover in a disaster (Step Functions' control plane can be what is failing); a fail back or
//! a re-protect refuses, as `DrFailover.Retryable` (its wait loop asks again until its budget is
//! spent), because nothing is lost by waiting: the application is served where it is, and a
//! fail back beside an unseen failover is exactly the split writes this module exists to prevent.

use std::collections::BTreeMap;

use aws_sdk_sfn::error::SdkError;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::list_executions::ListExecutionsError;
use aws_sdk_sfn::types::ExecutionStatus;
use aws_smithy_types::date_time::Format;
use serde::Serialize;
use serde_json::Value;

use crate::config::{self, ConfigError, Source};
use crate::error::{AwsCallError, ErrorKind, StepError};
use crate::finish::shell_word;

mod hold;
use hold::doubt_warning;
pub mod step;

pub use hold::{
    hold, HoldAction, HoldAnswer, HoldRequest, PauseRead, ALARM_PAUSED, ALARM_UNCONFIRMED,
    AUTOMATIC_TRIGGERS,
};
#[cfg(test)]
mod tests;

/// The environment variables naming the deployment's three state machines, each a state machine
/// ARN (`arn:<partition>:states:<region>:<account>:stateMachine:<name>`). The template builds them
/// from `DeploymentName` (`${DeploymentName}-failover`, `-failback`, `-reprotect`).
pub const MACHINE_VARIABLES: [&str; 3] = [
    "FAILOVER_STATE_MACHINE_ARN",
    "FAILBACK_STATE_MACHINE_ARN",
    "REPROTECT_STATE_MACHINE_ARN",
];

/// How many times a listing that does not show the calling run yet is read ([`holding_seen_by`]).
pub const LISTING_ATTEMPTS: u32 = 6;

/// The pause between two readings of a listing that does not show the calling run yet.
pub const LISTING_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// The steps of the failover state machine: a doubt never stops them ([`OnDoubt::GoOn`]).
pub const FAILOVER_STEPS: [&str; 3] = [
    crate::database::STEP,
    crate::compute::STEP,
    crate::dns::STEP,
];

/// The deployment's three state machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machines {
    pub failover: String,
    pub failback: String,
    pub reprotect: String,
}

impl Machines {
    /// Reads [`MACHINE_VARIABLES`].
    ///
    /// # Errors
    /// [`ConfigError::Missing`] or [`ConfigError::Invalid`] naming the variable: missing, or not
    /// a state machine ARN.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let read = |name: &'static str| {
            let arn = config::required(source, name)?;
            match machine_name(&arn) {
                Some(_) => Ok(arn),
                None => Err(ConfigError::Invalid {
                    name,
                    reason: format!(
                        "{arn:?} is not a state machine ARN \
                         (arn:<partition>:states:<region>:<account>:stateMachine:<name>)"
                    ),
                }),
            }
        };
        Ok(Machines {
            failover: read(MACHINE_VARIABLES[0])?,
            failback: read(MACHINE_VARIABLES[1])?,
            reprotect: read(MACHINE_VARIABLES[2])?,
        })
    }

    /// Each machine with its role: `failover`, `failback`, `reprotect`.
    pub fn all(&self) -> [(&'static str, &str); 3] {
        [
            ("failover", self.failover.as_str()),
            ("failback", self.failback.as_str()),
            ("reprotect", self.reprotect.as_str()),
        ]
    }

    /// Which of the three machines `execution_arn` is an execution of, if any. An execution ARN
    /// is its machine's ARN with `stateMachine` replaced by `execution` and `:<execution name>`
    /// appended.
    pub fn machine_of(&self, execution_arn: &str) -> Option<&'static str> {
        self.all().into_iter().find_map(|(role, machine)| {
            let prefix = machine.replacen(":stateMachine:", ":execution:", 1);
            execution_arn
                .strip_prefix(&prefix)
                .filter(|rest| rest.starts_with(':') && rest.len() > 1)
                .map(|_| role)
        })
    }

    /// What a doubt does for a call of `step` by `execution_id` (see the module's doc): a
    /// failover's execution, or a person invoking a failover step by hand, goes on.
    pub fn on_doubt(&self, step: &str, execution_id: Option<&str>) -> OnDoubt {
        let failover = match execution_id.and_then(|id| self.machine_of(id)) {
            Some(role) => role == "failover",
            None => FAILOVER_STEPS.contains(&step),
        };
        if failover {
            OnDoubt::GoOn
        } else {
            OnDoubt::Refuse
        }
    }
}

/// The state machine name of a state machine ARN.
fn machine_name(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "states", region, _, "stateMachine", name]
            if !region.is_empty() && !name.is_empty() =>
        {
            Some(name)
        }
        _ => None,
    }
}

/// What a check does when the running executions cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDoubt {
    /// Go on, with a warning (the failover).
    GoOn,
    /// Refuse, as the listing's error (fail back, re-protect).
    Refuse,
}

/// A real run of the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    /// The execution's ARN.
    pub execution_arn: String,
    /// `failover`, `failback` or `reprotect`.
    pub machine: &'static str,
    /// When it started, RFC 3339 (Step Functions' `startDate`).
    pub started: String,
    /// The shell command that ends it (`aws stepfunctions stop-execution`, the ARN quoted).
    pub stop_command: String,
    #[serde(skip)]
    started_millis: i64,
}

impl Run {
    fn new(
        execution_arn: String,
        machine: &'static str,
        started: &aws_smithy_types::DateTime,
    ) -> Self {
        let region = execution_arn.split(':').nth(3).unwrap_or_default();
        let stop_command = format!(
            "aws stepfunctions stop-execution --region {} --execution-arn {}",
            shell_word(region),
            shell_word(&execution_arn)
        );
        Run {
            started: started
                .fmt(Format::DateTime)
                .unwrap_or_else(|_| started.secs().to_string()),
            started_millis: started.to_millis().unwrap_or(i64::MAX),
            execution_arn,
            machine,
            stop_command,
        }
    }
}

/// Who holds the deployment now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    /// The oldest running real run, if any runs.
    pub holder: Option<Run>,
    /// Every running real run, oldest first.
    pub real_runs: Vec<Run>,
    /// Running dry runs, which hold nothing.
    pub dry_runs: usize,
    /// Every execution the listing showed running (dry runs included), by ARN.
    #[serde(skip)]
    pub listed: std::collections::BTreeSet<String>,
}

/// Why whether another run holds the deployment is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Doubt {
    /// `ListExecutions` or `DescribeExecution` failed after the SDK's retries.
    #[error(transparent)]
    Unread(AwsCallError),
    /// The listing never showed the run that asks, [`LISTING_ATTEMPTS`] readings
    /// [`LISTING_PAUSE`] apart: it may miss runs started just before it too
    /// (`DrFailover.Retryable`).
    #[error(
        "ListExecutions did not list {caller} itself after {attempts} readings {pause_seconds} s \
         apart (it is eventually consistent, \
         https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html), \
         so runs started just before it may be missing too"
    )]
    NotYetListed {
        caller: String,
        attempts: u32,
        pause_seconds: u64,
    },
}

impl Doubt {
    fn kind(&self) -> ErrorKind {
        match self {
            Doubt::Unread(error) => error.kind(),
            Doubt::NotYetListed { .. } => ErrorKind::Retryable,
        }
    }
}

/// [`holding`] as current as the caller's own start: read again, `pause` apart and up to
/// [`LISTING_ATTEMPTS`] times, while the listing does not show `caller` (an execution of one of
/// the three machines; a call without one, or from elsewhere, is read once).
///
/// # Errors
/// [`Doubt::Unread`] when a reading fails; [`Doubt::NotYetListed`] when none shows the caller.
pub async fn holding_seen_by(
    client: &aws_sdk_sfn::Client,
    machines: &Machines,
    caller: Option<&str>,
    pause: std::time::Duration,
) -> Result<Holding, Doubt> {
    let own = caller.filter(|caller| machines.machine_of(caller).is_some());
    let mut attempt = 1;
    loop {
        // Boxed, so that every step's future does not nest the listing's (rustc limits the
        // depth of a type's layout query; a clean, non-incremental build reached it).
        let holding = Box::pin(holding(client, machines))
            .await
            .map_err(Doubt::Unread)?;
        match own {
            Some(caller) if !holding.listed.contains(caller) => {
                if attempt >= LISTING_ATTEMPTS {
                    return Err(Doubt::NotYetListed {
                        caller: caller.to_owned(),
                        attempts: attempt,
                        pause_seconds: pause.as_secs(),
                    });
                }
                attempt += 1;
                tokio::time::sleep(pause).await;
            }
            _ => return Ok(holding),
        }
    }
}

/// Reads who holds the deployment: every running execution of the three machines, each
/// described. A machine that does not exist (`StateMachineDoesNotExist`: a deployment without
/// it) runs nothing; an execution that ended or is gone between the listing and its description
/// is not running.
///
/// # Errors
/// [`AwsCallError`] of the `ListExecutions` or `DescribeExecution` call that failed after the
/// SDK's retries.
pub async fn holding(
    client: &aws_sdk_sfn::Client,
    machines: &Machines,
) -> Result<Holding, AwsCallError> {
    let mut listed = Vec::new();
    for (role, machine) in machines.all() {
        let mut pages = client
            .list_executions()
            .state_machine_arn(machine)
            .status_filter(ExecutionStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(SdkError::ServiceError(service))
                    if matches!(
                        service.err(),
                        ListExecutionsError::StateMachineDoesNotExist(_)
                    ) =>
                {
                    break
                }
                Err(error) => return Err(AwsCallError::new("ListExecutions", &error)),
            };
            for item in page.executions() {
                listed.push(Run::new(
                    item.execution_arn().to_owned(),
                    role,
                    item.start_date(),
                ));
            }
        }
    }
    // Two pages of one listing may overlap when executions start between them.
    let listed: BTreeMap<String, Run> = listed
        .into_iter()
        .map(|run| (run.execution_arn.clone(), run))
        .collect();
    let mut real_runs = Vec::new();
    let mut dry_runs = 0;
    let mut shown = std::collections::BTreeSet::new();
    for run in listed.into_values() {
        let described = client
            .describe_execution()
            .execution_arn(&run.execution_arn)
            .send()
            .await;
        let described = match described {
            Ok(described) => described,
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    DescribeExecutionError::ExecutionDoesNotExist(_)
                ) =>
            {
                continue
            }
            Err(error) => return Err(AwsCallError::new("DescribeExecution", &error)),
        };
        if described.status() != &ExecutionStatus::Running {
            continue;
        }
        shown.insert(run.execution_arn.clone());
        if is_dry_run(described.input()) {
            dry_runs += 1;
        } else {
            real_runs.push(run);
        }
    }
    real_runs.sort_by(|a, b| {
        (a.started_millis, &a.execution_arn).cmp(&(b.started_millis, &b.execution_arn))
    });
    Ok(Holding {
        holder: real_runs.first().cloned(),
        real_runs,
        dry_runs,
        listed: shown,
    })
}

/// An execution input asks for a dry run only with `dry_run` the JSON `true`, as the state
/// machines read it; any other input (none, not JSON, `"true"`) is a real run.
fn is_dry_run(input: Option<&str>) -> bool {
    input
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|input| input.get("dry_run").and_then(Value::as_bool))
        .unwrap_or(false)
}

/// Why a change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExclusiveError {
    /// Another real run holds the deployment: `DrFailover.AlreadyRunning`.
    #[error(
        "{} holds this deployment: the {} run {} (started {}) is the oldest real run of its \
         failover, fail back and re-protect state machines, and only it may change anything; \
         nothing was changed. Let it end, or end it with: {}",
        who(.caller.as_deref()),
        .holder.machine,
        .holder.execution_arn,
        .holder.started,
        .holder.stop_command
    )]
    HeldBy {
        holder: Box<Run>,
        /// The execution that asked, `None` for a call without `execution_id`.
        caller: Option<String>,
    },
    /// The running executions could not be read, and the caller refuses on doubt.
    #[error(
        "whether another run holds this deployment could not be read, so nothing was changed: {0}"
    )]
    Unchecked(Doubt),
}

fn who(caller: Option<&str>) -> String {
    match caller {
        Some(caller) => format!("{caller} may not change anything: another run"),
        None => "a call without execution_id may not change anything: a run".into(),
    }
}

impl StepError for ExclusiveError {
    fn kind(&self) -> ErrorKind {
        match self {
            ExclusiveError::HeldBy { .. } => ErrorKind::AlreadyRunning,
            ExclusiveError::Unchecked(doubt) => doubt.kind(),
        }
    }
}

/// Whether `caller` (an execution ARN, or `None` for a person invoking a function by hand) may
/// change something now: yes when no real run runs, or `caller` is the one that holds the
/// deployment. Answers the warnings to carry (a doubt the caller goes on with).
///
/// # Errors
/// [`ExclusiveError::HeldBy`] naming the holder and its stop command;
/// [`ExclusiveError::Unchecked`] when the listing failed and `on_doubt` is [`OnDoubt::Refuse`].
pub async fn check(
    client: &aws_sdk_sfn::Client,
    machines: &Machines,
    caller: Option<&str>,
    on_doubt: OnDoubt,
    pause: std::time::Duration,
) -> Result<Vec<String>, ExclusiveError> {
    match holding_seen_by(client, machines, caller, pause).await {
        Ok(holding) => decide(&holding, caller).map(|()| Vec::new()),
        Err(error) => match on_doubt {
            OnDoubt::GoOn => Ok(vec![doubt_warning(&error)]),
            OnDoubt::Refuse => Err(ExclusiveError::Unchecked(error)),
        },
    }
}

/// [`check`]'s decision on a holding already read.
///
/// # Errors
/// [`ExclusiveError::HeldBy`] when a real run other than `caller` holds the deployment.
pub fn decide(holding: &Holding, caller: Option<&str>) -> Result<(), ExclusiveError> {
    match &holding.holder {
        Some(holder) if Some(holder.execution_arn.as_str()) != caller => {
            Err(ExclusiveError::HeldBy {
                holder: Box::new(holder.clone()),
                caller: caller.map(str::to_owned),
            })
        }
        _ => Ok(()),
    }
}

/// What every step function needs to check: the Step Functions client and the machines. Built
/// once per process by [`crate::lambda::serve`].
#[derive(Debug, Clone)]
pub struct Guard {
    pub client: aws_sdk_sfn::Client,
    pub machines: Machines,
    /// The pause between two readings of a listing that does not show the caller yet
    /// ([`LISTING_PAUSE`]).
    pub listing_pause: std::time::Duration,
    /// `WITNESS_CONFIRMS_ALARM` (`true` or `false`, unset `false`): the deployment has a witness
    /// ([`crate::witness`]), and an alarm-started real failover goes on only when it confirms
    /// ([`hold`]). The template sets it when `PrimaryEndpointUrl` is given.
    pub witness_confirms_alarm: bool,
}

/// The variable of [`Guard::witness_confirms_alarm`].
pub const WITNESS_CONFIRMS_ALARM: &str = "WITNESS_CONFIRMS_ALARM";

impl Guard {
    /// Reads [`Machines`] and the SDK call bound from `source`; the client is in the failover
    /// machine's region.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable.
    pub async fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let machines = Machines::from_source(source)?;
        let timeouts = crate::aws::SdkTimeouts::from_source(source)?;
        let witness_confirms_alarm = config::parsed(source, WITNESS_CONFIRMS_ALARM, false)?;
        let region = machines
            .failover
            .split(':')
            .nth(3)
            .unwrap_or_default()
            .to_owned();
        let sdk = crate::aws::load(&region, timeouts).await;
        Ok(Guard {
            client: aws_sdk_sfn::Client::new(&sdk),
            machines,
            listing_pause: LISTING_PAUSE,
            witness_confirms_alarm,
        })
    }
}
