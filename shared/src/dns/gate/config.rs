//! `DNS_GATE` and what it derives: whether the failover records move through Route 53's data
//! plane, the gate's alarm and metric in the DR region, its health check, and where the
//! confirmation asks.

use std::net::SocketAddr;

use crate::config::{self, ConfigError, Source};

/// The gate's metric name, in `METRIC_NAMESPACE` with dimension `Deployment` =
/// `DEPLOYMENT_NAME`: 1 opens the gate (the failover records answer DR), 0 closes it.
pub const GATE_METRIC: &str = "DnsGate";
/// The metric's one dimension.
pub const GATE_DIMENSION: &str = "Deployment";
/// `METRIC_NAMESPACE` when unset (the template's `MetricNamespace` default).
pub const DEFAULT_NAMESPACE: &str = "DrFailover";

/// How a failover record's traffic moves when `DNS_GATE` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateMode {
    /// `cloudwatch-alarm`: each failover record's PRIMARY set carries a Route 53 health check of
    /// type `CLOUDWATCH_METRIC` on the gate's alarm in the DR region ("Types of Amazon Route 53
    /// health checks", health checks that monitor CloudWatch alarms,
    /// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-types.html).
    /// `PutMetricData` of 1 in the DR region sets the alarm to ALARM, the health check turns
    /// unhealthy and Route 53's name servers answer the SECONDARY (DR) set: no Route 53 API call.
    CloudWatchAlarm,
}

/// Where the confirmation asks what a record answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameServers {
    /// The zone's name servers, found through the resolver of the host (`/etc/resolv.conf`):
    /// the NS records of the nearest enclosing zone, then their addresses. What runs on AWS.
    Discover,
    /// `DNS_AUTHORITATIVE_SERVERS`: `address:port` pairs, comma separated, asked instead. For a
    /// stand-in whose zone's NS names do not resolve (the local drill); unset on AWS.
    Fixed(Vec<SocketAddr>),
}

/// The gate's configuration; `None` from [`GateConfig::from_source`] when `DNS_GATE` is unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateConfig {
    pub mode: GateMode,
    /// `DNS_GATE_ALARM_NAME`: the alarm in the DR region the health check follows.
    pub alarm_name: String,
    /// `METRIC_NAMESPACE` (default [`DEFAULT_NAMESPACE`]).
    pub namespace: String,
    /// `DEPLOYMENT_NAME`: the metric's [`GATE_DIMENSION`] value.
    pub deployment: String,
    /// `DNS_GATE_HEALTH_CHECK_ID`: the gate's Route 53 health check, which every failover
    /// record's PRIMARY set must carry; checked when Route 53's API answers (plan, readiness),
    /// never needed to move traffic.
    pub health_check_id: Option<String>,
    pub servers: NameServers,
}

impl GateConfig {
    /// Reads `DNS_GATE` (unset, empty or `off`: no gate; `cloudwatch-alarm`), and with a gate
    /// `DNS_GATE_ALARM_NAME`, `DEPLOYMENT_NAME` (both required), `METRIC_NAMESPACE`,
    /// `DNS_GATE_HEALTH_CHECK_ID` and `DNS_AUTHORITATIVE_SERVERS`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that is missing or not as described.
    pub fn from_source(source: &dyn Source) -> Result<Option<Self>, ConfigError> {
        let mode = match config::optional(source, "DNS_GATE")
            .as_deref()
            .map(str::trim)
        {
            None | Some("") | Some("off") => return Ok(None),
            Some("cloudwatch-alarm") => GateMode::CloudWatchAlarm,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "DNS_GATE",
                    reason: format!(
                        "{other:?} is not a gate: use cloudwatch-alarm, or off (record edits \
                         through Route 53's API)"
                    ),
                })
            }
        };
        let servers = match config::optional(source, "DNS_AUTHORITATIVE_SERVERS")
            .filter(|v| !v.trim().is_empty())
        {
            None => NameServers::Discover,
            Some(list) => NameServers::Fixed(
                list.split(',')
                    .map(|item| {
                        item.trim()
                            .parse::<SocketAddr>()
                            .map_err(|_| ConfigError::Invalid {
                                name: "DNS_AUTHORITATIVE_SERVERS",
                                reason: format!(
                                    "{:?} is not an address:port (for example 127.0.0.1:5353)",
                                    item.trim()
                                ),
                            })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Some(GateConfig {
            mode,
            alarm_name: config::required(source, "DNS_GATE_ALARM_NAME")?,
            namespace: config::optional(source, "METRIC_NAMESPACE")
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            deployment: config::required(source, "DEPLOYMENT_NAME")?,
            health_check_id: config::optional(source, "DNS_GATE_HEALTH_CHECK_ID")
                .filter(|id| !id.is_empty()),
            servers,
        }))
    }
}
