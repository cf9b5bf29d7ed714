//! What each failover step does, as plain async functions over the AWS SDK clients.
//!
//! The function binaries under `functions/` only wire these to Lambda. Each concern has its own
//! module and error type; [`error`] maps them all to the names the state machine matches.

pub mod alarm_state;
pub mod aws;
pub mod backup;
pub mod bound;
pub mod compute;
pub mod config;
pub mod database;
pub mod dns;
pub mod error;
pub mod exclusive;
pub mod execution_input;
pub mod failback;
pub mod finish;
pub mod lambda;
pub mod pace;
pub mod pause;
pub mod pilot;
pub mod plan;
pub mod plan_metrics;
pub mod rds_status;
pub mod reprotect;
pub mod request;
pub mod result;
pub mod run_metrics;
pub mod telemetry;
pub mod wait;
pub mod witness;

#[cfg(test)]
pub(crate) mod testing;
