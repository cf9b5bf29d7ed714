//! verify-backup-copy: checks that the DR backup vault holds a fresh enough copy of every resource
//! in the recovery plan, and prints a metric line for each. The logic is `shared::backup`; this is
//! wiring only.
//!
//! Every request it takes is read-only, so it is also the state machine's first state: given the
//! execution input unchanged, it answers whether the input is within bounds
//! (`shared::execution_input`). Any payload over `MAX_EXECUTION_INPUT_BYTES` is refused. It also
//! measures each run from its report (`shared::run_metrics`, `"action": "measure"`).

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::SdkTimeouts;
use shared::backup::{self, BackupClients, BackupConfig, BackupRequest};
use shared::config::{ConfigError, ProcessEnv, Regions};
use shared::execution_input::{self, InputRules};
use shared::plan_metrics::PlanMetrics;
use shared::run_metrics;

async fn setup() -> Result<(BackupConfig, BackupClients, Duration), ConfigError> {
    let regions = Regions::from_source(&ProcessEnv)?;
    let timeouts = SdkTimeouts::from_source(&ProcessEnv)?;
    let config = BackupConfig::from_source(&ProcessEnv)?;
    let dr = shared::aws::load(&regions.dr, timeouts).await;
    let clients = BackupClients::new(&dr, &regions, &config).await;
    Ok((config, clients, timeouts.operation))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let setup = &setup().await;
    let rules = &InputRules::from_source(&ProcessEnv);
    let metrics = &PlanMetrics::from_source(&ProcessEnv);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // A run's report to measure (its RTO, duration, stages and outcome as a metric line):
        // read-only, no configuration but the metric names; before the size screen, as a report
        // may be larger than an execution input.
        if run_metrics::is_measure_request(&event.payload) {
            return Ok(run_metrics::answer(
                metrics.as_ref(),
                &event.payload,
                std::time::SystemTime::now(),
            ));
        }
        // The execution input check needs no configuration: it answers even when setup failed.
        if let Some(answer) = execution_input::screen(
            &event.payload,
            &event.context.request_id,
            rules,
            std::time::SystemTime::now(),
        )? {
            return Ok(answer);
        }
        match setup {
            Ok((config, clients, operation_timeout)) => {
                shared::lambda::run_step(
                    event,
                    backup::STEP,
                    *operation_timeout,
                    |request: BackupRequest| backup::handle(request, config, clients),
                )
                .await
            }
            Err(error) => shared::lambda::misconfigured(backup::STEP, error),
        }
    }))
    .await
}
