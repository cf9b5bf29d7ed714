//! Building the SDK configuration once per function start.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The SDK configuration for one region, from the standard sources (environment, the Lambda
/// role). `AWS_ENDPOINT_URL` is honoured, which is how the local drill points it at the stand-in.
pub async fn load(region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
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

/// The same configuration with a bound on each operation, for calls into a region that may be
/// the one that failed: an answer that never comes must not hold up the failover.
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
