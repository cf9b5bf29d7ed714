//! failback-compute: fail back's first step, the primary region's Auto Scaling groups raised to
//! their production capacity (never lowered), waited for until InService. The failover's
//! `shared::compute` with the regions swapped, configured by `FAILBACK_*` variables
//! (`shared::failback`); wiring only.

use shared::aws::SdkTimeouts;
use shared::compute::{self, ComputeClients, ComputeConfig};
use shared::config::{ProcessEnv, Regions};
use shared::failback::Prefixed;
use shared::lambda::{serve, Setup};

/// The name this function logs under and answers a configuration error with.
const STEP: &str = "failback-compute";

async fn setup() -> Setup<(ComputeConfig, ComputeClients)> {
    let env = Prefixed(&ProcessEnv);
    let regions = Regions::from_source(&env)?;
    let timeouts = SdkTimeouts::from_source(&env)?;
    let mut config = ComputeConfig::from_source(&env)?;
    // The primary groups' scheduled actions are production's own schedule: fail back warns about
    // one that would lower a group below its target, and leaves them to run.
    config.suspend_scheduled_actions = false;
    let dr = shared::aws::load(&regions.dr, timeouts).await;
    let clients = ComputeClients::new(&dr, &regions.primary, &config);
    Ok(((config, clients), timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(STEP, setup, |request, (config, clients)| {
        compute::handle(request, config, clients)
    })
    .await
}
