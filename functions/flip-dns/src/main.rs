//! flip-dns: points the recovery plan's Route 53 records at the DR region, once the DR database
//! is writable, recording first what they answered for fail back. The logic is `shared::dns`;
//! this is wiring only.

use shared::aws::SdkTimeouts;
use shared::config::{ProcessEnv, Regions};
use shared::database::DatabaseConfig;
use shared::dns::recording::RecordingConfig;
use shared::dns::{self, DnsClients, DnsConfig};
use shared::lambda::{serve, Setup};

async fn setup() -> Setup<(DnsConfig, DatabaseConfig, DnsClients)> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = DnsConfig::from_source(&ProcessEnv)?;
    let database = DatabaseConfig::from_source(&ProcessEnv)?;
    let recording = RecordingConfig::from_source(&ProcessEnv)?;
    let clients = DnsClients::new(&shared::aws::load(&regions.dr, timeouts).await, &config)
        .recording_to(recording);
    Ok(((config, database, clients), timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(dns::STEP, setup, |request, (config, database, clients)| {
        dns::handle(request, config, database, clients)
    })
    .await
}
