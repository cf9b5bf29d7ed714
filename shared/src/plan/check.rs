//! `dr-failover plan check`: every mistake in a plan that would fail a deploy or a first run,
//! each by the field it concerns (and, through the [`LineIndex`](super::yaml::LineIndex), its
//! line). The plan is first read by the same types the functions use; then each function's own
//! configuration reader runs on what the plan renders for it, so a plan that passes here is one
//! every function starts with; then the limits of the stacks that deploy it.

use std::collections::{BTreeMap, BTreeSet};

use super::render::{self, record_name, stack_parameters};
use super::yaml::{self, PlanError, PlanFile};
use super::{Database, Plan};
use crate::backup::BackupConfig;
use crate::compute::ComputeConfig;
use crate::config::{is_region_name, ConfigError, Regions, Source};
use crate::database::DatabaseConfig;
use crate::dns::DnsConfig;
use crate::execution_input::InputRules;
use crate::failback::Prefixed;
use crate::pilot::PilotConfig;
use crate::reprotect::ReprotectConfig;

/// CloudFormation's limit on one parameter value, in bytes ("CloudFormation quotas",
/// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
pub const MAX_PARAMETER_BYTES: usize = 4_096;

/// What a plan holds, for the first line of a successful check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub records: usize,
    pub groups: usize,
    pub backup_resources: usize,
    pub version: String,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ok: {} records, {} groups, {} backup resources",
            self.records, self.groups, self.backup_resources
        )
    }
}

/// Reads and checks a plan file's text. Errors: every mistake found, each with its field path
/// and position; a file that does not parse gives its one parse error.
pub fn check_text(text: &str) -> Result<(PlanFile, Summary), Vec<PlanError>> {
    let file = yaml::parse(text).map_err(|error| vec![error])?;
    let mut errors = check(&file.plan);
    for error in &mut errors {
        // A reader's message that starts with a field of the item ("dr.values ...") points at it.
        if let Some((field, rest)) = error.message.split_once(' ') {
            let is_field = field
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.');
            let path = format!("{}.{field}", error.path);
            if is_field && !error.path.is_empty() && file.index.has(&path) {
                error.path = path;
                error.message = rest.to_owned();
            }
        }
        error.position = file.index.position(&error.path);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let plan = &file.plan;
    let summary = Summary {
        records: plan.dns.records.len(),
        groups: plan.compute.groups.len(),
        backup_resources: plan.backup.resources.len(),
        version: plan.version(),
    };
    Ok((file, summary))
}

/// Every mistake in `plan`, by field path (positions are filled in by [`check_text`]).
pub fn check(plan: &Plan) -> Vec<PlanError> {
    let mut errors = Errors::default();
    names(plan, &mut errors);
    database(plan, &mut errors);
    compute(plan, &mut errors);
    backup(plan, &mut errors);
    items(plan, &mut errors);
    dns_gate(plan, &mut errors);
    if errors.0.is_empty() {
        functions(plan, &mut errors);
    }
    if errors.0.is_empty() {
        limits(plan, &mut errors);
    }
    errors.0
}

/// A gate moves failover records only: a plan with a gate and none would move nothing by it.
fn dns_gate(plan: &Plan, errors: &mut Errors) {
    let failover = plan
        .dns
        .records
        .iter()
        .any(|record| matches!(record, crate::dns::config::RecordEntry::Failover { .. }));
    if plan.dns.gate.is_some() && !failover {
        errors.add(
            "dns.gate",
            "the gate moves failover records only, and the plan has none: make the records that \
             must move without Route 53's API failover records (README, \"DNS through the data \
             plane\"), or remove gate",
        );
    }
}

/// Each record and each group alone through its function's reader, so that every wrong one is
/// named, not only the first.
fn items(plan: &Plan, errors: &mut Errors) {
    let env = with_stack(&render::environment(plan));
    let targets: Vec<serde_json::Value> =
        serde_json::from_str(&env["ASG_TARGETS"]).expect("rendered targets parse");
    for (index, record) in plan.dns.records.iter().enumerate() {
        let mut one = env.clone();
        // Alone, the record is also the only one the role's scope must hold: whether the
        // whole plan's scope holds every record is checked once, in `functions`.
        one.insert("DNS_ALLOWED_RECORD_NAMES".into(), "x".into());
        one.insert("DNS_ALLOWED_RECORD_TYPES".into(), "A".into());
        one.insert(
            "DNS_RECORDS".into(),
            serde_json::to_string(&[record]).expect("a record serializes"),
        );
        if let Err(error) = DnsConfig::from_source(&one) {
            let (path, message) = locate(plan, &error);
            errors.add(
                path.replacen("dns.records[0]", &format!("dns.records[{index}]"), 1),
                message,
            );
        }
    }
    for (index, target) in targets.iter().enumerate() {
        let mut one = env.clone();
        one.insert(
            "ASG_TARGETS".into(),
            serde_json::json!([target]).to_string(),
        );
        if let Err(error) = ComputeConfig::from_source(&one) {
            let (path, message) = locate(plan, &error);
            errors.add(
                path.replacen("compute.groups[0]", &format!("compute.groups[{index}]"), 1),
                message,
            );
        }
    }
}

#[derive(Default)]
struct Errors(Vec<PlanError>);

impl Errors {
    /// Adds a mistake, once.
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let error = PlanError {
            path: path.into(),
            position: None,
            message: message.into(),
        };
        if !self.0.contains(&error) {
            self.0.push(error);
        }
    }
}

fn matches_identifier(value: &str, max: usize) -> bool {
    // RDS identifiers: a letter first, then letters, digits and hyphens, no two hyphens in a row
    // and no hyphen last ("Naming constraints in Amazon RDS",
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.Constraints).
    let bytes = value.as_bytes();
    !value.is_empty()
        && value.len() <= max
        && bytes[0].is_ascii_alphabetic()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !value.contains("--")
        && !value.ends_with('-')
}

fn is_kms_key_arn(value: &str) -> Option<&str> {
    // arn:<partition>:kms:<region>:<account>:key/<id>
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    (parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "kms"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].starts_with("key/"))
    .then_some(parts[3])
}

fn names(plan: &Plan, errors: &mut Errors) {
    let deployment = &plan.deployment;
    let good = deployment.len() >= 2
        && deployment.len() <= 30
        && deployment.starts_with(|c: char| c.is_ascii_lowercase())
        && deployment
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !deployment.ends_with('-');
    if !good {
        errors.add(
            "deployment",
            format!(
                "{deployment:?}: lowercase letters, digits and hyphens, starting with a letter, \
                 not ending with a hyphen, 2 to 30 characters (it prefixes every resource name)"
            ),
        );
    }
    for (path, region) in [
        ("primary_region", &plan.primary_region),
        ("dr_region", &plan.dr_region),
    ] {
        if !is_region_name(region) {
            errors.add(
                path,
                format!("{region:?} is not an AWS Region name (for example eu-central-1)"),
            );
        }
    }
    if plan.primary_region == plan.dr_region {
        errors.add("dr_region", "is the same as primary_region");
    }
    let twelve_digits = |v: &str| v.len() == 12 && v.chars().all(|c| c.is_ascii_digit());
    if let Some(account) = &plan.account_id {
        if !twelve_digits(account) {
            errors.add(
                "account_id",
                format!("{account:?} is not a 12-digit account id"),
            );
        }
    }
    let trigger = &plan.trigger;
    if trigger.health_check_alarm.trim().is_empty() || trigger.health_check_alarm.len() > 255 {
        errors.add(
            "trigger.health_check_alarm",
            "must be 1 to 255 characters (a CloudWatch alarm name)",
        );
    }
    if let Some(account) = &trigger.alarm_source_account {
        if !twelve_digits(account) {
            errors.add(
                "trigger.alarm_source_account",
                format!("{account:?} is not a 12-digit account id"),
            );
        }
    }
    for (path, value) in [
        (
            "trigger.approval_timeout_seconds",
            trigger.approval_timeout_seconds,
        ),
        (
            "trigger.alarm_max_age_seconds",
            trigger.alarm_max_age_seconds,
        ),
    ] {
        if !(60..=86_400).contains(&value) {
            errors.add(path, format!("{value} is outside 60..=86400 seconds"));
        }
    }
    if let Some(check) = &trigger.health_check {
        if check.endpoint_fqdn.is_some() == check.endpoint_ip.is_some() {
            errors.add(
                "trigger.health_check",
                "give exactly one of endpoint_fqdn and endpoint_ip",
            );
        }
        if !["HTTP", "HTTPS", "TCP"].contains(&check.protocol.as_str()) {
            errors.add(
                "trigger.health_check.protocol",
                format!("{:?} is not one of HTTP, HTTPS, TCP", check.protocol),
            );
        }
    }
    // "HostedZone", Id: at most 32 characters
    // (https://docs.aws.amazon.com/Route53/latest/APIReference/API_HostedZone.html); Route 53's
    // are capital letters and digits, usually starting with Z.
    if plan.dns.hosted_zone_id.is_empty()
        || plan.dns.hosted_zone_id.len() > 32
        || !plan
            .dns
            .hosted_zone_id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        errors.add(
            "dns.hosted_zone_id",
            format!(
                "{:?} is not a Route 53 hosted zone id (up to 32 capital letters and digits, \
                 without /hostedzone/)",
                plan.dns.hosted_zone_id
            ),
        );
    }
    if let Some(email) = &plan.operations.notification_email {
        let parts: Vec<&str> = email.split('@').collect();
        if parts.len() != 2 || parts[0].is_empty() || !parts[1].contains('.') {
            errors.add(
                "operations.notification_email",
                format!("{email:?} is not an email address"),
            );
        }
    }
}

fn database(plan: &Plan, errors: &mut Errors) {
    let kms_in = |errors: &mut Errors, path: &str, key: &Option<String>, region: &str| {
        if let Some(key) = key {
            match is_kms_key_arn(key) {
                None => errors.add(path, format!("{key:?} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)")),
                Some(key_region) if key_region != region => errors.add(
                    path,
                    format!("{key:?} is a key of {key_region}; it encrypts a database in {region}, and KMS keys are specific to their Region"),
                ),
                Some(_) => {}
            }
        }
    };
    let class = |errors: &mut Errors, path: &str, class: &str| {
        let parts: Vec<&str> = class.split('.').collect();
        if parts.len() != 3 || parts[0] != "db" || parts.iter().any(|p| p.is_empty()) {
            errors.add(
                path,
                format!("{class:?} is not a DB instance class (db.<family>.<size>, for example db.r6g.large)"),
            );
        }
    };
    match &plan.database {
        Database::RdsInstance {
            replica,
            max_replica_lag_seconds: _,
            backup_retention_days,
            reprotect,
            failback_standby,
            primary_instance,
        } => {
            if let Some(reprotect) = reprotect {
                let network = &reprotect.network;
                if primary_instance.is_none()
                    && network.former_primary.is_none()
                    && network.db_subnet_group.is_none()
                {
                    errors.add(
                        "database.reprotect",
                        "names no network for the new replica: give database.primary_instance (the \
                         primary region's instance, whose subnet group, security groups and \
                         settings it takes) or reprotect.network.db_subnet_group; RDS would put it \
                         in the default VPC, or refuse it where there is none",
                    );
                }
            }
            if !matches_identifier(replica, 63) {
                errors.add("database.replica", format!("{replica:?} is not an RDS DB instance identifier (a letter, then letters, digits and single hyphens, at most 63, no hyphen last)"));
            }
            if !(1..=35).contains(backup_retention_days) {
                errors.add(
                    "database.backup_retention_days",
                    format!("{backup_retention_days} is outside 1..=35 days"),
                );
            }
            if let Some(reprotect) = reprotect {
                if !matches_identifier(&reprotect.name, 63) {
                    errors.add(
                        "database.reprotect.name",
                        format!("{:?} is not an RDS DB instance identifier", reprotect.name),
                    );
                }
                if reprotect.name == *replica {
                    errors.add("database.reprotect.name", "is the DR replica's own name: re-protect creates a new replica of it in the primary region, under another name");
                }
                class(
                    errors,
                    "database.reprotect.instance_class",
                    &reprotect.instance_class,
                );
                kms_in(
                    errors,
                    "database.reprotect.kms_key",
                    &reprotect.kms_key,
                    &plan.primary_region,
                );
            }
            if let Some(standby) = failback_standby {
                if reprotect.is_none() {
                    errors.add("database.failback_standby", "needs database.reprotect: fail back moves the writer to the replica re-protect created");
                }
                if !matches_identifier(&standby.name, 42) {
                    errors.add("database.failback_standby.name", format!("{:?}: an RDS DB instance identifier of at most 42 characters, leaving room for the retired writer's name (<name>-retired-YYYYMMDDHHMM) within RDS's 63", standby.name));
                }
                kms_in(
                    errors,
                    "database.failback_standby.kms_key",
                    &standby.kms_key,
                    &plan.dr_region,
                );
            }
        }
        Database::AuroraGlobal {
            global_cluster,
            dr_cluster,
            primary_cluster,
            reprotect,
        } => {
            if !matches_identifier(global_cluster, 255) {
                errors.add(
                    "database.global_cluster",
                    format!("{global_cluster:?} is not a global cluster identifier"),
                );
            }
            for (path, value) in [
                ("database.dr_cluster", Some(dr_cluster)),
                ("database.primary_cluster", primary_cluster.as_ref()),
            ] {
                if let Some(value) = value {
                    if !matches_identifier(value, 63) {
                        errors.add(path, format!("{value:?} is not a DB cluster identifier"));
                    }
                }
            }
            if let Some(reprotect) = reprotect {
                if !matches_identifier(&reprotect.name, 61) {
                    errors.add("database.reprotect.name", format!("{:?}: a DB cluster identifier of at most 61 characters (its instance is <name>-1)", reprotect.name));
                }
                class(
                    errors,
                    "database.reprotect.instance_class",
                    &reprotect.instance_class,
                );
                if reprotect.parameter_group.is_some() {
                    errors.add("database.reprotect.parameter_group", "is for rds-instance only: an Aurora secondary takes its cluster's parameter group");
                }
                kms_in(
                    errors,
                    "database.reprotect.kms_key",
                    &reprotect.kms_key,
                    &plan.primary_region,
                );
            }
            if let Some(reprotect) = reprotect {
                let network = &reprotect.network;
                if primary_cluster.is_none()
                    && network.former_primary.is_none()
                    && network.db_subnet_group.is_none()
                {
                    errors.add(
                        "database.reprotect",
                        "names no network for the new secondary: give database.primary_cluster \
                         (whose subnet group, security groups and settings it takes) or \
                         reprotect.network.db_subnet_group",
                    );
                }
            }
            if primary_cluster.is_some() && reprotect.is_none() {
                errors.add(
                    "database.primary_cluster",
                    "needs database.reprotect: fail back moves the writer back after re-protect",
                );
            }
        }
    }
}

fn compute(plan: &Plan, errors: &mut Errors) {
    let compute = &plan.compute;
    for (path, value, range) in [
        ("compute.ready_percent", compute.ready_percent, 1..=100),
        (
            "compute.dns_capacity_percent",
            compute.dns_capacity_percent,
            1..=100,
        ),
        (
            "compute.primary_timeout_seconds",
            compute.primary_timeout_seconds,
            1..=10,
        ),
    ] {
        if !range.contains(&value) {
            errors.add(
                path,
                format!("{value} is outside {}..={}", range.start(), range.end()),
            );
        }
    }
    let mut primaries = BTreeSet::new();
    let fails_back = render::fails_back(plan);
    for (index, group) in compute.groups.iter().enumerate() {
        let path = format!("compute.groups[{index}]");
        if let Some(primary) = &group.primary_group {
            if !primaries.insert(primary.clone()) {
                errors.add(
                    format!("{path}.primary_group"),
                    format!("{primary} is the counterpart of two DR groups"),
                );
            }
        } else if fails_back && group.pilot.is_some() {
            errors.add(path.clone(), "names no primary_group: fail back must know which primary group to raise before it returns this one to its pilot sizes");
        }
        if fails_back && group.pilot.is_none() {
            errors.add(format!("{path}.pilot"), "is missing: fail back returns every DR group to its pilot-light sizes (min, desired, max)");
        }
    }
}

fn backup(plan: &Plan, errors: &mut Errors) {
    let backup = &plan.backup;
    let vault_ok = (2..=50).contains(&backup.vault.len())
        && backup
            .vault
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !vault_ok {
        errors.add(
            "backup.vault",
            format!(
                "{:?} is not a backup vault name (2 to 50 letters, digits, hyphens, underscores)",
                backup.vault
            ),
        );
    }
    if let Some(region) = &backup.vault_region {
        if !is_region_name(region) {
            errors.add(
                "backup.vault_region",
                format!("{region:?} is not an AWS Region name"),
            );
        }
    }
    if let Some(role) = &backup.vault_role {
        if !role.arn.starts_with("arn:")
            || !role.arn.contains(":iam::")
            || !role.arn.contains(":role/")
        {
            errors.add(
                "backup.vault_role.arn",
                format!("{:?} is not an IAM role ARN", role.arn),
            );
        }
        if role.external_id.len() < 2 || role.external_id.len() > 1224 {
            errors.add(
                "backup.vault_role.external_id",
                "must be 2 to 1224 characters",
            );
        }
        if plan.account_id.is_none() {
            errors.add(
                "backup.vault_role",
                "needs account_id (the DR stack's account), which the vault account's role trusts",
            );
        }
    }
    if !(1..=720).contains(&backup.copy_job_window_hours) {
        errors.add(
            "backup.copy_job_window_hours",
            format!("{} is outside 1..=720", backup.copy_job_window_hours),
        );
    }
    let mut seen = BTreeSet::new();
    for (index, resource) in backup.resources.iter().enumerate() {
        let parts: Vec<&str> = resource.arn.splitn(6, ':').collect();
        if parts.len() < 6 || parts[0] != "arn" {
            errors.add(
                format!("backup.resources[{index}].arn"),
                format!("{:?} is not an ARN", resource.arn),
            );
        }
        if !seen.insert(resource.arn.clone()) {
            errors.add(format!("backup.resources[{index}].arn"), "is listed twice");
        }
        if resource.rpo_minutes == 0 {
            errors.add(
                format!("backup.resources[{index}].rpo_minutes"),
                "must be at least 1",
            );
        }
    }
}

/// The variables the stack gives every function besides the plan's, with values of the right
/// shape, so that each function's reader runs as it does in Lambda.
fn with_stack(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env = env.clone();
    for (name, value) in [
        ("SDK_OPERATION_TIMEOUT_SECONDS", "10"),
        ("FAILBACK_SDK_OPERATION_TIMEOUT_SECONDS", "10"),
        // The template names the gate's alarm after the deployment.
        ("DNS_GATE_ALARM_NAME", "gate"),
    ] {
        env.entry(name.to_owned())
            .or_insert_with(|| value.to_owned());
    }
    env
}

/// Runs each function's configuration reader on what the plan renders for it; a refusal names
/// the plan's field.
fn functions(plan: &Plan, errors: &mut Errors) {
    let env = with_stack(&render::environment(plan));
    let source: &dyn Source = &env;
    let at = |errors: &mut Errors, error: ConfigError| {
        let (path, message) = locate(plan, &error);
        errors.add(path, message);
    };
    if let Err(error) = Regions::from_source(source) {
        at(errors, error);
    }
    if let Err(error) = DatabaseConfig::from_source(source) {
        at(errors, error);
    }
    if let Err(error) = ComputeConfig::from_source(source) {
        at(errors, error);
    }
    if let Err(error) = DnsConfig::from_source(source) {
        at(errors, error);
    }
    if let Err(error) = BackupConfig::from_source(source) {
        at(errors, error);
    }
    if let Err(error) = InputRules::from_source(source) {
        at(errors, error);
    }
    if let Ok(regions) = Regions::from_source(source) {
        let reprotects = match &plan.database {
            Database::RdsInstance { reprotect, .. } | Database::AuroraGlobal { reprotect, .. } => {
                reprotect.is_some()
            }
        };
        if reprotects {
            if let Err(error) = ReprotectConfig::from_source(source, &regions) {
                at(errors, error);
            }
        }
    }
    if render::fails_back(plan) {
        let failback = Prefixed(source);
        if let Err(error) = PilotConfig::from_source(source) {
            at(errors, error);
        }
        match Regions::from_source(&failback) {
            Err(error) => at(errors, error),
            Ok(regions) => {
                if let Err(error) = DatabaseConfig::from_source(&failback) {
                    at(errors, error);
                }
                if let Err(error) = ComputeConfig::from_source(&failback) {
                    at(errors, error);
                }
                if let Err(error) = ReprotectConfig::from_source(&failback, &regions) {
                    at(errors, error);
                }
            }
        }
    }
}

/// The plan field a function's configuration error concerns, and the message in the plan's
/// terms: `DNS_RECORDS` "at [3]: ..." is `dns.records[3]`.
fn locate(plan: &Plan, error: &ConfigError) -> (String, String) {
    let (name, reason) = match error {
        ConfigError::Missing(name) => (*name, "is missing".to_owned()),
        ConfigError::Invalid { name, reason } => (*name, reason.clone()),
    };
    let indexed = |base: &str| -> (String, String) {
        let text = reason.trim_start_matches("at ");
        if let Some(rest) = text.strip_prefix('[') {
            if let Some((index, tail)) = rest.split_once(']') {
                if let Ok(index) = index.parse::<usize>() {
                    let tail = tail.trim_start_matches(':').trim();
                    let (field, message) = match tail.strip_prefix('.') {
                        Some(field_and_message) => match field_and_message.split_once(' ') {
                            Some((field, message)) => (format!(".{field}"), message.to_owned()),
                            None => (String::new(), field_and_message.to_owned()),
                        },
                        None => (String::new(), tail.to_owned()),
                    };
                    return (format!("{base}[{index}]{field}"), message);
                }
            }
        }
        (base.to_owned(), reason.clone())
    };
    let plain = name.trim_start_matches("FAILBACK_");
    let failback = name.starts_with("FAILBACK_");
    let (path, message) = match plain {
        "DNS_RECORDS" => indexed("dns.records"),
        "ASG_TARGETS" if !failback => indexed("compute.groups"),
        "ASG_TARGETS" | "ASG_ALLOWED_GROUP_NAMES" => ("compute.groups".to_owned(), reason.clone()),
        "PILOT_CAPACITY" => {
            let (path, message) = indexed("compute.groups");
            // PILOT_CAPACITY lists only the groups with pilot sizes: find the plan's index.
            let pilot_groups: Vec<usize> = plan
                .compute
                .groups
                .iter()
                .enumerate()
                .filter(|(_, g)| g.pilot.is_some())
                .map(|(i, _)| i)
                .collect();
            let fixed = path
                .strip_prefix("compute.groups[")
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(index, tail)| {
                    let index: usize = index.parse().ok()?;
                    Some(format!(
                        "compute.groups[{}].pilot{tail}",
                        pilot_groups.get(index)?
                    ))
                });
            (fixed.unwrap_or(path), message)
        }
        "BACKUP_RESOURCES" => indexed("backup.resources"),
        "DNS_HOSTED_ZONE_ID" => ("dns.hosted_zone_id".to_owned(), reason.clone()),
        "ROUTE53_REQUESTS_PER_SECOND" => ("dns.requests_per_second".to_owned(), reason.clone()),
        "DNS_ALLOWED_RECORD_NAMES" | "DNS_ALLOWED_RECORD_TYPES" => {
            ("dns.records".to_owned(), reason.clone())
        }
        "ASG_READY_PERCENT" => ("compute.ready_percent".to_owned(), reason.clone()),
        "ASG_DNS_CAPACITY_PERCENT" => ("compute.dns_capacity_percent".to_owned(), reason.clone()),
        "PRIMARY_TIMEOUT_SECONDS" => ("compute.primary_timeout_seconds".to_owned(), reason.clone()),
        "PRIMARY_REGION" => ("primary_region".to_owned(), reason.clone()),
        "DR_REGION" => ("dr_region".to_owned(), reason.clone()),
        "ALARM_MAX_AGE_SECONDS" => ("trigger.alarm_max_age_seconds".to_owned(), reason.clone()),
        other if other.starts_with("REPROTECT_") && failback => {
            ("database.failback_standby".to_owned(), reason.clone())
        }
        other if other.starts_with("REPROTECT_") => {
            ("database.reprotect".to_owned(), reason.clone())
        }
        other if other.starts_with("BACKUP_") => ("backup".to_owned(), reason.clone()),
        _ => ("database".to_owned(), reason.clone()),
    };
    let message = if failback {
        format!("fail back ({name}): {message}")
    } else {
        message
    };
    (path, message)
}

/// The limits of what deploys it: each stack parameter within CloudFormation's 4,096 bytes.
fn limits(plan: &Plan, errors: &mut Errors) {
    for (stack, parameters) in stack_parameters(plan) {
        for (name, value) in parameters {
            if value.len() > MAX_PARAMETER_BYTES {
                let path = match name {
                    "AsgGroupNames" | "FailbackAsgGroupNames" => "compute.groups",
                    "DnsRecordNames" | "DnsRecordTypes" => "dns.records",
                    "NotificationEmail" => "operations.notification_email",
                    _ => "",
                };
                errors.add(
                    path,
                    format!(
                        "the {stack} stack's parameter {name} would be {} bytes; CloudFormation \
                         allows {MAX_PARAMETER_BYTES} a parameter value",
                        value.len()
                    ),
                );
            }
        }
    }
    let mut seen = BTreeMap::new();
    for (index, record) in plan.dns.records.iter().enumerate() {
        let key = (
            crate::dns::config::normalize(record_name(record)),
            render::record_type(record).to_owned(),
        );
        if let Some(first) = seen.insert(key, index) {
            errors.add(
                format!("dns.records[{index}]"),
                format!("is the same record as dns.records[{first}]"),
            );
        }
    }
}
