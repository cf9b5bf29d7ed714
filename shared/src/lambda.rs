//! The adapter between Lambda and a step: parse the request, log it in a span that carries the
//! execution id, run the step, and turn its error into the name the state machine matches.

use std::future::Future;

use lambda_runtime::LambdaEvent;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::error::{StepError, StepFailure};
use crate::request::parse_request;
use crate::result::StepResult;

/// What the adapter needs to know of a request to log it.
pub trait Traced {
    fn execution_id(&self) -> Option<&str>;
    fn action_name(&self) -> String;
}

impl Traced for crate::request::StepRequest {
    fn execution_id(&self) -> Option<&str> {
        self.execution_id.as_deref()
    }
    fn action_name(&self) -> String {
        format!("{:?}", self.action).to_lowercase()
    }
}

/// Runs one invocation of a step. Bad input fails here, before the step makes any AWS call.
pub async fn run_step<R, D, E, F, Fut>(
    event: LambdaEvent<Value>,
    step: &'static str,
    run: F,
) -> Result<StepResult<D>, StepFailure>
where
    R: DeserializeOwned + Traced,
    D: Serialize,
    E: StepError,
    F: FnOnce(R) -> Fut,
    Fut: Future<Output = Result<StepResult<D>, E>>,
{
    let (payload, context) = event.into_parts();
    let request: R = match parse_request(payload) {
        Ok(request) => request,
        Err(error) => {
            tracing::error!(step, request_id = %context.request_id, field = %error.field, "{error}");
            return Err(error.into());
        }
    };
    let span = tracing::info_span!(
        "step",
        step,
        action = %request.action_name(),
        execution_id = request.execution_id().unwrap_or("-"),
        request_id = %context.request_id,
    );
    async move {
        tracing::info!("started");
        match run(request).await {
            Ok(result) => {
                tracing::info!(
                    changed = result.changed,
                    ready = result.ready,
                    refusals = result.refusals.len(),
                    summary = %result.summary,
                    "finished"
                );
                Ok(result)
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
    .instrument(span)
    .await
}
