//! failback-database: fail back's database step, the primary region's read replica (re-protect's)
//! promoted once its replica lag is at most `FAILBACK_DB_MAX_REPLICA_LAG_SECONDS` (0: the write
//! freeze), or the Aurora writer switched over to the primary region. The failover's
//! `shared::database` with the regions swapped, configured by `FAILBACK_*` variables
//! (`shared::failback`); wiring only.

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::SdkTimeouts;
use shared::config::{ConfigError, ProcessEnv, Regions};
use shared::database::{self, DatabaseClients, DatabaseConfig};
use shared::failback::Prefixed;

/// The name this function logs under and answers a configuration error with.
const STEP: &str = "failback-database";

async fn setup() -> Result<(DatabaseConfig, DatabaseClients, Duration), ConfigError> {
    let env = Prefixed(&ProcessEnv);
    let regions = Regions::from_source(&env)?;
    let timeouts = SdkTimeouts::from_source(&env)?;
    let config = DatabaseConfig::from_source(&env)?;
    let clients = DatabaseClients::new(&shared::aws::load(&regions.dr, timeouts).await);
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
                    database::handle(
                        shared::failback::database_request(request, config),
                        config,
                        clients,
                    )
                })
                .await
            }
            Err(error) => shared::lambda::misconfigured(STEP, error),
        }
    }))
    .await
}
