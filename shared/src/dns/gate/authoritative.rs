//! What a record answers, asked of the zone's authoritative name servers over DNS itself:
//! Route 53's data plane, which keeps answering when its API (in us-east-1) does not ("Resilience
//! in Amazon Route 53", control plane and data plane,
//! https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/disaster-recovery-resiliency.html).
//!
//! Each server is asked directly (UDP with EDNS, one query per record and server, bounded by a
//! timeout), never through a caching resolver: a resolver's cache would answer what the record
//! said up to its TTL ago. Queries and answers are hickory-dns's (hickory-net, hickory-resolver).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_net::client::{Client, ClientHandle};
use hickory_net::proto::op::ResponseCode;
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
    let (name, record_type) = match (Name::from_ascii(name), RecordType::from_str(record_type)) {
        (Ok(name), Ok(kind)) => (name, kind),
        _ => return failed(format!("ERROR: cannot ask for {name} {record_type}")),
    };
    let stream = UdpClientStream::builder(server, TokioRuntimeProvider::default())
        .with_timeout(Some(timeout))
        .build();
    let (mut client, background) = Client::<TokioRuntimeProvider>::from_sender(stream);
    let task = tokio::spawn(background);
    let response =
        tokio::time::timeout(timeout, client.query(name, DNSClass::IN, record_type)).await;
    task.abort();
    match response {
        Err(_) | Ok(Err(hickory_net::NetError::Timeout)) => failed("TIMEOUT".into()),
        Ok(Err(error)) => failed(format!("ERROR: {error}")),
        Ok(Ok(response)) => {
            let message = response.into_message();
            ServerAnswer {
                server,
                response_code: mnemonic(message.metadata.response_code),
                record_data: message
                    .answers
                    .iter()
                    .filter(|record| {
                        record.record_type() == record_type
                            || record.record_type() == RecordType::CNAME
                    })
                    .map(|record| presentation(&record.data))
                    .collect(),
                authoritative: message.metadata.authoritative,
            }
        }
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

/// The name servers of the nearest zone enclosing `name`, through the host's resolver.
async fn discover(name: &str, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
    let mut builder = hickory_resolver::Resolver::builder_tokio()
        .map_err(|error| format!("the host's resolver configuration cannot be read: {error}"))?;
    builder.options_mut().timeout = timeout;
    builder.options_mut().attempts = 1;
    let resolver = builder
        .build()
        .map_err(|error| format!("the host's resolver cannot start: {error}"))?;
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    for start in 0..labels.len().saturating_sub(1) {
        let zone = format!("{}.", labels[start..].join("."));
        let Ok(found) = resolver.lookup(zone.as_str(), RecordType::NS).await else {
            continue;
        };
        let hosts: Vec<String> = found
            .answers()
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
            if let Ok(ips) = resolver.lookup_ip(host.as_str()).await {
                if let Some(ip) = ips
                    .iter()
                    .find(IpAddr::is_ipv4)
                    .or_else(|| ips.iter().next())
                {
                    addresses.push(SocketAddr::new(ip, DNS_PORT));
                }
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
        "no zone enclosing {name} answered NS through the host's resolver"
    ))
}
