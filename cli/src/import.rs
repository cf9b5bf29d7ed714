//! `dr-failover plan import`: the plan's `dns` section written from the hosted zone as it is
//! (ListResourceRecordSets), so that records are never typed. A failover pair (PRIMARY and
//! SECONDARY sets) and a weighted pair whose sets are told apart (by set identifier, or by a Region
//! in the set identifier, values or alias target) become plan records with the DR target as the
//! zone holds it; what cannot be classified (a simple record, whose DR target the zone does not
//! hold; latency, geolocation or multivalue routing; a pair not told apart) is listed, never
//! guessed.

use std::collections::BTreeMap;

use aws_sdk_route53::types::ResourceRecordSet;
use serde::Serialize;
use shared::dns::config::{Alias, RecordEntry, TargetEntry};

/// How the primary's and DR's sets of a weighted record are told apart.
#[derive(Debug, Clone)]
pub enum Sides {
    /// By their set identifiers.
    SetIdentifiers { primary: String, dr: String },
    /// By the Region named in the set identifier, a value or the alias target.
    Regions { primary: String, dr: String },
}

/// The imported section and what was left out, each with why.
#[derive(Debug, Default)]
pub struct Imported {
    pub records: Vec<RecordEntry>,
    pub unclassified: Vec<String>,
}

#[derive(Serialize)]
struct Section<'a> {
    dns: SectionBody<'a>,
}

#[derive(Serialize)]
struct SectionBody<'a> {
    hosted_zone_id: &'a str,
    records: &'a [RecordEntry],
}

/// Reads every record set of `zone_id` (all pages, 300 a page) and classifies them.
pub async fn import(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
    sides: &Sides,
) -> Result<Imported, String> {
    let (sets, _) = shared::dns::list_record_sets(route53, zone_id, None)
        .await
        .map_err(|e| format!("ListResourceRecordSets on {zone_id}: {e}"))?;
    Ok(classify(&sets, sides))
}

fn target(set: &ResourceRecordSet) -> TargetEntry {
    match &set.alias_target {
        Some(alias) => TargetEntry {
            values: None,
            ttl: None,
            alias: Some(Alias {
                hosted_zone_id: alias.hosted_zone_id.clone(),
                dns_name: alias.dns_name.clone(),
                evaluate_target_health: alias.evaluate_target_health,
            }),
        },
        None => TargetEntry {
            values: Some(
                set.resource_records()
                    .iter()
                    .map(|r| r.value.clone())
                    .collect(),
            ),
            ttl: set.ttl,
            alias: None,
        },
    }
}

/// The text a set's side is told by: its identifier, values and alias target.
fn side_text(set: &ResourceRecordSet) -> String {
    let mut text = set.set_identifier.clone().unwrap_or_default();
    for record in set.resource_records() {
        text.push(' ');
        text.push_str(&record.value);
    }
    if let Some(alias) = &set.alias_target {
        text.push(' ');
        text.push_str(&alias.dns_name);
    }
    text.to_lowercase()
}

fn is_side(set: &ResourceRecordSet, sides: &Sides, dr: bool) -> bool {
    match sides {
        Sides::SetIdentifiers { primary, dr: dr_id } => {
            set.set_identifier.as_deref() == Some(if dr { dr_id } else { primary })
        }
        Sides::Regions {
            primary,
            dr: dr_region,
        } => {
            let text = side_text(set);
            let (mine, other) = if dr {
                (dr_region, primary)
            } else {
                (primary, dr_region)
            };
            text.contains(&mine.to_lowercase()) && !text.contains(&other.to_lowercase())
        }
    }
}

/// Classifies record sets (Route 53's listing) into plan records.
pub fn classify(sets: &[ResourceRecordSet], sides: &Sides) -> Imported {
    let mut groups: BTreeMap<(String, String), Vec<&ResourceRecordSet>> = BTreeMap::new();
    let mut order = Vec::new();
    for set in sets {
        let key = (set.name.clone(), set.r#type.as_str().to_owned());
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        // A page that restarts at a name and type (a store that ignores StartRecordIdentifier, as
        // boto#2542 met when a weighted pair straddled a page) lists a set twice: keep it once.
        let group = groups.entry(key).or_default();
        if !group
            .iter()
            .any(|seen| seen.set_identifier == set.set_identifier)
        {
            group.push(set);
        }
    }
    let apex = order
        .iter()
        .find(|(_, kind)| kind == "SOA")
        .map(|(name, _)| name.clone());
    let mut imported = Imported::default();
    for key in order {
        let (name, kind) = &key;
        let group = &groups[&key];
        if Some(name) == apex.as_ref() && matches!(kind.as_str(), "NS" | "SOA") {
            continue;
        }
        let record_type = kind.clone();
        let failover: Vec<_> = group.iter().filter(|s| s.failover.is_some()).collect();
        let weighted: Vec<_> = group.iter().filter(|s| s.weight.is_some()).collect();
        let why = if failover.len() == group.len() && group.len() == 2 {
            let primary = group
                .iter()
                .find(|s| s.failover.as_ref().map(|f| f.as_str()) == Some("PRIMARY"));
            let secondary = group
                .iter()
                .find(|s| s.failover.as_ref().map(|f| f.as_str()) == Some("SECONDARY"));
            match (primary, secondary) {
                (Some(primary), Some(secondary)) => {
                    imported.records.push(RecordEntry::Failover {
                        name: name.clone(),
                        record_type,
                        primary_set_identifier: primary.set_identifier.clone().unwrap_or_default(),
                        dr_set_identifier: secondary.set_identifier.clone().unwrap_or_default(),
                        dr: Some(target(secondary)),
                    });
                    continue;
                }
                _ => "a failover record without one PRIMARY and one SECONDARY set".to_owned(),
            }
        } else if weighted.len() == group.len() && group.len() == 2 {
            let dr = group.iter().find(|s| is_side(s, sides, true));
            let primary = group.iter().find(|s| is_side(s, sides, false));
            match (primary, dr) {
                (Some(primary), Some(dr)) if primary.set_identifier != dr.set_identifier => {
                    imported.records.push(RecordEntry::Weighted {
                        name: name.clone(),
                        record_type,
                        primary_set_identifier: primary.set_identifier.clone().unwrap_or_default(),
                        dr_set_identifier: dr.set_identifier.clone().unwrap_or_default(),
                        dr_weight: None,
                    });
                    continue;
                }
                _ => format!(
                    "a weighted pair whose primary and DR sets are not told apart by {} (sets {})",
                    match sides {
                        Sides::SetIdentifiers { .. } => "--primary-set and --dr-set",
                        Sides::Regions { .. } => "--primary-region and --dr-region",
                    },
                    group
                        .iter()
                        .map(|s| s.set_identifier.clone().unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        } else if group.len() == 1 && group[0].set_identifier.is_none() {
            "a simple record: the zone holds only the primary's target; add it with its dr target \
             (values or alias) by hand"
                .to_owned()
        } else if group.iter().any(|s| s.region.is_some()) {
            "latency routing: not supported (failover, weighted and simple are)".to_owned()
        } else if group
            .iter()
            .any(|s| s.geo_location.is_some() || s.geo_proximity_location.is_some())
        {
            "geolocation routing: not supported (failover, weighted and simple are)".to_owned()
        } else if group.iter().any(|s| s.multi_value_answer.is_some()) {
            "multivalue answer routing: not supported (failover, weighted and simple are)"
                .to_owned()
        } else {
            format!("{} record sets of a shape not supported", group.len())
        };
        imported.unclassified.push(format!("{name} {kind}: {why}"));
    }
    imported
}

/// The section as YAML for the plan file, with what was left out as comments above it.
pub fn to_yaml(zone_id: &str, imported: &Imported) -> String {
    let mut text = String::from(
        "# Written by `dr-failover plan import` from the zone as it was; paste under the plan's top level.\n",
    );
    if !imported.unclassified.is_empty() {
        text.push_str("# Not imported (add each by hand if the failover must move it):\n");
        for line in &imported.unclassified {
            text.push_str(&format!("#   {line}\n"));
        }
    }
    let section = Section {
        dns: SectionBody {
            hosted_zone_id: zone_id,
            records: &imported.records,
        },
    };
    text.push_str(&serde_saphyr::to_string(&section).expect("the section serializes"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_route53::types::{ResourceRecord, RrType};

    fn weighted(identifier: &str, value: &str) -> ResourceRecordSet {
        ResourceRecordSet::builder()
            .name("api.example.com.")
            .r#type(RrType::A)
            .set_identifier(identifier)
            .weight(if identifier == "primary" { 100 } else { 0 })
            .ttl(60)
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
            .build()
            .unwrap()
    }

    #[test]
    fn a_set_listed_twice_across_pages_is_imported_once() {
        let sides = Sides::SetIdentifiers {
            primary: "primary".into(),
            dr: "dr".into(),
        };
        let primary = weighted("primary", "198.51.100.1");
        let dr = weighted("dr", "203.0.113.1");
        let imported = classify(&[primary.clone(), dr.clone(), dr], &sides);
        assert!(
            imported.unclassified.is_empty(),
            "{:?}",
            imported.unclassified
        );
        assert_eq!(imported.records.len(), 1);
        assert!(matches!(
            &imported.records[0],
            RecordEntry::Weighted { primary_set_identifier, dr_set_identifier, .. }
                if primary_set_identifier == "primary" && dr_set_identifier == "dr"
        ));
    }

    #[test]
    fn weighted_sides_are_told_by_the_region_in_their_targets() {
        let sides = Sides::Regions {
            primary: "eu-west-1".into(),
            dr: "eu-central-1".into(),
        };
        let a = weighted("blue", "lb.eu-west-1.example.com.");
        let b = weighted("green", "lb.eu-central-1.example.com.");
        let imported = classify(&[a, b], &sides);
        assert!(matches!(
            &imported.records[0],
            RecordEntry::Weighted { primary_set_identifier, dr_set_identifier, .. }
                if primary_set_identifier == "blue" && dr_set_identifier == "green"
        ));
    }
}
