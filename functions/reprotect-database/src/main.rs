//! reprotect-database: after a failover, gives the DR region's writer a standby in the former
//! primary region again (an RDS cross-Region read replica, or an Aurora secondary cluster). The logic is
//! `shared::reprotect`; this is wiring only.

use shared::aws::SdkTimeouts;
use shared::config::{ProcessEnv, Regions};
use shared::lambda::{serve, Setup};
use shared::reprotect::{self, ReprotectClients, ReprotectConfig};

async fn setup() -> Setup<(ReprotectConfig, ReprotectClients)> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = ReprotectConfig::from_source(&ProcessEnv, &regions)?;
    let dr = shared::aws::load(config.dr_region(), timeouts).await;
    let clients = ReprotectClients::new(&dr, config.primary_region());
    Ok(((config, clients), timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(reprotect::STEP, setup, |request, (config, clients)| {
        reprotect::handle(request, config, clients)
    })
    .await
}
