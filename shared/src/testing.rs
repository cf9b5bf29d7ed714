//! Helpers shared by the unit tests.

use std::time::Duration;

use aws_smithy_types::retry::RetryConfig;

/// The SDK's standard retries, without the real backoff delays, so "throttled then succeeded"
/// tests exercise the real retry path quickly.
pub fn fast_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(2))
}

/// No retries: a single modelled error surfaces at once.
pub fn no_retries() -> RetryConfig {
    RetryConfig::disabled()
}
