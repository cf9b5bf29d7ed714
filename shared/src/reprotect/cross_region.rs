//! What RDS accepts in a cross-Region `CreateDBInstanceReadReplica`, per engine: the plan refuses
//! what RDS would refuse, naming the setting, before anything is created.
//!
//! AWS: "CreateDBInstanceReadReplica", Amazon RDS API Reference,
//! https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html
//! (`DBParameterGroupName`, `KmsKeyId`), and "Creating a read replica in a different AWS Region",
//! Amazon RDS User Guide, https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.XRgn.html.
//!
//! - `DBParameterGroupName`: "Specifying a parameter group for this operation is only supported
//!   for MySQL DB instances for cross-Region read replicas, for Multi-AZ DB cluster read replica
//!   instances, for Db2 DB instances, and for Oracle DB instances." For the other engines
//!   (PostgreSQL, MariaDB, SQL Server) RDS answers `InvalidParameterCombination`; the replica gets
//!   the engine's default group of its Region, and a custom group is set afterwards with
//!   `ModifyDBInstance`. A Db2 source under the bring-your-own-license model needs a custom group
//!   (with the IBM Site ID and Customer ID) on a cross-Region replica.
//! - `KmsKeyId`: an encrypted cross-Region replica needs a key "for the destination AWS Region.
//!   KMS keys are specific to the AWS Region that they are created in, and you can't use KMS keys
//!   from one AWS Region in another AWS Region." A key named by ARN must be of the replica's Region
//!   (a key id or alias is resolved in that Region by RDS itself).

/// The API page the refusals cite.
pub const API_PAGE: &str =
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html";

/// Whether RDS accepts `DBParameterGroupName` on a cross-Region read replica of `engine`
/// (`mysql`, `oracle-*` and `db2-*` do; `postgres`, `mariadb` and `sqlserver-*` do not).
pub fn accepts_parameter_group(engine: &str) -> bool {
    engine == "mysql" || engine.starts_with("oracle-") || engine.starts_with("db2-")
}

/// The Region of an ARN (`arn:aws:kms:<region>:<account>:key/<id>`), `None` for a key id or alias.
pub fn arn_region(key: &str) -> Option<&str> {
    key.starts_with("arn:")
        .then(|| key.split(':').nth(3))
        .flatten()
}

/// What the replica's settings need, in the variables that set them
/// (`REPROTECT_PARAMETER_GROUP`, `REPROTECT_KMS_KEY_ID`, or the fail back's own names:
/// `parameter_group_name` and `kms_key_name` say which).
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    pub source_id: &'a str,
    /// The source's engine; `None` when RDS did not say (nothing is refused for it then).
    pub engine: Option<&'a str>,
    /// The source's `LicenseModel` (`bring-your-own-license`, ...).
    pub license_model: Option<&'a str>,
    /// The Region the replica is created in.
    pub region: &'a str,
    pub parameter_group: Option<&'a str>,
    pub kms_key_id: Option<&'a str>,
    pub parameter_group_name: &'a str,
    pub kms_key_name: &'a str,
}

/// Why RDS would refuse a cross-Region read replica created with these settings; empty when it
/// would not.
pub fn refusals(settings: &Settings) -> Vec<String> {
    let mut refusals = Vec::new();
    let Settings {
        source_id,
        region,
        parameter_group_name,
        kms_key_name,
        ..
    } = *settings;
    if let (Some(engine), Some(group)) = (settings.engine, settings.parameter_group) {
        if !accepts_parameter_group(engine) {
            refusals.push(format!(
                "{parameter_group_name} ({group}): RDS accepts DBParameterGroupName on a cross-Region read replica only for MySQL, Oracle and Db2 DB instances, and {source_id} runs {engine}, so CreateDBInstanceReadReplica would fail with InvalidParameterCombination ({API_PAGE}, DBParameterGroupName); leave {parameter_group_name} empty: the replica gets {engine}'s default DB parameter group of {region}, and a group of your own is applied afterwards with ModifyDBInstance"
            ));
        }
    }
    if settings.engine.is_some_and(|e| e.starts_with("db2-"))
        && settings.license_model == Some("bring-your-own-license")
        && settings.parameter_group.is_none()
    {
        refusals.push(format!(
            "{parameter_group_name} is empty, and {source_id} is Db2 under the bring-your-own-license model: RDS needs a custom DB parameter group of {region} with your IBM Site ID and IBM Customer ID on a cross-Region read replica ({API_PAGE}, DBParameterGroupName)"
        ));
    }
    if let Some(key) = settings.kms_key_id {
        if let Some(key_region) = arn_region(key).filter(|r| *r != region) {
            refusals.push(format!(
                "{kms_key_name} ({key}) is a KMS key of {key_region}: an encrypted read replica in {region} needs a key of {region}, since KMS keys are specific to the Region they are created in ({API_PAGE}, KmsKeyId)"
            ));
        }
    }
    refusals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings<'a>(engine: &'a str, group: Option<&'a str>, key: Option<&'a str>) -> Settings<'a> {
        Settings {
            source_id: "app-db-dr",
            engine: Some(engine),
            license_model: None,
            region: "eu-west-1",
            parameter_group: group,
            kms_key_id: key,
            parameter_group_name: "REPROTECT_PARAMETER_GROUP",
            kms_key_name: "REPROTECT_KMS_KEY_ID",
        }
    }

    #[test]
    fn a_parameter_group_is_refused_for_the_engines_rds_refuses_it_for() {
        for engine in ["postgres", "mariadb", "sqlserver-se", "sqlserver-ee"] {
            let refusals = refusals(&settings(engine, Some("app-pg16"), None));
            assert_eq!(refusals.len(), 1, "{engine}: {refusals:?}");
            assert!(
                refusals[0].starts_with("REPROTECT_PARAMETER_GROUP (app-pg16): RDS accepts DBParameterGroupName on a cross-Region read replica only for MySQL, Oracle and Db2"),
                "{}",
                refusals[0]
            );
            assert!(refusals[0].contains(API_PAGE));
            assert!(refusals[0].contains(&format!("runs {engine}")));
        }
        for engine in ["mysql", "oracle-ee", "oracle-se2", "db2-se", "db2-ae"] {
            assert!(
                refusals(&settings(engine, Some("app"), None)).is_empty(),
                "{engine}"
            );
        }
        assert!(refusals(&settings("postgres", None, None)).is_empty());
    }

    #[test]
    fn an_unknown_engine_refuses_nothing() {
        let mut unknown = settings("postgres", Some("app-pg16"), None);
        unknown.engine = None;
        assert!(refusals(&unknown).is_empty());
    }

    #[test]
    fn db2_under_its_own_license_needs_a_parameter_group() {
        let mut byol = settings("db2-se", None, None);
        byol.license_model = Some("bring-your-own-license");
        let refusals = refusals(&byol);
        assert_eq!(refusals.len(), 1);
        assert!(refusals[0].contains("IBM Site ID"), "{}", refusals[0]);
        byol.parameter_group = Some("app-db2");
        assert!(super::refusals(&byol).is_empty());
    }

    #[test]
    fn a_kms_key_arn_of_another_region_is_refused_and_an_alias_is_left_to_rds() {
        let other = "arn:aws:kms:eu-central-1:111111111111:key/0a1b2c3d";
        let refusals = refusals(&settings("postgres", None, Some(other)));
        assert_eq!(refusals.len(), 1);
        assert!(
            refusals[0].starts_with(&format!(
                "REPROTECT_KMS_KEY_ID ({other}) is a KMS key of eu-central-1: an encrypted read replica in eu-west-1 needs a key of eu-west-1"
            )),
            "{}",
            refusals[0]
        );
        let own = "arn:aws:kms:eu-west-1:111111111111:key/0a1b2c3d";
        assert!(super::refusals(&settings("postgres", None, Some(own))).is_empty());
        assert!(super::refusals(&settings("postgres", None, Some("alias/app"))).is_empty());
        assert_eq!(arn_region("alias/app"), None);
    }
}
