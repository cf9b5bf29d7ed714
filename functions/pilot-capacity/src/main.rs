//! pilot-capacity: fail back's one scale-in, the DR Auto Scaling groups back to their pilot-light
//! sizes once DNS answers from the primary region again. The logic is `shared::pilot`; this is
//! wiring only.

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::SdkTimeouts;
use shared::config::{ConfigError, ProcessEnv, Regions};
use shared::pilot::{self, PilotClients, PilotConfig};

async fn setup() -> Result<(PilotConfig, PilotClients, Duration), ConfigError> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = PilotConfig::from_source(&ProcessEnv)?;
    let clients = PilotClients::new(&shared::aws::load(&regions.dr, timeouts).await);
    Ok((config, clients, timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let setup = &setup().await;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        match setup {
            Ok((config, clients, operation_timeout)) => {
                shared::lambda::run_step(event, pilot::STEP, *operation_timeout, |request| {
                    pilot::handle(request, config, clients)
                })
                .await
            }
            Err(error) => shared::lambda::misconfigured(pilot::STEP, error),
        }
    }))
    .await
}
