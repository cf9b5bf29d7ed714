//! The check every step function makes, wired into [`crate::lambda::serve`]: a call that may
//! change something is checked first ([`guarded`]), and a state machine's start asks with a
//! [`super::HoldRequest`] ([`answer_hold`]).

use std::fmt;
use std::future::Future;

use serde_json::Value;

use super::{check, hold, ExclusiveError, Guard, HoldRequest};
use crate::config::ConfigError;
use crate::error::{ErrorKind, StepError, StepFailure};
use crate::lambda::Traced;
use crate::request::parse_request;
use crate::result::StepResult;

/// A step's own error, or the check's refusal before it.
#[derive(Debug)]
pub enum Guarded<E> {
    Step(E),
    Exclusive(ExclusiveError),
    /// The machines' variables are missing or wrong: a change cannot be checked.
    Config(ConfigError),
}

impl<E: fmt::Display> fmt::Display for Guarded<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Guarded::Step(error) => error.fmt(f),
            Guarded::Exclusive(error) => error.fmt(f),
            Guarded::Config(error) => error.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for Guarded<E> {}

impl<E: StepError> StepError for Guarded<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Guarded::Step(error) => error.kind(),
            Guarded::Exclusive(error) => error.kind(),
            Guarded::Config(error) => error.kind(),
        }
    }
}

/// Runs `run` with `request`, first checking a request that may change something
/// ([`Traced::changes`]) against the deployment's other runs ([`check`], its caller the request's
/// `execution_id`, its doubt per [`super::Machines::on_doubt`]). A doubt the caller goes on with
/// is added to the result's `warnings`. A read-only request is not checked.
///
/// # Errors
/// [`Guarded::Exclusive`] (`DrFailover.AlreadyRunning` naming the holder and its stop command,
/// or the listing's error); [`Guarded::Config`] when `guard` could not be built
/// (`DrFailover.InvalidInput` naming the variable); else the step's own error. Nothing is
/// changed on a refusal: `run` is not called.
pub async fn guarded<R, D, E, F, Fut>(
    step: &str,
    guard: &Result<Guard, ConfigError>,
    request: R,
    run: F,
) -> Result<StepResult<D>, Guarded<E>>
where
    R: Traced,
    F: FnOnce(R) -> Fut,
    Fut: Future<Output = Result<StepResult<D>, E>>,
{
    let mut warnings = Vec::new();
    if request.changes() {
        let guard = guard
            .as_ref()
            .map_err(|error| Guarded::Config(error.clone()))?;
        let caller = request.execution_id();
        let on_doubt = guard.machines.on_doubt(step, caller);
        warnings = check(
            &guard.client,
            &guard.machines,
            caller,
            on_doubt,
            guard.listing_pause,
        )
        .await
        .map_err(Guarded::Exclusive)?;
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
    }
    let mut result = run(request).await.map_err(Guarded::Step)?;
    result.warnings.extend(warnings);
    Ok(result)
}

/// Whether an invocation's payload is a [`HoldRequest`] (its `action` is `hold`).
pub fn is_hold(payload: &Value) -> bool {
    payload.get("action").and_then(Value::as_str) == Some("hold")
}

/// Answers a [`HoldRequest`] with the [`super::HoldAnswer`] as JSON.
///
/// # Errors
/// `DrFailover.InvalidInput` naming the field (a missing `execution_id`, an unknown field) or the
/// variable `guard` could not be built from; the listing's error when the caller refuses on
/// doubt ([`super::OnDoubt::Refuse`]).
pub async fn answer_hold(
    step: &str,
    guard: &Result<Guard, ConfigError>,
    payload: Value,
) -> Result<Value, StepFailure> {
    let request: HoldRequest = parse_request(payload).map_err(StepFailure::from)?;
    let guard = guard
        .as_ref()
        .map_err(|error| StepFailure::from(error.clone()))?;
    let span = tracing::info_span!("hold", step, execution_id = %request.execution_id);
    let _entered = span.enter();
    match hold(guard, step, &request).await {
        Ok(answer) => {
            tracing::info!(
                holds = answer.holds,
                checked = answer.checked,
                "{}",
                answer.summary
            );
            serde_json::to_value(&answer).map_err(|error| StepFailure {
                kind: ErrorKind::Aws,
                message: format!("could not serialize the answer: {error}"),
            })
        }
        Err(error) => {
            let failure = StepFailure::from(error);
            tracing::error!(
                error_type = failure.kind.error_name(),
                "{}",
                failure.message
            );
            Err(failure)
        }
    }
}
