//! Fail back runs the failover's own steps the other way round: the same logic, configured with
//! the regions swapped (the primary region is where the database is promoted, the groups raised
//! and DNS pointed), so every rule the failover keeps (never promote twice, never DNS to a database
//! that does not accept writes, never scale a group in) holds for the way back too.
//!
//! The fail back functions (`failback-compute`, `failback-database`, `failback-dns`,
//! `failback-standby`) read their configuration through [`Prefixed`]: each variable of the
//! failover step they run, with `FAILBACK_` in front (`FAILBACK_DR_REGION` is the primary region,
//! `FAILBACK_DB_REPLICA_INSTANCE_ID` the primary region's replica, ...). Nothing falls back to the
//! failover's own variables: a fail back function never acts on the failover's configuration.

use crate::config::Source;

/// The prefix of every fail back function's variables.
pub const PREFIX: &str = "FAILBACK_";

/// A [`Source`] that reads each variable `NAME` as `FAILBACK_NAME` from the source it wraps.
pub struct Prefixed<'a>(pub &'a dyn Source);

impl Source for Prefixed<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(&format!("{PREFIX}{name}"))
    }
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
}
