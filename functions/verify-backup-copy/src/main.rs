//! verify-backup-copy: checks that the DR backup vault holds a fresh enough copy of every resource
//! in the recovery plan, and prints a metric line for each. The logic is `shared::backup`; this is
//! wiring only.
//!
//! Every request it takes is read-only, so it is also the state machine's first state: given the
//! execution input unchanged, it answers whether the input is within bounds
//! (`shared::execution_input`). Any payload over `MAX_EXECUTION_INPUT_BYTES` is refused.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::backup::{self, BackupClients, BackupConfig, BackupRequest};
use shared::config::{ProcessEnv, Regions};
use shared::execution_input;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let regions = Regions::from_source(&ProcessEnv)?;
    let config = BackupConfig::from_source(&ProcessEnv)?;
    let dr = shared::aws::load(&regions.dr).await;
    let clients = BackupClients::new(&dr, &regions, &config).await;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async {
        if let Some(answer) = execution_input::screen(&event.payload, &event.context.request_id)? {
            return Ok(answer);
        }
        shared::lambda::run_step(event, backup::STEP, |request: BackupRequest| {
            backup::handle(request, &config, &clients)
        })
        .await
    }))
    .await
}
