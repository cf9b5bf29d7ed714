//! failback-database: fail back's database step, the primary region's read replica (re-protect's)
//! promoted once its replica lag is at most `FAILBACK_DB_MAX_REPLICA_LAG_SECONDS` (0: the write
//! freeze), or the Aurora writer switched over to the primary region. The failover's
//! `shared::database` with the regions swapped, configured by `FAILBACK_*` variables
//! (`shared::failback`); wiring only.

use shared::aws::SdkTimeouts;
use shared::config::{ProcessEnv, Regions};
use shared::database::{self, DatabaseClients, DatabaseConfig};
use shared::failback::Prefixed;
use shared::lambda::{serve, Setup};

/// The name this function logs under and answers a configuration error with.
const STEP: &str = "failback-database";

async fn setup() -> Setup<(DatabaseConfig, DatabaseClients)> {
    let env = Prefixed(&ProcessEnv);
    let regions = Regions::from_source(&env)?;
    let timeouts = SdkTimeouts::from_source(&env)?;
    let config = DatabaseConfig::from_source(&env)?;
    let clients = DatabaseClients::new(&shared::aws::load(&regions.dr, timeouts).await);
    Ok(((config, clients), timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(STEP, setup, |request, (config, clients)| {
        let request = shared::failback::database_request(request, config);
        database::handle(request, config, clients)
    })
    .await
}
