//! The recovery plan: one YAML file per deployment that names everything the functions act on,
//! typed once. Every function's configuration variables (docs/contract.md), the CloudFormation
//! stack parameters, the IAM names and the fail back plan are derived from it by code
//! ([`render`]); `dr-failover plan check` refuses a wrong plan by name and line ([`check`]).
//!
//! The plan ships with the deployment: `dr-failover plan render` writes it as JSON into the
//! Lambda layer every function carries (`/opt/dr-failover/plan.json`), so what a function acts on
//! during a failover depends on no region but its own and on no size limit of Lambda's
//! environment (4 KB) or CloudFormation's parameters (4,096 bytes each). A function finds it
//! through `DR_PLAN_FILE` ([`crate::config::ProcessEnv`]); every report names its version
//! ([`Plan::version`], the SHA-256 of the rendered JSON).
//!
//! The JSON Schema (`dr-failover plan schema`, kept in `infra/plans/plan.schema.json`) is
//! generated from these types, so editors complete and check a plan as the functions read it.

pub mod check;
pub mod render;
pub mod yaml;

#[cfg(test)]
mod tests;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backup::config::BackupResource;
use crate::dns::config::RecordEntry;
use crate::pilot::Sizes;

/// What `DR_PLAN_FILE` names when the layer holds the plan: the path a Lambda layer's content
/// is mounted under (`/opt`), "Packaging your layer content",
/// https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html.
pub const LAYER_PLAN_FILE: &str = "/opt/dr-failover/plan.json";

/// One deployment's recovery plan. Names follow AWS's identifiers; every field not marked
/// optional is required, and unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Names this deployment: prefixes every resource the stacks create (state machines
    /// `<deployment>-failover`, ...), and is the `Deployment` dimension of its metrics. Lowercase
    /// letters, digits and hyphens, starting with a letter, at most 30 characters.
    pub deployment: String,
    /// The Region the application normally runs in (for example `eu-west-1`).
    pub primary_region: String,
    /// The disaster-recovery Region: where the stack, its functions and state machines live.
    pub dr_region: String,
    /// The AWS account the DR stack is deployed in (12 digits). Needed only to render the vault
    /// account's role (`backup.vault_role`) and the us-east-1 stack's event bus ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// What starts a real failover.
    pub trigger: Trigger,
    pub database: Database,
    pub compute: Compute,
    pub dns: Dns,
    /// The AWS Backup copies that must be restorable in the DR vault.
    pub backup: Backup,
    /// Notifications and run-time settings; every one has a default.
    #[serde(default)]
    pub operations: Operations,
}

/// The health-check alarm that starts a failover, and whether a person must approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// The CloudWatch alarm on the primary endpoint's Route 53 health check, in us-east-1
    /// (Route 53 publishes health-check metrics there only).
    pub health_check_alarm: String,
    /// The Route 53 health check the us-east-1 stack creates on the primary's endpoint, which the
    /// alarm watches; absent: the us-east-1 stack's parameters are not rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    /// The account of the us-east-1 stack that forwards the alarm, when not the DR stack's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_source_account: Option<String>,
    /// `required`: an alarm-started real failover waits for a person's answer; `none` (default)
    /// fails over unattended. Manual starts and dry runs never wait.
    #[serde(default)]
    pub approval: Approval,
    /// Seconds an approval request waits for an answer (60 to 86400; default 900).
    #[serde(default = "default_approval_timeout")]
    pub approval_timeout_seconds: u32,
    /// What an unanswered approval request does: `abort` (default) or `proceed`.
    #[serde(default)]
    pub expiry_action: ExpiryAction,
    /// An alarm-started failover whose alarm changed state longer ago than this, in seconds,
    /// is refused as a replay (60 to 86400; default 900).
    #[serde(default = "default_alarm_max_age")]
    pub alarm_max_age_seconds: u32,
}

/// The primary region's own health endpoint (not a name the failover flips).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// The endpoint's domain name; give this or `endpoint_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_fqdn: Option<String>,
    /// The endpoint's public IPv4 or IPv6 address; give this or `endpoint_fqdn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_ip: Option<String>,
    /// `HTTPS` (default), `HTTP` or `TCP`.
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// The port (default 443).
    #[serde(default = "default_port")]
    pub port: u16,
    /// HTTP(S): the path that answers 2xx or 3xx while the application is healthy (default
    /// `/health`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

fn default_protocol() -> String {
    "HTTPS".into()
}

fn default_port() -> u16 {
    443
}

fn default_approval_timeout() -> u32 {
    900
}

fn default_alarm_max_age() -> u32 {
    900
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    #[default]
    None,
    Required,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExpiryAction {
    #[default]
    Abort,
    Proceed,
}

/// The database the failover promotes: an RDS read replica, or an Aurora Global Database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Database {
    /// An RDS DB instance with a cross-Region read replica in the DR region ("Working with DB
    /// instance read replicas", Amazon RDS User Guide).
    RdsInstance {
        /// The read replica's DB instance identifier in the DR region.
        replica: String,
        /// The primary region's DB instance the replica replicates: the former primary that
        /// re-protect's new replica takes its network and settings from. Absent: give
        /// `reprotect.network` (its `former_primary`, or at least its `db_subnet_group`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        primary_instance: Option<String>,
        /// Refuse an automatic promotion above this replica lag, in seconds (default 300).
        #[serde(default = "default_max_lag")]
        max_replica_lag_seconds: u32,
        /// Backup retention set on the promoted instance, in days (1 to 35; default 7).
        #[serde(default = "default_retention")]
        backup_retention_days: u32,
        /// After a failover, the read replica of the DR writer that re-protect creates in the
        /// primary region; absent: no re-protect and no fail back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reprotect: Option<Reprotect>,
        /// The new DR replica fail back creates of the primary region's writer once it is back;
        /// absent: no fail back. Needs `reprotect`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failback_standby: Option<Box<Standby>>,
    },
    /// An Aurora Global Database with a secondary cluster in the DR region ("Using switchover or
    /// failover in an Amazon Aurora global database", Amazon Aurora User Guide).
    AuroraGlobal {
        /// The global cluster identifier.
        global_cluster: String,
        /// The secondary cluster's identifier in the DR region.
        dr_cluster: String,
        /// The primary region's cluster, the writer before a failover: fail back switches the
        /// writer over to it (or to `reprotect.cluster`). Absent: no fail back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        primary_cluster: Option<String>,
        /// The secondary re-protect adds in the primary region when Aurora did not rejoin the
        /// former primary; absent: no re-protect and no fail back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reprotect: Option<Reprotect>,
    },
}

fn default_max_lag() -> u32 {
    300
}

fn default_retention() -> u32 {
    7
}

/// The standby re-protect creates in the primary region after a failover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reprotect {
    /// rds-instance: the new read replica's identifier; aurora-global: the new secondary
    /// cluster's (its DB instance is `<name>-1`). Not the former primary's identifier.
    pub name: String,
    /// Its DB instance class, for example `db.r6g.large`.
    pub instance_class: String,
    /// Its DB parameter group in the primary region; absent: the engine's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_group: Option<String>,
    /// The primary region's KMS key ARN that encrypts it; required when the database is
    /// encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// The network and settings of the new database, each when given here (what is not given
    /// is read from the former primary in that region, which it replaces). See [`Network`].
    #[serde(default, skip_serializing_if = "Network::is_empty")]
    pub network: Network,
}

/// The DR standby fail back creates (rds-instance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Standby {
    /// Its identifier; recommended: the failover's own `replica`, so the automation is re-armed.
    /// At most 42 characters, to leave room for the retired writer's name within RDS's 63.
    pub name: String,
    /// Its DB parameter group in the DR region; absent: the engine's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_group: Option<String>,
    /// The DR region's KMS key ARN that encrypts it; required when the database is encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// The network and settings of the new database, each when given here (what is not given
    /// is read from the former primary in that region, which it replaces). See [`Network`].
    #[serde(default, skip_serializing_if = "Network::is_empty")]
    pub network: Network,
}

/// Where a standby re-protect or fail back creates is built: in the application's network, with
/// its settings. Each field given here wins; one not given is taken from the former primary of
/// that region (the instance or cluster the standby replaces), as the functions read it when they
/// run. A standby with a DB subnet group from neither is refused by the plan: RDS would put it in
/// the default VPC, or refuse it where there is none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The DB instance (rds-instance) or cluster (aurora-global) the standby replaces in its
    /// region, read for every setting not given here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub former_primary: Option<String>,
    /// The DB subnet group of the standby's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group: Option<String>,
    /// VPC security group ids of the subnet group's VPC (`sg-...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    /// rds-instance: the option group of the standby's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_group: Option<String>,
    /// aurora-global: the new secondary's DB cluster parameter group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_parameter_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// rds-instance only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_az: Option<bool>,
    /// Tags, replacing the former primary's (at most 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<std::collections::BTreeMap<String, String>>,
}

impl Network {
    pub fn is_empty(&self) -> bool {
        *self == Network::default()
    }

    /// The variables it gives (`REPROTECT_DB_SUBNET_GROUP`, ...), with `former` as the former
    /// primary when `former_primary` is not given.
    pub fn variables_with_former(&self, former: Option<&str>) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(v) = self.former_primary.as_deref().or(former) {
            out.push(("REPROTECT_FORMER_PRIMARY_ID", v.to_owned()));
        }
        if let Some(v) = &self.db_subnet_group {
            out.push(("REPROTECT_DB_SUBNET_GROUP", v.clone()));
        }
        if let Some(v) = &self.security_groups {
            out.push(("REPROTECT_VPC_SECURITY_GROUP_IDS", v.join(",")));
        }
        if let Some(v) = &self.option_group {
            out.push(("REPROTECT_OPTION_GROUP", v.clone()));
        }
        if let Some(v) = &self.cluster_parameter_group {
            out.push(("REPROTECT_CLUSTER_PARAMETER_GROUP", v.clone()));
        }
        if let Some(v) = self.deletion_protection {
            out.push(("REPROTECT_DELETION_PROTECTION", v.to_string()));
        }
        if let Some(v) = self.multi_az {
            out.push(("REPROTECT_MULTI_AZ", v.to_string()));
        }
        if let Some(v) = &self.tags {
            out.push((
                "REPROTECT_TAGS",
                serde_json::to_string(v).expect("tags serialize"),
            ));
        }
        out
    }
}

/// The DR Auto Scaling groups and the capacity each must reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Compute {
    /// Share (percent) of each target that must be InService for compute to be ready (1 to
    /// 100; default 100).
    #[serde(default = "default_ready_percent")]
    pub ready_percent: u32,
    /// Share (percent) of each group's target InService before DNS moves (1 to 100; default 50).
    #[serde(default = "default_dns_capacity_percent")]
    pub dns_capacity_percent: u32,
    /// Bound on each call into the primary region, in seconds (1 to 10; default 5).
    #[serde(default = "default_primary_timeout")]
    pub primary_timeout_seconds: u32,
    pub groups: Vec<Group>,
}

fn default_ready_percent() -> u32 {
    100
}

fn default_dns_capacity_percent() -> u32 {
    50
}

fn default_primary_timeout() -> u32 {
    5
}

/// One DR group: its target capacity, either fixed (`capacity`) or a share of its primary
/// counterpart's (`percent_of_primary` with `fallback_capacity` for when the primary region does
/// not answer), and the pilot-light sizes fail back returns it to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The Auto Scaling group's name in the DR region.
    pub group: String,
    /// Its counterpart in the primary region: the group fail back raises first, and the one
    /// `percent_of_primary` reads. Absent: no fail back for this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_group: Option<String>,
    /// A fixed target, in the group's capacity units (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i32>,
    /// The target as a share of the primary group's desired capacity (1 to 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_of_primary: Option<u32>,
    /// With `percent_of_primary`: the target when the primary region does not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_capacity: Option<i32>,
    /// The most this group may be raised to (EC2 quotas, subnets, budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_capacity: Option<i32>,
    /// The pilot-light sizes fail back returns this group to; absent: fail back leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pilot: Option<Sizes>,
}

/// The hosted zone and the records the failover moves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// The Route 53 hosted zone's id, without `/hostedzone/`.
    pub hosted_zone_id: String,
    /// Route 53 API requests per second flip-dns may make (above 0, at most 10; default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    /// `cloudwatch-alarm`: the failover records move through Route 53's data plane, with no
    /// Route 53 API call (the DNS gate, README "DNS through the data plane"); weighted and simple
    /// records are still edited through the API. Absent: every record is edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<DnsGate>,
    /// The records and how each reaches DR (docs/contract.md, `DNS_RECORDS`).
    pub records: Vec<RecordEntry>,
}

/// How the failover records move when a gate is set (`DNS_GATE`, [`crate::dns::gate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DnsGate {
    /// A Route 53 health check on an alarm in the DR region, which the failover sets with
    /// `PutMetricData` there.
    #[serde(rename = "cloudwatch-alarm")]
    CloudWatchAlarm,
}

/// The DR backup vault and the resources whose copies must be there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// The AWS Backup vault that must hold the copies.
    pub vault: String,
    /// The vault's Region; absent: the DR region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_region: Option<String>,
    /// When the vault is in another account: the role `infra/vault-account-role.yaml` created
    /// there, and the external id it requires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_role: Option<VaultRoleSpec>,
    /// How far back to look for failed copy jobs, in hours (1 to 720; default 24).
    #[serde(default = "default_copy_window")]
    pub copy_job_window_hours: u32,
    pub resources: Vec<BackupResource>,
}

fn default_copy_window() -> u32 {
    24
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VaultRoleSpec {
    pub arn: String,
    pub external_id: String,
}

/// Notifications and run-time settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    /// An address subscribed to the report topic (the subscription is confirmed from the mail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_email: Option<String>,
    /// CloudWatch namespace of the metrics (default `DrFailover`).
    #[serde(default = "default_namespace")]
    pub metric_namespace: String,
}

fn default_namespace() -> String {
    "DrFailover".into()
}

impl Default for Operations {
    fn default() -> Self {
        Operations {
            notification_email: None,
            metric_namespace: default_namespace(),
        }
    }
}

impl Plan {
    /// The plan's version: the SHA-256 of its rendered JSON ([`Plan::to_json`]), hex, as every
    /// report and readiness run names it.
    pub fn version(&self) -> String {
        crate::plan::render::sha256_hex(self.to_json().as_bytes())
    }

    /// The plan as the layer ships it: JSON, every default filled in, keys in declaration order.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a plan always serializes")
    }
}
