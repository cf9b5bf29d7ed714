"""RDS read-replica promotion and Aurora Global Database failover/switchover, as AWS does them.

moto 5.2.5 gets these wrong or lacks them:

- ``PromoteReadReplica`` is instant, accepts any instance (and answers a 500 for an unknown one),
  leaves ``ReadReplicaSourceDBInstanceIdentifier`` set and the replica listed on its source.
- ``ModifyDBInstance`` with ``NewDBInstanceIdentifier`` renames at once, in any state, and
  silently replaces an instance that already has the new name.
- ``CreateDBInstanceReadReplica`` across regions works (source given as its ARN) but the replica
  keeps the source's Availability Zone and backup retention, shares the source's mutable lists,
  and deleting it fails because the source lists it by ARN.
- ``CreateGlobalCluster`` with ``SourceDBClusterIdentifier`` only finds clusters in us-east-1
  (moto keeps global clusters there) and does not make the source the writer;
  ``DescribeGlobalClusters`` ignores ``GlobalClusterIdentifier``.
- ``FailoverGlobalCluster`` and ``SwitchoverGlobalCluster`` do not exist.
- ``RemoveFromGlobalCluster`` ("detach and promote") looks the global cluster up only in the
  caller's region, so from the secondary's region it silently does nothing; where it does find it
  the cluster keeps its GlobalClusterIdentifier and stays a non-writer.

Promotions, failovers and detaches last ``settings.promotion_seconds`` (per phase) and are settled
lazily: every RDS call first applies the transitions that are due (``advance_transitions()`` does
the same for other modules that read RDS state directly).

Control: ``POST /moto-api/dr/rds/instance-status``
``{"region": "eu-central-1", "instance": "app-db-dr", "status": "backing-up", "seconds": 8}``
shows that status on the instance for ``seconds`` (default: for good), then ``available`` again;
``"account_id"`` for an account other than moto's default. Answers the instance's identifier,
status and ``until`` (seconds from now, or null).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.rds.exceptions import (
    DBClusterNotFoundError,
    DBInstanceAlreadyExists,
    InvalidParameterCombination,
    RDSClientError,
)
from moto.rds.models import DBCluster, DBInstance, GlobalCluster, RDSBackend, rds_backends
from moto.rds.responses import RDSResponse
from moto.rds.utils import valid_preferred_maintenance_window

from drstandin.control import is_non_negative_number, json_object

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

    AWS: "Promoting a read replica to be a standalone DB instance", Amazon RDS User Guide,
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Promote.html, and
    "PromoteReadReplica", Amazon RDS API Reference,
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PromoteReadReplica.html

    moto promotes at once, accepts any instance and leaves the replica linked to its source. AWS
    accepts only a read replica in state ``available`` (else ``InvalidDBInstanceState``; so a
    second PromoteReadReplica while one runs is refused too), applies ``BackupRetentionPeriod``
    (default 1) and ``PreferredBackupWindow``, and reboots the instance: it shows ``modifying``,
    still a replica (``ReadReplicaSourceDBInstanceIdentifier`` set), for ``promotion_seconds``;
    then it is a standalone instance: no ``ReadReplicaSourceDBInstanceIdentifier``, no longer in
    the source's ``ReadReplicaDBInstanceIdentifiers`` (the source may be in another region). If
    the replica had automated backups off (retention 0, as cross-region replicas are created)
    and the promotion turns them on, RDS takes a backup as part of the promotion: the instance
    shows ``backing-up`` for ``promotion_seconds`` more (it accepts writes meanwhile), then
    ``available``.
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
    had_backups = bool(database.backup_retention_period)
    database.backup_retention_period = 1 if retention is None else int(retention)
    takes_backup = not had_backups and database.backup_retention_period > 0
    database.status = "modifying"
    token = _claim_status(database)

    def standalone() -> None:
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
        if takes_backup:
            database.status = "backing-up"
            _schedule(_settings.promotion_seconds, backed_up)
        else:
            database.status = "available"

    def backed_up() -> None:
        if _status_token(database) == token:
            database.status = "available"

    _schedule(_settings.promotion_seconds, standalone)
    return database


def _status_token(database: DBInstance) -> int:
    return database.__dict__.get("_dr_status_token", 0)


def _claim_status(database: DBInstance) -> int:
    """A new owner of the instance's status: earlier scheduled restores no longer apply."""
    token = _status_token(database) + 1
    database.__dict__["_dr_status_token"] = token
    return token


def _instance_status_control(request: Any) -> Any:
    """``POST /moto-api/dr/rds/instance-status``: show a status (``backing-up``, ``rebooting``...)
    for ``seconds``, then ``available``; see the module docstring."""
    if request.method != "POST":
        return 405, {"error": "use POST"}
    body = json_object(request)
    if not body.get("region") or not body.get("instance") or not body.get("status"):
        return 400, {"error": 'body must be {"region", "instance", "status"[, "seconds"]}'}
    seconds = body.get("seconds")
    if seconds is not None and not is_non_negative_number(seconds):
        return 400, {"error": "seconds must be a number >= 0"}
    account = str(body.get("account_id") or DEFAULT_ACCOUNT_ID)
    with _lock:
        advance_transitions()
        database = rds_backends[account][body["region"]].databases.get(body["instance"])
        if database is None:
            return 404, {"error": f"DBInstance {body['instance']} not found in {body['region']}."}
        database.status = str(body["status"])
        token = _claim_status(database)
        if seconds is not None:

            def restore() -> None:
                if _status_token(database) == token:
                    database.status = "available"

            _schedule(float(seconds), restore)
    return {"instance": database.db_instance_identifier, "status": database.status, "until": seconds}


def _pending_renames(backend: RDSBackend) -> set[str]:
    """The names a rename under way will take (held, so nothing else can take them)."""
    return backend.__dict__.setdefault("_dr_pending_renames", set())


def _wrap_modify_db_instance(original: Callable[..., DBInstance]) -> Callable[..., DBInstance]:
    def modify_db_instance(
        self: RDSBackend, db_instance_identifier: str, db_kwargs: dict[str, Any]
    ) -> DBInstance:
        """ModifyDBInstance; a rename (``NewDBInstanceIdentifier``) as AWS does it.

        AWS: "Renaming a DB instance", Amazon RDS User Guide,
        https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RenameInstance.html, and
        "ModifyDBInstance", Amazon RDS API Reference,
        https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html

        moto renames at once and overwrites an instance that has the new name. AWS refuses an
        existing name (``DBInstanceAlreadyExists``; a name a rename under way will take counts
        as existing) and an instance that is not ``available`` (``InvalidDBInstanceState``); the
        renamed instance reboots and "is not available until the new name becomes effective":
        here it shows ``renaming`` under its old name for ``promotion_seconds``, then it has the
        new name (ARN, endpoint) and is ``available``, and the old name is free. The other
        modifications in the same call apply at once, as moto does them.
        """
        new_name = db_kwargs.get("new_db_instance_identifier")
        if not new_name:
            return original(self, db_instance_identifier, db_kwargs)
        database = self.describe_db_instances(db_instance_identifier)[0]
        if new_name in self.databases or new_name in _pending_renames(self):
            raise DBInstanceAlreadyExists()
        if database.status != "available":
            raise InvalidDBInstanceState(
                f"Instance {db_instance_identifier} is not in available state."
            )
        rest = {key: value for key, value in db_kwargs.items() if key != "new_db_instance_identifier"}
        database = original(self, db_instance_identifier, rest)
        database.status = "renaming"
        token = _claim_status(database)
        _pending_renames(self).add(new_name)

        def renamed() -> None:
            _pending_renames(self).discard(new_name)
            old_name = database.db_instance_identifier
            if self.databases.get(old_name) is database:
                del self.databases[old_name]
            database.db_instance_identifier = new_name
            self.databases[new_name] = database
            if _status_token(database) == token:
                database.status = "available"

        _schedule(_settings.promotion_seconds, renamed)
        return database

    return modify_db_instance


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

    _schedule(_settings.promotion_seconds / 2, running_phase)
    _schedule(_settings.promotion_seconds, finish)
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


def remove_from_global_cluster(self: RDSResponse) -> ActionResult:
    """RemoveFromGlobalCluster: detach a cluster from its global database ("detach and promote").

    AWS: "RemoveFromGlobalCluster", Amazon RDS API Reference,
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RemoveFromGlobalCluster.html;
    "Removing a cluster from an Amazon Aurora global database",
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-detaching.html;
    "Recovering an Amazon Aurora global database from an unplanned outage" in "Using switchover
    or failover in Amazon Aurora Global Database",
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html

    Called in the cluster's own region with the cluster's ARN (a plain identifier is looked up
    in the caller's region). moto looks the global cluster up only in the caller's region (so it
    did nothing from a secondary's region) and left the cluster marked as a member. Here the
    cluster leaves the global cluster at once (``DescribeGlobalClusters`` no longer lists it, it
    has no ``GlobalClusterIdentifier``) and becomes a standalone cluster with read-write
    capability: ``modifying`` for ``promotion_seconds``, then ``available`` and its own writer
    (its first DB instance, if it has any, reports ``IsClusterWriter``). Unknown global cluster:
    ``GlobalClusterNotFoundFault``; unknown cluster: ``DBClusterNotFoundFault``; a cluster that
    is not a member: ``InvalidDBClusterStateFault``; while a failover or switchover of the global
    cluster runs: ``InvalidGlobalClusterStateFault``.
    """
    params = self.params
    gc = _find_global_cluster(self.current_account, params["GlobalClusterIdentifier"])
    cluster = _find_cluster(self.current_account, self.region, params["DbClusterIdentifier"])
    if not any(member is cluster for member in gc.members):
        raise InvalidDBClusterStateFault(
            f"DB cluster {cluster.db_cluster_arn} is not a member of global cluster "
            f"{gc.global_cluster_identifier}."
        )
    if getattr(gc, "failover_state", None) is not None or gc.status != "available":
        raise InvalidGlobalClusterStateFault(
            f"Global cluster {gc.global_cluster_identifier} is not in the available state."
        )
    gc.members[:] = [member for member in gc.members if member is not cluster]
    cluster.global_cluster_identifier = None
    cluster.is_writer = True
    cluster.status = "modifying"

    def promoted() -> None:
        if cluster.status == "modifying":
            cluster.status = "available"

    _schedule(_settings.promotion_seconds, promoted)
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
    _original["modify_db_instance"] = RDSBackend.modify_db_instance

    RDSResponse.call_action = _call_action_settling_first(RDSResponse.call_action)
    RDSBackend.promote_read_replica = promote_read_replica
    RDSBackend.create_db_instance_read_replica = _wrap_create_read_replica(
        _original["create_db_instance_read_replica"]
    )
    RDSBackend.modify_db_instance = _wrap_modify_db_instance(_original["modify_db_instance"])
    DBInstance.remove_replica = remove_replica
    RDSBackend.create_global_cluster = create_global_cluster
    GlobalCluster.failover_state = None  # instances set their own while one is in progress
    RDSResponse.describe_global_clusters = describe_global_clusters
    RDSResponse.failover_global_cluster = failover_global_cluster
    RDSResponse.switchover_global_cluster = switchover_global_cluster
    RDSResponse.remove_from_global_cluster = remove_from_global_cluster
    DBCluster.db_cluster_members = _wrap_db_cluster_members(DBCluster.db_cluster_members)

    from drstandin.control import register_control_route

    register_control_route("rds/instance-status", _instance_status_control)
