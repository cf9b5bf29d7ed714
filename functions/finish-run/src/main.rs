//! finish-run: the one way every run of a state machine ends: its report built from the outcome
//! the run reached, measured, stored and published. The logic is `shared::finish`; this is wiring
//! only.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::config::{ProcessEnv, Regions};
use shared::finish::{self, FinishClients, FinishConfig};
use shared::plan_metrics::PlanMetrics;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let setup = &match (
        Regions::from_source(&ProcessEnv),
        FinishConfig::from_source(&ProcessEnv),
    ) {
        (Ok(regions), Ok(config)) => {
            let sdk = shared::aws::load(&regions.dr, finish::SDK_TIMEOUTS).await;
            Ok((FinishClients::new(&sdk, &config), config))
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    let metrics = &PlanMetrics::from_source(&ProcessEnv);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        finish::serve(event.payload, setup, metrics.as_ref()).await
    }))
    .await
}
