"""The account's DB instance quota, which moto 5.2.5 neither answers nor enforces.

- ``DescribeAccountAttributes`` answers the Region's ``AccountQuotas``: ``DBInstances`` with
  ``Used`` (the DB instances in the Region) and ``Max`` (40 by default, RDS's default quota of DB
  instances per Region). AWS: "DescribeAccountAttributes", Amazon RDS API Reference,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeAccountAttributes.html;
  "Quotas and constraints for Amazon RDS", Amazon RDS User Guide,
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html ("DB instances", 40).
- ``CreateDBInstance`` and ``CreateDBInstanceReadReplica`` in a Region already at its maximum are
  refused ``InstanceQuotaExceeded`` ("The request would result in the user exceeding the allowed
  number of DB instances"), nothing created. AWS: "CreateDBInstanceReadReplica", Errors,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html.
- ``POST /moto-api/dr/rds/quota`` ``{"region": "eu-west-1", "db_instances": 3}`` sets a Region's
  maximum (as a quota RDS has lowered, or an account already near it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.rds.exceptions import RDSClientError
from moto.rds.models import DBInstance, RDSBackend
from moto.rds.responses import RDSResponse

from drstandin import rds
from drstandin.control import json_object

DEFAULT_DB_INSTANCES = 40

# (account, region) -> the maximum DB instances.
_maximum: dict[tuple[str, str], int] = {}
_installed = False


class InstanceQuotaExceeded(RDSClientError):
    def __init__(self, message: str):
        super().__init__("InstanceQuotaExceeded", message)


def maximum(account: str, region: str) -> int:
    return _maximum.get((account, region), DEFAULT_DB_INSTANCES)


def _refuse_beyond_quota(backend: RDSBackend) -> None:
    used = len(backend.databases)
    limit = maximum(backend.account_id, backend.region_name)
    if used >= limit:
        raise InstanceQuotaExceeded(
            f"The request would result in the user exceeding the allowed number of DB instances "
            f"({used} of {limit} in {backend.region_name})."
        )


def _wrap_create(original: Callable[..., DBInstance]) -> Callable[..., DBInstance]:
    def create(self: RDSBackend, *args: Any, **kwargs: Any) -> DBInstance:
        with rds._lock:
            _refuse_beyond_quota(self)
        return original(self, *args, **kwargs)

    return create


def describe_account_attributes(self: RDSResponse) -> ActionResult:
    backend = self.backend
    used = len(backend.databases)
    return ActionResult({"AccountQuotas": [
        {"AccountQuotaName": "DBInstances", "Used": used, "Max": maximum(backend.account_id, backend.region_name)},
    ]})


def _quota_control(request: Any) -> Any:
    """``POST /moto-api/dr/rds/quota``: a Region's maximum DB instances."""
    if request.method != "POST":
        return 405, {"error": "use POST"}
    body = json_object(request)
    region, limit = body.get("region"), body.get("db_instances")
    if not region or not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        return 400, {"error": 'body must be {"region": "...", "db_instances": <a whole number >= 0>}'}
    account = str(body.get("account_id") or DEFAULT_ACCOUNT_ID)
    _maximum[(account, str(region))] = limit
    return {"region": region, "db_instances": limit}


def install(settings) -> None:
    global _installed
    _maximum.clear()
    if _installed:
        return
    _installed = True
    RDSBackend.create_db_instance = _wrap_create(RDSBackend.create_db_instance)
    RDSBackend.create_db_instance_read_replica = _wrap_create(RDSBackend.create_db_instance_read_replica)
    RDSResponse.describe_account_attributes = describe_account_attributes

    from drstandin.control import register_control_route

    register_control_route("rds/quota", _quota_control)
