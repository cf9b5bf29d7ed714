//! The adapter between Lambda and a step: parse the request, log it in a span that carries the
//! execution id, run the step, and turn its error into the name the state machine matches.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::bound::{self, Listed};
use crate::config::{ConfigError, ProcessEnv};
use crate::error::{ErrorKind, StepError, StepFailure};
use crate::exclusive::{self, Guard};
use crate::execution_input::check_reason;
use crate::request::{parse_request, Action};
use crate::result::StepResult;
use crate::wait::WaitContext;

/// Time kept free before the invocation's deadline, so that a step that runs out of time still
/// answers with an error the state machine matches (`DrFailover.Retryable`) rather than being
/// ended by Lambda (`Sandbox.Timedout`), and its logs are flushed.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// The least time a step is given, however close the deadline already is.
const LEAST_TIME: Duration = Duration::from_millis(100);

/// Deadlines before this (2001-09-09, 10^12 ms after the epoch) are not times: local runtime
/// emulators send the function's timeout there (`cargo lambda watch` sends 600000).
const EARLIEST_DEADLINE_MS: u64 = 1_000_000_000_000;

/// How long the step may run: until the invocation's deadline (`Lambda-Runtime-Deadline-Ms`,
/// milliseconds since the Unix epoch, as the Lambda runtime API gives it) less
/// [`DEADLINE_MARGIN`]. `None` when the runtime gave no deadline, or a value that is not a time
/// (see [`EARLIEST_DEADLINE_MS`]).
pub fn time_left(deadline_ms: u64, now: SystemTime) -> Option<Duration> {
    if deadline_ms < EARLIEST_DEADLINE_MS {
        return None;
    }
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline
        .duration_since(now)
        .unwrap_or_default()
        .saturating_sub(DEADLINE_MARGIN);
    Some(left.max(LEAST_TIME))
}

/// Whether an AWS call bound of `operation` fits the invocation whose deadline is `deadline_ms`,
/// as seen at its start (`now`): a step that meets one stalled call must still have time to answer,
/// so the bound may take at most half of the time the invocation has (the function's timeout:
/// each invocation starts with all of it). Errors: [`ConfigError::Invalid`] naming
/// `SDK_OPERATION_TIMEOUT_SECONDS`. A deadline that is not a time (see [`time_left`]) is not
/// checked.
pub fn check_operation_timeout(
    operation: Duration,
    deadline_ms: u64,
    now: SystemTime,
) -> Result<(), ConfigError> {
    if deadline_ms < EARLIEST_DEADLINE_MS {
        return Ok(());
    }
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let has = deadline.duration_since(now).unwrap_or_default();
    if operation * 2 <= has {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        name: "SDK_OPERATION_TIMEOUT_SECONDS",
        reason: format!(
            "{} s is more than half of the {:.1} s this invocation has (the function's timeout): \
             a step that meets one stalled AWS call could not answer before Lambda ends it; \
             give at most half the function's timeout",
            operation.as_secs(),
            has.as_secs_f64()
        ),
    })
}

/// A call of a stage's wait loop: its context, and what its answer says it was.
#[derive(Debug, Clone)]
pub struct WaitCall {
    pub context: WaitContext,
    pub action: Action,
    pub dry_run: bool,
}

/// What the adapter needs to know of a request to log it and to answer a wait loop.
pub trait Traced {
    fn execution_id(&self) -> Option<&str>;
    fn action_name(&self) -> String;
    /// The run's reason, logged on every line of the call.
    fn reason(&self) -> Option<&str> {
        None
    }
    /// The wait loop this call belongs to, if any.
    fn wait_call(&self) -> Option<WaitCall> {
        None
    }
    /// Whether the call may change something (an `apply` that is not a dry run): it is then
    /// checked against the deployment's other runs first ([`crate::exclusive`]).
    fn changes(&self) -> bool {
        false
    }
}

impl Traced for crate::request::StepRequest {
    fn execution_id(&self) -> Option<&str> {
        self.execution_id.as_deref()
    }
    fn action_name(&self) -> String {
        format!("{:?}", self.effective_action()).to_lowercase()
    }
    fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    fn wait_call(&self) -> Option<WaitCall> {
        self.wait.as_ref().map(|context| WaitCall {
            context: context.clone(),
            action: self.effective_action(),
            dry_run: self.dry_run,
        })
    }
    fn changes(&self) -> bool {
        self.effective_action() == Action::Apply
    }
}

/// Runs one invocation of a step. Bad input fails here, before the step makes any AWS call: a
/// `reason` over [`crate::execution_input::MAX_REASON_BYTES`] too.
///
/// Whatever the deployment's size, the answer fits what Step Functions carries (see
/// [`crate::bound`]): `detail`'s growing lists, `summary`, `refusals`, `warnings` and an error's
/// message are cut to their bounds, and the full result (or message) is then logged first.
///
/// In a wait loop (the request carries a [`WaitContext`]) the answer carries a
/// [`crate::wait::WaitReport`], and a temporary condition (`Retryable`, `NotReady`) is answered as
/// a result that is not ready, with `detail` null and the condition as `wait.pending`: the state
/// machine then waits and calls again until the stage's budget is spent, however many calls
/// that takes. Every other error is returned as the error the state machine matches.
///
/// The step runs until the invocation's deadline less [`DEADLINE_MARGIN`] (see [`time_left`]);
/// a step still running then is dropped and answered as `Retryable`. Every step is idempotent
/// and continues from where AWS stands, so the next call picks up what this one left. An
/// `operation_timeout` (the function's AWS call bound, `SDK_OPERATION_TIMEOUT_SECONDS`) that does
/// not fit the invocation ([`check_operation_timeout`]) is answered as [`misconfigured`] before
/// anything runs.
pub async fn run_step<R, D, E, F, Fut>(
    event: LambdaEvent<Value>,
    step: &'static str,
    operation_timeout: Duration,
    run: F,
) -> Result<StepResult<Value>, StepFailure>
where
    R: DeserializeOwned + Traced,
    D: Serialize + Listed,
    E: StepError,
    F: FnOnce(R) -> Fut,
    Fut: Future<Output = Result<StepResult<D>, E>>,
{
    let (payload, context) = event.into_parts();
    if let Err(error) =
        check_operation_timeout(operation_timeout, context.deadline, SystemTime::now())
    {
        return misconfigured(step, &error);
    }
    let request: R = match parse_request(payload) {
        Ok(request) => request,
        Err(error) => {
            tracing::error!(step, request_id = %context.request_id, field = %error.field, "{error}");
            return Err(bounded_failure(error.into()));
        }
    };
    if let Err(error) = check_reason(request.reason()) {
        tracing::error!(step, request_id = %context.request_id, field = %error.field, "{error}");
        return Err(bounded_failure(error.into()));
    }
    let wait = request.wait_call();
    let started = match wait.as_ref().map(|w| w.context.started()).transpose() {
        Ok(started) => started,
        Err(error) => {
            tracing::error!(step, request_id = %context.request_id, field = %error.field, "{error}");
            return Err(bounded_failure(error.into()));
        }
    };
    let action = request.action_name();
    let span = tracing::info_span!(
        "step",
        step,
        action = %action,
        execution_id = request.execution_id().unwrap_or("-"),
        reason = request.reason().unwrap_or("-"),
        request_id = %context.request_id,
    );
    async move {
        tracing::info!(deadline_ms = context.deadline, "started");
        // On the heap: a step's future nests the SDK's, and kept inline it makes the function's
        // own future deep enough for rustc's layout queries to overflow their depth limit.
        let step_future = Box::pin(run(request));
        let outcome = match time_left(context.deadline, SystemTime::now()) {
            None => step_future.await.map_err(StepFailure::from),
            Some(left) => match tokio::time::timeout(left, step_future).await {
                Ok(outcome) => outcome.map_err(StepFailure::from),
                Err(_) => Err(out_of_time(left)),
            },
        };
        let mut result = match outcome {
            Ok(result) => bounded(result)?,
            Err(failure) => {
                let failure = bounded_failure(failure);
                let temporary = matches!(failure.kind, ErrorKind::Retryable | ErrorKind::NotReady);
                let Some(call) = wait.as_ref().filter(|_| temporary) else {
                    tracing::error!(
                        error_type = failure.kind.error_name(),
                        "{}",
                        failure.message
                    );
                    return Err(failure);
                };
                tracing::warn!(
                    error_type = failure.kind.error_name(),
                    "{}; waiting",
                    failure.message
                );
                pending_result(step, call, &failure)
            }
        };
        if let (Some(WaitCall { context: wait, .. }), Some(started)) = (&wait, started) {
            let pending = (!result.ready).then(|| result.summary.clone());
            let report = wait.report(started, SystemTime::now(), result.ready, pending);
            if report.exhausted {
                tracing::warn!(
                    stage = %report.stage,
                    elapsed_seconds = report.elapsed_seconds,
                    budget_seconds = report.budget_seconds,
                    "budget spent; still pending: {}",
                    report.pending.as_deref().unwrap_or("-")
                );
            }
            result.wait = Some(report);
        }
        tracing::info!(
            changed = result.changed,
            ready = result.ready,
            refusals = result.refusals.len(),
            summary = %result.summary,
            "finished"
        );
        Ok(result)
    }
    .instrument(span)
    .await
}

/// The answer of a function whose configuration is wrong, to every invocation:
/// `DrFailover.InvalidInput` naming the variable ("missing environment variable DR_REGION",
/// "environment variable ASG_TARGETS is invalid: ..."). The function starts anyway, so the state
/// machine, and the report it publishes, say what is wrong, rather than Lambda failing the
/// invocation with an init error whose reason is only in the function's log. Nothing is called.
pub fn misconfigured(
    step: &'static str,
    error: &ConfigError,
) -> Result<StepResult<Value>, StepFailure> {
    let failure = StepFailure::from(error.clone());
    tracing::error!(
        step,
        error_type = failure.kind.error_name(),
        "configuration: {}",
        failure.message
    );
    Err(failure)
}

/// What a function's setup gives, once at start: its dependencies `T` (configuration and AWS
/// clients, in the shape its handler takes) and its AWS call bound (`SdkTimeouts::operation`,
/// `SDK_OPERATION_TIMEOUT_SECONDS`), or the configuration error that [`misconfigured`] answers
/// every invocation with.
pub type Setup<T> = Result<(T, Duration), ConfigError>;

/// What one invocation is answered with: the step's result as JSON, or the error the state
/// machine matches ([`StepFailure`]).
pub type Answer = Result<StepResult<Value>, StepFailure>;

/// Runs a function's process, the whole of its `main`: initializes telemetry
/// ([`crate::telemetry::init`]), awaits `setup()` once, then serves invocations until Lambda ends
/// the process. Each invocation goes through [`run_step`] with `step` (the name the function logs
/// under and answers with), setup's AWS call bound and `handler`, which is given the parsed
/// request and setup's dependencies. If setup failed, every invocation is answered with
/// [`misconfigured`] (`DrFailover.InvalidInput` naming the variable) and `handler` never runs.
///
/// The dependencies live as long as the process, so `handler` gets them as `&'static T` and its
/// future may borrow them. A handler with more to do after its step (printing a plan's metric
/// lines: [`crate::plan_metrics::print_after`]) does it in its own future, with the step's typed
/// result.
///
/// Errors: only the Lambda runtime's own (its API unreachable, its environment variables
/// missing); a step's errors are answers, never this function's. Panics if a global tracing
/// subscriber is already set: call it once per process.
pub async fn serve<T, S, SetupFut, R, D, E, H, Fut>(
    step: &'static str,
    setup: S,
    handler: H,
) -> Result<(), lambda_runtime::Error>
where
    T: 'static,
    S: FnOnce() -> SetupFut,
    SetupFut: Future<Output = Setup<T>>,
    R: DeserializeOwned + Traced,
    D: Serialize + Listed,
    E: StepError,
    H: Fn(R, &'static T) -> Fut,
    Fut: Future<Output = Result<StepResult<D>, E>>,
{
    serve_screened(step, setup, |_: &LambdaEvent<Value>| None, handler).await
}

/// [`serve`], with `screen` given each invocation's event first: an invocation it answers
/// (`Some`) is answered so, whether or not setup succeeded, and neither `handler` nor
/// [`run_step`] sees it; for `None` the invocation goes on as in [`serve`]. For the answers a
/// function gives without its configuration (verify-backup-copy's `crate::backup::Screen`).
///
/// Errors: as [`serve`].
pub async fn serve_screened<T, S, SetupFut, C, R, D, E, H, Fut>(
    step: &'static str,
    setup: S,
    screen: C,
    handler: H,
) -> Result<(), lambda_runtime::Error>
where
    T: 'static,
    S: FnOnce() -> SetupFut,
    SetupFut: Future<Output = Setup<T>>,
    C: Fn(&LambdaEvent<Value>) -> Option<Answer>,
    R: DeserializeOwned + Traced,
    D: Serialize + Listed,
    E: StepError,
    H: Fn(R, &'static T) -> Fut,
    Fut: Future<Output = Result<StepResult<D>, E>>,
{
    crate::telemetry::init();
    // Set up once, for the life of the process: a Lambda process serves invocations until it
    // is ended, so the dependencies are never dropped and may be borrowed by every invocation.
    let setup = match crate::config::plan_file_status() {
        Ok(()) => setup().await,
        Err(error) => Err(error),
    };
    let setup: &'static Setup<T> = Box::leak(Box::new(setup));
    let guard: &'static Result<Guard, ConfigError> =
        Box::leak(Box::new(Guard::from_source(&ProcessEnv).await));
    let step_handler = &handler;
    let guarded_handler = move |request: R, deps: &'static T| {
        exclusive::step::guarded(step, guard, request, move |request| {
            step_handler(request, deps)
        })
    };
    let (screen, handler) = (&screen, &guarded_handler);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| async move {
            if exclusive::step::is_hold(&event.payload) {
                return exclusive::step::answer_hold(step, guard, event.payload).await;
            }
            let result = invoke(step, setup, screen, handler, event).await?;
            serde_json::to_value(result).map_err(|error| StepFailure {
                kind: ErrorKind::Aws,
                message: format!("could not serialize the result: {error}"),
            })
        },
    ))
    .await
}

/// One invocation of [`serve_screened`]: `screen`'s answer if it has one, else `handler` through
/// [`run_step`] with setup's dependencies, or [`misconfigured`] if setup failed.
async fn invoke<'a, T, C, R, D, E, H, Fut>(
    step: &'static str,
    setup: &'a Setup<T>,
    screen: &C,
    handler: &H,
    event: LambdaEvent<Value>,
) -> Answer
where
    C: Fn(&LambdaEvent<Value>) -> Option<Answer>,
    R: DeserializeOwned + Traced,
    D: Serialize + Listed,
    E: StepError,
    H: Fn(R, &'a T) -> Fut,
    Fut: Future<Output = Result<StepResult<D>, E>>,
{
    if let Some(answer) = screen(&event) {
        return answer;
    }
    match setup {
        Ok((deps, operation_timeout)) => {
            run_step(event, step, *operation_timeout, |request| {
                handler(request, deps)
            })
            .await
        }
        Err(error) => misconfigured(step, error),
    }
}

fn out_of_time(left: Duration) -> StepFailure {
    StepFailure {
        kind: ErrorKind::Retryable,
        message: format!(
            "the step did not finish in the {:.1} s its invocation had left; it is safe to call again",
            left.as_secs_f64()
        ),
    }
}

/// The result as JSON within [`crate::bound`]'s limits; the full result is logged when cut.
fn bounded<D: Serialize + Listed>(result: StepResult<D>) -> Result<StepResult<Value>, StepFailure> {
    let lists = result.detail.lists();
    let full = into_value(result)?;
    let mut result = full.clone();
    let mut cut = bound::bound_detail(&mut result.detail, &lists);
    cut |= bound::cut_text(&mut result.summary, bound::MAX_SUMMARY_BYTES);
    cut |= bound::cut_notes(&mut result.refusals);
    cut |= bound::cut_notes(&mut result.warnings);
    if cut {
        let text = serde_json::to_string(&full).unwrap_or_default();
        tracing::info!(full_result = %text, "result cut to its bounds; this is the full result");
    }
    Ok(result)
}

/// An error's message within [`bound::MAX_SUMMARY_BYTES`]: Step Functions puts it in the state as
/// the error's cause. The full message is logged when cut.
fn bounded_failure(mut failure: StepFailure) -> StepFailure {
    let full = failure.message.clone();
    if bound::cut_text(&mut failure.message, bound::MAX_SUMMARY_BYTES) {
        tracing::info!(full_message = %full, "error message cut to its bound; this is the full message");
    }
    failure
}

fn into_value<D: Serialize>(result: StepResult<D>) -> Result<StepResult<Value>, StepFailure> {
    let detail = serde_json::to_value(&result.detail).map_err(|error| StepFailure {
        kind: ErrorKind::Aws,
        message: format!("could not serialize the result: {error}"),
    })?;
    Ok(StepResult {
        step: result.step,
        action: result.action,
        dry_run: result.dry_run,
        changed: result.changed,
        ready: result.ready,
        refusals: result.refusals,
        warnings: result.warnings,
        summary: result.summary,
        detail,
        wait: result.wait,
    })
}

/// The answer to a wait loop's call that met a temporary condition: not ready, nothing changed
/// by this call, the condition as the summary.
fn pending_result(step: &str, call: &WaitCall, failure: &StepFailure) -> StepResult<Value> {
    StepResult {
        step: step.to_owned(),
        action: call.action,
        dry_run: call.dry_run,
        changed: false,
        ready: false,
        refusals: Vec::new(),
        warnings: Vec::new(),
        summary: format!("{}: {}", failure.kind.error_name(), failure.message),
        detail: Value::Null,
        wait: None,
    }
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Context;
    use serde_json::json;

    use super::*;
    use crate::request::StepRequest;

    #[derive(Debug, thiserror::Error)]
    #[error("never")]
    struct Never;

    impl StepError for Never {
        fn kind(&self) -> ErrorKind {
            ErrorKind::Aws
        }
    }

    fn event(payload: Value, deadline_ms: u64) -> LambdaEvent<Value> {
        let mut context = Context::default();
        context.deadline = deadline_ms;
        LambdaEvent::new(payload, context)
    }

    fn millis_from_now(millis: u64) -> u64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        (now + Duration::from_millis(millis)).as_millis() as u64
    }

    async fn stalls(_: StepRequest) -> Result<StepResult<Value>, Never> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        unreachable!("the adapter drops a step at its deadline")
    }

    #[test]
    fn a_misconfigured_function_answers_invalid_input_naming_the_variable() {
        let error = ConfigError::Invalid {
            name: "ASG_DNS_CAPACITY_PERCENT",
            reason: "150: must be 1 to 100".into(),
        };

        let failure = misconfigured("scale-asg", &error).unwrap_err();

        assert_eq!(failure.kind.error_name(), "DrFailover.InvalidInput");
        assert!(
            failure.message.contains("ASG_DNS_CAPACITY_PERCENT"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn an_aws_call_bound_over_half_the_invocation_is_a_configuration_error_naming_it() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let now_ms = 1_800_000_000_000;
        let ten = Duration::from_secs(10);
        assert!(check_operation_timeout(ten, now_ms + 30_000, now).is_ok());
        assert!(check_operation_timeout(ten, now_ms + 20_000, now).is_ok());
        let error = check_operation_timeout(ten, now_ms + 15_000, now).unwrap_err();
        assert!(
            error.to_string().contains("SDK_OPERATION_TIMEOUT_SECONDS")
                && error.to_string().contains("half of the 15.0 s"),
            "{error}"
        );
        assert!(
            check_operation_timeout(ten, 600_000, now).is_ok(),
            "no real deadline"
        );
    }

    #[tokio::test]
    async fn a_step_whose_call_bound_does_not_fit_its_invocation_runs_nothing() {
        let answer = run_step(
            event(json!({"action": "apply"}), millis_from_now(5_000)),
            "test-step",
            Duration::from_secs(10),
            stalls,
        )
        .await;
        let failure = answer.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput);
        assert!(
            failure.message.contains("SDK_OPERATION_TIMEOUT_SECONDS"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn time_left_keeps_the_margin_and_a_least_time_and_none_without_a_real_deadline() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let now_ms = 1_800_000_000_000;
        assert_eq!(
            time_left(now_ms + 10_000, now),
            Some(Duration::from_millis(8_500))
        );
        assert_eq!(time_left(now_ms + 500, now), Some(LEAST_TIME));
        assert_eq!(
            time_left(now_ms - 1_000, now),
            Some(LEAST_TIME),
            "already past"
        );
        assert_eq!(time_left(0, now), None);
        assert_eq!(
            time_left(600_000, now),
            None,
            "a timeout's length, not a time"
        );
    }

    #[tokio::test]
    async fn a_step_still_running_at_its_deadline_fails_as_retryable() {
        let started = std::time::Instant::now();
        let answer = run_step(
            event(json!({"action": "apply"}), millis_from_now(1_800)),
            "test-step",
            Duration::from_millis(500),
            stalls,
        )
        .await;

        let failure = answer.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::Retryable);
        assert!(
            failure.message.contains("did not finish"),
            "{}",
            failure.message
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn in_a_wait_loop_a_step_out_of_time_is_a_pending_answer() {
        let started_at = aws_smithy_types::DateTime::from(SystemTime::now())
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap();
        let payload = json!({
            "action": "status",
            "wait": {"stage": "dns", "started_at": started_at, "budget_seconds": 60, "max_poll_seconds": 5},
        });

        let answer = run_step(
            event(payload, millis_from_now(1_700)),
            "test-step",
            Duration::from_millis(500),
            stalls,
        )
        .await
        .unwrap();

        assert!(!answer.ready);
        let wait = answer.wait.unwrap();
        assert!(!wait.exhausted);
        assert!(
            wait.pending
                .as_deref()
                .unwrap()
                .starts_with("DrFailover.Retryable: the step did not finish"),
            "{:?}",
            wait.pending
        );
    }

    fn unscreened(_: &LambdaEvent<Value>) -> Option<Answer> {
        None
    }

    /// A handler that answers with its dependency as the summary.
    async fn echoes(request: StepRequest, deps: &str) -> Result<StepResult<Value>, Never> {
        Ok(StepResult {
            step: "test-step".into(),
            action: request.effective_action(),
            dry_run: request.dry_run,
            changed: false,
            ready: true,
            refusals: Vec::new(),
            warnings: Vec::new(),
            summary: deps.to_owned(),
            detail: Value::Null,
            wait: None,
        })
    }

    #[tokio::test]
    async fn a_function_whose_setup_failed_answers_every_invocation_invalid_input_naming_the_variable(
    ) {
        let setup: Setup<String> = Err(ConfigError::Missing("DR_REGION"));

        for _ in 0..2 {
            let answer = invoke(
                "test-step",
                &setup,
                &unscreened,
                &|request, deps| echoes(request, deps),
                event(json!({"action": "plan"}), 0),
            )
            .await;

            let failure = answer.unwrap_err();
            assert_eq!(failure.kind.error_name(), "DrFailover.InvalidInput");
            assert_eq!(failure.message, "missing environment variable DR_REGION");
        }
    }

    #[tokio::test]
    async fn a_configured_function_runs_its_handler_with_the_parsed_request_and_its_dependencies() {
        let setup: Setup<String> = Ok(("the clients".into(), Duration::from_secs(10)));

        let answer = invoke(
            "test-step",
            &setup,
            &unscreened,
            &|request, deps| echoes(request, deps),
            event(json!({"action": "plan", "dry_run": true}), 0),
        )
        .await
        .unwrap();

        assert_eq!(answer.summary, "the clients");
        assert_eq!(answer.action, Action::Plan);
        assert!(answer.dry_run);
    }

    #[tokio::test]
    async fn the_call_bound_a_setup_gives_is_checked_against_each_invocation() {
        let setup: Setup<String> = Ok(("the clients".into(), Duration::from_secs(10)));

        let answer = invoke(
            "test-step",
            &setup,
            &unscreened,
            &|request, deps| echoes(request, deps),
            event(json!({"action": "apply"}), millis_from_now(5_000)),
        )
        .await;

        let failure = answer.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidInput);
        assert!(
            failure.message.contains("SDK_OPERATION_TIMEOUT_SECONDS"),
            "{}",
            failure.message
        );
    }

    #[tokio::test]
    async fn a_screen_answers_first_even_when_setup_failed_and_lets_the_rest_through() {
        let screen = |event: &LambdaEvent<Value>| {
            (event.payload["action"] == "measure").then(|| Err(StepFailure::from(Never)))
        };
        let failed: Setup<String> = Err(ConfigError::Missing("DR_REGION"));
        let configured: Setup<String> = Ok(("the clients".into(), Duration::from_secs(10)));

        let screened = invoke(
            "test-step",
            &failed,
            &screen,
            &|request, deps| echoes(request, deps),
            event(json!({"action": "measure"}), 0),
        )
        .await
        .unwrap_err();
        assert_eq!(screened.kind, ErrorKind::Aws, "the screen's answer");

        let misconfigured = invoke(
            "test-step",
            &failed,
            &screen,
            &|request, deps| echoes(request, deps),
            event(json!({"action": "plan"}), 0),
        )
        .await
        .unwrap_err();
        assert_eq!(misconfigured.kind, ErrorKind::InvalidInput);

        let served = invoke(
            "test-step",
            &configured,
            &screen,
            &|request, deps| echoes(request, deps),
            event(json!({"action": "plan"}), 0),
        )
        .await
        .unwrap();
        assert_eq!(served.summary, "the clients");
    }

    use crate::bound::{MAX_LIST_ENTRIES, MAX_NOTES, MAX_SUMMARY_BYTES};

    fn result<D>(detail: D) -> StepResult<D> {
        StepResult {
            step: "scale-asg".into(),
            action: Action::Status,
            dry_run: false,
            changed: false,
            ready: false,
            refusals: (0..50).map(|i| format!("group g{i} is missing")).collect(),
            warnings: Vec::new(),
            summary: "g ".repeat(MAX_SUMMARY_BYTES),
            detail,
            wait: None,
        }
    }

    struct Groups(Value, Vec<bool>);

    impl Serialize for Groups {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            self.0.serialize(serializer)
        }
    }

    impl Listed for Groups {
        fn lists(&self) -> Vec<(&'static str, Vec<bool>)> {
            vec![("groups", self.1.clone())]
        }
    }

    #[test]
    fn a_large_result_comes_back_within_every_bound() {
        let groups: Vec<Value> = (0..50).map(|i| json!({"group": format!("g{i}")})).collect();
        let detail = Groups(
            json!({"groups": groups, "targets": {"g0": 1}}),
            vec![true; 50],
        );
        let typed = result(detail);
        let answer = bounded(typed).unwrap();
        assert_eq!(
            answer.detail["groups"].as_array().unwrap().len(),
            MAX_LIST_ENTRIES
        );
        assert_eq!(answer.detail["total"]["groups"], 50);
        assert_eq!(answer.refusals.len(), MAX_NOTES);
        assert!(answer.summary.len() <= MAX_SUMMARY_BYTES);
    }

    #[test]
    fn a_long_error_message_is_cut_and_keeps_its_kind() {
        let failure = bounded_failure(StepFailure {
            kind: ErrorKind::Refused,
            message: "record missing; ".repeat(1000),
        });
        assert_eq!(failure.kind, ErrorKind::Refused);
        assert!(failure.message.len() <= MAX_SUMMARY_BYTES);
        assert!(
            failure.message.ends_with("has the full text]"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn a_small_result_is_unchanged() {
        let mut small = result(json!({"groups": [], "targets": {}}));
        small.refusals.clear();
        small.summary = "fine".into();
        assert_eq!(bounded(small.clone()).unwrap(), small);
    }
}
