//! The witness: a second signal that the primary is down, from the DR region, so that a real
//! failover never starts on one signal and can start without us-east-1.
//!
//! Every minute (the DR stack's schedule) the witness function probes the primary's endpoint
//! ([`probe`]), records what it saw as its mark on the trigger rule ([`mark`]: the failover reads
//! those tags at its start) and as one datapoint of its own metric (CloudWatch `PutMetricData`
//! in the DR region: 1 up, 0 down; the template's "witness silent" alarm alerts when it stops),
//! and, when every probe has found the primary down for longer than `WITNESS_ALONE_SECONDS`
//! without a run answering it (us-east-1's alarm silent), starts the failover itself
//! (`{"trigger": "witness", "dry_run": false}`).
//!
//! An alarm-started real failover goes on only when the witness's current mark says down
//! ([`mark::judge`], in the hold: `crate::exclusive`); otherwise it ends `alarm-unconfirmed`,
//! changing nothing and saying so. A gap in us-east-1's health check metric (the alarm's
//! `TreatMissingData: breaching`) with the application healthy so starts no real failover.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_sfn::error::SdkError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::bound::Listed;
use crate::config::{self, ConfigError, Source};
use crate::error::AwsCallError;
use crate::lambda::Traced;
use crate::request::Action;
use crate::result::StepResult;

pub mod mark;
pub mod probe;
mod runs;
#[cfg(test)]
mod tests;

use mark::{format_time, WitnessMark};

/// The result's `step`.
pub const STEP: &str = "witness";
/// The metric's name in `WITNESS_NAMESPACE`: 1 when a probe found the primary up, 0 down.
pub const METRIC_NAME: &str = "PrimaryUp";
/// The metric's one dimension: the deployment.
pub const DIMENSION: &str = "Deployment";
/// `WITNESS_ALONE_SECONDS` when unset: ten minutes of a primary down by every probe.
pub const DEFAULT_ALONE_SECONDS: u64 = 600;
/// `WITNESS_GAP_SECONDS` when unset: a probe more than this after the last one begins a new
/// down streak (three of the one-minute schedules).
pub const DEFAULT_GAP_SECONDS: u64 = 180;
/// `WITNESS_TIMEOUT_MS` when unset.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;
/// `WITNESS_NAMESPACE` when unset.
pub const DEFAULT_NAMESPACE: &str = "DrFailover/Witness";
/// The execution name of the failover the witness starts for a down streak: this prefix and the
/// streak's start in seconds since the epoch, so that the starts of one streak are one execution
/// ("StartExecution is idempotent for STANDARD workflows" with the same name and input, and an
/// ended execution's name cannot be reused: `ExecutionAlreadyExists`, "StartExecution", AWS Step
/// Functions API Reference,
/// <https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html>).
pub const EXECUTION_PREFIX: &str = "witness-";

/// The witness's configuration (`docs/contract.md`, "witness").
#[derive(Debug, Clone, PartialEq)]
pub struct WitnessConfig {
    /// `WITNESS_PRIMARY_URL`: the primary region's own endpoint (not the name the failover
    /// moves), `http://` or `https://`.
    pub url: hyper::Uri,
    /// `TRIGGER_RULE_ARN`: the rule whose tags hold the mark.
    pub trigger_rule_arn: String,
    /// `FAILOVER_STATE_MACHINE_ARN`.
    pub failover: String,
    /// `DEPLOYMENT_NAME`: the metric's dimension.
    pub deployment: String,
    /// `DR_REGION`: where the witness runs, named in its messages.
    pub region: String,
    /// `WITNESS_NAMESPACE`.
    pub namespace: String,
    /// `WITNESS_ALONE_SECONDS`, 1..=86400: how long every probe must find the primary down
    /// before the witness starts a failover alone.
    pub alone: Duration,
    /// `WITNESS_GAP_SECONDS`, 1..=86400.
    pub gap: Duration,
    /// `WITNESS_TIMEOUT_MS`, 100..=30000: the probe's timeout.
    pub timeout: Duration,
}

impl WitnessConfig {
    /// Reads the variables above.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable: missing, not a URL with a host, or out of range.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        const URL: &str = "WITNESS_PRIMARY_URL";
        let raw = config::required(source, URL)?;
        let url: hyper::Uri = raw.trim().parse().map_err(|error| ConfigError::Invalid {
            name: URL,
            reason: format!("{raw:?} is not a URL: {error}"),
        })?;
        if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
            return Err(ConfigError::Invalid {
                name: URL,
                reason: format!("{raw:?} is not an http:// or https:// URL with a host"),
            });
        }
        let within = |name: &'static str, value: u64, range: std::ops::RangeInclusive<u64>| {
            if range.contains(&value) {
                Ok(value)
            } else {
                Err(ConfigError::Invalid {
                    name,
                    reason: format!("{value} is outside {}..={}", range.start(), range.end()),
                })
            }
        };
        let alone = config::parsed(source, "WITNESS_ALONE_SECONDS", DEFAULT_ALONE_SECONDS)?;
        let gap = config::parsed(source, "WITNESS_GAP_SECONDS", DEFAULT_GAP_SECONDS)?;
        let timeout = config::parsed(source, "WITNESS_TIMEOUT_MS", DEFAULT_TIMEOUT_MS)?;
        Ok(WitnessConfig {
            url,
            trigger_rule_arn: config::required(source, "TRIGGER_RULE_ARN")?,
            failover: config::required(source, "FAILOVER_STATE_MACHINE_ARN")?,
            deployment: config::required(source, "DEPLOYMENT_NAME")?,
            region: config::required(source, "DR_REGION")?,
            namespace: config::optional(source, "WITNESS_NAMESPACE")
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            alone: Duration::from_secs(within("WITNESS_ALONE_SECONDS", alone, 1..=86_400)?),
            gap: Duration::from_secs(within("WITNESS_GAP_SECONDS", gap, 1..=86_400)?),
            timeout: Duration::from_millis(within("WITNESS_TIMEOUT_MS", timeout, 100..=30_000)?),
        })
    }
}

/// The AWS clients the witness calls, all in the DR region.
#[derive(Debug, Clone)]
pub struct WitnessClients {
    pub events: aws_sdk_eventbridge::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sfn: aws_sdk_sfn::Client,
}

impl WitnessClients {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        WitnessClients {
            events: aws_sdk_eventbridge::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            sfn: aws_sdk_sfn::Client::new(config),
        }
    }
}

/// The only action of a [`WitnessRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WitnessAction {
    Probe,
}

/// `{"action": "probe"}`: what the schedule rule sends (its target's constant input). Unknown
/// fields are refused (`DrFailover.InvalidInput` naming the field).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessRequest {
    pub action: WitnessAction,
}

impl Traced for WitnessRequest {
    fn execution_id(&self) -> Option<&str> {
        None
    }
    fn action_name(&self) -> String {
        "probe".into()
    }
}

/// What one invocation saw and did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WitnessDetail {
    /// The mark it recorded (or would have: see `recorded`).
    pub mark: WitnessMark,
    /// How long every probe has found the primary down, in seconds; `None` while up.
    pub down_seconds: Option<u64>,
    /// `WITNESS_ALONE_SECONDS`.
    pub alone_after_seconds: u64,
    /// The mark was written to the trigger rule's tags.
    pub recorded: bool,
    /// The datapoint was put.
    pub metric_put: bool,
    /// The failover execution this invocation started, or found started, for this down streak.
    pub failover_execution: Option<String>,
    /// Why the witness did not start a failover although the primary has been down long enough.
    pub not_started: Option<String>,
}

impl Listed for WitnessDetail {
    fn lists(&self) -> Vec<(&'static str, Vec<bool>)> {
        Vec::new()
    }
}

pub type WitnessResult = StepResult<WitnessDetail>;

/// The witness never fails (see [`run`]): this error has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WitnessError {}

impl std::fmt::Display for WitnessError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for WitnessError {}

impl crate::error::StepError for WitnessError {
    fn kind(&self) -> crate::error::ErrorKind {
        match *self {}
    }
}

/// One invocation: reads the last mark, probes, records the new mark and the datapoint, and
/// starts the failover when the primary has been down alone long enough.
///
/// Never fails: a call that fails is a warning in the result (`ready` false when the mark could
/// not be recorded), so the other records are still made; the "witness silent" alarm and the
/// failover's own judgement (a stale mark is silence) cover a witness that records nothing.
pub async fn run(
    config: &WitnessConfig,
    clients: &WitnessClients,
    client: &probe::ProbeClient,
) -> WitnessResult {
    // The last mark this process recorded: what a down streak goes on from when the trigger
    // rule's tags cannot be read (EventBridge failing in the DR region must not stop the witness
    // from failing over alone). Lambda keeps a process between the schedule's invocations as a
    // rule, not always: a new process without the tags starts the streak again.
    static LAST: std::sync::Mutex<Option<WitnessMark>> = std::sync::Mutex::new(None);
    let probed = probe::probe(client, &config.url, config.timeout).await;
    let remembered = LAST.lock().ok().and_then(|last| last.clone());
    let result = record(
        config,
        clients,
        probed,
        SystemTime::now(),
        remembered.as_ref(),
    )
    .await;
    if let Ok(mut last) = LAST.lock() {
        *last = Some(result.detail.mark.clone());
    }
    result
}

/// [`run`] after its probe, at `now`; `remembered` is the last mark this process recorded, used
/// when the trigger rule's tags cannot be read.
pub async fn record(
    config: &WitnessConfig,
    clients: &WitnessClients,
    probed: probe::Probe,
    now: SystemTime,
    remembered: Option<&WitnessMark>,
) -> WitnessResult {
    let mut warnings = Vec::new();
    let previous = match clients
        .events
        .list_tags_for_resource()
        .resource_arn(&config.trigger_rule_arn)
        .send()
        .await
    {
        Ok(answer) => {
            let tags: Vec<Value> = answer
                .tags()
                .iter()
                .map(|tag| json!({"Key": tag.key(), "Value": tag.value()}))
                .collect();
            WitnessMark::from_tag_list(&json!({ "Tags": tags }))
        }
        Err(error) => {
            let error = AwsCallError::new("ListTagsForResource", &error);
            warnings.push(format!(
                "the witness's last mark could not be read ({}: {}); a down streak goes on from \
                 the last mark this process recorded{}",
                error.code,
                error.message,
                if remembered.is_some() {
                    ""
                } else {
                    " (none: it starts again from this probe)"
                }
            ));
            remembered.cloned()
        }
    };
    let mark = next_mark(previous.as_ref(), &probed, now, config.gap);
    let metric_put = match put_datapoint(config, clients, mark.up, now).await {
        Ok(()) => true,
        Err(error) => {
            warnings.push(format!(
                "the witness's datapoint could not be put ({}: {}); its silent alarm may alert",
                error.code, error.message
            ));
            false
        }
    };
    let mut tagging = clients
        .events
        .tag_resource()
        .resource_arn(&config.trigger_rule_arn);
    for (key, value) in mark.tags() {
        tagging = tagging.tags(
            aws_sdk_eventbridge::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .expect("key and value are set"),
        );
    }
    let recorded = match tagging.send().await {
        Ok(_) => true,
        Err(error) => {
            let error = AwsCallError::new("TagResource", &error);
            warnings.push(format!(
                "the witness's mark could not be written to the trigger rule ({}: {}); an \
                 alarm-started failover will find the witness silent",
                error.code, error.message
            ));
            false
        }
    };
    let down_for = mark.down_for(now);
    let mut detail = WitnessDetail {
        mark: mark.clone(),
        down_seconds: down_for.map(|d| d.as_secs()),
        alone_after_seconds: config.alone.as_secs(),
        recorded,
        metric_put,
        failover_execution: None,
        not_started: None,
    };
    if let (Some(down_for), Some(since)) = (down_for, mark.down_since.as_deref()) {
        if down_for >= config.alone {
            alone(config, clients, since, &mut detail, &mut warnings).await;
        }
    }
    let summary = match (&detail.failover_execution, mark.up) {
        (_, true) => format!("the primary is up ({})", mark.probe),
        (Some(execution), false) => format!(
            "the primary has been down since {} ({}); the failover {execution} answers it",
            mark.down_since.as_deref().unwrap_or("?"),
            mark.probe
        ),
        (None, false) => format!(
            "the primary has been down since {} ({}), {} s of {} s before the witness fails \
             over alone{}",
            mark.down_since.as_deref().unwrap_or("?"),
            mark.probe,
            detail.down_seconds.unwrap_or(0),
            config.alone.as_secs(),
            detail
                .not_started
                .as_deref()
                .map(|why| format!("; not started: {why}"))
                .unwrap_or_default()
        ),
    };
    StepResult {
        step: STEP.into(),
        action: Action::Apply,
        dry_run: false,
        changed: recorded || metric_put,
        ready: recorded,
        refusals: Vec::new(),
        warnings,
        summary,
        detail,
        wait: None,
    }
}

/// The mark after `probed` at `now`: a down streak goes on from the last mark's `down_since`
/// only when the last probe was down too and at most `gap` ago.
pub fn next_mark(
    previous: Option<&WitnessMark>,
    probed: &probe::Probe,
    now: SystemTime,
    gap: Duration,
) -> WitnessMark {
    let down_since = (!probed.up).then(|| {
        previous
            .filter(|last| !last.up && last.age(now) <= gap)
            .and_then(|last| last.down_since.clone())
            .unwrap_or_else(|| format_time(now))
    });
    WitnessMark {
        seen: format_time(now),
        up: probed.up,
        down_since,
        probe: mark::tag_value(&probed.detail),
    }
}

async fn put_datapoint(
    config: &WitnessConfig,
    clients: &WitnessClients,
    up: bool,
    now: SystemTime,
) -> Result<(), AwsCallError> {
    let datum = MetricDatum::builder()
        .metric_name(METRIC_NAME)
        .dimensions(
            Dimension::builder()
                .name(DIMENSION)
                .value(&config.deployment)
                .build(),
        )
        .value(if up { 1.0 } else { 0.0 })
        .unit(StandardUnit::Count)
        .timestamp(aws_smithy_types::DateTime::from(now))
        .build();
    clients
        .cloudwatch
        .put_metric_data()
        .namespace(&config.namespace)
        .metric_data(datum)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| AwsCallError::new("PutMetricData", &error))
}

/// The witness's own path: unless a real run started since `since` answered the outage (one
/// runs, or one ended other than `alarm-unconfirmed`), starts the failover, once per streak.
async fn alone(
    config: &WitnessConfig,
    clients: &WitnessClients,
    since: &str,
    detail: &mut WitnessDetail,
    warnings: &mut Vec<String>,
) {
    match runs::answering_run(&clients.sfn, &config.failover, since).await {
        Ok(Some(answer)) => {
            detail.not_started = Some(answer);
            return;
        }
        Ok(None) => {}
        // Liveness: a listing that fails does not stop the start; its name keeps it to one.
        Err(error) => warnings.push(format!(
            "whether a run already answered the outage could not be read ({}: {}); starting \
             the failover (once for this outage: its execution name is fixed)",
            error.code, error.message
        )),
    }
    let since_secs = mark::parse_time(since)
        .map(|time| aws_smithy_types::DateTime::from(time).secs())
        .unwrap_or_default();
    let name = format!("{EXECUTION_PREFIX}{since_secs}");
    let input = witness_input(config, since);
    let started = clients
        .sfn
        .start_execution()
        .state_machine_arn(&config.failover)
        .name(&name)
        .input(input.to_string())
        .send()
        .await;
    match started {
        Ok(answer) => detail.failover_execution = Some(answer.execution_arn().to_owned()),
        Err(SdkError::ServiceError(service))
            if matches!(
                service.err(),
                StartExecutionError::ExecutionAlreadyExists(_)
            ) =>
        {
            detail.not_started = Some(format!(
                "the witness already started the failover for this outage ({name})"
            ));
        }
        Err(error) => {
            let error = AwsCallError::new("StartExecution", &error);
            warnings.push(format!(
                "the witness could not start the failover ({}: {}); it tries again at its next \
                 probe",
                error.code, error.message
            ));
        }
    }
}

/// The failover's input for a down streak that began at `since`: the same for every start of
/// the streak (the name's idempotency needs the same input).
pub fn witness_input(config: &WitnessConfig, since: &str) -> Value {
    let url: String = config.url.to_string().chars().take(200).collect();
    json!({
        "trigger": "witness",
        "dry_run": false,
        "reason": format!(
            "the witness in {} has found {url} down at every probe since {since}, longer than \
             {} s, and no run answered it (the health check alarm is silent)",
            config.region,
            config.alone.as_secs()
        ),
    })
}
