//! witness: probes the primary's endpoint from the DR region every minute (the DR stack's
//! schedule), records what it saw on the trigger rule and as a datapoint, and starts the
//! failover when the primary stays down alone. The logic is `shared::witness`; this is wiring
//! only.

use shared::aws::SdkTimeouts;
use shared::config::{ConfigError, ProcessEnv};
use shared::lambda::{serve, Setup};
use shared::witness::{self, probe, WitnessClients, WitnessConfig, WitnessRequest};

async fn setup() -> Setup<(WitnessConfig, WitnessClients, probe::ProbeClient)> {
    let config = WitnessConfig::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let clients = WitnessClients::new(&shared::aws::load(&config.region, timeouts).await);
    let client = probe::client().map_err(|error| ConfigError::Invalid {
        name: "WITNESS_PRIMARY_URL",
        reason: format!(
            "no HTTPS client: the system's root certificates could not be loaded: {error}"
        ),
    })?;
    Ok(((config, clients, client), timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(
        witness::STEP,
        setup,
        |_: WitnessRequest, (config, clients, client)| async move {
            Ok::<_, witness::WitnessError>(witness::run(config, clients, client).await)
        },
    )
    .await
}
