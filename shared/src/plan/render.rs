//! What is derived from a plan: every function's configuration variables (the names in
//! docs/contract.md, fail back's with `FAILBACK_` in front and the regions swapped), and the
//! stacks' parameters. Nothing here is typed by a user.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Approval, Database, ExpiryAction, Plan};
use crate::dns::config::{iam_name, RecordEntry};

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The longest comma-joined list of record names the DR stack's `DnsRecordNames` parameter is
/// given: CloudFormation allows 4,096 bytes a parameter value ("CloudFormation quotas",
/// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html),
/// and the names also enter flip-dns's and failback-dns's IAM policies, which IAM holds to
/// 10,240 characters a role ("IAM and AWS STS quotas",
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). Past it the
/// roles are scoped to the zone, the record types and UPSERT, not to names ([`record_name_scope`]).
pub const MAX_RECORD_NAME_LIST: usize = 2_048;

/// The IAM scope of the record names: the names in IAM form, or `["*"]` when their list is
/// longer than [`MAX_RECORD_NAME_LIST`] (the template's condition is `ForAllValues:StringLike`,
/// so `*` matches any name of the zone; an IAM-form name holds no `*` or `?`, which it writes as
/// `\052` and `\077`).
pub fn record_name_scope(plan: &Plan) -> Vec<String> {
    let names: BTreeSet<String> = plan
        .dns
        .records
        .iter()
        .map(|record| iam_name(record_name(record)))
        .collect();
    let joined: usize = names.iter().map(|name| name.len() + 1).sum();
    if joined > MAX_RECORD_NAME_LIST {
        vec!["*".to_owned()]
    } else {
        names.into_iter().collect()
    }
}

/// The most characters the group ARNs may take in one statement of a role: the template names
/// each group in up to four statements of scale-asg's role (`arn:*:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/<name>`,
/// 66 characters and the name, with its quotes and comma), and a role's inline policies hold
/// 10,240 characters together ("IAM and AWS STS quotas",
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html); the rest of the
/// role takes about 3,000.
pub const MAX_GROUP_ARNS_PER_STATEMENT: usize = 1_500;

/// The IAM scope of `names` (Auto Scaling group names): the names, or `["*"]` (any group of the
/// role's region, [`crate::compute::config::ANY_GROUP`]) when their ARNs would pass
/// [`MAX_GROUP_ARNS_PER_STATEMENT`].
pub fn group_name_scope(names: &[String]) -> Vec<String> {
    let characters: usize = names.iter().map(|name| name.len() + 69).sum();
    if characters > MAX_GROUP_ARNS_PER_STATEMENT {
        vec!["*".to_owned()]
    } else {
        names.to_vec()
    }
}

pub fn record_name(record: &RecordEntry) -> &str {
    match record {
        RecordEntry::Simple { name, .. }
        | RecordEntry::Weighted { name, .. }
        | RecordEntry::Failover { name, .. } => name,
    }
}

pub fn record_type(record: &RecordEntry) -> &str {
    match record {
        RecordEntry::Simple { record_type, .. }
        | RecordEntry::Weighted { record_type, .. }
        | RecordEntry::Failover { record_type, .. } => record_type,
    }
}

fn record_types(plan: &Plan) -> Vec<String> {
    let types: BTreeSet<String> = plan
        .dns
        .records
        .iter()
        .map(|record| record_type(record).to_owned())
        .collect();
    types.into_iter().collect()
}

/// Every configuration variable the plan gives, for every function (fail back's prefixed).
/// What the stack knows and the plan does not (ARNs, the bucket, SDK timeouts) is not here.
pub fn environment(plan: &Plan) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |name: &str, value: String| {
        env.insert(name.to_owned(), value);
    };
    set("DEPLOYMENT_NAME", plan.deployment.clone());
    set("PRIMARY_REGION", plan.primary_region.clone());
    set("DR_REGION", plan.dr_region.clone());
    set("METRIC_NAMESPACE", plan.operations.metric_namespace.clone());
    set(
        "ALARM_MAX_AGE_SECONDS",
        plan.trigger.alarm_max_age_seconds.to_string(),
    );
    for (name, value) in database_variables(&plan.database) {
        set(name, value);
    }

    // Compute.
    let groups = &plan.compute.groups;
    let targets: Vec<serde_json::Value> = groups
        .iter()
        .map(|group| {
            let mut entry = json!({ "group": group.group });
            let object = entry.as_object_mut().expect("an object");
            if let Some(capacity) = group.capacity {
                object.insert("capacity".into(), json!(capacity));
            } else {
                if let Some(primary) = &group.primary_group {
                    object.insert("primary_group".into(), json!(primary));
                }
                if let Some(percent) = group.percent_of_primary {
                    object.insert("percent_of_primary".into(), json!(percent));
                }
                if let Some(fallback) = group.fallback_capacity {
                    object.insert("fallback_capacity".into(), json!(fallback));
                }
            }
            if let Some(max) = group.max_capacity {
                object.insert("max_capacity".into(), json!(max));
            }
            entry
        })
        .collect();
    set("ASG_TARGETS", json!(targets).to_string());
    set(
        "ASG_ALLOWED_GROUP_NAMES",
        group_name_scope(&group_names(plan)).join(","),
    );
    set("ASG_READY_PERCENT", plan.compute.ready_percent.to_string());
    set(
        "ASG_DNS_CAPACITY_PERCENT",
        plan.compute.dns_capacity_percent.to_string(),
    );
    set(
        "PRIMARY_TIMEOUT_SECONDS",
        plan.compute.primary_timeout_seconds.to_string(),
    );

    // DNS.
    set("DNS_HOSTED_ZONE_ID", plan.dns.hosted_zone_id.clone());
    set(
        "DNS_RECORDS",
        serde_json::to_string(&plan.dns.records).expect("records serialize"),
    );
    set(
        "DNS_ALLOWED_RECORD_NAMES",
        record_name_scope(plan).join(","),
    );
    set("DNS_ALLOWED_RECORD_TYPES", record_types(plan).join(","));
    if let Some(rate) = plan.dns.requests_per_second {
        set("ROUTE53_REQUESTS_PER_SECOND", rate.to_string());
    }
    if let Some(super::DnsGate::CloudWatchAlarm) = plan.dns.gate {
        set("DNS_GATE", "cloudwatch-alarm".to_owned());
    }

    // Backup.
    let backup = &plan.backup;
    set("BACKUP_VAULT_NAME", backup.vault.clone());
    if let Some(region) = &backup.vault_region {
        set("BACKUP_VAULT_REGION", region.clone());
    }
    if let Some(role) = &backup.vault_role {
        set("BACKUP_VAULT_ROLE_ARN", role.arn.clone());
        set("BACKUP_VAULT_EXTERNAL_ID", role.external_id.clone());
    }
    set(
        "BACKUP_RESOURCES",
        serde_json::to_string(&backup.resources).expect("resources serialize"),
    );
    set(
        "BACKUP_COPY_JOB_WINDOW_HOURS",
        backup.copy_job_window_hours.to_string(),
    );

    // Fail back: pilot sizes, and the failover's steps with the regions swapped.
    let pilot: Vec<serde_json::Value> = groups
        .iter()
        .filter_map(|group| {
            group.pilot.map(|sizes| {
                json!({"group": group.group, "min": sizes.min, "desired": sizes.desired, "max": sizes.max})
            })
        })
        .collect();
    if !pilot.is_empty() {
        set("PILOT_CAPACITY", json!(pilot).to_string());
    }
    for (name, value) in failback_variables(plan) {
        set(&format!("FAILBACK_{name}"), value);
    }
    env
}

fn group_names(plan: &Plan) -> Vec<String> {
    plan.compute
        .groups
        .iter()
        .map(|group| group.group.clone())
        .collect()
}

fn database_variables(database: &Database) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    match database {
        Database::RdsInstance {
            replica,
            max_replica_lag_seconds,
            backup_retention_days,
            reprotect,
            primary_instance,
            ..
        } => {
            out.push(("DB_KIND", "rds-instance".to_owned()));
            out.push(("DB_REPLICA_INSTANCE_ID", replica.clone()));
            out.push((
                "DB_MAX_REPLICA_LAG_SECONDS",
                max_replica_lag_seconds.to_string(),
            ));
            out.push((
                "DB_BACKUP_RETENTION_DAYS",
                backup_retention_days.to_string(),
            ));
            if let Some(reprotect) = reprotect {
                out.push(("REPROTECT_REPLICA_INSTANCE_ID", reprotect.name.clone()));
                out.push(("REPROTECT_INSTANCE_CLASS", reprotect.instance_class.clone()));
                out.push(("REPROTECT_RETIRE_FORMER_WRITER", "false".to_owned()));
                if let Some(group) = &reprotect.parameter_group {
                    out.push(("REPROTECT_PARAMETER_GROUP", group.clone()));
                }
                if let Some(key) = &reprotect.kms_key {
                    out.push(("REPROTECT_KMS_KEY_ID", key.clone()));
                }
                out.extend(
                    reprotect
                        .network
                        .variables_with_former(primary_instance.as_deref()),
                );
            }
        }
        Database::AuroraGlobal {
            global_cluster,
            dr_cluster,
            reprotect,
            primary_cluster,
        } => {
            out.push(("DB_KIND", "aurora-global".to_owned()));
            out.push(("DB_GLOBAL_CLUSTER_ID", global_cluster.clone()));
            out.push(("DB_DR_CLUSTER_ID", dr_cluster.clone()));
            if let Some(reprotect) = reprotect {
                out.push(("REPROTECT_CLUSTER_ID", reprotect.name.clone()));
                out.push(("REPROTECT_INSTANCE_CLASS", reprotect.instance_class.clone()));
                if let Some(key) = &reprotect.kms_key {
                    out.push(("REPROTECT_KMS_KEY_ID", key.clone()));
                }
                out.extend(
                    reprotect
                        .network
                        .variables_with_former(primary_cluster.as_deref()),
                );
            }
        }
    }
    out
}

/// Whether the plan installs fail back: re-protect, and the standby (RDS) or the primary
/// cluster (Aurora) it moves back to.
pub fn fails_back(plan: &Plan) -> bool {
    match &plan.database {
        Database::RdsInstance {
            reprotect,
            failback_standby,
            ..
        } => reprotect.is_some() && failback_standby.is_some(),
        Database::AuroraGlobal {
            reprotect,
            primary_cluster,
            ..
        } => reprotect.is_some() && primary_cluster.is_some(),
    }
}

/// The fail back functions' variables, without their `FAILBACK_` prefix: the failover's, with
/// the regions swapped. DNS: the failover's records (failback-dns swaps weighted set
/// identifiers and takes simple and failover targets from what flip-dns recorded).
fn failback_variables(plan: &Plan) -> Vec<(&'static str, String)> {
    if !fails_back(plan) {
        return Vec::new();
    }
    let mut out = vec![
        ("PRIMARY_REGION", plan.dr_region.clone()),
        ("DR_REGION", plan.primary_region.clone()),
    ];
    let targets: Vec<serde_json::Value> = plan
        .compute
        .groups
        .iter()
        .filter_map(|group| {
            group.primary_group.as_ref().map(|primary| {
                // The primary group is raised to what its DR counterpart runs now (fail back's
                // "primary" is the DR region), or to the DR target when DR does not answer.
                let fallback = group
                    .capacity
                    .or(group.fallback_capacity)
                    .unwrap_or(1)
                    .max(1);
                json!({"group": primary, "primary_group": group.group, "percent_of_primary": 100,
                       "fallback_capacity": fallback})
            })
        })
        .collect();
    let names: Vec<String> = plan
        .compute
        .groups
        .iter()
        .filter_map(|group| group.primary_group.clone())
        .collect();
    out.push(("ASG_TARGETS", json!(targets).to_string()));
    out.push((
        "ASG_ALLOWED_GROUP_NAMES",
        group_name_scope(&names).join(","),
    ));
    out.push(("ASG_READY_PERCENT", plan.compute.ready_percent.to_string()));
    out.push(("ASG_DNS_CAPACITY_PERCENT", "100".to_owned()));
    out.push((
        "PRIMARY_TIMEOUT_SECONDS",
        plan.compute.primary_timeout_seconds.to_string(),
    ));
    out.push(("DNS_HOSTED_ZONE_ID", plan.dns.hosted_zone_id.clone()));
    out.push((
        "DNS_ALLOWED_RECORD_NAMES",
        record_name_scope(plan).join(","),
    ));
    out.push(("DNS_ALLOWED_RECORD_TYPES", record_types(plan).join(",")));
    if let Some(rate) = plan.dns.requests_per_second {
        out.push(("ROUTE53_REQUESTS_PER_SECOND", rate.to_string()));
    }
    match &plan.database {
        Database::RdsInstance {
            replica,
            backup_retention_days,
            reprotect: Some(reprotect),
            failback_standby: Some(standby),
            ..
        } => {
            out.push(("DB_KIND", "rds-instance".to_owned()));
            out.push(("DB_REPLICA_INSTANCE_ID", reprotect.name.clone()));
            out.push(("DB_MAX_REPLICA_LAG_SECONDS", "0".to_owned()));
            out.push((
                "DB_BACKUP_RETENTION_DAYS",
                backup_retention_days.to_string(),
            ));
            out.push(("REPROTECT_REPLICA_INSTANCE_ID", standby.name.clone()));
            out.push(("REPROTECT_INSTANCE_CLASS", reprotect.instance_class.clone()));
            out.push((
                "REPROTECT_RETIRE_FORMER_WRITER",
                (standby.name == *replica).to_string(),
            ));
            if let Some(group) = &standby.parameter_group {
                out.push(("REPROTECT_PARAMETER_GROUP", group.clone()));
            }
            if let Some(key) = &standby.kms_key {
                out.push(("REPROTECT_KMS_KEY_ID", key.clone()));
            }
            // The standby replaces the former DR writer, the failover's replica (renamed
            // <name>-retired-* once fail back retires it): its network and settings.
            out.extend(standby.network.variables_with_former(Some(replica)));
        }
        Database::AuroraGlobal {
            global_cluster,
            dr_cluster,
            primary_cluster: Some(primary),
            reprotect: Some(reprotect),
        } => {
            out.push(("DB_KIND", "aurora-global".to_owned()));
            out.push(("DB_GLOBAL_CLUSTER_ID", global_cluster.clone()));
            out.push(("DB_DR_CLUSTER_ID", format!("{primary},{}", reprotect.name)));
            out.push(("REPROTECT_CLUSTER_ID", dr_cluster.clone()));
            out.push(("REPROTECT_INSTANCE_CLASS", reprotect.instance_class.clone()));
        }
        _ => {}
    }
    out
}

/// The URL the witness probes (the DR stack's `PrimaryEndpointUrl`): the health check's endpoint,
/// `https://health.example.com:443/health`; none for a TCP health check, which has no URL.
pub fn witness_url(check: &super::HealthCheck) -> Option<String> {
    let scheme = match check.protocol.to_ascii_uppercase().as_str() {
        "HTTPS" => "https",
        "HTTP" => "http",
        _ => return None,
    };
    let host = match (&check.endpoint_fqdn, &check.endpoint_ip) {
        (Some(fqdn), _) => fqdn.trim_end_matches('.').to_owned(),
        (None, Some(ip)) if ip.contains(':') => format!("[{ip}]"),
        (None, Some(ip)) => ip.clone(),
        (None, None) => return None,
    };
    let path = check.path.as_deref().unwrap_or("/health");
    Some(format!("{scheme}://{host}:{}{path}", check.port))
}

/// The parameters of each stack, by template: `dr-region` (infra/template.yaml), `us-east-1`
/// (infra/us-east-1.yaml, when the plan names the health check's endpoint),
/// `vault-account-role` (infra/vault-account-role.yaml, when the vault is in another account).
/// Values as CloudFormation takes them (lists comma-joined). Parameters the plan leaves at their
/// template default are left out.
pub fn stack_parameters(plan: &Plan) -> BTreeMap<&'static str, BTreeMap<&'static str, String>> {
    let mut stacks = BTreeMap::new();
    let mut dr = BTreeMap::new();
    dr.insert("DeploymentName", plan.deployment.clone());
    dr.insert("PrimaryRegion", plan.primary_region.clone());
    dr.insert("PlanVersion", plan.version());
    dr.insert(
        "HealthCheckAlarmName",
        plan.trigger.health_check_alarm.clone(),
    );
    if let Some(account) = &plan.trigger.alarm_source_account {
        dr.insert("AlarmSourceAccountId", account.clone());
    }
    dr.insert(
        "AlarmFailoverApproval",
        match plan.trigger.approval {
            Approval::None => "none",
            Approval::Required => "required",
        }
        .to_owned(),
    );
    dr.insert(
        "ApprovalTimeoutSeconds",
        plan.trigger.approval_timeout_seconds.to_string(),
    );
    dr.insert(
        "ApprovalExpiryAction",
        match plan.trigger.expiry_action {
            ExpiryAction::Abort => "abort",
            ExpiryAction::Proceed => "proceed",
        }
        .to_owned(),
    );
    dr.insert(
        "AlarmMaxAgeSeconds",
        plan.trigger.alarm_max_age_seconds.to_string(),
    );
    let env = environment(plan);
    let from_env = |dr: &mut BTreeMap<&'static str, String>, parameter, variable: &str| {
        if let Some(value) = env.get(variable) {
            dr.insert(parameter, value.clone());
        }
    };
    from_env(&mut dr, "DbKind", "DB_KIND");
    from_env(&mut dr, "DbReplicaInstanceId", "DB_REPLICA_INSTANCE_ID");
    from_env(
        &mut dr,
        "DbMaxReplicaLagSeconds",
        "DB_MAX_REPLICA_LAG_SECONDS",
    );
    from_env(&mut dr, "DbBackupRetentionDays", "DB_BACKUP_RETENTION_DAYS");
    from_env(&mut dr, "DbGlobalClusterId", "DB_GLOBAL_CLUSTER_ID");
    from_env(&mut dr, "DbDrClusterId", "DB_DR_CLUSTER_ID");
    from_env(
        &mut dr,
        "ReprotectReplicaInstanceId",
        "REPROTECT_REPLICA_INSTANCE_ID",
    );
    from_env(&mut dr, "ReprotectClusterId", "REPROTECT_CLUSTER_ID");
    from_env(
        &mut dr,
        "ReprotectInstanceClass",
        "REPROTECT_INSTANCE_CLASS",
    );
    from_env(
        &mut dr,
        "ReprotectParameterGroupName",
        "REPROTECT_PARAMETER_GROUP",
    );
    from_env(&mut dr, "ReprotectKmsKeyArn", "REPROTECT_KMS_KEY_ID");
    from_env(&mut dr, "AsgGroupNames", "ASG_ALLOWED_GROUP_NAMES");
    from_env(&mut dr, "AsgReadyPercent", "ASG_READY_PERCENT");
    from_env(&mut dr, "DnsCapacityPercent", "ASG_DNS_CAPACITY_PERCENT");
    from_env(&mut dr, "PrimaryTimeoutSeconds", "PRIMARY_TIMEOUT_SECONDS");
    from_env(&mut dr, "DnsHostedZoneId", "DNS_HOSTED_ZONE_ID");
    from_env(&mut dr, "DnsRecordNames", "DNS_ALLOWED_RECORD_NAMES");
    from_env(&mut dr, "DnsRecordTypes", "DNS_ALLOWED_RECORD_TYPES");
    from_env(&mut dr, "DnsGate", "DNS_GATE");
    from_env(
        &mut dr,
        "Route53RequestsPerSecond",
        "ROUTE53_REQUESTS_PER_SECOND",
    );
    from_env(&mut dr, "BackupVaultName", "BACKUP_VAULT_NAME");
    from_env(&mut dr, "BackupVaultRegion", "BACKUP_VAULT_REGION");
    from_env(&mut dr, "BackupVaultRoleArn", "BACKUP_VAULT_ROLE_ARN");
    from_env(&mut dr, "BackupVaultExternalId", "BACKUP_VAULT_EXTERNAL_ID");
    from_env(
        &mut dr,
        "BackupCopyJobWindowHours",
        "BACKUP_COPY_JOB_WINDOW_HOURS",
    );
    from_env(&mut dr, "MetricNamespace", "METRIC_NAMESPACE");
    from_env(
        &mut dr,
        "FailbackAsgGroupNames",
        "FAILBACK_ASG_ALLOWED_GROUP_NAMES",
    );
    match &plan.database {
        Database::RdsInstance {
            failback_standby: Some(standby),
            ..
        } if fails_back(plan) => {
            dr.insert("FailbackStandbyReplicaInstanceId", standby.name.clone());
            if let Some(group) = &standby.parameter_group {
                dr.insert("FailbackStandbyParameterGroupName", group.clone());
            }
            if let Some(key) = &standby.kms_key {
                dr.insert("FailbackStandbyKmsKeyArn", key.clone());
            }
        }
        Database::AuroraGlobal {
            primary_cluster: Some(primary),
            ..
        } if fails_back(plan) => {
            dr.insert("DbPrimaryClusterId", primary.clone());
        }
        _ => {}
    }
    if let Some(email) = &plan.operations.notification_email {
        dr.insert("NotificationEmail", email.clone());
    }
    // The witness probes the endpoint the health check watches (one fact, typed once).
    if let Some(url) = plan.trigger.health_check.as_ref().and_then(witness_url) {
        dr.insert("PrimaryEndpointUrl", url);
    }
    stacks.insert("dr-region", dr);
    if let Some(check) = &plan.trigger.health_check {
        let mut east = BTreeMap::new();
        east.insert("DeploymentName", plan.deployment.clone());
        east.insert("AlarmName", plan.trigger.health_check_alarm.clone());
        if let Some(fqdn) = &check.endpoint_fqdn {
            east.insert("EndpointFqdn", fqdn.clone());
        }
        if let Some(ip) = &check.endpoint_ip {
            east.insert("EndpointIp", ip.clone());
        }
        east.insert("EndpointProtocol", check.protocol.clone());
        east.insert("EndpointPort", check.port.to_string());
        if let Some(path) = &check.path {
            east.insert("EndpointPath", path.clone());
        }
        // The DR region's default event bus the alarm is forwarded to; none when the DR region
        // is us-east-1 itself (the DR stack sees the alarm there).
        if let (Some(account), false) = (&plan.account_id, plan.dr_region == "us-east-1") {
            east.insert(
                "DrEventBusArn",
                format!(
                    "arn:aws:events:{}:{account}:event-bus/default",
                    plan.dr_region
                ),
            );
        }
        stacks.insert("us-east-1", east);
    }
    if let (Some(role), Some(account)) = (&plan.backup.vault_role, &plan.account_id) {
        let mut vault = BTreeMap::new();
        vault.insert("DeploymentName", plan.deployment.clone());
        vault.insert("WorkloadAccountId", account.clone());
        vault.insert(
            "VerifyFunctionRoleName",
            format!("{}-verify-backup-{}", plan.deployment, plan.dr_region),
        );
        vault.insert("ExternalId", role.external_id.clone());
        vault.insert("BackupVaultName", plan.backup.vault.clone());
        vault.insert(
            "BackupVaultRegion",
            plan.backup
                .vault_region
                .clone()
                .unwrap_or_else(|| plan.dr_region.clone()),
        );
        stacks.insert("vault-account-role", vault);
    }
    stacks
}
