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
  replica reports ``replicating`` whatever its instance status (``backing-up``,
  ``modifying``: replication goes on while RDS backs up or modifies the replica), except while
  it is ``creating`` (no replication yet); an instance that is not a replica reports none. ``POST /moto-api/dr/rds/replication``
  ``{"region", "instance", "status": "error", "normal": false, "message": "..."}`` sets another
  replication status on a replica (``"status": null`` goes back to the default).
- Replication that stops. ``POST /moto-api/dr/rds/replication`` with ``"stopped_seconds_ago": N``
  (and a ``status`` such as ``error`` or ``stopped``) also rewrites the replica's ``ReplicaLag``
  in CloudWatch as RDS reports a stop: no valid (non-negative) datapoint after the stop, then a
  ``-1`` every minute ("If the ReplicaLag metric returns -1, then replication is currently not
  active": "Monitoring MySQL read replicas" / "Monitoring MariaDB read replicas", Amazon RDS User
  Guide, https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_MariaDB.Replication.ReadReplicas.Monitor.html),
  for ``"lag_reported_seconds"`` (default 300) after the stop, and no datapoint after that. The
  replication statuses (``replicating``, ``replication degraded``, ``error``, ``stopped``,
  ``terminated``) are those of "Monitoring read replication",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Monitoring.html.
- An idle PostgreSQL source. ``POST /moto-api/dr/rds/idle-source`` ``{"region", "instance",
  "idle_seconds"}`` writes what RDS reports for a PostgreSQL read replica whose source has had no
  write for ``idle_seconds``: RDS for PostgreSQL computes ``ReplicaLag`` as
  ``now() - pg_last_xact_replay_timestamp()`` ("Monitoring and tuning the replication process",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PostgreSQL.Replication.ReadReplicas.Monitor.html),
  so with no new transaction to replay it grows by 60 s every minute although nothing is behind;
  the source's ``OldestReplicationSlotLag`` ("the lagging size of the replica lagging the most in
  terms of write-ahead log (WAL) data received", bytes, "Amazon CloudWatch metrics for Amazon
  RDS", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html) is 0 each
  minute, in the source's Region (a cross-Region PostgreSQL replica replicates through a
  replication slot on its source: "Working with read replicas for Amazon RDS for PostgreSQL",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PostgreSQL.Replication.ReadReplicas.html).
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

import datetime
from collections.abc import Callable
from typing import Any

from moto.cloudwatch.models import MetricDatum, cloudwatch_backends
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
    if self.status == "creating":
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
    answer: dict[str, Any] = {"instance": database.db_instance_identifier, "status_infos": _status_infos(database)}
    if body.get("stopped_seconds_ago") is not None:
        answer["replica_lag"] = _stop_metric(
            account, body["region"], body["instance"], float(body["stopped_seconds_ago"]),
            float(body.get("lag_reported_seconds", 300)),
        )
    return answer


MINUTE = datetime.timedelta(minutes=1)


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def _instance_metric(
    account: str, region: str, instance: str, name: str, keep: Callable[[datetime.datetime], bool]
) -> Any:
    """The CloudWatch backend of ``region``, with the instance's datapoints of ``name`` that
    ``keep`` refuses removed."""
    backend = cloudwatch_backends[account][region]
    backend.metric_data = [
        datum
        for datum in backend.metric_data
        if not (
            datum.namespace == "AWS/RDS"
            and datum.name == name
            and any(d.name == "DBInstanceIdentifier" and d.value == instance for d in datum.dimensions)
            and not keep(_utc(datum.timestamp))
        )
    ]
    return backend


def _put(backend: Any, instance: str, name: str, unit: str, points: list[tuple[datetime.datetime, float]]) -> None:
    dimensions = [{"Name": "DBInstanceIdentifier", "Value": instance}]
    for at, value in points:
        # moto keeps CloudWatch timestamps as naive UTC datetimes.
        naive = at.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        backend.metric_data.append(MetricDatum("AWS/RDS", name, float(value), dimensions, naive, unit))


def _stop_metric(account: str, region: str, instance: str, ago: float, reported: float) -> list[dict[str, Any]]:
    """``ReplicaLag`` of a replica whose replication stopped ``ago`` seconds ago (see the module
    docstring): valid datapoints after the stop removed, -1 each minute for ``reported`` seconds."""
    now = datetime.datetime.now(datetime.timezone.utc)
    stop = now - datetime.timedelta(seconds=ago)
    end = min(now, stop + datetime.timedelta(seconds=reported))
    backend = _instance_metric(account, region, instance, "ReplicaLag", lambda at: at <= stop)
    points = []
    at = stop + MINUTE
    while at <= end:
        points.append((at, -1.0))
        at += MINUTE
    _put(backend, instance, "ReplicaLag", "Seconds", points)
    return [{"Timestamp": at.isoformat(), "Value": value} for at, value in points]


def _idle_source_control(request: Any) -> Any:
    """``POST /moto-api/dr/rds/idle-source``: a PostgreSQL replica's metrics while its source has
    had no write for ``idle_seconds`` (see the module docstring)."""
    if request.method != "POST":
        return 405, {"error": "use POST"}
    body = json_object(request)
    if not body.get("region") or not body.get("instance") or body.get("idle_seconds") is None:
        return 400, {"error": 'body must be {"region", "instance", "idle_seconds"}'}
    account = str(body.get("account_id") or DEFAULT_ACCOUNT_ID)
    with rds._lock:
        rds.advance_transitions()
        replica = rds_backends[account][body["region"]].databases.get(body["instance"])
        if replica is None or not replica.is_replica:
            return 404, {"error": f"read replica {body['instance']} not found in {body['region']}."}
        if not str(replica.engine).startswith("postgres"):
            return 400, {"error": f"{body['instance']} is {replica.engine}: idle-source lag is PostgreSQL's"}
        source = str(replica.source_db_instance_identifier)
        if source.startswith("arn:"):
            source_region, source_id = source.split(":")[3], source.split(":")[-1]
        else:
            source_region, source_id = body["region"], source
    now = datetime.datetime.now(datetime.timezone.utc)
    idle = float(body["idle_seconds"])
    since = now - datetime.timedelta(seconds=idle)
    minutes = [now - k * MINUTE for k in range(int(idle // 60), -1, -1)]
    lag = _instance_metric(account, body["region"], body["instance"], "ReplicaLag", lambda at: at < since)
    _put(lag, body["instance"], "ReplicaLag", "Seconds", [(at, (at - since).total_seconds()) for at in minutes])
    slot = _instance_metric(account, source_region, source_id, "OldestReplicationSlotLag", lambda at: at < since)
    _put(slot, source_id, "OldestReplicationSlotLag", "Bytes", [(at, 0.0) for at in minutes])
    return {
        "instance": body["instance"],
        "replica_lag": [{"Timestamp": at.isoformat(), "Value": (at - since).total_seconds()} for at in minutes],
        "source": {"region": source_region, "instance": source_id},
    }


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
    register_control_route("rds/idle-source", _idle_source_control)
