//! Fail back runs the failover's own steps the other way round: the same logic, configured with
//! the regions swapped (the primary region is where the database is promoted, the groups raised
//! and DNS pointed), so every rule the failover keeps (never promote twice, never DNS to a database
//! that does not accept writes, never scale a group in) holds for the way back too.
//!
//! The fail back functions (`failback-compute`, `failback-database`, `failback-dns`,
//! `failback-standby`) read their configuration through [`Prefixed`]: each variable of the
//! failover step they run, with `FAILBACK_` in front (`FAILBACK_DR_REGION` is the primary region,
//! `FAILBACK_DB_REPLICA_INSTANCE_ID` the primary region's replica, ...). Nothing falls back to the
//! failover's own variables, with one exception that reads them on purpose: failback-dns derives
//! its records from the failover's `DNS_RECORDS` and what flip-dns recorded before it flipped them
//! (`crate::dns::failback`), so no record is typed twice.

use crate::config::Source;
use crate::database::DatabaseConfig;
use crate::request::{DatabaseMode, StepRequest};

/// The prefix of every fail back function's variables.
pub const PREFIX: &str = "FAILBACK_";

/// A [`Source`] that reads each variable `NAME` as `FAILBACK_NAME` from the source it wraps.
pub struct Prefixed<'a>(pub &'a dyn Source);

impl Source for Prefixed<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(&format!("{PREFIX}{name}"))
    }
}

/// The database request fail back runs: an Aurora Global Database's writer moves back by
/// switchover, never by a failover that allows data loss, whatever the request says. A switchover
/// is AWS's planned move, meant among others "to fall back to the original primary after a global
/// database failover": Aurora synchronizes the secondaries with the writer before the roles change,
/// so no committed write is lost ("SwitchoverGlobalCluster", Amazon RDS API Reference,
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_SwitchoverGlobalCluster.html).
/// An RDS read replica has no switchover: its request is left as it is (fail back promotes it at
/// a replica lag of 0, `FAILBACK_DB_MAX_REPLICA_LAG_SECONDS`).
pub fn database_request(mut request: StepRequest, config: &DatabaseConfig) -> StepRequest {
    if matches!(config, DatabaseConfig::AuroraGlobal { .. }) {
        request.database_mode = DatabaseMode::Switchover;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, Regions};

    #[test]
    fn reads_only_the_prefixed_variables_never_the_failovers() {
        let env = [
            ("PRIMARY_REGION", "eu-west-1"),
            ("DR_REGION", "eu-central-1"),
            ("FAILBACK_PRIMARY_REGION", "eu-central-1"),
        ];
        assert_eq!(
            Regions::from_source(&Prefixed(&env)),
            Err(ConfigError::Missing("DR_REGION"))
        );
        let env = [
            ("FAILBACK_PRIMARY_REGION", "eu-central-1"),
            ("FAILBACK_DR_REGION", "eu-west-1"),
        ];
        let regions = Regions::from_source(&Prefixed(&env)).unwrap();
        assert_eq!(
            (regions.primary.as_str(), regions.dr.as_str()),
            ("eu-central-1", "eu-west-1")
        );
    }

    #[test]
    fn an_aurora_writer_moves_back_by_switchover_and_an_instance_request_is_unchanged() {
        let aurora = DatabaseConfig::AuroraGlobal {
            global_cluster_id: "app-global".into(),
            dr_cluster_id: "app-primary,app-primary-2".into(),
        };
        let request = StepRequest::new(crate::request::Action::Apply);
        assert_eq!(request.database_mode, DatabaseMode::Failover);
        assert_eq!(
            database_request(request.clone(), &aurora).database_mode,
            DatabaseMode::Switchover
        );
        let instance = DatabaseConfig::Instance {
            replica_id: "app-db-2".into(),
            max_lag_seconds: 0,
            backup_retention_days: 7,
        };
        assert_eq!(database_request(request.clone(), &instance), request);
    }
}
