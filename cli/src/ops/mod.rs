//! The run-time commands: what an SRE types on the bad day. Every command finds the deployment
//! from the plan file (`--plan`: its `deployment` and `dr_region`) or from `--deployment` and
//! `--region`, names that region in every AWS call (never the shell's default region, which on
//! the bad day may be the one that failed), and derives every name from the deployment's name as
//! `infra/template.yaml` gives it: the state machines `<deployment>-failover`, `-reprotect`,
//! `-failback`, `-readiness`, and the trigger rule `<deployment>-failover-trigger`.
//!
//! The template's `OperatorRole` grants what every command here needs but `approve` and `deny`,
//! which are `ApproverRole`'s.

pub mod approve;
pub mod history;
pub mod pause;
pub mod report;
pub mod start;
pub mod status;

use std::fmt;
use std::path::PathBuf;

use aws_sdk_sfn::types::ExecutionStatus;
use shared::aws::SdkTimeouts;
use shared::finish::shell_word;

/// Where the deployment is: the plan file, or its name and DR region.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The recovery plan file; its `deployment` and `dr_region` name the deployment.
    #[arg(long, global = true, env = "DR_FAILOVER_PLAN")]
    pub plan: Option<PathBuf>,
    /// The deployment's name (the template's DeploymentName), when no plan file is at hand.
    #[arg(long, global = true, env = "DR_FAILOVER_DEPLOYMENT")]
    pub deployment: Option<String>,
    /// The DR region, where the deployment's state machines run.
    #[arg(long, global = true, env = "DR_FAILOVER_REGION")]
    pub region: Option<String>,
}

/// One of the deployment's state machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    Failover,
    Reprotect,
    Failback,
    Readiness,
}

impl Machine {
    pub const ALL: [Machine; 4] = [
        Machine::Failover,
        Machine::Reprotect,
        Machine::Failback,
        Machine::Readiness,
    ];

    /// The state machine's name suffix, and its name in what is printed.
    pub fn label(self) -> &'static str {
        match self {
            Machine::Failover => "failover",
            Machine::Reprotect => "reprotect",
            Machine::Failback => "failback",
            Machine::Readiness => "readiness",
        }
    }
}

/// Why a command could not do what it was asked; it changed nothing unless it says so.
#[derive(Debug)]
pub struct OpsError(pub String);

impl fmt::Display for OpsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An AWS call's failure as the service put it: `<Operation> failed: <code>: <message>`. Every
/// AWS SDK client's errors are this one `SdkError` (aws-smithy-runtime-api), whichever service.
pub fn aws<E>(
    operation: &'static str,
) -> impl FnOnce(
    aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> OpsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |error| OpsError(shared::error::AwsCallError::new(operation, &error).to_string())
}

/// The deployment the commands act on, with its clients.
pub struct Deployment {
    pub name: String,
    pub region: String,
    pub account: String,
    pub partition: String,
    /// Who runs the command: the caller's ARN (STS `GetCallerIdentity`).
    pub caller: String,
    pub sfn: aws_sdk_sfn::Client,
    pub events: aws_sdk_eventbridge::Client,
}

/// A run of one of the deployment's state machines.
#[derive(Debug, Clone)]
pub struct Run {
    pub machine: Machine,
    pub arn: String,
    pub name: String,
    pub status: ExecutionStatus,
}

impl Deployment {
    /// Finds the deployment `target` names, and who the caller is (in its region: STS's regional
    /// endpoint, never the global one).
    ///
    /// # Errors
    /// No deployment named, a plan file that does not check, a `--deployment` or `--region` that
    /// contradicts the plan, or the caller's identity unreadable (no credentials).
    pub async fn connect(target: &Target) -> Result<Self, OpsError> {
        let (name, region) = resolve(target)?;
        let sdk = shared::aws::load(&region, SdkTimeouts::from_operation_seconds(20)).await;
        let identity = aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                OpsError(format!(
                    "who you are could not be read in {region}: {}; set up credentials for the \
                     deployment's account (the template's OperatorRoleArn output)",
                    aws("GetCallerIdentity")(e)
                ))
            })?;
        let caller = identity.arn().unwrap_or("unknown").to_owned();
        let account = identity.account().unwrap_or_default().to_owned();
        let partition = caller.split(':').nth(1).unwrap_or("aws").to_owned();
        Ok(Self {
            name,
            region,
            account,
            partition,
            caller,
            sfn: aws_sdk_sfn::Client::new(&sdk),
            events: aws_sdk_eventbridge::Client::new(&sdk),
        })
    }

    pub fn machine_arn(&self, machine: Machine) -> String {
        format!(
            "arn:{}:states:{}:{}:stateMachine:{}-{}",
            self.partition,
            self.region,
            self.account,
            self.name,
            machine.label()
        )
    }

    fn execution_arn(&self, machine: Machine, run: &str) -> String {
        format!(
            "arn:{}:states:{}:{}:execution:{}-{}:{run}",
            self.partition,
            self.region,
            self.account,
            self.name,
            machine.label()
        )
    }

    pub fn rule_name(&self) -> String {
        format!("{}-failover-trigger", self.name)
    }

    pub fn rule_arn(&self) -> String {
        format!(
            "arn:{}:events:{}:{}:rule/{}",
            self.partition,
            self.region,
            self.account,
            self.rule_name()
        )
    }

    /// The `dr-failover` command that does `args` here, every word quoted for a POSIX shell.
    pub fn cli(&self, args: &[&str]) -> String {
        shared::finish::dr_failover_command(&self.region, &self.name, args)
    }

    /// The Step Functions console page of a run.
    pub fn console_url(&self, execution_arn: &str) -> String {
        format!(
            "https://{0}.console.aws.amazon.com/states/home?region={0}#/v2/executions/details/{execution_arn}",
            self.region
        )
    }

    /// The run `run` names (an execution ARN, or an execution name of one of `machines`).
    ///
    /// # Errors
    /// No such run, or Step Functions' error.
    pub async fn find_run(&self, run: &str, machines: &[Machine]) -> Result<Run, OpsError> {
        let candidates: Vec<(Machine, String)> = if run.starts_with("arn:") {
            let machine = machines
                .iter()
                .copied()
                .find(|m| run.contains(&format!(":execution:{}-{}:", self.name, m.label())))
                .ok_or_else(|| {
                    OpsError(format!(
                        "{run} is not a run of {}'s {} state machine{}",
                        self.name,
                        machines
                            .iter()
                            .map(|m| m.label())
                            .collect::<Vec<_>>()
                            .join(" or "),
                        if machines.len() > 1 { "s" } else { "" }
                    ))
                })?;
            vec![(machine, run.to_owned())]
        } else {
            machines
                .iter()
                .map(|m| (*m, self.execution_arn(*m, run)))
                .collect()
        };
        for (machine, arn) in candidates {
            match self
                .sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
            {
                Ok(described) => {
                    return Ok(Run {
                        machine,
                        name: described.name().unwrap_or(run).to_owned(),
                        status: described.status().clone(),
                        arn,
                    })
                }
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_execution_does_not_exist()) => {}
                Err(error) => return Err(aws("DescribeExecution")(error)),
            }
        }
        Err(OpsError(format!(
            "no run {run} of {} in {} (Step Functions keeps a run's history 90 days)",
            self.name, self.region
        )))
    }

    /// `DescribeExecution` of a run.
    ///
    /// # Errors
    /// Step Functions' error.
    pub async fn describe(
        &self,
        execution_arn: &str,
    ) -> Result<aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput, OpsError> {
        self.sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(aws("DescribeExecution"))
    }

    /// The newest runs of `machine`, newest first, at most `count`.
    ///
    /// # Errors
    /// Step Functions' error.
    pub async fn latest_runs(&self, machine: Machine, count: i32) -> Result<Vec<Run>, OpsError> {
        let listed = self
            .sfn
            .list_executions()
            .state_machine_arn(self.machine_arn(machine))
            .max_results(count)
            .send()
            .await
            .map_err(aws("ListExecutions"))?;
        Ok(listed
            .executions()
            .iter()
            .map(|item| Run {
                machine,
                arn: item.execution_arn().to_owned(),
                name: item.name().to_owned(),
                status: item.status().clone(),
            })
            .collect())
    }
}

fn resolve(target: &Target) -> Result<(String, String), OpsError> {
    let from_plan = match &target.plan {
        Some(file) => {
            let (plan, _) = crate::plan::load(file).map_err(|_| {
                OpsError(format!(
                    "the plan {} does not check (above); run: dr-failover plan check {}",
                    file.display(),
                    shell_word(&file.display().to_string())
                ))
            })?;
            Some((plan.deployment.clone(), plan.dr_region.clone()))
        }
        None => None,
    };
    match (from_plan, &target.deployment, &target.region) {
        (Some((name, region)), deployment, flag_region) => {
            if let Some(other) = deployment.as_ref().filter(|d| **d != name) {
                return Err(OpsError(format!(
                    "--deployment {other} contradicts the plan's deployment {name}"
                )));
            }
            if let Some(other) = flag_region.as_ref().filter(|r| **r != region) {
                return Err(OpsError(format!(
                    "--region {other} contradicts the plan's dr_region {region}: the state \
                     machines run in the DR region"
                )));
            }
            Ok((name, region))
        }
        (None, Some(name), Some(region)) => Ok((name.clone(), region.clone())),
        _ => Err(OpsError(
            "name the deployment: --plan FILE (its deployment and dr_region), or --deployment \
             NAME --region DR_REGION (or DR_FAILOVER_PLAN, or DR_FAILOVER_DEPLOYMENT and \
             DR_FAILOVER_REGION)"
                .into(),
        )),
    }
}
