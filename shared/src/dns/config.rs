//! `DNS_HOSTED_ZONE_ID` and `DNS_RECORDS`: which records the flip writes and what DR is for each,
//! and how Route 53's names and targets compare; `ROUTE53_REQUESTS_PER_SECOND`: how fast it may
//! call Route 53.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_route53::types::RrType;
use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError, Source};

/// TTL of a simple record's DR values when `DNS_RECORDS` gives none.
pub const DEFAULT_TTL: i64 = 60;
/// Weight of the DR set of a weighted record when `DNS_RECORDS` gives none.
pub const DEFAULT_DR_WEIGHT: i64 = 100;

/// Route 53 calls per second when `ROUTE53_REQUESTS_PER_SECOND` is unset: half of the account's
/// sustained rate, 10 requests per second shared by every Route 53 API request of the account
/// ("Throttling for Amazon Route 53 API requests", request rate token bucket, account level:
/// capacity 50, refill 10 per second,
/// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html). The
/// other half is left to everything else in the account (the console, infrastructure as code,
/// health tooling), which this process cannot see.
pub const DEFAULT_ROUTE53_REQUESTS_PER_SECOND: f64 = 5.0;

/// The zone and the records this step flips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    pub zone_id: String,
    pub records: Vec<RecordSpec>,
    /// The time between two Route 53 request starts of this process: the reciprocal of
    /// `ROUTE53_REQUESTS_PER_SECOND` (a positive number, at most 10, the account's documented
    /// rate; default [`DEFAULT_ROUTE53_REQUESTS_PER_SECOND`]).
    pub route53_request_interval: Duration,
}

/// One record (name and type) and how it reaches DR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpec {
    /// Fully qualified, with the trailing dot, as configured.
    pub name: String,
    pub record_type: RrType,
    pub routing: Routing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// One record set; the flip replaces its target with `dr`.
    Simple { dr: Target },
    /// Two weighted sets; the flip gives the DR set `dr_weight` and the primary set 0.
    Weighted {
        primary_set_identifier: String,
        dr_set_identifier: String,
        dr_weight: i64,
    },
    /// A PRIMARY and a SECONDARY set; the flip swaps their targets and health checks, so the
    /// PRIMARY answers `dr`.
    Failover {
        primary_set_identifier: String,
        dr_set_identifier: String,
        dr: Target,
    },
}

impl Routing {
    pub(super) fn kind(&self) -> RoutingKind {
        match self {
            Routing::Simple { .. } => RoutingKind::Simple,
            Routing::Weighted { .. } => RoutingKind::Weighted,
            Routing::Failover { .. } => RoutingKind::Failover,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoutingKind {
    Simple,
    Weighted,
    Failover,
}

/// What a record set answers: values with their TTL, or an alias. Serialized in the same shape as
/// `DNS_RECORDS` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Target {
    Values { values: Vec<String>, ttl: i64 },
    Alias { alias: Alias },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    pub hosted_zone_id: String,
    pub dns_name: String,
    #[serde(default)]
    pub evaluate_target_health: bool,
}

impl Target {
    /// Whether both answer the same. TTL and `evaluate_target_health` do not change where
    /// traffic goes, so they are not compared.
    pub fn answers_like(&self, other: &Target) -> bool {
        match (self, other) {
            (Target::Values { values: a, .. }, Target::Values { values: b, .. }) => {
                normalized_set(a) == normalized_set(b)
            }
            (Target::Alias { alias: a }, Target::Alias { alias: b }) => {
                zone_id(&a.hosted_zone_id).eq_ignore_ascii_case(zone_id(&b.hosted_zone_id))
                    && normalize(&a.dns_name) == normalize(&b.dns_name)
            }
            _ => false,
        }
    }

    /// Whether a DNS answer's record data is this target's.
    pub(super) fn answered_by(&self, record_data: &[String]) -> bool {
        match self {
            Target::Values { values, .. } => {
                !record_data.is_empty() && normalized_set(record_data) == normalized_set(values)
            }
            Target::Alias { alias } => {
                let name = normalize(&alias.dns_name);
                record_data.iter().any(|data| normalize(data) == name)
            }
        }
    }
}

fn zone_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

/// Route 53 answers names in lower case with any character outside `a-z0-9-_` escaped as `\ddd`
/// (octal), and with a trailing dot; people write them otherwise. Both compare equal after this.
pub fn normalize(name: &str) -> String {
    let mut out = Vec::with_capacity(name.len());
    let bytes = name.trim().as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 4)
            .filter(|digits| digits.iter().all(|d| (b'0'..=b'7').contains(d)))
            .and_then(|digits| u8::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok());
        match (bytes[i], escaped) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    let mut text = String::from_utf8_lossy(&out).to_lowercase();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

fn normalized_set(values: &[String]) -> BTreeSet<String> {
    values.iter().map(|value| normalize(value)).collect()
}

/// `DNS_RECORDS` as written; [`DnsConfig::from_source`] checks it and fills in defaults.
#[derive(Debug, Deserialize)]
#[serde(tag = "routing", rename_all = "lowercase", deny_unknown_fields)]
enum RawRecord {
    Simple {
        name: String,
        #[serde(rename = "type")]
        record_type: String,
        dr: RawTarget,
    },
    Weighted {
        name: String,
        #[serde(rename = "type")]
        record_type: String,
        primary_set_identifier: String,
        dr_set_identifier: String,
        #[serde(default)]
        dr_weight: Option<i64>,
    },
    Failover {
        name: String,
        #[serde(rename = "type")]
        record_type: String,
        primary_set_identifier: String,
        dr_set_identifier: String,
        #[serde(default)]
        dr: Option<RawTarget>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    #[serde(default)]
    values: Option<Vec<String>>,
    #[serde(default)]
    ttl: Option<i64>,
    #[serde(default)]
    alias: Option<Alias>,
}

impl DnsConfig {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let zone_id = config::required(source, "DNS_HOSTED_ZONE_ID")?;
        let raw: Vec<RawRecord> = config::json(source, "DNS_RECORDS")?;
        if raw.is_empty() {
            return Err(invalid(
                "the list is empty: name at least one record".into(),
            ));
        }
        let records = raw
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                RecordSpec::from_raw(record)
                    .map_err(|reason| invalid(format!("at [{index}]: {reason}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = BTreeSet::new();
        for (index, record) in records.iter().enumerate() {
            if !seen.insert((
                normalize(&record.name),
                record.record_type.as_str().to_owned(),
            )) {
                return Err(invalid(format!(
                    "at [{index}]: {} {} is listed twice",
                    record.name,
                    record.record_type.as_str()
                )));
            }
        }
        Ok(DnsConfig {
            zone_id,
            records,
            route53_request_interval: route53_request_interval(source)?,
        })
    }
}

/// `ROUTE53_REQUESTS_PER_SECOND` as the interval between two requests.
fn route53_request_interval(source: &dyn Source) -> Result<Duration, ConfigError> {
    const NAME: &str = "ROUTE53_REQUESTS_PER_SECOND";
    let rate: f64 = config::parsed(source, NAME, DEFAULT_ROUTE53_REQUESTS_PER_SECOND)?;
    if !(rate > 0.0 && rate <= 10.0) {
        return Err(ConfigError::Invalid {
            name: NAME,
            reason: format!(
                "{rate} is not in (0, 10]: requests per second, above 0 and at most the \
                 account's documented rate of 10"
            ),
        });
    }
    Ok(Duration::from_secs_f64(1.0 / rate))
}

fn invalid(reason: String) -> ConfigError {
    ConfigError::Invalid {
        name: "DNS_RECORDS",
        reason,
    }
}

impl RecordSpec {
    fn from_raw(raw: RawRecord) -> Result<Self, String> {
        let (name, record_type, routing) = match raw {
            RawRecord::Simple {
                name,
                record_type,
                dr,
            } => (name, record_type, Routing::Simple { dr: target(dr)? }),
            RawRecord::Weighted {
                name,
                record_type,
                primary_set_identifier,
                dr_set_identifier,
                dr_weight,
            } => {
                set_identifiers(&primary_set_identifier, &dr_set_identifier)?;
                let dr_weight = dr_weight.unwrap_or(DEFAULT_DR_WEIGHT);
                if !(1..=255).contains(&dr_weight) {
                    return Err(format!("dr_weight {dr_weight} is outside 1..=255"));
                }
                let routing = Routing::Weighted {
                    primary_set_identifier,
                    dr_set_identifier,
                    dr_weight,
                };
                (name, record_type, routing)
            }
            RawRecord::Failover {
                name,
                record_type,
                primary_set_identifier,
                dr_set_identifier,
                dr,
            } => {
                set_identifiers(&primary_set_identifier, &dr_set_identifier)?;
                let dr = dr.ok_or(
                    "a failover record needs \"dr\": the target the PRIMARY set answers once flipped",
                )?;
                let routing = Routing::Failover {
                    primary_set_identifier,
                    dr_set_identifier,
                    dr: target(dr)?,
                };
                (name, record_type, routing)
            }
        };
        if !name.ends_with('.') || name.len() < 2 {
            return Err(format!(
                "name {name:?} must be fully qualified, ending with '.'"
            ));
        }
        if !RrType::values().contains(&record_type.as_str()) {
            return Err(format!(
                "type {record_type:?} is not a Route 53 record type"
            ));
        }
        Ok(RecordSpec {
            name,
            record_type: RrType::from(record_type.as_str()),
            routing,
        })
    }
}

fn set_identifiers(primary: &str, dr: &str) -> Result<(), String> {
    if primary.trim().is_empty() || dr.trim().is_empty() {
        return Err("primary_set_identifier and dr_set_identifier must not be empty".into());
    }
    if primary == dr {
        return Err(format!(
            "primary_set_identifier and dr_set_identifier are both {primary:?}"
        ));
    }
    Ok(())
}

fn target(raw: RawTarget) -> Result<Target, String> {
    match raw {
        RawTarget {
            values: Some(values),
            ttl,
            alias: None,
        } => {
            if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                return Err("dr.values must list at least one non-empty value".into());
            }
            let ttl = ttl.unwrap_or(DEFAULT_TTL);
            if ttl < 0 {
                return Err(format!("dr.ttl {ttl} is negative"));
            }
            Ok(Target::Values { values, ttl })
        }
        RawTarget {
            values: None,
            ttl: None,
            alias: Some(alias),
        } => {
            if !alias.dns_name.ends_with('.') || alias.hosted_zone_id.trim().is_empty() {
                return Err(
                    "dr.alias needs a hosted_zone_id and a dns_name ending with '.'".into(),
                );
            }
            Ok(Target::Alias { alias })
        }
        RawTarget { alias: Some(_), .. } => Err("dr.alias takes neither values nor ttl".into()),
        RawTarget { .. } => {
            Err("dr needs either \"values\" (with an optional \"ttl\") or \"alias\"".into())
        }
    }
}
