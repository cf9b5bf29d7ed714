//! scale-asg: raises the DR Auto Scaling groups to production capacity, never lowering them.
//! The logic is `shared::compute`; this is wiring only.

use shared::aws::SdkTimeouts;
use shared::compute::{self, ComputeClients, ComputeConfig};
use shared::config::{ProcessEnv, Regions};
use shared::lambda::{serve, Setup};
use shared::plan_metrics::{self, PlanMetrics};

async fn setup() -> Setup<(ComputeConfig, ComputeClients)> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = ComputeConfig::from_source(&ProcessEnv)?;
    let dr = shared::aws::load(&regions.dr, timeouts).await;
    let clients = ComputeClients::new(&dr, &regions.primary, &config);
    Ok(((config, clients), timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let metrics = &PlanMetrics::from_source(&ProcessEnv);
    serve(compute::STEP, setup, |request, (config, clients)| {
        let step = compute::handle(request, config, clients);
        // A plan's metrics, as CloudWatch Embedded Metric Format lines on stdout.
        plan_metrics::print_after(metrics.as_ref(), step, PlanMetrics::compute_lines)
    })
    .await
}
