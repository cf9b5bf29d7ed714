//! The one change `apply` makes: the `ChangeResourceRecordSets` batch, and Route 53's progress on
//! it (`GetChange`).

use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsError;
use aws_sdk_route53::operation::get_change::GetChangeError;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord,
    ResourceRecordSet, ResourceRecordSetFailover,
};
use aws_smithy_types::error::operation::BuildError;

use super::{DnsClients, DnsDetail, DnsError, RecordSet, RecordSpec, Target, STEP};
use crate::error::AwsCallError;

/// Route 53 rejects a change batch comment longer than this.
const MAX_COMMENT_CHARS: usize = 256;

/// Route 53's limits on one `ChangeResourceRecordSets` request ("Quotas", Maximums on API
/// requests, number of elements and characters in ChangeResourceRecordSets requests,
/// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html): at most 1,000
/// `ResourceRecord` elements and 32,000 characters over all `Value` elements, where an UPSERT
/// counts each element and each character twice. Every change this step sends is an UPSERT, so
/// one batch holds at most 500 values and 16,000 characters of them. Alias record sets have no
/// `ResourceRecord` element and count for nothing here.
pub const MAX_RESOURCE_RECORDS_PER_BATCH: usize = 1_000;
/// See [`MAX_RESOURCE_RECORDS_PER_BATCH`].
pub const MAX_VALUE_CHARS_PER_BATCH: usize = 32_000;

/// The record sets of one record that are written together.
pub(super) struct RecordChanges<'a> {
    pub(super) spec: &'a RecordSpec,
    pub(super) sets: &'a [RecordSet],
}

/// The UPSERT batches that write `records`, in their order, each within Route 53's limits.
///
/// A record is never split across batches, so each record still changes atomically (a failover
/// record's swap, a weighted record's pair of weights). Records are added to a batch until the
/// next one would pass a limit; a record that passes a limit alone gets a batch of its own, for
/// Route 53 to refuse with `InvalidChangeBatch`. One batch is all-or-nothing; two are not: until
/// the last one is applied, some records answer DR and the others still the primary.
pub(super) fn change_batches(
    records: &[RecordChanges<'_>],
    execution_id: Option<&str>,
) -> Result<Vec<ChangeBatch>, DnsError> {
    let build = |error: BuildError| DnsError::InvalidChangeBatch(vec![error.to_string()]);
    let mut groups: Vec<Vec<Change>> = Vec::new();
    let (mut elements, mut chars) = (0, 0);
    for record in records.iter().filter(|record| !record.sets.is_empty()) {
        let (record_elements, record_chars) = upsert_cost(record.sets);
        let fits = elements + record_elements <= MAX_RESOURCE_RECORDS_PER_BATCH
            && chars + record_chars <= MAX_VALUE_CHARS_PER_BATCH;
        if groups.is_empty() || !fits {
            groups.push(Vec::new());
            (elements, chars) = (0, 0);
        }
        (elements, chars) = (elements + record_elements, chars + record_chars);
        let group = groups.last_mut().expect("a group was pushed");
        for set in record.sets {
            group.push(
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(sdk_record_set(record.spec, set).map_err(build)?)
                    .build()
                    .map_err(build)?,
            );
        }
    }
    let count = groups.len();
    groups
        .into_iter()
        .enumerate()
        .map(|(index, changes)| {
            let part = if count > 1 {
                format!(" (batch {} of {count})", index + 1)
            } else {
                String::new()
            };
            let comment: String = format!(
                "dr-failover {STEP}: point DNS at DR for execution {}{part}",
                execution_id.unwrap_or("(none)")
            )
            .chars()
            .take(MAX_COMMENT_CHARS)
            .collect();
            ChangeBatch::builder()
                .set_changes(Some(changes))
                .comment(comment)
                .build()
                .map_err(build)
        })
        .collect()
}

/// `ResourceRecord` elements and `Value` characters of UPSERTing `sets`, as Route 53 counts them
/// (twice each).
fn upsert_cost(sets: &[RecordSet]) -> (usize, usize) {
    sets.iter()
        .filter_map(|set| match &set.target {
            Some(Target::Values { values, .. }) => Some((
                2 * values.len(),
                2 * values.iter().map(|v| v.chars().count()).sum::<usize>(),
            )),
            _ => None,
        })
        .fold((0, 0), |(e, c), (de, dc)| (e + de, c + dc))
}

fn sdk_record_set(spec: &RecordSpec, set: &RecordSet) -> Result<ResourceRecordSet, BuildError> {
    let builder = ResourceRecordSet::builder()
        .name(&spec.name)
        .r#type(spec.record_type.clone())
        .set_set_identifier(set.set_identifier.clone())
        .set_weight(set.weight)
        .set_failover(set.failover.as_deref().map(ResourceRecordSetFailover::from))
        .set_health_check_id(set.health_check_id.clone());
    let builder = match &set.target {
        Some(Target::Values { values, ttl }) => builder.ttl(*ttl).set_resource_records(Some(
            values
                .iter()
                .map(|value| ResourceRecord::builder().value(value).build())
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Some(Target::Alias { alias }) => builder.alias_target(
            AliasTarget::builder()
                .hosted_zone_id(&alias.hosted_zone_id)
                .dns_name(&alias.dns_name)
                .evaluate_target_health(alias.evaluate_target_health)
                .build()?,
        ),
        None => builder,
    };
    builder.build()
}

/// Sends `batch` to the zone; answers the change's id and status as Route 53 reports them.
pub(super) async fn submit(
    clients: &DnsClients,
    zone_id: &str,
    batch: ChangeBatch,
) -> Result<(String, ChangeStatus), DnsError> {
    clients.pace.wait().await;
    let output = clients
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(ChangeResourceRecordSetsError::NoSuchHostedZone(_)) => {
                DnsError::ZoneNotFound(zone_id.to_owned())
            }
            Some(ChangeResourceRecordSetsError::InvalidChangeBatch(invalid)) => {
                let mut messages = invalid.messages().to_vec();
                messages.extend(invalid.message().map(str::to_owned));
                DnsError::InvalidChangeBatch(messages)
            }
            _ => AwsCallError::new("ChangeResourceRecordSets", &error).into(),
        })?;
    Ok(output
        .change_info()
        .map(|info| (info.id().to_owned(), info.status().clone()))
        .unwrap_or_else(|| (String::new(), ChangeStatus::Pending)))
}

/// Whether Route 53 reports `change_id` INSYNC (`GetChange`); records its status in `detail`.
pub(super) async fn change_in_sync(
    clients: &DnsClients,
    change_id: &str,
    detail: &mut DnsDetail,
) -> Result<bool, DnsError> {
    clients.pace.wait().await;
    let output = clients
        .route53
        .get_change()
        .id(change_id)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(GetChangeError::NoSuchChange(_)) => DnsError::ChangeNotFound(change_id.to_owned()),
            _ => AwsCallError::new("GetChange", &error).into(),
        })?;
    let status = output
        .change_info()
        .map(|info| info.status().clone())
        .unwrap_or(ChangeStatus::Pending);
    detail.change_id = Some(change_id.to_owned());
    detail.change_status = Some(status.as_str().to_owned());
    Ok(status == ChangeStatus::Insync)
}
