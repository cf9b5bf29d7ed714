//! Reading the record sets from Route 53 and working out, per record, whether it is at DR and
//! which record sets the flip writes.

use std::collections::BTreeMap;

use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsError;
use aws_sdk_route53::types::{ResourceRecordSet, ResourceRecordSetFailover, RrType};

use super::{
    normalize, Alias, DnsClients, DnsError, Problem, RecordDetail, RecordSet, RecordSpec, Routing,
    Target, DEFAULT_TTL,
};
use crate::error::AwsCallError;

/// Route 53 answers at most this many record sets per `ListResourceRecordSets` page
/// ("ListResourceRecordSets", Amazon Route 53 API Reference: it "returns up to 300 resource record
/// sets at a time",
/// https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListResourceRecordSets.html).
pub(super) const MAX_ITEMS_PER_PAGE: i32 = 300;

/// Every record set of the zone, read once per call: one paced `ListResourceRecordSets` request
/// per 300 record sets, however many records `DNS_RECORDS` names (a zone at Route 53's default
/// quota of 10,000 record sets is 34 requests). The SDK has no paginator for this operation (its
/// next page is named by three fields, name, type and set identifier, which the SDK's paginators
/// do not model), so the pages are followed here. A set listed twice (a store that ignores
/// `StartRecordIdentifier` restarts a page at the name and type) is kept once, and a page that
/// names its own start as the next one ends the listing rather than looping.
pub(super) async fn read_zone(clients: &DnsClients, zone_id: &str) -> Result<ZoneSets, DnsError> {
    let mut zone = ZoneSets::default();
    let (sets, pages) = list_record_sets(&clients.route53, zone_id, Some(&clients.pace)).await?;
    zone.pages = pages;
    for set in &sets {
        zone.insert(set);
    }
    Ok(zone)
}

/// Every record set of `zone_id` as `ListResourceRecordSets` pages them (following
/// `NextRecordName`, `NextRecordType` and `NextRecordIdentifier`), and how many requests that
/// took; each request waits its turn at `pace` when given. A page that names its own start as the
/// next one ends the listing rather than looping; a set listed twice is listed twice here.
/// Errors: [`DnsError::ZoneNotFound`], or the call's error.
pub async fn list_record_sets(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
    pace: Option<&crate::pace::Pacer>,
) -> Result<(Vec<ResourceRecordSet>, usize), DnsError> {
    let mut sets = Vec::new();
    let mut pages = 0;
    let mut start: Option<(String, RrType, Option<String>)> = None;
    loop {
        if let Some(pace) = pace {
            pace.wait().await;
        }
        let mut request = route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .max_items(MAX_ITEMS_PER_PAGE);
        if let Some((name, record_type, identifier)) = &start {
            request = request
                .start_record_name(name)
                .start_record_type(record_type.clone())
                .set_start_record_identifier(identifier.clone());
        }
        let output = request
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(ListResourceRecordSetsError::NoSuchHostedZone(_)) => {
                    DnsError::ZoneNotFound(zone_id.to_owned())
                }
                _ => AwsCallError::new("ListResourceRecordSets", &error).into(),
            })?;
        pages += 1;
        sets.extend(output.resource_record_sets().iter().cloned());
        if !output.is_truncated() {
            break;
        }
        let next = match (output.next_record_name(), output.next_record_type()) {
            (Some(name), Some(record_type)) => Some((
                name.to_owned(),
                record_type.clone(),
                output.next_record_identifier().map(str::to_owned),
            )),
            _ => break,
        };
        if next == start {
            break;
        }
        start = next;
    }
    Ok((sets, pages))
}

/// A zone's record sets by normalized name and type, in listing order.
#[derive(Debug, Default)]
pub(super) struct ZoneSets {
    sets: BTreeMap<(String, String), Vec<ResourceRecordSet>>,
    /// `ListResourceRecordSets` requests the read took.
    pub(super) pages: usize,
}

impl ZoneSets {
    fn insert(&mut self, set: &ResourceRecordSet) {
        let sets = self
            .sets
            .entry((normalize(set.name()), set.r#type().as_str().to_owned()))
            .or_default();
        if !sets
            .iter()
            .any(|known| known.set_identifier() == set.set_identifier())
        {
            sets.push(set.clone());
        }
    }

    /// The record sets at the record's name and type; empty when there are none.
    pub(super) fn of(&self, spec: &RecordSpec) -> &[ResourceRecordSet] {
        self.sets
            .get(&(normalize(&spec.name), spec.record_type.as_str().to_owned()))
            .map_or(&[], Vec::as_slice)
    }
}

/// Compares what Route 53 holds with what the configuration says DR is, and works out the exact
/// record sets the flip writes.
pub(super) fn assess(spec: &RecordSpec, sets: &[ResourceRecordSet]) -> RecordDetail {
    let label = format!("{} {}", spec.name, spec.record_type.as_str());
    let mut detail = RecordDetail {
        name: spec.name.clone(),
        record_type: spec.record_type.as_str().to_owned(),
        routing: spec.routing.kind(),
        current: sets.iter().map(record_set).collect(),
        dr: None,
        at_dr: false,
        changes: Vec::new(),
        problem: None,
        answer: None,
    };
    let outcome = match &spec.routing {
        Routing::Simple { dr } => {
            detail.dr = Some(dr.clone());
            flip_simple(&label, dr, sets)
        }
        Routing::Weighted {
            primary_set_identifier,
            dr_set_identifier,
            dr_weight,
        } => flip_weighted(
            &label,
            primary_set_identifier,
            dr_set_identifier,
            *dr_weight,
            sets,
        )
        .map(|(flip, dr)| {
            detail.dr = dr.target.clone();
            flip
        }),
        Routing::Failover {
            primary_set_identifier,
            dr_set_identifier,
            dr,
        } => {
            detail.dr = Some(dr.clone());
            flip_failover(&label, primary_set_identifier, dr_set_identifier, dr, sets)
        }
        Routing::FailoverRestore {
            primary_set_identifier,
            secondary_set_identifier,
            primary,
            primary_health_check_id,
            secondary,
            secondary_health_check_id,
        } => {
            detail.dr = Some(primary.clone());
            restore_failover(
                &label,
                (primary_set_identifier, secondary_set_identifier),
                (primary, primary_health_check_id.as_deref()),
                (secondary, secondary_health_check_id.as_deref()),
                sets,
            )
        }
    };
    match outcome {
        Ok(None) => detail.at_dr = true,
        Ok(Some(changes)) => detail.changes = changes,
        Err(problem) => detail.problem = Some(problem),
    }
    detail
}

/// `Ok(None)` when the record already points at DR, else the record sets to UPSERT.
type Flip = Result<Option<Vec<RecordSet>>, Problem>;

fn flip_simple(label: &str, dr: &Target, sets: &[ResourceRecordSet]) -> Flip {
    let set = match sets {
        [] => return Err(Problem::Missing(format!("{label} does not exist"))),
        [set] => set,
        _ => {
            return Err(Problem::Unexpected(format!(
                "{label} has {} record sets, not one",
                sets.len()
            )))
        }
    };
    if set.set_identifier().is_some() || set.weight().is_some() || set.failover().is_some() {
        return Err(Problem::Unexpected(format!(
            "{label} has set identifier {:?}: not a simple record",
            set.set_identifier().unwrap_or_default()
        )));
    }
    let current = checked_target(label, set)?;
    if current.answers_like(dr) {
        return Ok(None);
    }
    Ok(Some(vec![RecordSet {
        set_identifier: None,
        weight: None,
        failover: None,
        target: Some(dr.clone()),
        health_check_id: None,
    }]))
}

fn flip_weighted(
    label: &str,
    primary_id: &str,
    dr_id: &str,
    dr_weight: i64,
    sets: &[ResourceRecordSet],
) -> Result<(Option<Vec<RecordSet>>, RecordSet), Problem> {
    let (primary, dr) = pair(label, primary_id, dr_id, sets)?;
    for set in [primary, dr] {
        if set.weight().is_none() {
            return Err(Problem::Unexpected(format!(
                "{label} set {:?} has no weight: not a weighted record set",
                set.set_identifier().unwrap_or_default()
            )));
        }
        checked_target(label, set)?;
    }
    let (primary, dr) = (record_set(primary), record_set(dr));
    if primary.weight == Some(0) && dr.weight.is_some_and(|w| w > 0) {
        return Ok((None, dr));
    }
    let changes = vec![
        RecordSet {
            weight: Some(dr_weight),
            ..dr.clone()
        },
        RecordSet {
            weight: Some(0),
            ..primary
        },
    ];
    Ok((Some(changes), dr))
}

/// The PRIMARY and SECONDARY sets of a failover record, each with that role and a target.
fn failover_pair(
    label: &str,
    primary_id: &str,
    secondary_id: &str,
    sets: &[ResourceRecordSet],
) -> Result<(RecordSet, RecordSet), Problem> {
    let (primary_set, secondary_set) = pair(label, primary_id, secondary_id, sets)?;
    for (set, role) in [
        (primary_set, ResourceRecordSetFailover::Primary),
        (secondary_set, ResourceRecordSetFailover::Secondary),
    ] {
        if set.failover() != Some(&role) {
            return Err(Problem::Unexpected(format!(
                "{label} set {:?} has Failover {}, expected {}",
                set.set_identifier().unwrap_or_default(),
                set.failover().map(|f| f.as_str()).unwrap_or("unset"),
                role.as_str()
            )));
        }
        checked_target(label, set)?;
    }
    Ok((record_set(primary_set), record_set(secondary_set)))
}

fn flip_failover(
    label: &str,
    primary_id: &str,
    dr_id: &str,
    dr: &Target,
    sets: &[ResourceRecordSet],
) -> Flip {
    let (primary, secondary) = failover_pair(label, primary_id, dr_id, sets)?;
    if primary.target.as_ref().is_some_and(|t| t.answers_like(dr)) {
        return Ok(None);
    }
    if !secondary
        .target
        .as_ref()
        .is_some_and(|t| t.answers_like(dr))
    {
        return Err(Problem::Unexpected(format!(
            "{label}: neither the PRIMARY set {primary_id:?} nor the SECONDARY set {dr_id:?} holds the DR target"
        )));
    }
    // The health check moves with its target: left on the PRIMARY, the failed primary
    // endpoint's check would keep hiding the DR answer.
    Ok(Some(vec![
        RecordSet {
            target: secondary.target.clone(),
            health_check_id: secondary.health_check_id.clone(),
            ..primary.clone()
        },
        RecordSet {
            target: primary.target,
            health_check_id: primary.health_check_id,
            ..secondary
        },
    ]))
}

/// Fail back's failover record: both sets written as recorded, whatever the zone holds now
/// ([`Routing::FailoverRestore`]); done once the PRIMARY set answers the recorded primary target.
fn restore_failover(
    label: &str,
    (primary_id, secondary_id): (&str, &str),
    (primary_target, primary_check): (&Target, Option<&str>),
    (secondary_target, secondary_check): (&Target, Option<&str>),
    sets: &[ResourceRecordSet],
) -> Flip {
    let (primary, secondary) = failover_pair(label, primary_id, secondary_id, sets)?;
    if primary
        .target
        .as_ref()
        .is_some_and(|t| t.answers_like(primary_target))
    {
        return Ok(None);
    }
    Ok(Some(vec![
        RecordSet {
            target: Some(primary_target.clone()),
            health_check_id: primary_check.map(str::to_owned),
            ..primary
        },
        RecordSet {
            target: Some(secondary_target.clone()),
            health_check_id: secondary_check.map(str::to_owned),
            ..secondary
        },
    ]))
}

/// The primary and DR sets of a record with set identifiers, and nothing else at that name.
fn pair<'a>(
    label: &str,
    primary_id: &str,
    dr_id: &str,
    sets: &'a [ResourceRecordSet],
) -> Result<(&'a ResourceRecordSet, &'a ResourceRecordSet), Problem> {
    let find = |id: &str| sets.iter().find(|s| s.set_identifier() == Some(id));
    if let Some(other) = sets
        .iter()
        .find(|s| s.set_identifier() != Some(primary_id) && s.set_identifier() != Some(dr_id))
    {
        return Err(Problem::Unexpected(match other.set_identifier() {
            Some(id) => format!("{label} has a record set {id:?} that DNS_RECORDS does not name"),
            None => format!("{label} has a record set without a set identifier"),
        }));
    }
    match (find(primary_id), find(dr_id)) {
        (Some(primary), Some(dr)) => Ok((primary, dr)),
        (primary, dr) => {
            let which: Vec<String> = [(primary_id, primary), (dr_id, dr)]
                .iter()
                .filter(|(_, set)| set.is_none())
                .map(|(id, _)| format!("{id:?}"))
                .collect();
            Err(Problem::Missing(format!(
                "{label} has no record set with set identifier {}",
                which.join(" and ")
            )))
        }
    }
}

/// A routing policy this step does not flip (its settings would be lost by the UPSERT).
fn other_routing(set: &ResourceRecordSet) -> Option<&'static str> {
    if set.weight().is_some() && set.failover().is_some() {
        Some("both weighted and failover")
    } else if set.region().is_some() {
        Some("latency")
    } else if set.geo_location().is_some() {
        Some("geolocation")
    } else if set.geo_proximity_location().is_some() {
        Some("geoproximity")
    } else if set.cidr_routing_config().is_some() {
        Some("IP-based")
    } else if set.multi_value_answer().is_some() {
        Some("multivalue answer")
    } else if set.traffic_policy_instance_id().is_some() {
        Some("traffic policy")
    } else {
        None
    }
}

/// The set's target, once it is clear the set holds nothing else an UPSERT would drop.
fn checked_target(label: &str, set: &ResourceRecordSet) -> Result<Target, Problem> {
    let id = set.set_identifier().unwrap_or_default();
    if let Some(policy) = other_routing(set) {
        return Err(Problem::Unexpected(format!(
            "{label} set {id:?} uses {policy} routing"
        )));
    }
    record_set(set).target.ok_or_else(|| {
        Problem::Unexpected(format!(
            "{label} set {id:?} has neither values nor an alias target"
        ))
    })
}

pub(super) fn record_set(set: &ResourceRecordSet) -> RecordSet {
    let target = match set.alias_target() {
        Some(alias) => Some(Target::Alias {
            alias: Alias {
                hosted_zone_id: alias.hosted_zone_id().to_owned(),
                dns_name: alias.dns_name().to_owned(),
                evaluate_target_health: alias.evaluate_target_health(),
            },
        }),
        None if !set.resource_records().is_empty() => Some(Target::Values {
            values: set
                .resource_records()
                .iter()
                .map(|r| r.value().to_owned())
                .collect(),
            // Route 53 requires a TTL on every non-alias record set; the default never applies.
            ttl: set.ttl().unwrap_or(DEFAULT_TTL),
        }),
        None => None,
    };
    RecordSet {
        set_identifier: set.set_identifier().map(str::to_owned),
        weight: set.weight(),
        failover: set.failover().map(|f| f.as_str().to_owned()),
        target,
        health_check_id: set.health_check_id().map(str::to_owned),
    }
}
