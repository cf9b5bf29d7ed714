//! Re-protect of an Aurora Global Database: once the DR cluster is the writer, a secondary cluster
//! in the former primary region. After a managed failover Aurora rejoins the former primary cluster
//! as a secondary by itself when its Region is available again ("Using switchover or failover in
//! Amazon Aurora Global Database", "Recovering an Amazon Aurora global database from an unplanned
//! outage", https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html);
//! that secondary, whatever its name, is the standby. When it did not rejoin (it was detached, or
//! the failover was a detach and promote), a new secondary `REPROTECT_CLUSTER_ID` is added
//! (`CreateDBCluster` with `GlobalClusterIdentifier`, then `CreateDBInstance` `<cluster>-1`: a
//! secondary without a DB instance serves no query). A former primary cluster that is not a member
//! is never changed.

use aws_sdk_rds::operation::create_db_cluster::CreateDBClusterError;
use aws_sdk_rds::operation::create_db_instance::CreateDBInstanceError;
use aws_sdk_rds::operation::describe_db_clusters::DescribeDBClustersError;
use aws_sdk_rds::operation::describe_global_clusters::DescribeGlobalClustersError;
use aws_sdk_rds::types::{DbCluster, GlobalCluster, GlobalClusterMember};

use super::network::{self, Accepts, FormerPrimary};
use super::{
    AuroraConfig, Placement, ReplicaDetail, ReprotectClients, ReprotectDetail, ReprotectError,
    ReprotectResult, SourceDetail, STEP,
};
use crate::error::AwsCallError;
use crate::request::{Action, StepRequest};
use crate::result::StepResult;

/// The API page the subnet group refusal cites.
const CREATE_DB_CLUSTER_PAGE: &str =
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html";

/// The Region of an RDS ARN (`arn:aws:rds:<region>:<account>:cluster:<name>`).
fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

/// The name at the end of an RDS ARN.
fn name_of(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or_default()
}

pub(super) async fn run(
    request: StepRequest,
    config: &AuroraConfig,
    clients: &ReprotectClients,
) -> Result<ReprotectResult, ReprotectError> {
    let action = request.effective_action();
    let global = describe_global(clients, &config.global_cluster_id).await?;
    // DB_DR_CLUSTER_ID may name several clusters (fail back: the primary region's former writer
    // or the secondary re-protect added): the member among them is the writer's cluster.
    let candidates = crate::database::dr_cluster_candidates(&config.dr_cluster_id);
    let resolved;
    let config = if candidates.len() > 1 {
        let name = crate::database::member_among(&global, &candidates).unwrap_or(candidates[0]);
        resolved = AuroraConfig {
            dr_cluster_id: name.to_owned(),
            ..config.clone()
        };
        &resolved
    } else {
        config
    };
    let dr_cluster = describe_cluster(&clients.dr, &config.dr_cluster_id)
        .await?
        .ok_or_else(|| {
            ReprotectError::SourceNotFound(format!("DB cluster {}", config.dr_cluster_id))
        })?;
    let members = global.global_cluster_members();
    let dr_member = members.iter().find(|m| {
        m.db_cluster_arn()
            .is_some_and(|arn| arn == dr_cluster.db_cluster_arn().unwrap_or("-"))
    });
    let writer = members
        .iter()
        .find(|m| m.is_writer() == Some(true))
        .and_then(|m| m.db_cluster_arn())
        .map(str::to_owned);
    let failover = global.failover_state().and_then(|state| {
        state.status().map(|status| {
            format!(
                "{} to {}",
                status.as_str(),
                state.to_db_cluster_arn().unwrap_or("?")
            )
        })
    });
    let dr_status = dr_cluster.status().unwrap_or("unknown").to_owned();
    let dr_is_writer = dr_member.is_some_and(|m| m.is_writer() == Some(true));
    let source = SourceDetail {
        identifier: config.dr_cluster_id.clone(),
        region: config.dr_region.clone(),
        arn: dr_cluster.db_cluster_arn().unwrap_or_default().to_owned(),
        writable: dr_is_writer && failover.is_none() && dr_status == "available",
        status: dr_status,
        replica_source: if dr_is_writer { None } else { writer.clone() },
        encrypted: dr_cluster
            .storage_encrypted()
            .or(global.storage_encrypted())
            .unwrap_or(false),
        backup_retention_days: dr_cluster.backup_retention_period().unwrap_or(0),
        engine: dr_cluster.engine().map(str::to_owned),
    };

    // The standby: any non-writer member in the primary region, else the plan's new cluster.
    let secondary_member = members.iter().find(|m| {
        m.is_writer() != Some(true)
            && m.db_cluster_arn()
                .is_some_and(|arn| region_of(arn) == config.primary_region)
    });
    let secondary_id = secondary_member
        .and_then(|m| m.db_cluster_arn())
        .map(|arn| name_of(arn).to_owned())
        .unwrap_or_else(|| config.secondary_cluster_id.clone());
    let secondary = describe_cluster(&clients.primary, &secondary_id).await?;
    let replica = replica_detail(
        config,
        &global,
        &secondary_id,
        secondary_member,
        secondary.as_ref(),
    );
    let ours = secondary_member.is_some();
    let mut out = StepResult {
        step: STEP.into(),
        action,
        dry_run: request.dry_run,
        changed: false,
        ready: ours && healthy(&replica) && source.writable,
        refusals: Vec::new(),
        warnings: Vec::new(),
        summary: String::new(),
        detail: ReprotectDetail {
            kind: "aurora-global".into(),
            topology: topology(&source, &replica, ours, &global),
            source: source.clone(),
            replica: replica.clone(),
        },
        wait: None,
    };

    if ours && action != Action::Plan {
        // A secondary in a status Aurora does not leave by itself never becomes healthy.
        if let Some(stuck) = replica.status.as_deref().and_then(|status| {
            crate::rds_status::Stuck::cluster(
                format!("DB cluster {secondary_id} ({})", config.primary_region),
                status,
            )
        }) {
            return Err(stuck.into());
        }
    }
    if ours && (replica.instances.unwrap_or(0) > 0 || secondary_id != config.secondary_cluster_id) {
        if replica.instances == Some(0) {
            out.warnings.push(format!(
                "{secondary_id} has no DB instance: it replicates storage but serves no query; add one (aws rds create-db-instance --region {} --db-cluster-identifier {secondary_id} ...) before failing back",
                config.primary_region
            ));
        }
        out.summary = if out.ready {
            format!(
                "{secondary_id} in {} is a secondary of {} (writer {}); the DR region's writer has its standby",
                config.primary_region, config.global_cluster_id, config.dr_cluster_id
            )
        } else {
            format!(
                "{secondary_id} in {} is a secondary of {}, not yet healthy (status {}, {} DB instance(s))",
                config.primary_region,
                config.global_cluster_id,
                replica.status.as_deref().unwrap_or("unknown"),
                replica.instances.unwrap_or(0)
            )
        };
        return Ok(out);
    }

    if action == Action::Status {
        out.summary = if ours {
            format!(
                "{secondary_id} is a secondary of {} without a DB instance yet",
                config.global_cluster_id
            )
        } else {
            format!(
                "no secondary of {} in {} yet",
                config.global_cluster_id, config.primary_region
            )
        };
        return Ok(out);
    }

    let former = match config.network.former_primary_id.as_deref() {
        Some(id) => network::read_cluster(&clients.primary, id).await,
        None => FormerPrimary::NotNamed,
    };
    let placement = network::resolve(
        &config.network,
        config.parameter_group.as_deref(),
        config.kms_key_id.as_deref(),
        source.encrypted,
        &former,
        Accepts {
            option_group: false,
            multi_az: false,
            cluster_parameter_group: true,
            parameter_group_accepted: true,
        },
    );
    // The KMS key the secondary is created with: configuration's, else the former primary's.
    let resolved = AuroraConfig {
        kms_key_id: placement.kms_key_id.as_ref().map(|s| s.value.clone()),
        parameter_group: placement.parameter_group.as_ref().map(|s| s.value.clone()),
        ..config.clone()
    };
    let config = &resolved;
    out.detail.replica.kms_key_id = config.kms_key_id.clone();
    out.detail.replica.parameter_group = config.parameter_group.clone();
    out.detail.replica.placement = Some(placement.clone());
    let mut refusals = refusals(
        config,
        &source,
        dr_member.is_some(),
        ours,
        secondary.as_ref(),
    );
    if !ours {
        let (network_refusals, network_warnings) = network::findings(
            &placement,
            &former,
            &format!("secondary cluster {secondary_id}"),
            &config.primary_region,
            CREATE_DB_CLUSTER_PAGE,
        );
        refusals.extend(network_refusals);
        out.warnings.extend(network_warnings);
        if let FormerPrimary::Found(former) = &former {
            if former.multi_az == Some(true) {
                out.warnings.push(format!(
                    "the former primary {} is Multi-AZ (DB instances in more than one Availability Zone); the secondary {secondary_id} gets one DB instance, {secondary_id}-1: add a reader in another Availability Zone (aws rds create-db-instance --region {} --db-cluster-identifier {secondary_id} ...) before failing back",
                    former.identifier, config.primary_region
                ));
            }
        }
    }
    let parameter_group = config
        .parameter_group
        .as_deref()
        .map(|g| format!(", DB parameter group {g}"))
        .unwrap_or_default();
    let what = if ours {
        format!(
            "DB instance {secondary_id}-1 ({}{parameter_group}) in the secondary {secondary_id}",
            config.instance_class
        )
    } else {
        format!(
            "{secondary_id} in {} as a secondary of {} ({} {}), with DB instance {secondary_id}-1 ({}{parameter_group}), {}, {placement}",
            config.primary_region,
            config.global_cluster_id,
            global.engine().unwrap_or("?"),
            global.engine_version().unwrap_or("?"),
            config.instance_class,
            match &config.kms_key_id {
                Some(key) => format!("encrypted with KMS key {key}"),
                None => "unencrypted".into(),
            }
        )
    };
    if action == Action::Plan {
        out.summary = format!("apply would add {what}");
        out.refusals = refusals;
        return Ok(out);
    }
    if !refusals.is_empty() {
        return Err(ReprotectError::Refused(refusals));
    }
    if let Some(progress) = &failover {
        return Err(ReprotectError::NotReady(format!(
            "global cluster {} is changing its writer ({progress})",
            config.global_cluster_id
        )));
    }
    if !ours {
        create_cluster(config, &global, &placement, clients).await?;
    }
    create_instance(config, &global, &placement, clients).await?;
    out.changed = true;
    out.detail.replica.exists = true;
    out.detail.replica.status = Some("creating".into());
    out.summary = format!("adding {what}");
    Ok(out)
}

fn replica_detail(
    config: &AuroraConfig,
    global: &GlobalCluster,
    secondary_id: &str,
    member: Option<&GlobalClusterMember>,
    cluster: Option<&DbCluster>,
) -> ReplicaDetail {
    ReplicaDetail {
        identifier: secondary_id.to_owned(),
        region: config.primary_region.clone(),
        instance_class: config.instance_class.clone(),
        parameter_group: None,
        kms_key_id: config.kms_key_id.clone(),
        exists: cluster.is_some(),
        status: cluster.and_then(|c| c.status().map(str::to_owned)),
        replica_source: member.map(|_| {
            global
                .global_cluster_identifier()
                .unwrap_or_default()
                .to_owned()
        }),
        // "GlobalClusterMember", Amazon RDS API Reference: SynchronizationStatus `connected` or
        // `pending-resync`; absent until Aurora reports it.
        replication: member.map(|m| {
            m.synchronization_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "secondary".to_owned())
        }),
        replication_normal: member.map(|m| {
            m.synchronization_status()
                .is_none_or(|s| s.as_str() == "connected")
        }),
        replication_message: None,
        instances: cluster.map(|c| c.db_cluster_members().len()),
        placement: None,
    }
}

fn healthy(replica: &ReplicaDetail) -> bool {
    replica.status.as_deref() == Some("available")
        && replica.instances.unwrap_or(0) > 0
        && replica.replication_normal == Some(true)
}

fn topology(
    source: &SourceDetail,
    replica: &ReplicaDetail,
    ours: bool,
    global: &GlobalCluster,
) -> String {
    let global_id = global.global_cluster_identifier().unwrap_or_default();
    let writer = if source.writable {
        format!("writer {} ({})", source.identifier, source.region)
    } else {
        format!(
            "{} ({}, status {}, not the writer)",
            source.identifier, source.region, source.status
        )
    };
    if ours {
        format!(
            "{global_id}: {writer} -> secondary {} ({}, status {}, {} DB instance(s))",
            replica.identifier,
            replica.region,
            replica.status.as_deref().unwrap_or("unknown"),
            replica.instances.unwrap_or(0)
        )
    } else {
        format!("{global_id}: {writer}, no secondary in {}", replica.region)
    }
}

fn refusals(
    config: &AuroraConfig,
    source: &SourceDetail,
    dr_is_member: bool,
    ours: bool,
    secondary: Option<&DbCluster>,
) -> Vec<String> {
    let mut refusals = Vec::new();
    if !dr_is_member {
        refusals.push(format!(
            "{} is not a member of {} (detached and promoted?): re-protect adds a secondary to {} only; create a new global database from {} by hand",
            config.dr_cluster_id, config.global_cluster_id, config.global_cluster_id, config.dr_cluster_id
        ));
    } else if let Some(writer) = &source.replica_source {
        refusals.push(format!(
            "{} is a secondary of {}, whose writer is {writer}: the DR region is not the writer, so there is nothing to re-protect (re-protect runs after a failover)",
            config.dr_cluster_id, config.global_cluster_id
        ));
    }
    if !ours {
        if let Some(cluster) = secondary {
            refusals.push(format!(
                "{} already has a DB cluster {} that is not a member of {} (status {}): Aurora did not rejoin it, and re-protect never changes or deletes it (it may hold writes that never reached the DR region): name another REPROTECT_CLUSTER_ID",
                config.primary_region,
                config.secondary_cluster_id,
                config.global_cluster_id,
                cluster.status().unwrap_or("unknown")
            ));
        }
        match (source.encrypted, &config.kms_key_id) {
            (true, None) => refusals.push(format!(
                "{} is encrypted: a secondary in another Region needs a KMS key of {} (REPROTECT_KMS_KEY_ID)",
                config.global_cluster_id, config.primary_region
            )),
            (false, Some(key)) => refusals.push(format!(
                "{} is not encrypted, so its secondaries cannot be: leave REPROTECT_KMS_KEY_ID ({key}) empty",
                config.global_cluster_id
            )),
            _ => {}
        }
        // "CreateDBCluster", KmsKeyId: a secondary in another Region is encrypted with a key of
        // that Region.
        if let Some(key) = &config.kms_key_id {
            if let Some(region) = super::cross_region::arn_region(key)
                .filter(|region| *region != config.primary_region)
            {
                refusals.push(format!(
                    "REPROTECT_KMS_KEY_ID ({key}) is a KMS key of {region}: a secondary in {} needs a key of {}, since KMS keys are specific to the Region they are created in (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html, KmsKeyId)",
                    config.primary_region, config.primary_region
                ));
            }
        }
    }
    refusals
}

async fn describe_global(
    clients: &ReprotectClients,
    id: &str,
) -> Result<GlobalCluster, ReprotectError> {
    let output = clients
        .dr
        .describe_global_clusters()
        .global_cluster_identifier(id)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(DescribeGlobalClustersError::GlobalClusterNotFoundFault(_)) => {
                ReprotectError::SourceNotFound(format!("global cluster {id}"))
            }
            _ => AwsCallError::new("DescribeGlobalClusters", &error).into(),
        })?;
    output
        .global_clusters()
        .first()
        .cloned()
        .ok_or_else(|| ReprotectError::SourceNotFound(format!("global cluster {id}")))
}

async fn describe_cluster(
    client: &aws_sdk_rds::Client,
    id: &str,
) -> Result<Option<DbCluster>, ReprotectError> {
    match client
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(output) => Ok(output.db_clusters().first().cloned()),
        Err(error) => match error.as_service_error() {
            Some(DescribeDBClustersError::DbClusterNotFoundFault(_)) => Ok(None),
            _ => Err(AwsCallError::new("DescribeDBClusters", &error).into()),
        },
    }
}

async fn create_cluster(
    config: &AuroraConfig,
    global: &GlobalCluster,
    placement: &Placement,
    clients: &ReprotectClients,
) -> Result<(), ReprotectError> {
    clients
        .primary
        .create_db_cluster()
        .db_cluster_identifier(&config.secondary_cluster_id)
        .global_cluster_identifier(&config.global_cluster_id)
        .set_engine(global.engine().map(str::to_owned))
        .set_engine_version(global.engine_version().map(str::to_owned))
        .set_kms_key_id(config.kms_key_id.clone())
        .set_db_subnet_group_name(placement.db_subnet_group.as_ref().map(|s| s.value.clone()))
        .set_vpc_security_group_ids(
            placement
                .vpc_security_group_ids
                .as_ref()
                .map(|s| s.value.clone()),
        )
        .set_db_cluster_parameter_group_name(
            placement
                .cluster_parameter_group
                .as_ref()
                .map(|s| s.value.clone()),
        )
        .set_deletion_protection(placement.deletion_protection.as_ref().map(|s| s.value))
        .set_tags(placement.rds_tags())
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(CreateDBClusterError::DbClusterAlreadyExistsFault(_)) => {
                ReprotectError::NotReady(format!(
                    "{} was created by another call meanwhile",
                    config.secondary_cluster_id
                ))
            }
            Some(CreateDBClusterError::InvalidGlobalClusterStateFault(fault)) => {
                ReprotectError::NotReady(format!(
                    "{} cannot take a secondary now: {}",
                    config.global_cluster_id,
                    fault.message().unwrap_or("invalid global cluster state")
                ))
            }
            _ => AwsCallError::new("CreateDBCluster", &error).into(),
        })?;
    Ok(())
}

async fn create_instance(
    config: &AuroraConfig,
    global: &GlobalCluster,
    placement: &Placement,
    clients: &ReprotectClients,
) -> Result<(), ReprotectError> {
    let instance_id = format!("{}-1", config.secondary_cluster_id);
    clients
        .primary
        .create_db_instance()
        .db_instance_identifier(&instance_id)
        .db_cluster_identifier(&config.secondary_cluster_id)
        .set_engine(global.engine().map(str::to_owned))
        .db_instance_class(&config.instance_class)
        .set_db_parameter_group_name(config.parameter_group.clone())
        .set_tags(placement.rds_tags())
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(CreateDBInstanceError::DbInstanceAlreadyExistsFault(_)) => {
                ReprotectError::NotReady(format!(
                    "{instance_id} was created by another call meanwhile"
                ))
            }
            Some(CreateDBInstanceError::InvalidDbClusterStateFault(fault)) => {
                ReprotectError::NotReady(format!(
                    "{} cannot take a DB instance now: {}",
                    config.secondary_cluster_id,
                    fault.message().unwrap_or("invalid cluster state")
                ))
            }
            _ => AwsCallError::new("CreateDBInstance", &error).into(),
        })?;
    Ok(())
}
