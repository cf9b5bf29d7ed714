//! failback-dns: fail back's DNS step, the plan's Route 53 records pointed back at the primary
//! region once its database accepts writes. The failover's `shared::dns` with the regions swapped
//! (`FAILBACK_*` variables, `shared::failback`), on the failover's own `DNS_RECORDS` with the
//! primary targets flip-dns recorded before the failover (`shared::dns::failback`); wiring only.

use shared::aws::SdkTimeouts;
use shared::config::{ProcessEnv, Regions};
use shared::database::DatabaseConfig;
use shared::dns::failback::{handle_failback, FailbackDnsConfig};
use shared::dns::DnsClients;
use shared::failback::Prefixed;
use shared::lambda::{serve, Setup};

/// The name this function logs under and answers a configuration error with.
const STEP: &str = "failback-dns";

async fn setup() -> Setup<(FailbackDnsConfig, DatabaseConfig, DnsClients)> {
    let env = Prefixed(&ProcessEnv);
    let regions = Regions::from_source(&env)?;
    let timeouts = SdkTimeouts::from_source(&env)?;
    // The failover's DNS_RECORDS and REPORT_BUCKET_NAME as they are, the rest with FAILBACK_.
    let config = FailbackDnsConfig::from_source(&ProcessEnv)?;
    let database = DatabaseConfig::from_source(&env)?;
    // The database is the primary region's (fail back's DR region); the recording is in the
    // report bucket, in the deployment's DR region (fail back's primary region).
    let primary = shared::aws::load(&regions.dr, timeouts).await;
    let bucket_region = shared::aws::in_region(&primary, &regions.primary);
    // The DNS gate's metric and alarm are in the deployment's DR region too.
    let clients = DnsClients::new(&primary, &config.failover)
        .s3_in(&bucket_region)
        .gate_in(&bucket_region);
    Ok(((config, database, clients), timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(STEP, setup, |request, (config, database, clients)| {
        handle_failback(request, config, database, clients)
    })
    .await
}
