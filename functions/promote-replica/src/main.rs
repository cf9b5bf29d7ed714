//! promote-replica: promotes the DR read replica, or moves an Aurora Global Database's writer to
//! the DR region. The logic is `shared::database`; this is wiring only.

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::SdkTimeouts;
use shared::config::{ConfigError, ProcessEnv, Regions};
use shared::database::{self, DatabaseClients, DatabaseConfig};
use shared::plan_metrics::PlanMetrics;

async fn setup() -> Result<(DatabaseConfig, DatabaseClients, Duration), ConfigError> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = DatabaseConfig::from_source(&ProcessEnv)?;
    let clients = DatabaseClients::new(&shared::aws::load(&regions.dr, timeouts).await);
    Ok((config, clients, timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let setup = &setup().await;
    let metrics = &PlanMetrics::from_source(&ProcessEnv);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        match setup {
            Ok((config, clients, operation_timeout)) => {
                shared::lambda::run_step(
                    event,
                    database::STEP,
                    *operation_timeout,
                    |request| async move {
                        let result = database::handle(request, config, clients).await;
                        // A plan's metrics, as CloudWatch Embedded Metric Format lines on stdout.
                        if let (Ok(result), Some(metrics)) = (&result, metrics) {
                            for line in metrics.database_lines(result, std::time::SystemTime::now())
                            {
                                println!("{line}");
                            }
                        }
                        result
                    },
                )
                .await
            }
            Err(error) => shared::lambda::misconfigured(database::STEP, error),
        }
    }))
    .await
}
