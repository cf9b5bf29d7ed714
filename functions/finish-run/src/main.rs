//! finish-run: the one way every run of a state machine ends: its report built from the outcome
//! the run reached, measured, stored and published. The logic is `shared::finish`; this is wiring
//! only.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::SdkTimeouts;
use shared::config::{ConfigError, ProcessEnv, Regions};
use shared::finish::{self, FinishClients, FinishConfig};
use shared::plan_metrics::PlanMetrics;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let setup = &async {
        let regions = Regions::from_source(&ProcessEnv)?;
        let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
        let config = FinishConfig::from_source(&ProcessEnv)?;
        let sdk = shared::aws::load(&regions.dr, timeouts).await;
        Ok::<_, ConfigError>((FinishClients::new(&sdk, &config), config))
    }
    .await;
    let metrics = &PlanMetrics::from_source(&ProcessEnv);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        finish::serve(event.payload, setup, metrics.as_ref()).await
    }))
    .await
}
