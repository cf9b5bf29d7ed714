//! Retiring the former DR writer by renaming it, so that fail back's new DR replica takes the
//! failover's own `DbReplicaInstanceId` and the failover automation points at a replica again.
//!
//! AWS documents the pattern ("Renaming to replace an existing DB instance", Amazon RDS User
//! Guide, https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RenameInstance.html): stop
//! the traffic to the instance, rename it to a name that says it is no longer in use, and give
//! the replacement the old name; applications, metrics and the failover's configuration keep
//! using the name. The renamed instance keeps its data, snapshots and tags; it is never deleted
//! here. A rename is `ModifyDBInstance` with `NewDBInstanceIdentifier` and `ApplyImmediately`;
//! the instance reboots, is `renaming` until the new name is effective, and a name in use cannot
//! be taken.
//!
//! Only a standalone instance (no `ReadReplicaSourceDBInstanceIdentifier`) that is `available`
//! is renamed, and only by fail back's standby step, which runs after the database and DNS are
//! back in the primary region and the DR groups have drained.

use aws_sdk_rds::operation::modify_db_instance::ModifyDBInstanceError;
use aws_sdk_rds::types::DbInstance;
use aws_smithy_types::date_time::Format;

use super::ReprotectError;
use crate::error::AwsCallError;

/// Between the name and the retired instance's creation time.
pub const RETIRED_INFIX: &str = "-retired-";

/// `YYYYMMDDHHMM`, UTC.
const STAMP_LEN: usize = 12;

/// The longest identifier RDS takes ("Naming constraints in Amazon RDS").
const MAX_IDENTIFIER: usize = 63;

/// Errors with the reason when `name` leaves no room for [`RETIRED_INFIX`] and the 12-digit
/// stamp within RDS's 63 characters (so `name` may have at most 42).
pub fn check_room(name: &str) -> Result<(), String> {
    let room = MAX_IDENTIFIER - RETIRED_INFIX.len() - STAMP_LEN;
    if name.len() > room {
        return Err(format!(
            "{name:?} has {} characters; retiring the former DR writer renames it {name}{RETIRED_INFIX}YYYYMMDDHHMM, which RDS allows only for names of at most {room}",
            name.len()
        ));
    }
    Ok(())
}

/// `<name>-retired-<YYYYMMDDHHMM>`, the minute (UTC) the instance was created: the same name on
/// every call for the same instance, so a re-run after a lost answer asks for the same rename.
/// `None` when RDS reports no creation time (an instance still being created).
pub fn retired_name(name: &str, instance: &DbInstance) -> Option<String> {
    let created = instance
        .instance_create_time()?
        .fmt(Format::DateTime)
        .ok()?;
    let stamp: String = created
        .chars()
        .filter(char::is_ascii_digit)
        .take(STAMP_LEN)
        .collect();
    (stamp.len() == STAMP_LEN).then(|| format!("{name}{RETIRED_INFIX}{stamp}"))
}

/// Whether `instance` is one fail back may retire: standalone (not a read replica of anything).
pub fn is_standalone(instance: &DbInstance) -> bool {
    instance
        .read_replica_source_db_instance_identifier()
        .is_none_or(str::is_empty)
}

/// Renames `name` to `retired` now (`ApplyImmediately`). Errors: `NotReady` when RDS answers the
/// instance is in a state that cannot be modified now; `Refused` when `retired` is taken; `Aws`
/// otherwise.
pub async fn rename(
    client: &aws_sdk_rds::Client,
    name: &str,
    retired: &str,
) -> Result<(), ReprotectError> {
    client
        .modify_db_instance()
        .db_instance_identifier(name)
        .new_db_instance_identifier(retired)
        .apply_immediately(true)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| match error.as_service_error() {
            Some(ModifyDBInstanceError::InvalidDbInstanceStateFault(fault)) => {
                ReprotectError::NotReady(format!(
                    "{name} cannot be renamed now: {}",
                    fault.message().unwrap_or("invalid instance state")
                ))
            }
            Some(ModifyDBInstanceError::DbInstanceAlreadyExistsFault(_)) => {
                ReprotectError::Refused(vec![format!(
                    "{name} would be retired as {retired}, but a DB instance of that name exists: rename or delete that one first"
                )])
            }
            _ => AwsCallError::new("ModifyDBInstance", &error).into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::DateTime;

    #[test]
    fn the_retired_name_carries_the_creation_minute_and_is_the_same_every_time() {
        let instance = DbInstance::builder()
            .db_instance_identifier("app-db-dr")
            .instance_create_time(DateTime::from_secs(1_764_588_345)) // 2025-12-01T11:25:45Z
            .build();
        assert_eq!(
            retired_name("app-db-dr", &instance).as_deref(),
            Some("app-db-dr-retired-202512011125")
        );
        assert_eq!(
            retired_name("app-db-dr", &instance),
            retired_name("app-db-dr", &instance)
        );
        assert_eq!(
            retired_name("app-db-dr", &DbInstance::builder().build()),
            None
        );
    }

    #[test]
    fn a_name_leaves_room_for_the_suffix_within_63_characters() {
        assert!(check_room(&"a".repeat(42)).is_ok());
        let error = check_room(&"a".repeat(43)).unwrap_err();
        assert!(error.contains("at most 42"), "{error}");
    }
}
