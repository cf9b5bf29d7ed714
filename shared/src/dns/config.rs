//! `DNS_HOSTED_ZONE_ID` and `DNS_RECORDS`: which records the flip writes and what DR is for each,
//! and how Route 53's names and targets compare; `ROUTE53_REQUESTS_PER_SECOND`: how fast it may
//! call Route 53; `DNS_ALLOWED_RECORD_NAMES` and `DNS_ALLOWED_RECORD_TYPES`: what this function's
//! role may change, so the plan refuses what the apply would be denied.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
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

/// The largest TTL Route 53 accepts, in seconds ("ResourceRecordSet", TTL: valid range 0 to
/// 2147483647, https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html).
pub const MAX_TTL: i64 = 2_147_483_647;

/// `DNS_ALLOWED_RECORD_NAMES` of a role scoped to its zone, record types and UPSERT, not to
/// names: the template's condition is `ForAllValues:StringLike`, where `*` matches any name (an
/// IAM-form name writes a literal `*` as `\052`).
pub const ANY_NAME: &str = "*";

/// The zone and the records this step flips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    pub zone_id: String,
    pub records: Vec<RecordSpec>,
    /// The time between two Route 53 request starts of this process: the reciprocal of
    /// `ROUTE53_REQUESTS_PER_SECOND` (a positive number, at most 10, the account's documented
    /// rate; default [`DEFAULT_ROUTE53_REQUESTS_PER_SECOND`]).
    pub route53_request_interval: Duration,
    /// What this function's role may change.
    pub permissions: RecordPermissions,
    /// `DNS_GATE`: the failover records move through the DNS gate ([`super::gate`]) instead of
    /// record edits; `None` when unset.
    pub gate: Option<super::gate::GateConfig>,
}

/// The record names and types this function's IAM role may change: filled by the template from
/// the same parameters (`DnsRecordNames`, `DnsRecordTypes`) that give the role's
/// `route53:ChangeResourceRecordSetsNormalizedRecordNames` and
/// `route53:ChangeResourceRecordSetsRecordTypes` conditions ("Using IAM policy conditions for
/// fine-grained access control",
/// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPermissions {
    /// `DNS_ALLOWED_RECORD_NAMES`, comma separated, each in Route 53's normalized form for IAM
    /// ([`iam_name`]): `app.example.com`, `\052.example.com`; or [`ANY_NAME`] alone, when the
    /// plan's names are too many for the role's condition (`shared::plan::render`).
    pub names: BTreeSet<String>,
    /// `DNS_ALLOWED_RECORD_TYPES`, comma separated Route 53 record types: `A,AAAA`.
    pub types: BTreeSet<String>,
}

impl RecordPermissions {
    /// Reads both variables. Errors: [`ConfigError::Missing`] when either is unset,
    /// [`ConfigError::Invalid`] naming the variable for a name not in normalized form (with the
    /// form it should take) or a type Route 53 does not have.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let list = |text: String| -> Vec<String> {
            text.split(',')
                .map(|item| item.trim().to_owned())
                .filter(|item| !item.is_empty())
                .collect()
        };
        let names = list(config::required(source, "DNS_ALLOWED_RECORD_NAMES")?);
        for name in names.iter().filter(|name| *name != ANY_NAME) {
            let wanted = iam_name(name);
            if *name != wanted {
                return Err(ConfigError::Invalid {
                    name: "DNS_ALLOWED_RECORD_NAMES",
                    reason: format!(
                        "{name:?} is not in the form Route 53 gives IAM conditions (lowercase, \
                         no final dot, characters other than a-z, 0-9, '-', '_' and '.' as \\ \
                         and three octal digits): write {wanted:?}"
                    ),
                });
            }
        }
        let types = list(config::required(source, "DNS_ALLOWED_RECORD_TYPES")?);
        if let Some(unknown) = types
            .iter()
            .find(|t| !RrType::values().contains(&t.as_str()))
        {
            return Err(ConfigError::Invalid {
                name: "DNS_ALLOWED_RECORD_TYPES",
                reason: format!("{unknown:?} is not a Route 53 record type"),
            });
        }
        Ok(RecordPermissions {
            names: names.into_iter().collect(),
            types: types.into_iter().collect(),
        })
    }

    /// Why the role could not change `spec`, if it could not: its name or its type is outside
    /// what the role's conditions allow.
    pub fn refusal(&self, spec: &RecordSpec) -> Option<String> {
        let name = iam_name(&spec.name);
        let record_type = spec.record_type.as_str();
        let name_allowed = self.names.contains(&name) || self.names.contains(ANY_NAME);
        let type_allowed = self.types.contains(record_type);
        if name_allowed && type_allowed {
            return None;
        }
        let (what, remedy) = match (name_allowed, type_allowed) {
            (false, false) => (
                format!(
                    "its name {name:?} is not in DNS_ALLOWED_RECORD_NAMES nor its type in \
                     DNS_ALLOWED_RECORD_TYPES"
                ),
                format!("add {name} to the DnsRecordNames parameter and {record_type} to DnsRecordTypes"),
            ),
            (false, true) => (
                format!("its name {name:?} is not in DNS_ALLOWED_RECORD_NAMES"),
                format!("add {name} to the DnsRecordNames parameter"),
            ),
            _ => (
                format!("its type {record_type} is not in DNS_ALLOWED_RECORD_TYPES"),
                format!("add {record_type} to the DnsRecordTypes parameter"),
            ),
        };
        Some(format!(
            "{} {record_type}: this function's role may not change it ({what}, from the \
             template's DnsRecordNames and DnsRecordTypes, which scope the role's \
             route53:ChangeResourceRecordSets); apply would be denied. To flip it, {remedy}; \
             otherwise remove it from DnsRecords",
            spec.name
        ))
    }
}

/// A record name as Route 53 gives it to IAM conditions: lowercase, without the final dot, and
/// every character other than a-z, 0-9, '-', '_' and '.' as a backslash and three octal digits
/// (`*.Example.com.` is `\052.example.com`; "DNS domain name format",
/// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html). A name
/// already written with such escapes gives the same.
pub fn iam_name(name: &str) -> String {
    let plain = normalize(name);
    let plain = plain.strip_suffix('.').unwrap_or(&plain);
    let mut out = String::with_capacity(plain.len());
    for byte in plain.bytes() {
        match byte {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(char::from(byte)),
            other => out.push_str(&format!("\\{other:03o}")),
        }
    }
    out
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
    /// A PRIMARY and a SECONDARY set, each written as given: fail back's failover record, built
    /// from what the failover recorded before it flipped the record (`super::recording`), never
    /// read from `DNS_RECORDS`. The PRIMARY set answers `primary` with `primary_health_check_id`
    /// again, the SECONDARY set `secondary` with `secondary_health_check_id`; done when the
    /// PRIMARY set answers `primary`. Unlike [`Routing::Failover`] it does not need the SECONDARY
    /// set to hold the target: whatever the zone holds now, the recorded target is restored.
    FailoverRestore {
        primary_set_identifier: String,
        secondary_set_identifier: String,
        primary: Target,
        primary_health_check_id: Option<String>,
        secondary: Target,
        secondary_health_check_id: Option<String>,
    },
}

impl Routing {
    pub(super) fn kind(&self) -> RoutingKind {
        match self {
            Routing::Simple { .. } => RoutingKind::Simple,
            Routing::Weighted { .. } => RoutingKind::Weighted,
            Routing::Failover { .. } | Routing::FailoverRestore { .. } => RoutingKind::Failover,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// One record of `DNS_RECORDS` (and of the plan's `dns.records`) as written;
/// [`DnsConfig::from_source`] checks it and fills in defaults. Names are fully qualified domain
/// names; `dr` is what the record answers once it points at DR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "routing", rename_all = "lowercase", deny_unknown_fields)]
pub enum RecordEntry {
    Simple {
        name: String,
        #[serde(rename = "type")]
        record_type: String,
        dr: TargetEntry,
    },
    Weighted {
        name: String,
        #[serde(rename = "type")]
        record_type: String,
        primary_set_identifier: String,
        dr_set_identifier: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dr_weight: Option<i64>,
    },
    Failover {
        name: String,
        #[serde(rename = "type")]
        record_type: String,
        primary_set_identifier: String,
        dr_set_identifier: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dr: Option<TargetEntry>,
    },
}

/// A record's DR target as written: `values` (with an optional `ttl`, default 60) or `alias`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<Alias>,
}

impl DnsConfig {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let zone_id = config::required(source, "DNS_HOSTED_ZONE_ID")?;
        let raw: Vec<RecordEntry> = config::json(source, "DNS_RECORDS")?;
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
            permissions: RecordPermissions::from_source(source)?,
            gate: super::gate::GateConfig::from_source(source)?,
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
    fn from_raw(raw: RecordEntry) -> Result<Self, String> {
        let (name, record_type, routing) = match raw {
            RecordEntry::Simple {
                name,
                record_type,
                dr,
            } => {
                let dr = target(dr, &record_type)?;
                (name, record_type, Routing::Simple { dr })
            }
            RecordEntry::Weighted {
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
            RecordEntry::Failover {
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
                    dr: target(dr, &record_type)?,
                };
                (name, record_type, routing)
            }
        };
        if !name.ends_with('.') || name.len() < 2 {
            return Err(format!(
                "name {name:?} must be fully qualified, ending with '.'"
            ));
        }
        if !is_domain_name(&name, true) {
            return Err(format!(
                "name {name:?} is not a domain name (labels of 1 to 63 letters, digits, '-' or \
                 '_', at most 255 characters; '*' only as the whole leftmost label)"
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

/// Whether `name` is a domain name Route 53 takes: labels of 1..=63 characters (letters, digits,
/// '-', '_', or `\ddd` escapes, each counting as one), at most 255 characters in all, and, when
/// `wildcard`, '*' as the whole leftmost label.
fn is_domain_name(name: &str, wildcard: bool) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    name.split('.').enumerate().all(|(index, label)| {
        if wildcard && index == 0 && label == "*" {
            return true;
        }
        let unescaped = normalize(label);
        let length = unescaped.len() - 1; // without the dot normalize adds
        (1..=63).contains(&length)
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '\\')
    })
}

/// Each of `values` is what a record of `record_type` holds ("Supported DNS record types",
/// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/ResourceRecordTypes.html): an
/// IPv4 address for A, an IPv6 address for AAAA, one domain name for CNAME, domain names for NS
/// and PTR, a priority and a domain name for MX, a quoted string for TXT and SPF. Other types
/// are left to Route 53.
fn check_values(record_type: &str, values: &[String]) -> Result<(), String> {
    if record_type == "CNAME" && values.len() != 1 {
        return Err(format!(
            "a CNAME record holds exactly one value; dr.values lists {}",
            values.len()
        ));
    }
    for value in values.iter().map(|value| value.trim()) {
        let (fits, what) = match record_type {
            "A" => (value.parse::<Ipv4Addr>().is_ok(), "an IPv4 address"),
            "AAAA" => (value.parse::<Ipv6Addr>().is_ok(), "an IPv6 address"),
            "CNAME" | "NS" | "PTR" => (is_domain_name(value, false), "a domain name"),
            "MX" => (
                value.split_once(' ').is_some_and(|(priority, host)| {
                    priority.parse::<u16>().is_ok() && is_domain_name(host.trim(), false)
                }),
                "a priority and a domain name (10 mail.example.com)",
            ),
            "TXT" | "SPF" => (
                value.len() >= 2 && value.starts_with('"') && value.ends_with('"'),
                "a string in double quotes",
            ),
            _ => (true, ""),
        };
        if !fits {
            return Err(format!(
                "dr.values {value:?} is not {what}, as a {record_type} record holds"
            ));
        }
    }
    Ok(())
}

fn target(raw: TargetEntry, record_type: &str) -> Result<Target, String> {
    match raw {
        TargetEntry {
            values: Some(values),
            ttl,
            alias: None,
        } => {
            if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                return Err("dr.values must list at least one non-empty value".into());
            }
            check_values(record_type, &values)?;
            let ttl = ttl.unwrap_or(DEFAULT_TTL);
            if !(0..=MAX_TTL).contains(&ttl) {
                return Err(format!(
                    "dr.ttl {ttl} is outside Route 53's 0..={MAX_TTL} seconds"
                ));
            }
            Ok(Target::Values { values, ttl })
        }
        TargetEntry {
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
        TargetEntry { alias: Some(_), .. } => Err("dr.alias takes neither values nor ttl".into()),
        TargetEntry { .. } => {
            Err("dr needs either \"values\" (with an optional \"ttl\") or \"alias\"".into())
        }
    }
}
