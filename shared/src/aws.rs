//! Building the SDK configuration once per function start.
//!
//! Every client a function builds from [`load`] carries [`SdkTimeouts`]: the DR region's, Route
//! 53's and the vault account's as much as the primary region's. A call that stalls (a network
//! path that black-holes, an endpoint that accepts and never answers) then ends as a timeout
//! error, which the steps classify as retryable, well before Lambda would kill the invocation
//! and the state machine would see only `Sandbox.Timedout`.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::config::{self, ConfigError, Source};

/// The bounds every AWS SDK client of a function carries.
///
/// Follows "Timeouts" in the AWS SDK for Rust developer guide
/// (https://docs.aws.amazon.com/sdk-for-rust/latest/dg/timeouts.html): `connect_timeout` bounds
/// establishing a connection, `operation_attempt_timeout` one HTTP attempt, `operation_timeout`
/// the whole call with all its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkTimeouts {
    /// Establishing a connection (TCP and TLS).
    pub connect: Duration,
    /// One attempt: a third of the operation, so the standard retry mode's three attempts fit.
    pub attempt: Duration,
    /// The whole call, retries included.
    pub operation: Duration,
}

impl SdkTimeouts {
    /// Connect bound, seconds; shorter when the operation bound is shorter.
    pub const CONNECT_SECONDS: u64 = 3;
    /// The default operation bound, seconds: a third of the template's 30 s function timeout, so
    /// a step that meets one stalled call still answers in time, and one that meets two does too.
    pub const DEFAULT_OPERATION_SECONDS: u64 = 10;
    /// The largest accepted operation bound, seconds: Lambda's own maximum function timeout.
    pub const MAX_OPERATION_SECONDS: u64 = 900;

    /// An operation bound of `seconds`, the others derived from it.
    pub fn from_operation_seconds(seconds: u64) -> Self {
        let operation = Duration::from_secs(seconds);
        SdkTimeouts {
            connect: Duration::from_secs(Self::CONNECT_SECONDS).min(operation),
            attempt: operation / 3,
            operation,
        }
    }

    /// Reads `SDK_OPERATION_TIMEOUT_SECONDS` (whole seconds, 1 to 900; default 10). It must stay
    /// below the function's own timeout, which the template checks.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the variable when it is not a whole number in range.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        const NAME: &str = "SDK_OPERATION_TIMEOUT_SECONDS";
        let seconds = config::parsed(source, NAME, Self::DEFAULT_OPERATION_SECONDS)?;
        if !(1..=Self::MAX_OPERATION_SECONDS).contains(&seconds) {
            return Err(ConfigError::Invalid {
                name: NAME,
                reason: format!(
                    "{seconds}: must be 1 to {} seconds, and below the function's timeout",
                    Self::MAX_OPERATION_SECONDS
                ),
            });
        }
        Ok(Self::from_operation_seconds(seconds))
    }

    fn config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

impl Default for SdkTimeouts {
    fn default() -> Self {
        Self::from_operation_seconds(Self::DEFAULT_OPERATION_SECONDS)
    }
}

/// The SDK configuration for one region, from the standard sources (environment, the Lambda
/// role), with `timeouts` on every call. `AWS_ENDPOINT_URL` is honoured, which is how the local
/// drill points it at the stand-in.
pub async fn load(region: &str, timeouts: SdkTimeouts) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .timeout_config(timeouts.config())
        .load()
        .await
}

/// The same configuration for another region.
pub fn in_region(config: &SdkConfig, region: &str) -> SdkConfig {
    config
        .to_builder()
        .region(Region::new(region.to_owned()))
        .build()
}

/// The same configuration with a tighter bound on each operation, for calls into a region that
/// may be the one that failed: an answer that never comes must not hold up the failover.
pub fn with_operation_timeout(config: &SdkConfig, timeout: Duration) -> SdkConfig {
    config
        .to_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(timeout)
                .operation_timeout(timeout)
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_bound_a_call_to_ten_seconds_with_three_attempts_and_a_three_second_connect() {
        let timeouts = SdkTimeouts::from_source(&[("UNRELATED", "1")]).unwrap();
        assert_eq!(timeouts, SdkTimeouts::default());
        assert_eq!(timeouts.operation, Duration::from_secs(10));
        assert_eq!(timeouts.attempt, Duration::from_secs(10) / 3);
        assert_eq!(timeouts.connect, Duration::from_secs(3));
    }

    #[test]
    fn a_short_operation_bound_shortens_the_connect_bound() {
        let timeouts = SdkTimeouts::from_source(&[("SDK_OPERATION_TIMEOUT_SECONDS", "2")]).unwrap();
        assert_eq!(timeouts.connect, Duration::from_secs(2));
        assert_eq!(timeouts.operation, Duration::from_secs(2));
    }

    #[test]
    fn a_bad_operation_bound_names_the_variable() {
        for raw in ["0", "901", "ten", "-1", "2.5"] {
            let error =
                SdkTimeouts::from_source(&[("SDK_OPERATION_TIMEOUT_SECONDS", raw)]).unwrap_err();
            assert!(
                matches!(
                    error,
                    ConfigError::Invalid {
                        name: "SDK_OPERATION_TIMEOUT_SECONDS",
                        ..
                    }
                ),
                "{raw}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn every_client_built_from_load_carries_the_timeouts_in_any_region() {
        let timeouts = SdkTimeouts::from_operation_seconds(6);
        let dr = load("eu-central-1", timeouts).await;
        let route53 = in_region(&dr, "us-east-1");
        for config in [&dr, &route53] {
            let set = config.timeout_config().unwrap();
            assert_eq!(set.connect_timeout(), Some(Duration::from_secs(3)));
            assert_eq!(
                set.operation_attempt_timeout(),
                Some(Duration::from_secs(2))
            );
            assert_eq!(set.operation_timeout(), Some(Duration::from_secs(6)));
        }
    }
}
