//! Re-protect of an RDS DB instance: a cross-Region read replica of the promoted DR instance.

use aws_sdk_rds::operation::create_db_instance_read_replica::CreateDBInstanceReadReplicaError;
use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;
use aws_sdk_rds::operation::describe_db_parameter_groups::DescribeDBParameterGroupsError;
use aws_sdk_rds::types::DbInstance;

use super::network::{self, Accepts, Former, FormerPrimary};
use super::quota;
use super::{
    cross_region, retire, InstanceConfig, Placement, ReplicaDetail, ReprotectClients,
    ReprotectDetail, ReprotectError, ReprotectResult, SourceDetail, STEP,
};
use crate::database::instance_accepts_writes;
use crate::error::AwsCallError;
use crate::rds_status::{Stuck, STUCK_REPLICATION_STATUSES};
use crate::request::{Action, StepRequest};
use crate::result::StepResult;

/// What RDS reports in `StatusInfos` for a read replica ("DBInstanceStatusInfo", Amazon RDS API
/// Reference, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstanceStatusInfo.html):
/// `StatusType` is `read replication`, and `Status` is `replicating` with `Normal` true while the
/// replica is healthy (otherwise `replication stop point set`, `replication stop point reached`,
/// `error`, `stopped` or `terminated`, with `Message` saying why on an error).
const READ_REPLICATION: &str = "read replication";
const REPLICATING: &str = "replicating";

/// Runs one action for a DB instance. `plan` (and a dry run's `apply`) only reads; `apply`
/// creates the replica unless an instance of its name exists (with `retire_former_writer`, a
/// standalone instance of that name is renamed first, [`retire`]); `status` answers `ready` once
/// the replica is `available` and RDS reports its replication `replicating` and normal.
///
/// Errors: `SourceNotFound` (NotFound), `Refused` (apply only; plan lists the refusals),
/// `NotReady` (the source is not `available` yet, or RDS answered `InvalidDBInstanceState`, or
/// another call created the replica first), `Aws` (any other AWS error, `Retryable` when
/// transient).
pub(super) async fn run(
    request: StepRequest,
    config: &InstanceConfig,
    clients: &ReprotectClients,
) -> Result<ReprotectResult, ReprotectError> {
    let action = request.effective_action();
    let source = describe(&clients.dr, &config.source_id)
        .await?
        .ok_or_else(|| {
            ReprotectError::SourceNotFound(format!("DB instance {}", config.source_id))
        })?;
    let existing = describe(&clients.primary, &config.replica_id).await?;
    let license_model = source.license_model().map(str::to_owned);
    let source = source_detail(config, &source);
    let replica = replica_detail(config, existing.as_ref());
    let ours = replica.exists && replicates(&replica, &source);
    // Fail back: the former DR writer, standalone, holds the name the new replica takes.
    let retiring = existing
        .as_ref()
        .filter(|instance| config.retire_former_writer && !ours && retire::is_standalone(instance));
    let mut out = StepResult {
        step: STEP.into(),
        action,
        dry_run: request.dry_run,
        changed: false,
        ready: ours && healthy(&replica),
        refusals: Vec::new(),
        warnings: Vec::new(),
        summary: String::new(),
        detail: ReprotectDetail {
            kind: "rds-instance".into(),
            topology: topology(&source, &replica, ours),
            source: source.clone(),
            replica: replica.clone(),
        },
        wait: None,
    };

    if ours {
        // A replica in a status RDS does not leave by itself, or whose replication RDS reports
        // terminated, will never become healthy: the wait for it is over.
        if action != Action::Plan {
            if let Some(stuck) = stuck_replica(&replica) {
                return Err(stuck.into());
            }
        }
        out.warnings = drift_warnings(config, existing.as_ref());
        out.summary = if out.ready {
            format!(
                "{} in {} replicates {} ({}); the DR region's writer has its standby",
                replica.identifier, replica.region, source.identifier, REPLICATING
            )
        } else {
            format!(
                "{} in {} is a read replica of {}, not yet healthy (status {}, replication {})",
                replica.identifier,
                replica.region,
                source.identifier,
                replica.status.as_deref().unwrap_or("unknown"),
                replica.replication.as_deref().unwrap_or("not reported yet")
            )
        };
        return Ok(out);
    }

    if action == Action::Status {
        out.summary = if replica.exists {
            format!(
                "{} in {} is not a read replica of {}",
                replica.identifier, replica.region, source.identifier
            )
        } else {
            format!(
                "{} does not exist in {} yet",
                replica.identifier, replica.region
            )
        };
        return Ok(out);
    }

    let former = former_primary(config, existing.as_ref(), retiring, clients).await;
    let parameter_group_accepted = source
        .engine
        .as_deref()
        .is_some_and(cross_region::accepts_parameter_group);
    let placement = network::resolve(
        &config.network,
        config.parameter_group.as_deref(),
        config.kms_key_id.as_deref(),
        source.encrypted,
        &former,
        Accepts {
            option_group: true,
            multi_az: true,
            cluster_parameter_group: false,
            parameter_group_accepted,
        },
    );
    // The parameter group and KMS key the replica is created with: configuration's, else the
    // former primary's; every rule below applies to them as to configured ones.
    let resolved = InstanceConfig {
        parameter_group: placement.parameter_group.as_ref().map(|s| s.value.clone()),
        kms_key_id: placement.kms_key_id.as_ref().map(|s| s.value.clone()),
        ..config.clone()
    };
    let config = &resolved;
    out.detail.replica.parameter_group = config.parameter_group.clone();
    out.detail.replica.kms_key_id = config.kms_key_id.clone();
    out.detail.replica.placement = Some(placement.clone());
    let mut refusals = refusals(
        config,
        &source,
        license_model.as_deref(),
        existing.as_ref().filter(|_| retiring.is_none()),
        clients,
    )
    .await?;
    // One more instance in the primary region: the new replica (a retired former writer stays).
    if !replica.exists || retiring.is_some() {
        let room = quota::check(&clients.primary, &config.primary_region, 1).await;
        refusals.extend(room.refusal);
        out.warnings.extend(room.warning);
    }
    let (network_refusals, network_warnings) = network::findings(
        &placement,
        &former,
        &format!("read replica {}", config.replica_id),
        &config.primary_region,
        cross_region::API_PAGE,
    );
    refusals.extend(network_refusals);
    out.warnings.extend(network_warnings);
    if let FormerPrimary::Found(former) = &former {
        if let (Some(group), None) = (&former.parameter_group, &config.parameter_group) {
            out.warnings.push(format!(
                "the former primary {} uses DB parameter group {group}: RDS takes none on a cross-Region read replica of {} ({}, DBParameterGroupName), so {} gets the engine's default; apply {group} afterwards with ModifyDBInstance",
                former.identifier,
                source.engine.as_deref().unwrap_or("this engine"),
                cross_region::API_PAGE,
                config.replica_id
            ));
        }
    }
    let what = creation(config, &source, &placement);
    // `None` while RDS reports no creation time: shown with a placeholder, never sent to RDS.
    let retired_name =
        retiring.and_then(|instance| retire::retired_name(&config.replica_id, instance));
    let retired = retiring.map(|_| {
        retired_name.clone().unwrap_or_else(|| {
            format!(
                "{}{}<its creation time>",
                config.replica_id,
                retire::RETIRED_INFIX
            )
        })
    });
    if action == Action::Plan {
        out.summary = match &retired {
            Some(retired) => format!(
                "apply would rename {} (standalone: the former writer) to {retired}, then create {what}",
                config.replica_id
            ),
            None => format!("apply would create {what}"),
        };
        out.refusals = refusals;
        return Ok(out);
    }
    if !refusals.is_empty() {
        return Err(ReprotectError::Refused(refusals));
    }
    if source.status != "available" {
        // "Working with DB instance read replicas": the source must be available (a promotion
        // still backing up, or a modification, is waited out).
        return Err(ReprotectError::NotReady(format!(
            "{} is {}; RDS creates a read replica only of an available instance",
            source.identifier, source.status
        )));
    }
    let mut renamed = String::new();
    if let (Some(instance), Some(retired)) = (retiring, &retired) {
        let status = instance.db_instance_status().unwrap_or("unknown");
        if status == "renaming" {
            return Err(ReprotectError::NotReady(format!(
                "{} (the former writer) is being renamed to {retired}; the replica is created once RDS frees the name",
                config.replica_id
            )));
        }
        if status != "available" || retired_name.is_none() {
            return Err(ReprotectError::NotReady(format!(
                "{} (standalone: the former writer, to be retired as {retired}) is {status}; it is renamed once available",
                config.replica_id
            )));
        }
        retire::rename(&clients.primary, &config.replica_id, retired).await?;
        tracing::info!(instance = %config.replica_id, retired = %retired, "renamed the former writer to free its name for the new replica");
        renamed = format!("renamed {} to {retired}; ", config.replica_id);
        // RDS frees the old name once the rename is under way; until then the create below
        // answers that the name exists, and the next call creates the replica.
    }
    create(config, &source.arn, &placement, clients)
        .await
        .map_err(|error| match error {
            ReprotectError::NotReady(reason) if !renamed.is_empty() => {
                ReprotectError::NotReady(format!("{renamed}{reason}"))
            }
            other => other,
        })?;
    out.changed = true;
    out.detail.replica.exists = true;
    out.detail.replica.status = Some("creating".into());
    out.detail.replica.replica_source = Some(out.detail.source.arn.clone());
    out.detail.topology = topology(&out.detail.source, &out.detail.replica, true);
    out.summary = format!("{renamed}creating {what}");
    Ok(out)
}

/// The former primary (`REPROTECT_FORMER_PRIMARY_ID`) in the replica's Region. In fail back it
/// is the former DR writer holding the replica's own name: the standalone instance about to be
/// retired, or once renamed, the newest `<name>-retired-*` instance.
async fn former_primary(
    config: &InstanceConfig,
    existing: Option<&DbInstance>,
    retiring: Option<&DbInstance>,
    clients: &ReprotectClients,
) -> FormerPrimary {
    let Some(id) = config.network.former_primary_id.as_deref() else {
        return FormerPrimary::NotNamed;
    };
    if id == config.replica_id && config.retire_former_writer {
        if let Some(instance) = retiring {
            return FormerPrimary::Found(Former::of_instance(instance));
        }
        if existing.is_none() {
            return network::read_retired(&clients.primary, id).await;
        }
    }
    network::read_instance(&clients.primary, id).await
}

/// The instance of that identifier in the client's region, if any.
async fn describe(
    client: &aws_sdk_rds::Client,
    identifier: &str,
) -> Result<Option<DbInstance>, ReprotectError> {
    match client
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
    {
        Ok(output) => Ok(output.db_instances().first().cloned()),
        Err(error) => match error.as_service_error() {
            Some(DescribeDBInstancesError::DbInstanceNotFoundFault(_)) => Ok(None),
            _ => Err(AwsCallError::new("DescribeDBInstances", &error).into()),
        },
    }
}

fn source_detail(config: &InstanceConfig, instance: &DbInstance) -> SourceDetail {
    let status = instance
        .db_instance_status()
        .unwrap_or("unknown")
        .to_owned();
    let replica_source = instance
        .read_replica_source_db_instance_identifier()
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    SourceDetail {
        identifier: config.source_id.clone(),
        region: config.dr_region.clone(),
        arn: instance.db_instance_arn().unwrap_or_default().to_owned(),
        writable: replica_source.is_none() && instance_accepts_writes(&status),
        status,
        replica_source,
        encrypted: instance.storage_encrypted().unwrap_or(false),
        backup_retention_days: instance.backup_retention_period().unwrap_or(0),
        engine: instance.engine().map(str::to_owned),
    }
}

fn replica_detail(config: &InstanceConfig, existing: Option<&DbInstance>) -> ReplicaDetail {
    let info = existing.and_then(|instance| {
        instance
            .status_infos()
            .iter()
            .find(|info| info.status_type() == Some(READ_REPLICATION))
    });
    ReplicaDetail {
        identifier: config.replica_id.clone(),
        region: config.primary_region.clone(),
        instance_class: config.instance_class.clone(),
        parameter_group: config.parameter_group.clone(),
        kms_key_id: config.kms_key_id.clone(),
        exists: existing.is_some(),
        status: existing.and_then(|i| i.db_instance_status().map(str::to_owned)),
        replica_source: existing.and_then(|i| {
            i.read_replica_source_db_instance_identifier()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        }),
        replication: info.and_then(|i| i.status().map(str::to_owned)),
        replication_normal: info.and_then(|i| i.normal()),
        replication_message: info.and_then(|i| i.message().map(str::to_owned)),
        instances: None,
        placement: None,
    }
}

/// Whether the existing replica's source is this DR instance (by ARN, as RDS names a source in
/// another Region, or by identifier).
fn replicates(replica: &ReplicaDetail, source: &SourceDetail) -> bool {
    replica
        .replica_source
        .as_deref()
        .is_some_and(|s| s == source.arn || s == source.identifier)
}

/// The replica's own status, or its `read replication` status, when RDS does not leave it by
/// itself.
fn stuck_replica(replica: &ReplicaDetail) -> Option<Stuck> {
    let what = format!("read replica {} ({})", replica.identifier, replica.region);
    if let Some(stuck) = replica
        .status
        .as_deref()
        .and_then(|status| Stuck::instance(what.clone(), status))
    {
        return Some(stuck);
    }
    let replication = replica.replication.as_deref()?;
    STUCK_REPLICATION_STATUSES
        .contains(&replication)
        .then(|| Stuck {
            what: format!("the replication of {what}"),
            status: replication.to_owned(),
            service: "RDS",
            why: format!(
                "RDS ended it{}; the replica has to be created again",
                replica
                    .replication_message
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ),
            page: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Monitoring.html",
        })
}

fn healthy(replica: &ReplicaDetail) -> bool {
    replica.status.as_deref() == Some("available")
        && replica.replication.as_deref() == Some(REPLICATING)
        && replica.replication_normal == Some(true)
}

fn topology(source: &SourceDetail, replica: &ReplicaDetail, ours: bool) -> String {
    let writer = if source.writable {
        format!("writer {} ({})", source.identifier, source.region)
    } else {
        format!(
            "{} ({}, status {}, not writable)",
            source.identifier, source.region, source.status
        )
    };
    if ours {
        format!(
            "{writer} -> read replica {} ({}, status {}, replication {})",
            replica.identifier,
            replica.region,
            replica.status.as_deref().unwrap_or("unknown"),
            replica.replication.as_deref().unwrap_or("not reported")
        )
    } else {
        format!(
            "{writer}, no standby in {} (no read replica {})",
            replica.region, replica.identifier
        )
    }
}

fn creation(config: &InstanceConfig, source: &SourceDetail, placement: &Placement) -> String {
    format!(
        "{} in {}, a read replica of {} ({}), class {}, parameter group {}, {}, {placement}",
        config.replica_id,
        config.primary_region,
        source.identifier,
        if source.arn.is_empty() {
            &source.identifier
        } else {
            &source.arn
        },
        config.instance_class,
        config
            .parameter_group
            .as_deref()
            .unwrap_or("the engine's default"),
        match &config.kms_key_id {
            Some(key) => format!("encrypted with KMS key {key}"),
            None => "unencrypted".into(),
        }
    )
}

/// Why `apply` would not create the replica. Read-only.
async fn refusals(
    config: &InstanceConfig,
    source: &SourceDetail,
    license_model: Option<&str>,
    existing: Option<&DbInstance>,
    clients: &ReprotectClients,
) -> Result<Vec<String>, ReprotectError> {
    let mut refusals = Vec::new();
    if let Some(instance) = existing {
        let what = match instance
            .read_replica_source_db_instance_identifier()
            .filter(|s| !s.is_empty())
        {
            Some(other) => format!("a read replica of {other}"),
            None => "a standalone instance (the former primary?)".to_owned(),
        };
        refusals.push(format!(
            "{} already has a DB instance {} that is not a read replica of {}: it is {what}. Re-protect never changes or deletes it (it may hold writes that never reached the DR region): name another REPROTECT_REPLICA_INSTANCE_ID, or snapshot and delete it first",
            config.primary_region, config.replica_id, source.identifier
        ));
    }
    if let Some(of) = &source.replica_source {
        refusals.push(format!(
            "{} is still a read replica of {of}: the DR region is not the writer, so there is nothing to re-protect (re-protect runs after a failover)",
            source.identifier
        ));
    } else if let Some(stuck) = Stuck::instance(
        format!("DB instance {} ({})", source.identifier, source.region),
        &source.status,
    ) {
        refusals.push(stuck.to_string());
    } else if !source.writable {
        refusals.push(format!(
            "{} is {}, a status that does not serve writes",
            source.identifier, source.status
        ));
    }
    if source.backup_retention_days <= 0 {
        refusals.push(format!(
            "{} has automated backups off (backup retention 0 days); RDS creates a read replica only of an instance with automated backups on",
            source.identifier
        ));
    }
    match (source.encrypted, &config.kms_key_id) {
        (true, None) => refusals.push(format!(
            "{} is encrypted: a read replica in another Region needs a KMS key of {} (REPROTECT_KMS_KEY_ID)",
            source.identifier, config.primary_region
        )),
        (false, Some(key)) => refusals.push(format!(
            "{} is not encrypted, and RDS cannot create an encrypted read replica of an unencrypted instance: leave REPROTECT_KMS_KEY_ID ({key}) empty",
            source.identifier
        )),
        _ => {}
    }
    refusals.extend(cross_region::refusals(&cross_region::Settings {
        source_id: &source.identifier,
        engine: source.engine.as_deref(),
        license_model,
        region: &config.primary_region,
        parameter_group: config.parameter_group.as_deref(),
        kms_key_id: config.kms_key_id.as_deref(),
        parameter_group_name: "REPROTECT_PARAMETER_GROUP",
        kms_key_name: "REPROTECT_KMS_KEY_ID",
    }));
    if let Some(group) = &config.parameter_group {
        if !parameter_group_exists(&clients.primary, group).await? {
            refusals.push(format!(
                "DB parameter group {group} (REPROTECT_PARAMETER_GROUP) does not exist in {}",
                config.primary_region
            ));
        }
    }
    Ok(refusals)
}

async fn parameter_group_exists(
    client: &aws_sdk_rds::Client,
    name: &str,
) -> Result<bool, ReprotectError> {
    match client
        .describe_db_parameter_groups()
        .db_parameter_group_name(name)
        .send()
        .await
    {
        Ok(output) => Ok(!output.db_parameter_groups().is_empty()),
        Err(error) => match error.as_service_error() {
            Some(DescribeDBParameterGroupsError::DbParameterGroupNotFoundFault(_)) => Ok(false),
            _ => Err(AwsCallError::new("DescribeDBParameterGroups", &error).into()),
        },
    }
}

/// What an existing replica of ours differs in from the plan: said, never changed.
fn drift_warnings(config: &InstanceConfig, existing: Option<&DbInstance>) -> Vec<String> {
    let Some(instance) = existing else {
        return Vec::new();
    };
    let mut warnings = Vec::new();
    let class = instance.db_instance_class().unwrap_or_default();
    if class != config.instance_class {
        warnings.push(format!(
            "{} has class {class}, the plan names {}; re-protect does not modify it",
            config.replica_id, config.instance_class
        ));
    }
    if let Some(group) = &config.parameter_group {
        let groups: Vec<&str> = instance
            .db_parameter_groups()
            .iter()
            .filter_map(|g| g.db_parameter_group_name())
            .collect();
        if !groups.contains(&group.as_str()) {
            warnings.push(format!(
                "{} uses parameter group(s) {}, the plan names {group}; re-protect does not modify it",
                config.replica_id,
                groups.join(", ")
            ));
        }
    }
    warnings
}

async fn create(
    config: &InstanceConfig,
    source_arn: &str,
    placement: &Placement,
    clients: &ReprotectClients,
) -> Result<(), ReprotectError> {
    clients
        .primary
        .create_db_instance_read_replica()
        .db_instance_identifier(&config.replica_id)
        .source_db_instance_identifier(source_arn)
        .db_instance_class(&config.instance_class)
        .set_db_parameter_group_name(config.parameter_group.clone())
        .set_kms_key_id(config.kms_key_id.clone())
        .set_db_subnet_group_name(placement.db_subnet_group.as_ref().map(|s| s.value.clone()))
        .set_vpc_security_group_ids(
            placement
                .vpc_security_group_ids
                .as_ref()
                .map(|s| s.value.clone()),
        )
        .set_option_group_name(placement.option_group.as_ref().map(|s| s.value.clone()))
        .set_deletion_protection(placement.deletion_protection.as_ref().map(|s| s.value))
        .set_multi_az(placement.multi_az.as_ref().map(|s| s.value))
        .set_tags(placement.rds_tags())
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            // Another call (a re-run racing this one) created it: the next call finds it.
            Some(CreateDBInstanceReadReplicaError::DbInstanceAlreadyExistsFault(_)) => {
                ReprotectError::NotReady(format!(
                    "{} was created by another call meanwhile",
                    config.replica_id
                ))
            }
            Some(CreateDBInstanceReadReplicaError::InvalidDbInstanceStateFault(fault)) => {
                ReprotectError::NotReady(format!(
                    "{} cannot be replicated now: {}",
                    config.source_id,
                    fault.message().unwrap_or("invalid instance state")
                ))
            }
            _ => AwsCallError::new("CreateDBInstanceReadReplica", &error).into(),
        })?;
    Ok(())
}
