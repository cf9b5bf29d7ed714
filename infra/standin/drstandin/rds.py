"""RDS read-replica promotion and Aurora Global Database failover/switchover, as AWS does them.

moto 5.2.5 gets these wrong or lacks them:

- ``PromoteReadReplica`` is instant, accepts any instance (and answers a 500 for an unknown one),
  leaves ``ReadReplicaSourceDBInstanceIdentifier`` set and the replica listed on its source.
- ``CreateDBInstanceReadReplica`` across regions works (source given as its ARN) but the replica
  keeps the source's Availability Zone and backup retention, shares the source's mutable lists,
  and deleting it fails because the source lists it by ARN.
- ``CreateGlobalCluster`` with ``SourceDBClusterIdentifier`` only finds clusters in us-east-1
  (moto keeps global clusters there) and does not make the source the writer;
  ``DescribeGlobalClusters`` ignores ``GlobalClusterIdentifier``.
- ``FailoverGlobalCluster`` and ``SwitchoverGlobalCluster`` do not exist.

In-progress states last ``settings.transition_seconds`` and are settled lazily: every RDS call
first applies the transitions that are due (``advance_transitions()`` does the same for other
modules that read RDS state directly).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.rds.exceptions import (
    DBClusterNotFoundError,
    InvalidParameterCombination,
    RDSClientError,
)
from moto.rds.models import DBCluster, DBInstance, GlobalCluster, RDSBackend, rds_backends
from moto.rds.responses import RDSResponse
from moto.rds.utils import valid_preferred_maintenance_window

_settings: Any = None
_pending: list[tuple[float, Callable[[], None]]] = []
_lock = threading.RLock()


# --------------------------------------------------------------------------------------------
# Lazy transitions
# --------------------------------------------------------------------------------------------


def _schedule(delay: float, action: Callable[[], None]) -> None:
    with _lock:
        _pending.append((time.monotonic() + delay, action))
        _pending.sort(key=lambda item: item[0])


def advance_transitions() -> None:
    """Apply every scheduled state change whose time has come, oldest first."""
    with _lock:
        now = time.monotonic()
        while _pending and _pending[0][0] <= now:
            _, action = _pending.pop(0)
            action()


def _call_action_settling_first(original: Callable[..., Any]) -> Callable[..., Any]:
    def call_action(self: RDSResponse) -> Any:
        advance_transitions()
        return original(self)

    call_action.__doc__ = "Settle due transitions, then let moto answer the RDS call."
    return call_action


# --------------------------------------------------------------------------------------------
# Errors (codes and HTTP statuses as in the RDS API reference)
# --------------------------------------------------------------------------------------------


class InvalidDBInstanceState(RDSClientError):
    def __init__(self, message: str):
        super().__init__("InvalidDBInstanceState", message)


class GlobalClusterNotFoundFault(RDSClientError):
    def __init__(self, identifier: str):
        super().__init__("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.")


class InvalidGlobalClusterStateFault(RDSClientError):
    def __init__(self, message: str):
        super().__init__("InvalidGlobalClusterStateFault", message)


class InvalidDBClusterStateFault(RDSClientError):
    def __init__(self, message: str):
        super().__init__("InvalidDBClusterStateFault", message)


# --------------------------------------------------------------------------------------------
# Read replicas
# --------------------------------------------------------------------------------------------


def _find_instance(account: str, default_region: str, identifier: str) -> DBInstance | None:
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        account, region, name = parts[4], parts[3], parts[-1]
    else:
        region, name = default_region, identifier
    return rds_backends[account][region].databases.get(name)


def promote_read_replica(self: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
    """PromoteReadReplica as AWS does it.

    moto promotes at once, accepts any instance and leaves the replica linked to its source. AWS
    accepts only a read replica in state ``available`` (else ``InvalidDBInstanceState``), applies
    ``BackupRetentionPeriod`` (default 1) and ``PreferredBackupWindow``, shows the instance
    ``modifying`` while it promotes, then ``available`` as a standalone instance: no
    ``ReadReplicaSourceDBInstanceIdentifier``, no longer in the source's
    ``ReadReplicaDBInstanceIdentifiers`` (the source may be in another region).
    """
    database = self.describe_db_instances(db_kwargs["db_instance_identifier"])[0]
    if not database.is_replica:
        raise InvalidDBInstanceState("DB Instance is not a read replica.")
    if database.status != "available":
        raise InvalidDBInstanceState(
            f"Instance {database.db_instance_identifier} is not in available state."
        )
    window = db_kwargs.get("preferred_backup_window")
    if window:
        msg = valid_preferred_maintenance_window(database.preferred_maintenance_window, window)
        if msg:
            raise RDSClientError("InvalidParameterValue", msg)
        database.preferred_backup_window = window
    retention = db_kwargs.get("backup_retention_period")
    database.backup_retention_period = 1 if retention is None else int(retention)
    database.status = "modifying"

    def finish() -> None:
        source_id = database.source_db_instance_identifier
        source = (
            _find_instance(database.account_id, database.region, source_id) if source_id else None
        )
        if source is not None:
            for ref in (database.db_instance_identifier, database.db_instance_arn):
                if ref in source.replicas:
                    source.replicas.remove(ref)
        database.is_replica = False
        database.source_db_instance_identifier = None
        database.status = "available"

    _schedule(_settings.transition_seconds, finish)
    return database


def _wrap_create_read_replica(original: Callable[..., DBInstance]) -> Callable[..., DBInstance]:
    def create_db_instance_read_replica(self: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
        """CreateDBInstanceReadReplica, with the replica made its own instance.

        moto copies the source object: a cross-region replica keeps the source's Availability
        Zone and backup retention and shares its lists (tags, security groups...). AWS places
        the replica in its own region, with automated backups off (``BackupRetentionPeriod``
        0) until it is promoted, and a creation time of its own.
        """
        replica = original(self, db_kwargs)
        for key, value in list(vars(replica).items()):
            if isinstance(value, (list, dict)):
                setattr(replica, key, copy.copy(value))
        if not db_kwargs.get("availability_zone"):
            replica.availability_zone = f"{self.region_name}a"
        replica.backup_retention_period = 0
        replica.created = replica.instance_create_time = utcnow()
        replica.status = "available"
        return replica

    return create_db_instance_read_replica


def remove_replica(self: DBInstance, replica: DBInstance) -> None:
    """moto lists a cross-region replica by ARN on its source but removes it by identifier,
    so deleting a cross-region replica failed. Remove whichever reference is listed."""
    for ref in (replica.db_instance_identifier, replica.db_instance_arn):
        if ref in self.replicas:
            self.replicas.remove(ref)


# --------------------------------------------------------------------------------------------
# Aurora Global Database
# --------------------------------------------------------------------------------------------


def _global_clusters(account: str) -> list[GlobalCluster]:
    return [gc for backend in rds_backends[account].values() for gc in backend.global_clusters.values()]


def _find_global_cluster(account: str, identifier: str) -> GlobalCluster:
    name = identifier.split(":")[-1].lower()
    for gc in _global_clusters(account):
        if gc.global_cluster_identifier == name:
            return gc
    raise GlobalClusterNotFoundFault(identifier)


def _global_cluster_of(cluster: DBCluster) -> GlobalCluster | None:
    for gc in _global_clusters(cluster.account_id):
        if any(member is cluster for member in gc.members):
            return gc
    return None


def _find_cluster(account: str, region: str, identifier: str) -> DBCluster:
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        account, region, name = parts[4], parts[3], parts[-1]
    else:
        name = identifier
    cluster = rds_backends[account][region].clusters.get(name)
    if cluster is None:
        raise DBClusterNotFoundError(identifier)
    return cluster


def create_global_cluster(
    self: RDSBackend,
    global_cluster_identifier: str,
    source_db_cluster_identifier: str | None,
    engine: str | None,
    engine_version: str | None,
    storage_encrypted: bool | None,
    deletion_protection: bool | None,
) -> GlobalCluster:
    """CreateGlobalCluster from an existing cluster in any region.

    moto looks the source cluster up only in the region that stores global clusters
    (us-east-1), keeps it a non-writer and sets its GlobalClusterIdentifier to the global
    cluster's ARN. AWS finds the source by ARN in its own region, makes it the writer (primary)
    and reports the global cluster's identifier on it.
    """
    if source_db_cluster_identifier is None:
        return _original["create_global_cluster"](
            self, global_cluster_identifier, None, engine, engine_version,
            storage_encrypted, deletion_protection,
        )
    if not source_db_cluster_identifier.startswith("arn:"):
        raise RDSClientError("InvalidParameterValue", "Malformed db cluster arn dbci")
    source = _find_cluster(self.account_id, self.region_name, source_db_cluster_identifier)
    if engine is not None:
        raise InvalidParameterCombination(
            "When creating global cluster from existing db cluster, value for engineName should "
            "not be specified since it will be inherited from source cluster"
        )
    global_cluster = _original["create_global_cluster"](
        self, global_cluster_identifier, None, source.engine, source.engine_version,
        storage_encrypted, deletion_protection,
    )
    global_cluster.members.append(source)
    source.global_cluster_identifier = global_cluster.global_cluster_identifier
    source.is_writer = True
    return global_cluster


def describe_global_clusters(self: RDSResponse) -> ActionResult:
    """DescribeGlobalClusters honouring ``GlobalClusterIdentifier`` (moto lists them all);
    an unknown identifier is ``GlobalClusterNotFoundFault``, as in AWS."""
    identifier = self.params.get("GlobalClusterIdentifier")
    clusters = self.global_backend.describe_global_clusters()
    if identifier:
        clusters = [_find_global_cluster(self.current_account, identifier)]
    return ActionResult({"GlobalClusters": clusters})


def _start_global_failover(
    self: RDSResponse, global_id: str, target_id: str, data_loss: bool
) -> GlobalCluster:
    gc = _find_global_cluster(self.current_account, global_id)
    target = _find_cluster(self.current_account, self.region, target_id)
    if getattr(gc, "failover_state", None) is not None or gc.status != "available":
        raise InvalidGlobalClusterStateFault(
            f"Global cluster {gc.global_cluster_identifier} is not in the available state: "
            "a failover or switchover is already in progress."
        )
    if not any(member is target for member in gc.members):
        raise InvalidDBClusterStateFault(
            f"DB cluster {target.db_cluster_arn} is not a member of global cluster "
            f"{gc.global_cluster_identifier}."
        )
    if target.is_writer:
        raise InvalidDBClusterStateFault(
            f"DB cluster {target.db_cluster_arn} is already the primary cluster of global "
            f"cluster {gc.global_cluster_identifier}."
        )
    writer = next((member for member in gc.members if member.is_writer), None)
    running = "failing-over" if data_loss else "switching-over"
    gc.failover_state = {
        "Status": "pending",
        "FromDbClusterArn": writer.db_cluster_arn if writer else None,
        "ToDbClusterArn": target.db_cluster_arn,
        "IsDataLossAllowed": data_loss,
    }
    gc.status = running
    state = gc.failover_state

    def running_phase() -> None:
        if gc.failover_state is state:
            state["Status"] = running

    def finish() -> None:
        if gc.failover_state is not state:
            return
        for member in gc.members:
            member.is_writer = member is target
        target.status = "available"
        gc.failover_state = None
        gc.status = "available"

    _schedule(_settings.transition_seconds / 2, running_phase)
    _schedule(_settings.transition_seconds, finish)
    return gc


def failover_global_cluster(self: RDSResponse) -> ActionResult:
    """FailoverGlobalCluster, which moto lacks.

    AWS: ``AllowDataLoss`` makes it a global failover (``failing-over``); without it (or with
    ``Switchover``) it is a switchover (``switching-over``); both together are rejected. The
    global cluster shows ``FailoverState`` {Status pending, then failing-over/switching-over,
    FromDbClusterArn, ToDbClusterArn, IsDataLossAllowed} and that Status while in progress;
    when done the target is the writer, the old writer a reader, and FailoverState is gone.
    """
    params = self.params
    if params.get("AllowDataLoss") and params.get("Switchover"):
        raise InvalidParameterCombination(
            "AllowDataLoss and Switchover can't be specified together."
        )
    gc = _start_global_failover(
        self, params["GlobalClusterIdentifier"], params["TargetDbClusterIdentifier"],
        data_loss=bool(params.get("AllowDataLoss")),
    )
    return ActionResult({"GlobalCluster": gc})


def switchover_global_cluster(self: RDSResponse) -> ActionResult:
    """SwitchoverGlobalCluster, which moto lacks: a planned switchover (no data loss), with the
    same states and errors as FailoverGlobalCluster without AllowDataLoss."""
    params = self.params
    gc = _start_global_failover(
        self, params["GlobalClusterIdentifier"], params["TargetDbClusterIdentifier"], data_loss=False
    )
    return ActionResult({"GlobalCluster": gc})


def _wrap_db_cluster_members(original: property) -> property:
    def db_cluster_members(self: DBCluster) -> list[dict[str, Any]]:
        """In AWS a secondary cluster of a global database has no writer instance: all its
        instances are readers until the cluster is promoted. moto always names a writer."""
        members = original.fget(self)
        if not self.is_writer and _global_cluster_of(self) is not None:
            for member in members:
                member["IsClusterWriter"] = False
        return members

    return property(db_cluster_members)


_original: dict[str, Any] = {}


def install(settings) -> None:
    global _settings
    _settings = settings
    if _original:
        return
    _original["create_global_cluster"] = RDSBackend.create_global_cluster
    _original["create_db_instance_read_replica"] = RDSBackend.create_db_instance_read_replica

    RDSResponse.call_action = _call_action_settling_first(RDSResponse.call_action)
    RDSBackend.promote_read_replica = promote_read_replica
    RDSBackend.create_db_instance_read_replica = _wrap_create_read_replica(
        _original["create_db_instance_read_replica"]
    )
    DBInstance.remove_replica = remove_replica
    RDSBackend.create_global_cluster = create_global_cluster
    GlobalCluster.failover_state = None  # instances set their own while one is in progress
    RDSResponse.describe_global_clusters = describe_global_clusters
    RDSResponse.failover_global_cluster = failover_global_cluster
    RDSResponse.switchover_global_cluster = switchover_global_cluster
    DBCluster.db_cluster_members = _wrap_db_cluster_members(DBCluster.db_cluster_members)
