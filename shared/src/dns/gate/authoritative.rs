//! What a record answers, asked of the zone's authoritative name servers over DNS itself:
//! Route 53's data plane, which keeps answering when its API (in us-east-1) does not ("Resilience
//! in Amazon Route 53", control plane and data plane,
//! https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/disaster-recovery-resiliency.html).
//!
//! Each server is asked directly (UDP with EDNS, one query per record and server, bounded by a
//! timeout), never through a caching resolver: a resolver's cache would answer what the record
//! said up to its TTL ago. Queries and answers are hickory-dns's (hickory-net); the host's
//! resolver is read from resolv.conf (resolv-conf).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_net::client::{Client, ClientHandle};
use hickory_net::proto::op::{Message, ResponseCode};
use hickory_net::proto::rr::{DNSClass, Name, RData, RecordType};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;

use super::config::NameServers;

/// The port name servers answer on.
pub const DNS_PORT: u16 = 53;
/// How many of the zone's name servers are asked (Route 53 gives a zone four, each of another
/// top-level domain, "Working with name servers", NS and SOA records,
/// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/SOA-NSrecords.html).
pub const MAX_SERVERS: usize = 4;

/// One server's answer to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAnswer {
    pub server: SocketAddr,
    /// `NOERROR`, `NXDOMAIN`, `REFUSED`..., or `TIMEOUT` / `ERROR: ...` when none came.
    pub response_code: String,
    /// The answer section's data, each as presentation text: addresses, or a name with its
    /// trailing dot (a CNAME).
    pub record_data: Vec<String>,
    /// The server's AA bit: an answer from a server that is not authoritative for the zone says
    /// nothing about Route 53.
    pub authoritative: bool,
}

impl ServerAnswer {
    /// An authoritative `NOERROR` answer.
    pub fn answered(&self) -> bool {
        self.authoritative && self.response_code == "NOERROR"
    }
}

/// Asks `server` for `name`'s records of `record_type`.
pub async fn ask(
    server: SocketAddr,
    name: &str,
    record_type: &str,
    timeout: Duration,
) -> ServerAnswer {
    let failed = |code: String| ServerAnswer {
        server,
        response_code: code,
        record_data: Vec::new(),
        authoritative: false,
    };
    let Ok(kind) = RecordType::from_str(record_type) else {
        return failed(format!("ERROR: cannot ask for {name} {record_type}"));
    };
    match exchange(server, name, kind, timeout).await {
        Err(code) => failed(code),
        Ok(message) => ServerAnswer {
            server,
            response_code: mnemonic(message.metadata.response_code),
            record_data: message
                .answers
                .iter()
                .filter(|record| {
                    record.record_type() == kind || record.record_type() == RecordType::CNAME
                })
                .map(|record| presentation(&record.data))
                .collect(),
            authoritative: message.metadata.authoritative,
        },
    }
}

/// One question to one server over UDP, bounded by `timeout`: its answer, or `TIMEOUT` /
/// `ERROR: ...`.
async fn exchange(
    server: SocketAddr,
    name: &str,
    kind: RecordType,
    timeout: Duration,
) -> Result<Message, String> {
    let name = Name::from_ascii(name).map_err(|_| format!("ERROR: {name} is not a name"))?;
    let stream = UdpClientStream::builder(server, TokioRuntimeProvider::default())
        .with_timeout(Some(timeout))
        .build();
    let (mut client, background) = Client::<TokioRuntimeProvider>::from_sender(stream);
    let task = tokio::spawn(background);
    let response = tokio::time::timeout(timeout, client.query(name, DNSClass::IN, kind)).await;
    task.abort();
    match response {
        Err(_) | Ok(Err(hickory_net::NetError::Timeout)) => Err("TIMEOUT".into()),
        Ok(Err(error)) => Err(format!("ERROR: {error}")),
        Ok(Ok(response)) => Ok(response.into_message()),
    }
}

/// The response code as DNS tools and Route 53's `TestDNSAnswer` spell it (RFC 1035, RFC 6895
/// "DNS RCODEs" registry): `NOERROR`, `NXDOMAIN`...
pub fn mnemonic(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

fn presentation(data: &RData) -> String {
    data.to_string()
}

/// The servers to ask about names under `zone_hint` (a record's name).
///
/// # Errors
/// A text saying why none could be found: the resolver could not be read, no enclosing zone
/// answered NS, or no name server's address resolved.
pub async fn servers(
    config: &NameServers,
    zone_hint: &str,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, String> {
    match config {
        NameServers::Fixed(servers) => Ok(servers.clone()),
        NameServers::Discover => discover(zone_hint, timeout).await,
    }
}

/// Where the host's resolver configuration is ("resolv.conf", the file Lambda's execution
/// environment and every Linux host name their recursive name servers in).
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The name servers of the nearest zone enclosing `name`, through the host's recursive resolver
/// (the first `nameserver` of [`RESOLV_CONF`]): the zone's NS records, then each one's address.
async fn discover(name: &str, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
    let text = std::fs::read(RESOLV_CONF)
        .map_err(|error| format!("{RESOLV_CONF} cannot be read: {error}"))?;
    let config = resolv_conf::Config::parse(&text)
        .map_err(|error| format!("{RESOLV_CONF} cannot be parsed: {error}"))?;
    let resolver = config
        .nameservers
        .first()
        .map(|ip| SocketAddr::new(IpAddr::from(ip.clone()), DNS_PORT))
        .ok_or_else(|| format!("{RESOLV_CONF} names no nameserver"))?;
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    for start in 0..labels.len().saturating_sub(1) {
        let zone = format!("{}.", labels[start..].join("."));
        let Ok(found) = exchange(resolver, &zone, RecordType::NS, timeout).await else {
            continue;
        };
        let hosts: Vec<String> = found
            .answers
            .iter()
            .filter_map(|record| match &record.data {
                RData::NS(ns) => Some(ns.0.to_ascii()),
                _ => None,
            })
            .collect();
        if hosts.is_empty() {
            continue;
        }
        let mut addresses = Vec::new();
        for host in hosts.iter().take(MAX_SERVERS) {
            let Ok(answer) = exchange(resolver, host, RecordType::A, timeout).await else {
                continue;
            };
            let ip = answer.answers.iter().find_map(|record| match &record.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                _ => None,
            });
            if let Some(ip) = ip {
                addresses.push(SocketAddr::new(ip, DNS_PORT));
            }
        }
        if addresses.is_empty() {
            return Err(format!(
                "the name servers of {zone} ({}) have no address the resolver finds",
                hosts.join(", ")
            ));
        }
        return Ok(addresses);
    }
    Err(format!(
        "no zone enclosing {name} answered NS through {resolver}"
    ))
}

/// The IPv4 addresses `name` resolves to through the host's recursive resolver: what Route 53
/// answers for an alias to it (a load balancer's name, say). Empty when it cannot be asked.
pub async fn resolve(name: &str, timeout: Duration) -> Vec<String> {
    let Ok(text) = std::fs::read(RESOLV_CONF) else {
        return Vec::new();
    };
    let Some(resolver) = resolv_conf::Config::parse(&text)
        .ok()
        .and_then(|config| config.nameservers.first().cloned())
        .map(|ip| SocketAddr::new(IpAddr::from(ip), DNS_PORT))
    else {
        return Vec::new();
    };
    match exchange(resolver, name, RecordType::A, timeout).await {
        Ok(answer) => answer
            .answers
            .iter()
            .filter_map(|record| match &record.data {
                RData::A(a) => Some(a.0.to_string()),
                _ => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}
