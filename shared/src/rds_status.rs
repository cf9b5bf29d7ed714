//! RDS statuses that do not end by themselves: a wait on one of them is over, whatever its budget.
//!
//! A step that waits for RDS (a promotion finishing, a replica being created, a global cluster
//! moving its writer) polls until the status it waits for shows up or the stage's budget is spent.
//! Most statuses RDS passes through end by themselves (`creating`, `modifying`, `backing-up`,
//! `rebooting`, ...). The ones listed here do not: AWS documents each as needing a person (a
//! parameter group fixed and the instance rebooted, storage added, a KMS key re-enabled, a
//! point-in-time restore), so waiting for them only spends the budget and then reports "timed out"
//! instead of what AWS said. The steps answer them at once with [`Stuck`] (`DrFailover.AwsError`).
//!
//! AWS: "Viewing Amazon RDS DB instance status", Amazon RDS User Guide,
//! https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status;
//! "Viewing an Aurora DB cluster's status", Amazon Aurora User Guide,
//! https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/accessing-monitoring.html;
//! "DBInstanceStatusInfo", Amazon RDS API Reference,
//! https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstanceStatusInfo.html.

/// The DB instance status page, cited by every answer about an instance's status.
pub const INSTANCE_STATUS_PAGE: &str =
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status";

/// The DB cluster status page, cited by every answer about an Aurora cluster's status.
pub const CLUSTER_STATUS_PAGE: &str =
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/accessing-monitoring.html";

/// DB instance statuses RDS does not leave by itself, each with what AWS documents as the way out.
pub const STUCK_INSTANCE_STATUSES: &[(&str, &str)] = &[
    (
        "failed",
        "the instance has failed and RDS cannot recover it; restore it to a point in time",
    ),
    (
        "inaccessible-encryption-credentials",
        "its KMS key cannot be accessed or recovered",
    ),
    (
        "inaccessible-encryption-credentials-recoverable",
        "its KMS key cannot be accessed; re-enable the key, then start the instance",
    ),
    (
        "incompatible-network",
        "RDS cannot recover it because of the state of its VPC (subnets without free addresses, a deleted subnet or security group)",
    ),
    (
        "incompatible-option-group",
        "an option group change could not be applied; apply a compatible option group",
    ),
    (
        "incompatible-parameters",
        "RDS cannot start it because its DB parameter group is not compatible with it; fix the group, then reboot",
    ),
    (
        "incompatible-restore",
        "RDS cannot do a point-in-time restore of it",
    ),
    (
        "insufficient-capacity",
        "RDS has no capacity for its DB instance class in its Availability Zone; choose another class or zone",
    ),
    (
        "restore-error",
        "restoring it to a point in time or from a snapshot failed",
    ),
    (
        "storage-full",
        "it has reached its allocated storage; add storage (ModifyDBInstance)",
    ),
    (
        "stopped",
        "it is stopped; start it (RDS starts it by itself only after seven days)",
    ),
];

/// DB cluster statuses Aurora does not leave by itself.
pub const STUCK_CLUSTER_STATUSES: &[(&str, &str)] = &[
    ("cloning-failed", "cloning the cluster failed"),
    (
        "inaccessible-encryption-credentials",
        "its KMS key cannot be accessed or recovered",
    ),
    (
        "inaccessible-encryption-credentials-recoverable",
        "its KMS key cannot be accessed; re-enable the key, then start the cluster",
    ),
    ("migration-failed", "migrating data into the cluster failed"),
    (
        "stopped",
        "it is stopped; start it (Aurora starts it by itself only after seven days)",
    ),
];

/// `StatusInfos` read replication statuses that do not come back by themselves: `terminated`
/// ("replication has been terminated", the replica has to be created again) ("Monitoring read
/// replication", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Monitoring.html).
pub const STUCK_REPLICATION_STATUSES: &[&str] = &["terminated"];

/// What AWS documents for a DB instance in `status`, when RDS does not leave it by itself.
pub fn stuck_instance(status: &str) -> Option<&'static str> {
    lookup(STUCK_INSTANCE_STATUSES, status)
}

/// What AWS documents for a DB cluster in `status`, when Aurora does not leave it by itself.
pub fn stuck_cluster(status: &str) -> Option<&'static str> {
    lookup(STUCK_CLUSTER_STATUSES, status)
}

fn lookup(table: &[(&str, &'static str)], status: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(name, _)| *name == status)
        .map(|(_, why)| *why)
}

/// A resource in a status that does not end by itself: the wait for it is over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is {status}, a status {service} does not leave by itself: {why} ({page}); waiting for it would only spend the budget")]
pub struct Stuck {
    /// `DB instance app-db-dr (eu-central-1)`, `DB cluster app-dr`, ...
    pub what: String,
    pub status: String,
    /// `RDS` or `Aurora`.
    pub service: &'static str,
    /// What AWS documents for the status.
    pub why: String,
    /// The AWS page that lists the status.
    pub page: &'static str,
}

impl Stuck {
    /// `Some` when a DB instance (`what`) in `status` will not leave it by itself.
    pub fn instance(what: impl Into<String>, status: &str) -> Option<Stuck> {
        stuck_instance(status).map(|why| Stuck {
            what: what.into(),
            status: status.to_owned(),
            service: "RDS",
            why: why.to_owned(),
            page: INSTANCE_STATUS_PAGE,
        })
    }

    /// `Some` when a DB cluster (`what`) in `status` will not leave it by itself.
    pub fn cluster(what: impl Into<String>, status: &str) -> Option<Stuck> {
        stuck_cluster(status).map(|why| Stuck {
            what: what.into(),
            status: status.to_owned(),
            service: "Aurora",
            why: why.to_owned(),
            page: CLUSTER_STATUS_PAGE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_rds_finishes_by_itself_are_not_stuck() {
        for status in [
            "available",
            "creating",
            "modifying",
            "backing-up",
            "rebooting",
            "renaming",
            "upgrading",
            "starting",
            "configuring-enhanced-monitoring",
            "storage-optimization",
        ] {
            assert_eq!(stuck_instance(status), None, "{status}");
        }
        assert_eq!(stuck_cluster("failing-over"), None);
        assert_eq!(stuck_cluster("promoting"), None);
    }

    #[test]
    fn a_stuck_status_names_the_resource_the_status_and_the_page() {
        let stuck = Stuck::instance("DB instance app-db-2", "incompatible-parameters").unwrap();
        let text = stuck.to_string();
        assert!(text.starts_with("DB instance app-db-2 is incompatible-parameters, a status RDS does not leave by itself: RDS cannot start it because its DB parameter group"), "{text}");
        assert!(text.contains(INSTANCE_STATUS_PAGE), "{text}");
        assert!(
            Stuck::cluster("DB cluster app-dr", "inaccessible-encryption-credentials")
                .unwrap()
                .to_string()
                .contains(CLUSTER_STATUS_PAGE)
        );
        assert_eq!(Stuck::instance("x", "available"), None);
    }
}
