//! The clients of the DNS step, built once per function start.

use std::time::Duration;

use aws_config::SdkConfig;

use super::recording::{self, RecordingConfig};
use super::DnsConfig;
use crate::database::DatabaseClients;
use crate::pace::Pacer;

/// The clients this step uses: Route 53 (global) and the DR region's database clients, to ask
/// whether the database is writable; the pacer every Route 53 request waits on; and S3 in the
/// report bucket's region, for what the failover records before it flips ([`recording`]).
#[derive(Debug, Clone)]
pub struct DnsClients {
    pub route53: aws_sdk_route53::Client,
    pub database: DatabaseClients,
    pub pace: Pacer,
    /// Each call bounded by [`recording::call_timeout`] of the function's AWS call bound.
    pub s3: aws_sdk_s3::Client,
    /// Whether `apply` records before it flips ([`RecordingConfig::Off`] unless set).
    pub recording: RecordingConfig,
    /// The function's AWS call bound (`SDK_OPERATION_TIMEOUT_SECONDS`), from `dr`'s timeouts.
    pub operation_timeout: Duration,
    /// CloudWatch in the DR region: the DNS gate's metric and alarm ([`super::gate`]).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// That client's region, for what the step says it did.
    pub cloudwatch_region: String,
}

impl DnsClients {
    /// `dr` must be configured for the DR region; Route 53 requests are paced at
    /// `config.route53_request_interval`. S3 is in `dr`'s region too (see [`Self::s3_in`]), and
    /// nothing is recorded (see [`Self::recording_to`]).
    pub fn new(dr: &SdkConfig, config: &DnsConfig) -> Self {
        let operation_timeout = dr
            .timeout_config()
            .and_then(|timeouts| timeouts.operation_timeout())
            .unwrap_or(Duration::from_secs(
                crate::aws::SdkTimeouts::DEFAULT_OPERATION_SECONDS,
            ));
        DnsClients {
            route53: aws_sdk_route53::Client::new(dr),
            database: DatabaseClients::new(dr),
            pace: Pacer::new(config.route53_request_interval),
            s3: recording::s3_client(dr, recording::call_timeout(operation_timeout)),
            recording: RecordingConfig::Off,
            operation_timeout,
            cloudwatch: aws_sdk_cloudwatch::Client::new(dr),
            cloudwatch_region: dr.region().map(ToString::to_string).unwrap_or_default(),
        }
    }

    /// The same clients with S3 in `bucket_region`'s region (the report bucket's: the
    /// deployment's DR region, which is fail back's primary region).
    pub fn s3_in(mut self, bucket_region: &SdkConfig) -> Self {
        self.s3 = recording::s3_client(
            bucket_region,
            recording::call_timeout(self.operation_timeout),
        );
        self
    }

    /// The same clients with CloudWatch (the DNS gate's metric and alarm) in `deployment`'s
    /// region: the deployment's DR region, where the gate is, which is fail back's primary.
    pub fn gate_in(mut self, deployment: &SdkConfig) -> Self {
        self.cloudwatch = aws_sdk_cloudwatch::Client::new(deployment);
        self.cloudwatch_region = deployment
            .region()
            .map(ToString::to_string)
            .unwrap_or_default();
        self
    }

    /// The same clients, recording as `recording` says before `apply` flips.
    pub fn recording_to(mut self, recording: RecordingConfig) -> Self {
        self.recording = recording;
        self
    }
}
