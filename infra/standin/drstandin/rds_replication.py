"""RDS read replicas as re-protect sees them: creation takes time, replication has a status, and an
identifier is taken once.

Builds on ``drstandin.rds`` (its read-replica wrapper and lazy transitions), so it is installed
after it. What moto 5.2.5 lacks, and the AWS behaviour followed instead:

- ``CreateDBInstanceReadReplica`` with the identifier of an existing instance silently replaces
  it. AWS answers ``DBInstanceAlreadyExists`` (HTTP 400): "CreateDBInstanceReadReplica", Amazon
  RDS API Reference, Errors,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html
- A new read replica is ``available`` at once. AWS shows it ``creating`` while it copies the
  source's snapshot and starts replication ("Creating a read replica", Amazon RDS User Guide,
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Create.html; status list
  in "Viewing Amazon RDS DB instance status",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html). Here it is
  ``creating`` for ``settings.replica_creation_seconds`` (default 0: at once, as before, so the
  seeded world is unchanged), then ``available``.
- ``DescribeDBInstances`` gives no ``StatusInfos``. AWS reports, for a read replica, one entry
  ``{"StatusType": "read replication", "Status": "replicating", "Normal": true}`` while
  replication runs ("DBInstanceStatusInfo", Amazon RDS API Reference,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstanceStatusInfo.html;
  "Monitoring read replication", Amazon RDS User Guide,
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Monitoring.html). Here an
  ``available`` replica reports ``replicating``; a replica in any other status and an instance
  that is not a replica report none. ``POST /moto-api/dr/rds/replication``
  ``{"region", "instance", "status": "error", "normal": false, "message": "..."}`` sets another
  replication status on a replica (``"status": null`` goes back to the default).
- A cross-Region read replica created without ``DBParameterGroupName`` keeps the source's group
  name, which does not exist in its Region (every later ``DescribeDBInstances`` of it then fails
  with a 500). AWS gives it "the default DBParameterGroup for the specified DB engine for a
  cross-Region read replica" ("CreateDBInstanceReadReplica", ``DBParameterGroupName``); so does
  the stand-in. A named group must exist in the replica's Region (moto checks it).
- ``CreateDBCluster`` with the identifier of an existing cluster answers
  ``DBClusterSnapshotAlreadyExistsFault`` (moto's automated backup of the replaced cluster). AWS
  answers ``DBClusterAlreadyExistsFault`` (HTTP 400): "CreateDBCluster", Amazon RDS API
  Reference, Errors, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html
  (re-protect's Aurora secondary, added by a call that may race another).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds.exceptions import RDSClientError
from moto.rds.models import DBInstance, RDSBackend, rds_backends

from drstandin import rds
from drstandin.control import json_object

_settings: Any = None
_installed = False


class DBInstanceAlreadyExists(RDSClientError):
    def __init__(self, identifier: str):
        super().__init__("DBInstanceAlreadyExists", f"DB instance already exists: {identifier}")


class DBClusterAlreadyExistsFault(RDSClientError):
    def __init__(self, identifier: str):
        super().__init__("DBClusterAlreadyExistsFault", f"DB cluster already exists: {identifier}")


def _wrap_create_cluster(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
        """CreateDBCluster refusing a taken identifier (see the module docstring)."""
        if kwargs["db_cluster_identifier"] in self.clusters:
            raise DBClusterAlreadyExistsFault(kwargs["db_cluster_identifier"])
        return original(self, kwargs)

    return create_db_cluster


def _wrap_create(original: Callable[..., DBInstance]) -> Callable[..., DBInstance]:
    def create_db_instance_read_replica(self: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
        """CreateDBInstanceReadReplica refusing a taken identifier, the replica ``creating``
        for ``replica_creation_seconds`` (see the module docstring)."""
        with rds._lock:
            identifier = db_kwargs["db_instance_identifier"]
            if identifier in self.databases:
                raise DBInstanceAlreadyExists(identifier)
            replica = original(self, db_kwargs)
            source = str(db_kwargs.get("source_db_instance_identifier") or "")
            cross_region = source.startswith("arn:") and source.split(":")[3] != self.region_name
            if cross_region and not db_kwargs.get("db_parameter_group_name"):
                replica.db_parameter_group_name = None
            seconds = float(_settings.replica_creation_seconds or 0)
            if seconds > 0:
                replica.status = "creating"
                token = rds._claim_status(replica)

                def created() -> None:
                    if rds._status_token(replica) == token and replica.status == "creating":
                        replica.status = "available"

                rds._schedule(seconds, created)
            return replica

    return create_db_instance_read_replica


def _status_infos(self: DBInstance) -> list[dict[str, Any]]:
    """``StatusInfos`` of a read replica (see the module docstring)."""
    if not self.is_replica:
        return []
    override = self.__dict__.get("_dr_replication")
    if override is not None:
        return [dict(override, StatusType="read replication")]
    if self.status != "available":
        return []
    return [{"StatusType": "read replication", "Status": "replicating", "Normal": True}]


def _replication_control(request: Any) -> Any:
    """``POST /moto-api/dr/rds/replication``: set (or with ``"status": null`` clear) the
    replication status a replica reports."""
    if request.method != "POST":
        return 405, {"error": "use POST"}
    body = json_object(request)
    if not body.get("region") or not body.get("instance") or "status" not in body:
        return 400, {"error": 'body must be {"region", "instance", "status"[, "normal", "message"]}'}
    account = str(body.get("account_id") or DEFAULT_ACCOUNT_ID)
    with rds._lock:
        rds.advance_transitions()
        database = rds_backends[account][body["region"]].databases.get(body["instance"])
        if database is None or not database.is_replica:
            return 404, {"error": f"read replica {body['instance']} not found in {body['region']}."}
        if body["status"] is None:
            database.__dict__.pop("_dr_replication", None)
        else:
            entry = {"Status": str(body["status"]), "Normal": bool(body.get("normal", False))}
            if body.get("message"):
                entry["Message"] = str(body["message"])
            database.__dict__["_dr_replication"] = entry
    return {"instance": database.db_instance_identifier, "status_infos": _status_infos(database)}


def install(settings) -> None:
    global _settings, _installed
    _settings = settings
    if _installed:
        return
    _installed = True
    RDSBackend.create_db_instance_read_replica = _wrap_create(RDSBackend.create_db_instance_read_replica)
    DBInstance.status_infos = property(_status_infos)
    RDSBackend.create_db_cluster = _wrap_create_cluster(RDSBackend.create_db_cluster)

    from drstandin.control import register_control_route

    register_control_route("rds/replication", _replication_control)
