//! pilot-capacity: fail back's one scale-in, the DR Auto Scaling groups back to their pilot-light
//! sizes once DNS answers from the primary region again. The logic is `shared::pilot`; this is
//! wiring only.

use shared::aws::SdkTimeouts;
use shared::config::{ProcessEnv, Regions};
use shared::lambda::{serve, Setup};
use shared::pilot::{self, PilotClients, PilotConfig};

async fn setup() -> Setup<(PilotConfig, PilotClients)> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = PilotConfig::from_source(&ProcessEnv)?;
    let clients = PilotClients::new(&shared::aws::load(&regions.dr, timeouts).await);
    Ok(((config, clients), timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(pilot::STEP, setup, |request, (config, clients)| {
        pilot::handle(request, config, clients)
    })
    .await
}
