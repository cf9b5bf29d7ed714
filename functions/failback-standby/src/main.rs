//! failback-standby: fail back's last step, a new standby in the DR region for the primary
//! region's writer (an RDS read replica). The re-protect step with the regions swapped,
//! configured by `FAILBACK_*` variables (`shared::failback`); wiring only.

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::SdkTimeouts;
use shared::config::{ConfigError, ProcessEnv, Regions};
use shared::failback::Prefixed;
use shared::reprotect::{self, ReprotectClients, ReprotectConfig};

/// The name this function logs under and answers a configuration error with.
const STEP: &str = "failback-standby";

async fn setup() -> Result<(ReprotectConfig, ReprotectClients, Duration), ConfigError> {
    let env = Prefixed(&ProcessEnv);
    let regions = Regions::from_source(&env)?;
    let timeouts = SdkTimeouts::from_source(&env)?;
    let config = ReprotectConfig::from_source(&env, &regions)?;
    let dr = shared::aws::load(config.dr_region(), timeouts).await;
    let clients = ReprotectClients::new(&dr, config.primary_region());
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
                    reprotect::handle(request, config, clients)
                })
                .await
            }
            Err(error) => shared::lambda::misconfigured(STEP, error),
        }
    }))
    .await
}
