//! verify-backup-copy: checks that the DR backup vault holds a fresh enough copy of every resource
//! in the recovery plan, and prints a metric line for each. The logic is `shared::backup`; this is
//! wiring only.
//!
//! It also reads the health check alarm again, in the alarm's own Region, before a failover
//! proceeds on approval expiry (`{"action": "alarm-state", ...}`, `shared::alarm_state`).
//!
//! Every request it takes is read-only, so it is also the state machine's first state: given the
//! execution input unchanged, it answers whether the input is within bounds
//! (`shared::execution_input`). Any payload over `MAX_EXECUTION_INPUT_BYTES` is refused. Both
//! answer before the backup request is parsed, even when setup failed (`shared::backup::Screen`).

use std::time::SystemTime;

use shared::backup::{self, dispatch, Screen};
use shared::config::ProcessEnv;
use shared::execution_input::InputRules;
use shared::lambda::serve_screened;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let screen = Screen::new(InputRules::from_source(&ProcessEnv));
    let screen = |event: &_| screen.answer(event, SystemTime::now());
    serve_screened(
        backup::STEP,
        dispatch::setup,
        screen,
        |request: backup::VerifyRequest, (config, clients, dr)| {
            dispatch::handle(request, config, clients, dr)
        },
    )
    .await
}
