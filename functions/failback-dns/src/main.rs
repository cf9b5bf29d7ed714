//! failback-dns: fail back's DNS step, the plan's Route 53 records pointed back at the primary
//! region once its database accepts writes. The failover's `shared::dns` with the regions swapped
//! and the primary targets as `FAILBACK_DNS_RECORDS`, configured by `FAILBACK_*` variables
//! (`shared::failback`); wiring only.

use shared::aws::SdkTimeouts;
use shared::config::{ProcessEnv, Regions};
use shared::database::DatabaseConfig;
use shared::dns::{self, DnsClients, DnsConfig};
use shared::failback::Prefixed;
use shared::lambda::{serve, Setup};

/// The name this function logs under and answers a configuration error with.
const STEP: &str = "failback-dns";

async fn setup() -> Setup<(DnsConfig, DatabaseConfig, DnsClients)> {
    let env = Prefixed(&ProcessEnv);
    let regions = Regions::from_source(&env)?;
    let timeouts = SdkTimeouts::from_source(&env)?;
    let config = DnsConfig::from_source(&env)?;
    let database = DatabaseConfig::from_source(&env)?;
    let clients = DnsClients::new(&shared::aws::load(&regions.dr, timeouts).await, &config);
    Ok(((config, database, clients), timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(STEP, setup, |request, (config, database, clients)| {
        dns::handle(request, config, database, clients)
    })
    .await
}
