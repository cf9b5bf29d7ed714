"""What RDS refuses, or never finishes, that moto 5.2.5 accepts or finishes: cross-Region read
replica settings per engine, KMS key Regions, engine versions of global cluster members, and a
switchover or failover Aurora cancels.

Builds on ``drstandin.rds`` and ``drstandin.rds_replication`` (installed after them).

- ``CreateDBInstanceReadReplica`` across Regions (source named by ARN in another Region):
  ``DBParameterGroupName`` "is only supported for MySQL DB instances for cross-Region read
  replicas, for Multi-AZ DB cluster read replica instances, for Db2 DB instances, and for Oracle DB
  instances"; for any other engine (PostgreSQL, MariaDB, SQL Server) the stand-in answers
  ``InvalidParameterCombination`` as RDS does. An encrypted source needs ``KmsKeyId`` "for the
  destination AWS Region"; "KMS keys are specific to the AWS Region that they are created in":
  no key is ``InvalidParameterCombination``, a key ARN of another Region is
  ``KMSKeyNotAccessibleFault``. AWS: "CreateDBInstanceReadReplica", Amazon RDS API Reference,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html;
  "Creating a read replica in a different AWS Region",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.XRgn.html
- ``SwitchoverGlobalCluster`` / ``FailoverGlobalCluster``: "You can only perform a managed
  cross-Region database failover on an Aurora global database if the primary and secondary DB
  clusters have the same major, minor, and patch level engine versions" (patch levels may differ
  for some minor versions): a target whose major or minor version differs from the writer's is
  ``InvalidDBClusterStateFault``. AWS: "Upgrading an Amazon Aurora global database",
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-upgrade.html
- A switchover or failover Aurora cancels: ``FailoverState`` ``Status`` ``cancelling`` while both
  clusters return to their former roles, then no ``FailoverState`` and the writer unchanged. AWS:
  "FailoverState", Amazon RDS API Reference,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverState.html.
  ``POST /moto-api/dr/rds/cancel-global-failover`` ``{"global_cluster": "app-global"}`` cancels
  the one under way (404 when none is): ``cancelling`` for ``promotion_seconds`` (or
  ``"seconds"``), then back. ``"seconds": 0`` rolls back at once: a cancel and roll back that
  ends between two describes, which a caller sees only as no ``FailoverState`` and the writer
  where it was.
- Statuses RDS does not leave by itself (``incompatible-parameters``, ``storage-full``,
  ``failed``, ...; "Viewing Amazon RDS DB instance status",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status):
  ``POST /moto-api/dr/rds/instance-status`` (``drstandin.rds``) without ``seconds`` holds any of
  them for good, as RDS does; ``POST /moto-api/dr/rds/cluster-status`` ``{"region", "cluster",
  "status"}`` does the same for a DB cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds.exceptions import InvalidParameterCombination, RDSClientError
from moto.rds.models import DBInstance, RDSBackend, rds_backends

from drstandin import rds
from drstandin.control import json_object

_settings: Any = None
_installed = False


class KMSKeyNotAccessibleFault(RDSClientError):
    def __init__(self, message: str):
        super().__init__("KMSKeyNotAccessibleFault", message)


def accepts_parameter_group(engine: str) -> bool:
    """Whether RDS accepts DBParameterGroupName on a cross-Region read replica of ``engine``."""
    return engine == "mysql" or engine.startswith("oracle-") or engine.startswith("db2-")


def major_minor(version: str) -> str:
    """``15.4`` -> ``15.4``; ``8.0.mysql_aurora.3.05.2`` -> ``8.0.mysql_aurora.3.05``."""
    parts = (version or "").split(".")
    for at, part in enumerate(parts):
        if part.startswith("mysql_aurora"):
            return ".".join(parts[: at + 3])
    return ".".join(parts[:2])


def _wrap_create(original: Callable[..., DBInstance]) -> Callable[..., DBInstance]:
    def create_db_instance_read_replica(self: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
        """CreateDBInstanceReadReplica with RDS's cross-Region rules (see the module docstring)."""
        source_id = str(db_kwargs.get("source_db_instance_identifier") or "")
        parts = source_id.split(":")
        if source_id.startswith("arn:") and len(parts) > 6 and parts[3] != self.region_name:
            source = rds._find_instance(parts[4], parts[3], parts[-1])
            if source is not None:
                engine = str(source.engine or "")
                if db_kwargs.get("db_parameter_group_name") and not accepts_parameter_group(engine):
                    raise InvalidParameterCombination(
                        f"A DB parameter group can't be specified for a cross-Region read replica of "
                        f"a {engine} DB instance."
                    )
                key = str(db_kwargs.get("kms_key_id") or "")
                if source.storage_encrypted and not key:
                    raise InvalidParameterCombination(
                        "KmsKeyId is required to create an encrypted read replica in another Region."
                    )
                if key.startswith("arn:") and key.split(":")[3] != self.region_name:
                    raise KMSKeyNotAccessibleFault(
                        f"The KMS key {key} is not accessible in {self.region_name}."
                    )
        return original(self, db_kwargs)

    return create_db_instance_read_replica


def _wrap_start_global_failover(original: Callable[..., Any]) -> Callable[..., Any]:
    def start(response: Any, global_id: str, target_id: str, data_loss: bool) -> Any:
        """A switchover or failover only between clusters of the same major and minor version."""
        gc = rds._find_global_cluster(response.current_account, global_id)
        target = rds._find_cluster(response.current_account, response.region, target_id)
        writer = next((member for member in gc.members if member.is_writer), None)
        if (
            writer is not None
            and writer is not target
            and major_minor(str(writer.engine_version)) != major_minor(str(target.engine_version))
        ):
            raise rds.InvalidDBClusterStateFault(
                f"The target cluster {target.db_cluster_arn} must be on the same engine version as "
                f"the current primary cluster ({writer.engine_version}, target {target.engine_version})."
            )
        return original(response, global_id, target_id, data_loss)

    return start


def _cancel_control(request: Any) -> Any:
    """``POST /moto-api/dr/rds/cancel-global-failover``: cancel the switchover or failover under way."""
    if request.method != "POST":
        return 405, {"error": "use POST"}
    body = json_object(request)
    if not body.get("global_cluster"):
        return 400, {"error": 'body must be {"global_cluster"}'}
    account = str(body.get("account_id") or DEFAULT_ACCOUNT_ID)
    with rds._lock:
        rds.advance_transitions()
        try:
            gc = rds._find_global_cluster(account, str(body["global_cluster"]))
        except RDSClientError as err:
            return 404, {"error": str(err.message if hasattr(err, "message") else err)}
        running = getattr(gc, "failover_state", None)
        if running is None:
            return 404, {"error": f"no switchover or failover of {gc.global_cluster_identifier} is under way"}
        # A new state object: the running move's own transitions no longer apply to it.
        state = dict(running, Status="cancelling")
        gc.failover_state = state

        def rolled_back() -> None:
            if gc.failover_state is state:
                gc.failover_state = None
                gc.status = "available"

        seconds = body.get("seconds", _settings.promotion_seconds)
        if not isinstance(seconds, (int, float)) or seconds < 0:
            return 400, {"error": '"seconds" must be a number of seconds, 0 or more'}
        if seconds == 0:
            rolled_back()
        else:
            rds._schedule(seconds, rolled_back)
    return {"global_cluster": gc.global_cluster_identifier, "failover_state": state}


def _cluster_status_control(request: Any) -> Any:
    """``POST /moto-api/dr/rds/cluster-status``: a DB cluster shows ``status`` for good."""
    if request.method != "POST":
        return 405, {"error": "use POST"}
    body = json_object(request)
    if not body.get("region") or not body.get("cluster") or not body.get("status"):
        return 400, {"error": 'body must be {"region", "cluster", "status"}'}
    account = str(body.get("account_id") or DEFAULT_ACCOUNT_ID)
    with rds._lock:
        rds.advance_transitions()
        cluster = rds_backends[account][body["region"]].clusters.get(body["cluster"])
        if cluster is None:
            return 404, {"error": f"DBCluster {body['cluster']} not found in {body['region']}."}
        cluster.status = str(body["status"])
    return {"cluster": cluster.db_cluster_identifier, "status": cluster.status}


def install(settings) -> None:
    global _settings, _installed
    _settings = settings
    if _installed:
        return
    _installed = True
    RDSBackend.create_db_instance_read_replica = _wrap_create(RDSBackend.create_db_instance_read_replica)
    rds._start_global_failover = _wrap_start_global_failover(rds._start_global_failover)

    from drstandin.control import register_control_route

    register_control_route("rds/cancel-global-failover", _cancel_control)
    register_control_route("rds/cluster-status", _cluster_status_control)
