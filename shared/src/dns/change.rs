//! The one change `apply` makes: the `ChangeResourceRecordSets` batch, and Route 53's progress on
//! it (`GetChange`).

use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsError;
use aws_sdk_route53::operation::get_change::GetChangeError;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord,
    ResourceRecordSet, ResourceRecordSetFailover,
};
use aws_smithy_types::error::operation::BuildError;

use super::{DnsClients, DnsConfig, DnsDetail, DnsError, RecordSet, RecordSpec, Target, STEP};
use crate::error::AwsCallError;

/// Route 53 rejects a change batch comment longer than this.
const MAX_COMMENT_CHARS: usize = 256;

pub(super) fn change_batch(
    config: &DnsConfig,
    detail: &DnsDetail,
    execution_id: Option<&str>,
) -> Result<ChangeBatch, DnsError> {
    let build = |error: BuildError| DnsError::InvalidChangeBatch(vec![error.to_string()]);
    let mut changes = Vec::new();
    for (spec, record) in config.records.iter().zip(&detail.records) {
        for set in &record.changes {
            let change = Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(sdk_record_set(spec, set).map_err(build)?)
                .build()
                .map_err(build)?;
            changes.push(change);
        }
    }
    let comment: String = format!(
        "dr-failover {STEP}: point DNS at DR for execution {}",
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
