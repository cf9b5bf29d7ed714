//! promote-replica: promotes the DR read replica, or moves an Aurora Global Database's writer to
//! the DR region. The logic is `shared::database`; this is wiring only.

use shared::aws::SdkTimeouts;
use shared::config::{ProcessEnv, Regions};
use shared::database::{self, DatabaseClients, DatabaseConfig};
use shared::lambda::{serve, Setup};
use shared::plan_metrics::{self, PlanMetrics};

async fn setup() -> Setup<(DatabaseConfig, DatabaseClients)> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = DatabaseConfig::from_source(&ProcessEnv)?;
    let clients = DatabaseClients::new(&shared::aws::load(&regions.dr, timeouts).await);
    Ok(((config, clients), timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let metrics = &PlanMetrics::from_source(&ProcessEnv);
    serve(database::STEP, setup, |request, (config, clients)| {
        let step = database::handle(request, config, clients);
        // A plan's metrics, as CloudWatch Embedded Metric Format lines on stdout.
        plan_metrics::print_after(metrics.as_ref(), step, PlanMetrics::database_lines)
    })
    .await
}
