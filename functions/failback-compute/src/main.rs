//! failback-compute: fail back's first step, the primary region's Auto Scaling groups raised to
//! their production capacity (never lowered), waited for until InService. The failover's
//! `shared::compute` with the regions swapped, configured by `FAILBACK_*` variables
//! (`shared::failback`); wiring only.

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::SdkTimeouts;
use shared::compute::{self, ComputeClients, ComputeConfig};
use shared::config::{ConfigError, ProcessEnv, Regions};
use shared::failback::Prefixed;

/// The name this function logs under and answers a configuration error with.
const STEP: &str = "failback-compute";

async fn setup() -> Result<(ComputeConfig, ComputeClients, Duration), ConfigError> {
    let env = Prefixed(&ProcessEnv);
    let regions = Regions::from_source(&env)?;
    let timeouts = SdkTimeouts::from_source(&env)?;
    let config = ComputeConfig::from_source(&env)?;
    let dr = shared::aws::load(&regions.dr, timeouts).await;
    let clients = ComputeClients::new(&dr, &regions.primary, &config);
    Ok((config, clients, timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let setup = &setup().await;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        match setup {
            Ok((config, clients, operation_timeout)) => {
                shared::lambda::run_step(event, STEP, *operation_timeout, |request| {
                    compute::handle(request, config, clients)
                })
                .await
            }
            Err(error) => shared::lambda::misconfigured(STEP, error),
        }
    }))
    .await
}
