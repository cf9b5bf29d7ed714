//! flip-dns: points the recovery plan's Route 53 records at the DR region, once the DR database
//! is writable. The logic is `shared::dns`; this is wiring only.

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::SdkTimeouts;
use shared::config::{ConfigError, ProcessEnv, Regions};
use shared::database::DatabaseConfig;
use shared::dns::{self, DnsClients, DnsConfig};

async fn setup() -> Result<(DnsConfig, DatabaseConfig, DnsClients, Duration), ConfigError> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = DnsConfig::from_source(&ProcessEnv)?;
    let database = DatabaseConfig::from_source(&ProcessEnv)?;
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
                shared::lambda::run_step(event, dns::STEP, *operation_timeout, |request| {
                    dns::handle(request, config, database, clients)
                })
                .await
            }
            Err(error) => shared::lambda::misconfigured(dns::STEP, error),
        }
    }))
    .await
}
