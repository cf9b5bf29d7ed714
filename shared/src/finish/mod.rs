//! The one way a run ends: its report built from a typed outcome, measured, stored and published.
//!
//! Every end of a state machine (failed over, degraded, incomplete, failed, refused, dry run,
//! approval denied or aborted, already running, invalid input) goes to one `FinishRun` task that
//! invokes the `finish-run` function with
//! `{"machine": "failover", "state": <the run's state>, "run": {...}}`. The state carries the
//! outcome the orchestration reached as `state.end` (`{"outcome": "<kind>", ...}`, see
//! [`failover::End`]); the report is built here, from typed pieces of the state, not field by field
//! in the ASL. Then:
//!
//! 1. **measured**: a report that is stored (it has a `report_object`) is measured as one CloudWatch
//!    Embedded Metric Format line ([`crate::run_metrics`]), once per run (not again on a retry of
//!    the task);
//! 2. **stored** in the report bucket as `reports/<execution name>.json`
//!    ([PutObject](https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html)); a report
//!    that cannot be stored is still published, saying so in `report_object.not_stored`;
//! 3. **published** to the report topic
//!    ([Publish](https://docs.aws.amazon.com/sns/latest/api/API_Publish.html)), subject
//!    `[dr-failover] <deployment>: <headline>`, message a first paragraph a person reads (what
//!    happened, the commands to run next, the console link), an empty line, and the report as
//!    JSON on the last line ([`message`]); with `CHAT_NOTIFICATIONS=chatbot`, an AWS Chatbot
//!    custom notification for https subscribers besides.
//!
//! The answer is `{"report": {...}, "error": null | {"Error": "...", "Cause": "..."}}`: the state
//! machine ends the run as `error` says (a Fail state with `ErrorPath`/`CausePath`), or succeeds
//! with the report as its output. A report that could not be published is answered as the error
//! `DrFailover.ReportNotPublished`, with the report in its cause as far as Step Functions' 32,768
//! characters allow. If this function itself fails, the state machine publishes a plain message
//! and ends `DrFailover.ReportNotPublished`: no end goes unheard.

pub mod automation;
mod cli_forms;
pub mod failback;
pub mod failover;
pub mod message;
mod parts;
pub mod readiness;
pub mod reprotect;

#[cfg(test)]
mod failback_tests;
#[cfg(test)]
mod message_tests;
#[cfg(test)]
mod readiness_tests;
#[cfg(test)]
mod reprotect_tests;
#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::retry::RetryConfig;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use lambda_runtime::Diagnostic;
use tracing::Instrument;

use crate::config::{self, ConfigError, Source};
use crate::error::{AwsCallError, ErrorKind, StepError, StepFailure};
use crate::plan_metrics::PlanMetrics;
use crate::run_metrics;

/// The step name in logs and answers.
pub const STEP: &str = "finish-run";

/// The error a run ends with when its report could not be published.
pub const REPORT_NOT_PUBLISHED: &str = "DrFailover.ReportNotPublished";

/// Step Functions keeps at most this many characters of a Fail state's cause.
pub const MAX_CAUSE_CHARS: usize = 32_768;

/// SNS's limit on a subject: 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 100;

/// The state machine a run belongs to: which outcomes it has and how its report reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Machine {
    Failover,
    Failback,
    Reprotect,
    Readiness,
}

/// The execution the report is about, from the Step Functions context object
/// (<https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html>).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunContext {
    /// `$$.Execution.Id`, the execution's ARN.
    pub execution: String,
    /// `$$.Execution.Name`: the report's object key is `reports/<name>.json`.
    pub name: String,
    /// `$$.Execution.StartTime`, RFC 3339.
    pub started: String,
    /// `$$.State.EnteredTime` of the finishing state, RFC 3339: when the run ended.
    pub finished: String,
    /// `$$.StateMachine.Id`, the state machine's ARN (its region is the one commands name).
    pub state_machine: String,
    /// `$$.State.RetryCount`: 0 on the first attempt. A retried attempt is not measured again.
    #[serde(default)]
    pub attempt: u32,
}

impl RunContext {
    /// The state machine's region, from its ARN (`arn:aws:states:<region>:...`).
    pub fn region(&self) -> &str {
        self.state_machine.split(':').nth(3).unwrap_or_default()
    }
}

/// What the state machine sends to the finishing step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishRequest {
    pub machine: Machine,
    /// The run's whole state when it ended; `state.end` names the outcome.
    pub state: Value,
    pub run: RunContext,
}

/// How a run ends: the error name and cause of its Fail state. Serialized with Step Functions'
/// own member names, `Error` and `Cause`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause")]
    pub cause: String,
}

impl RunError {
    pub fn new(error: &str, cause: impl Into<String>) -> Self {
        RunError {
            error: error.to_owned(),
            cause: cause.into(),
        }
    }
}

/// A run's end, built from its state: the report, the subject it is published under, and the
/// error the run ends with (`None`: it succeeds, with the report as its output).
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    /// The report, a JSON object. It is stored and measured when it has a `report_object`.
    pub report: Value,
    /// The headline after `[dr-failover] <deployment>: `.
    pub headline: String,
    pub error: Option<RunError>,
}

/// The answer to the state machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinishAnswer {
    pub report: Value,
    pub error: Option<RunError>,
}

/// What can stop the finishing step before it publishes anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinishError {
    /// The request is not what the state machine sends (an unknown outcome, a missing part of
    /// the state the outcome needs).
    #[error("invalid finish request: {0}")]
    InvalidInput(String),
}

impl StepError for FinishError {
    fn kind(&self) -> ErrorKind {
        match self {
            FinishError::InvalidInput(_) => ErrorKind::InvalidInput,
        }
    }
}

/// The finishing step's configuration: `DEPLOYMENT_NAME`, `REPORT_TOPIC_ARN`,
/// `REPORT_BUCKET_NAME`, `PLAN_VERSION` (optional), `REPORT_RETRY_INITIAL_BACKOFF_MS` (default
/// 2000) and `CHAT_NOTIFICATIONS` (`none`, the default, or `chatbot`: [`message::ChatFormat`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishConfig {
    pub deployment: String,
    pub topic_arn: String,
    pub bucket: String,
    /// `PLAN_VERSION`: the SHA-256 of the recovery plan this deployment runs
    /// ([`crate::plan::Plan::version`]), which every report names; the stack sets it, and the
    /// shipped plan file gives it too ([`crate::config::ProcessEnv`]).
    pub plan_version: Option<String>,
    /// The first wait between attempts of a store or a publish; each further wait doubles, up to
    /// 15 times this (30 s by default).
    pub initial_backoff: Duration,
    /// How messages are published ([`message::ChatFormat`]).
    pub chat: message::ChatFormat,
    /// `WITNESS_CONFIRMS_ALARM`: the deployment has a witness, which readiness checks
    /// ([`automation::judge_witness`]).
    pub witness: bool,
}

impl FinishConfig {
    /// # Errors
    /// [`ConfigError::Missing`] or [`ConfigError::Invalid`] naming the variable.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let backoff_ms: u64 = config::parsed(source, "REPORT_RETRY_INITIAL_BACKOFF_MS", 2000)?;
        if !(1..=60_000).contains(&backoff_ms) {
            return Err(ConfigError::Invalid {
                name: "REPORT_RETRY_INITIAL_BACKOFF_MS",
                reason: format!("{backoff_ms}: must be 1 to 60000 milliseconds"),
            });
        }
        let topic_arn = config::required(source, "REPORT_TOPIC_ARN")?;
        if !topic_arn.starts_with("arn:") {
            return Err(ConfigError::Invalid {
                name: "REPORT_TOPIC_ARN",
                reason: format!("{topic_arn:?} is not an SNS topic ARN"),
            });
        }
        let chat = match config::optional(source, "CHAT_NOTIFICATIONS") {
            None => message::ChatFormat::None,
            Some(text) => message::ChatFormat::parse(&text).ok_or(ConfigError::Invalid {
                name: "CHAT_NOTIFICATIONS",
                reason: format!("{text:?}: must be none or chatbot"),
            })?,
        };
        Ok(FinishConfig {
            chat,
            deployment: config::required(source, "DEPLOYMENT_NAME")?,
            topic_arn,
            bucket: config::required(source, "REPORT_BUCKET_NAME")?,
            plan_version: config::optional(source, "PLAN_VERSION"),
            initial_backoff: Duration::from_millis(backoff_ms),
            witness: config::parsed(source, "WITNESS_CONFIRMS_ALARM", false)?,
        })
    }

    /// The retries of a store or a publish: 7 attempts, waits doubling from `initial_backoff` up
    /// to 15 times it (about 90 s in all with the default), as the SDK's standard retry mode
    /// does them (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>):
    /// throttling, 5xx and transient errors only; an authorization error, a missing topic or a
    /// KMS key that cannot be used is not retried.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(7)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.initial_backoff * 15)
    }
}

/// The clients of the finishing step, in the DR region.
#[derive(Debug, Clone)]
pub struct FinishClients {
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
}

impl FinishClients {
    /// Both clients with `config`'s retries (see [`FinishConfig::retry_config`]).
    pub fn new(sdk: &aws_config::SdkConfig, config: &FinishConfig) -> Self {
        let retry = config.retry_config();
        FinishClients {
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .retry_config(retry.clone())
                    // An endpoint override (the drill's stand-in) answers buckets on paths, not
                    // on virtual hosts; AWS itself gets its default virtual-hosted style.
                    .force_path_style(sdk.endpoint_url().is_some())
                    .build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(sdk)
                    .retry_config(retry)
                    .build(),
            ),
        }
    }
}

/// Builds the ending of a run from its state (no AWS call).
///
/// # Errors
/// [`FinishError::InvalidInput`] when `state.end` names no outcome of `request.machine`.
pub fn ending(request: &FinishRequest, config: &FinishConfig) -> Result<Ending, FinishError> {
    let mut ending = match request.machine {
        Machine::Failover => failover::ending(&request.state, &request.run, config),
        Machine::Failback => failback::ending(&request.state, &request.run, config),
        Machine::Reprotect => reprotect::ending(&request.state, &request.run, config),
        Machine::Readiness => readiness::ending(&request.state, &request.run, config),
    }?;
    cli_forms::add(&mut ending.report, &request.run);
    Ok(ending)
}

/// The whole finishing step: build, measure, store, publish. A failure to store is reported in
/// the report; a failure to publish is the answer's error ([`REPORT_NOT_PUBLISHED`]).
///
/// # Errors
/// [`FinishError::InvalidInput`] (see [`ending`]); nothing is published then, and the state
/// machine publishes a plain message instead.
pub async fn handle(
    request: FinishRequest,
    config: &FinishConfig,
    clients: &FinishClients,
    metrics: Option<&PlanMetrics>,
    now: SystemTime,
) -> Result<FinishAnswer, FinishError> {
    let Ending {
        mut report,
        headline,
        error,
    } = ending(&request, config)?;
    if let (Some(version), Some(fields)) = (&config.plan_version, report.as_object_mut()) {
        fields.insert("plan_version".to_owned(), json!(version));
    }
    if report.get("report_object").is_some() {
        // The run metrics are a failover's (its RTO and stages); other machines' runs are not
        // measured. A retried attempt is not measured again.
        if request.machine == Machine::Failover && request.run.attempt == 0 {
            measure(&report, metrics, now);
        }
        if let Err(failed) = store(&report, config, clients).await {
            report["report_object"]["not_stored"] = json!({
                "Error": format!("S3.{}", failed.code),
                "Cause": failed.message,
            });
        }
    }
    let deployment = report
        .get("deployment")
        .and_then(Value::as_str)
        .unwrap_or(&config.deployment)
        .to_owned();
    // A readiness run is published only when readiness changed (readiness::publishes).
    let quiet = request.machine == Machine::Readiness
        && (error.is_some() || !readiness::publishes(&request.state, &report));
    if quiet {
        return Ok(FinishAnswer { report, error });
    }
    let subject = subject(&deployment, &headline);
    let notice = message::notice(
        request.machine,
        &subject,
        &deployment,
        &headline,
        &report,
        &request.run,
    );
    let publication =
        message::publication(config.chat, &notice, &report, &deployment, &request.run);
    match publish(&publication, &subject, config, clients).await {
        Ok(()) => Ok(FinishAnswer { report, error }),
        Err(failed) => {
            let outcome = report
                .get("outcome")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            let cause = format!(
                "the {outcome} report of {deployment} could not be published to the report topic \
                 (SNS.{}: {}); the report: {}",
                failed.code, failed.message, report
            );
            tracing::error!(%cause, "report not published");
            Ok(FinishAnswer {
                error: Some(RunError::new(
                    REPORT_NOT_PUBLISHED,
                    truncated(&cause, MAX_CAUSE_CHARS),
                )),
                report,
            })
        }
    }
}

/// `[dr-failover] <deployment>: <headline>` as SNS accepts a subject ("Publish", Subject): ASCII
/// without line breaks or control characters (any other character becomes `?`), at most 100
/// characters.
pub fn subject(deployment: &str, headline: &str) -> String {
    let text: String = format!("[dr-failover] {deployment}: {headline}")
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    truncated(&text, MAX_SUBJECT_CHARS)
}

/// `text` cut to at most `limit` characters (never inside a character).
pub fn truncated(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

fn measure(report: &Value, metrics: Option<&PlanMetrics>, now: SystemTime) {
    let Some(metrics) = metrics else { return };
    let measured = run_metrics::measure(report);
    println!("{}", run_metrics::emf_line(metrics, report, &measured, now));
}

async fn store(
    report: &Value,
    config: &FinishConfig,
    clients: &FinishClients,
) -> Result<(), AwsCallError> {
    let key = report
        .pointer("/report_object/key")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    clients
        .s3
        .put_object()
        .bucket(&config.bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(report.to_string().into_bytes()))
        .send()
        .await
        .map(|_| ())
        .map_err(|error| {
            let failed = AwsCallError::new("PutObject", &error);
            tracing::warn!(error = %failed, "report not stored");
            failed
        })
}

async fn publish(
    publication: &message::Publication,
    subject: &str,
    config: &FinishConfig,
    clients: &FinishClients,
) -> Result<(), AwsCallError> {
    clients
        .sns
        .publish()
        .topic_arn(&config.topic_arn)
        .subject(subject)
        .message(&publication.message)
        .set_message_structure(publication.structure.map(str::to_owned))
        .send()
        .await
        .map(|_| ())
        .map_err(|error| AwsCallError::new("Publish", &error))
}

/// `text` as one shell word: single-quoted, each `'` written as `'\''`, so a command holding it
/// runs as printed whatever the text holds (quotes, `$`, backticks).
pub fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The `dr-failover` command line that does `args` for `deployment` in the run's region, every
/// argument quoted as a POSIX shell reads it (so a reason holding quotes, `$` or backticks is
/// passed unchanged): `dr-failover --region <region> --deployment <deployment> <args...>`.
pub fn cli_command(run: &RunContext, deployment: &str, args: &[&str]) -> String {
    dr_failover_command(run.region(), deployment, args)
}

/// `dr-failover --region <region> --deployment <deployment> <args...>`, each word quoted for a
/// POSIX shell ([`shell_word`]).
pub fn dr_failover_command(region: &str, deployment: &str, args: &[&str]) -> String {
    let mut words = vec![
        "dr-failover".to_owned(),
        "--region".to_owned(),
        shell_word(region),
        "--deployment".to_owned(),
        shell_word(deployment),
    ];
    words.extend(args.iter().map(|arg| shell_word(arg)));
    words.join(" ")
}

/// `word` as one word of a POSIX shell: unquoted when it holds only characters no shell reads
/// specially, else in single quotes (a quote inside as `'\''`).
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/+=@,".contains(c));
    if plain {
        word.to_owned()
    } else {
        shell_quoted(word)
    }
}

/// `aws stepfunctions start-execution` of `input` on the run's own state machine, in its region.
pub fn start_execution_command(run: &RunContext, input: &Value) -> String {
    format!(
        "aws stepfunctions start-execution --region {} --state-machine-arn {} --input {}",
        run.region(),
        run.state_machine,
        shell_quoted(&input.to_string())
    )
}

/// One invocation: parses the request (a typed error naming the field), then [`handle`]s it.
/// `setup` is the function's configuration and clients, read once at start; a configuration
/// error is answered as `DrFailover.InvalidInput` naming the variable, and nothing is called.
///
/// # Errors
/// A [`Diagnostic`] whose `error_type` is `DrFailover.InvalidInput`; the state machine then
/// publishes a plain message and ends the run `DrFailover.ReportNotPublished`.
pub async fn serve(
    payload: Value,
    setup: &Result<(FinishClients, FinishConfig), ConfigError>,
    metrics: Option<&PlanMetrics>,
) -> Result<Value, Diagnostic> {
    let (clients, config) = setup.as_ref().map_err(|error| {
        let failure = StepFailure::from(error.clone());
        tracing::error!(step = STEP, "configuration: {}", failure.message);
        Diagnostic::from(failure)
    })?;
    let request: FinishRequest = serde_path_to_error::deserialize(payload).map_err(|error| {
        let failure = StepFailure::from(FinishError::InvalidInput(format!(
            "field `{}`: {}",
            error.path(),
            error.inner()
        )));
        tracing::error!(step = STEP, "{}", failure.message);
        Diagnostic::from(failure)
    })?;
    let span = tracing::info_span!(
        "finish",
        step = STEP,
        execution_id = %request.run.execution,
        attempt = request.run.attempt,
    );
    let answer = handle(request, config, clients, metrics, SystemTime::now())
        .instrument(span)
        .await
        .map_err(|error| {
            let failure = StepFailure::from(error);
            tracing::error!(step = STEP, "{}", failure.message);
            Diagnostic::from(failure)
        })?;
    let outcome = answer.report.get("outcome").and_then(Value::as_str);
    let error = answer.error.as_ref().map(|e| e.error.as_str());
    tracing::info!(
        step = STEP,
        outcome = outcome.unwrap_or("-"),
        error = error.unwrap_or("-"),
        "finished"
    );
    Ok(json!(answer))
}
