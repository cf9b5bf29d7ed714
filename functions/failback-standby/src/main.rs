//! failback-standby: fail back's last step, a new standby in the DR region for the primary
//! region's writer (an RDS read replica). The re-protect step with the regions swapped,
//! configured by `FAILBACK_*` variables (`shared::failback`); wiring only.

use shared::aws::SdkTimeouts;
use shared::config::{ProcessEnv, Regions};
use shared::failback::Prefixed;
use shared::lambda::{serve, Setup};
use shared::reprotect::{self, ReprotectClients, ReprotectConfig};

/// The name this function logs under and answers a configuration error with.
const STEP: &str = "failback-standby";

async fn setup() -> Setup<(ReprotectConfig, ReprotectClients)> {
    let env = Prefixed(&ProcessEnv);
    let regions = Regions::from_source(&env)?;
    let timeouts = SdkTimeouts::from_source(&env)?;
    let config = ReprotectConfig::from_source(&env, &regions)?;
    let dr = shared::aws::load(config.dr_region(), timeouts).await;
    let clients = ReprotectClients::new(&dr, config.primary_region());
    Ok(((config, clients), timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(STEP, setup, |request, (config, clients)| {
        reprotect::handle(request, config, clients)
    })
    .await
}
