//! scale-asg: raises the DR Auto Scaling groups to production capacity, never lowering them.
//! The logic is `shared::compute`; this is wiring only.

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::SdkTimeouts;
use shared::compute::{self, ComputeClients, ComputeConfig};
use shared::config::{ConfigError, ProcessEnv, Regions};
use shared::plan_metrics::PlanMetrics;

async fn setup() -> Result<(ComputeConfig, ComputeClients, Duration), ConfigError> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = ComputeConfig::from_source(&ProcessEnv)?;
    let dr = shared::aws::load(&regions.dr, timeouts).await;
    let clients = ComputeClients::new(&dr, &regions.primary, &config);
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
                    compute::STEP,
                    *operation_timeout,
                    |request| async move {
                        let result = compute::handle(request, config, clients).await;
                        // A plan's metrics, as CloudWatch Embedded Metric Format lines on stdout.
                        if let (Ok(result), Some(metrics)) = (&result, metrics) {
                            for line in metrics.compute_lines(result, std::time::SystemTime::now())
                            {
                                println!("{line}");
                            }
                        }
                        result
                    },
                )
                .await
            }
            Err(error) => shared::lambda::misconfigured(compute::STEP, error),
        }
    }))
    .await
}
