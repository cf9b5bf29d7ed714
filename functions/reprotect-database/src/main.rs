//! reprotect-database: after a failover, gives the DR region's writer a standby in the former
//! primary region again (an RDS cross-Region read replica, or an Aurora secondary cluster). The logic is
//! `shared::reprotect`; this is wiring only.

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::SdkTimeouts;
use shared::config::{ConfigError, ProcessEnv, Regions};
use shared::reprotect::{self, ReprotectClients, ReprotectConfig};

async fn setup() -> Result<(ReprotectConfig, ReprotectClients, Duration), ConfigError> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = ReprotectConfig::from_source(&ProcessEnv, &regions)?;
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
                shared::lambda::run_step(event, reprotect::STEP, *operation_timeout, |request| {
                    reprotect::handle(request, config, clients)
                })
                .await
            }
            Err(error) => shared::lambda::misconfigured(reprotect::STEP, error),
        }
    }))
    .await
}
