//! failback-dns: fail back's DNS step, the plan's Route 53 records pointed back at the primary
//! region once its database accepts writes. The failover's `shared::dns` with the regions swapped
//! and the primary targets as `FAILBACK_DNS_RECORDS`, configured by `FAILBACK_*` variables
//! (`shared::failback`); wiring only.

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::SdkTimeouts;
use shared::config::{ConfigError, ProcessEnv, Regions};
use shared::database::DatabaseConfig;
use shared::dns::{self, DnsClients, DnsConfig};
use shared::failback::Prefixed;

/// The name this function logs under and answers a configuration error with.
const STEP: &str = "failback-dns";

async fn setup() -> Result<(DnsConfig, DatabaseConfig, DnsClients, Duration), ConfigError> {
    let env = Prefixed(&ProcessEnv);
    let regions = Regions::from_source(&env)?;
    let timeouts = SdkTimeouts::from_source(&env)?;
    let config = DnsConfig::from_source(&env)?;
    let database = DatabaseConfig::from_source(&env)?;
    let clients = DnsClients::new(&shared::aws::load(&regions.dr, timeouts).await, &config);
    Ok((config, database, clients, timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let setup = &setup().await;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        match setup {
            Ok((config, database, clients, operation_timeout)) => {
                shared::lambda::run_step(event, STEP, *operation_timeout, |request| {
                    dns::handle(request, config, database, clients)
                })
                .await
            }
            Err(error) => shared::lambda::misconfigured(STEP, error),
        }
    }))
    .await
}
