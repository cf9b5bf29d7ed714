"""Where RDS puts a cross-Region read replica or a secondary DB cluster, which moto 5.2.5 gets
wrong: the network (DB subnet group, VPC security groups) and the settings given with it.

Builds on ``drstandin.rds``, ``drstandin.rds_replication`` and ``drstandin.rds_rules``
(installed after them: these checks run before theirs).

- A Region has a default VPC until it is deleted (``DeleteVpc`` of the VPC whose ``IsDefault``
  is true, as an account may do on AWS; moto creates one per Region). Without
  ``DBSubnetGroupName`` RDS creates the DB instance or cluster in the default VPC; in a Region
  without one, ``CreateDBInstanceReadReplica`` across Regions and ``CreateDBCluster`` are refused
  ``InvalidVPCNetworkStateFault``, nothing created (``CreateDBInstance`` likewise). AWS: "CreateDBInstanceReadReplica",
  ``DBSubnetGroupName`` ("The new DB instance is created in the VPC associated with the DB subnet
  group") and Errors ``InvalidVPCNetworkStateFault``,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html;
  "CreateDBCluster", ``DBSubnetGroupName``,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html; "Working
  with a DB instance in a VPC",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html.
  The failure as reported: hashicorp/terraform-provider-aws#4318 ("InvalidVPCNetworkStateFault:
  The VPC ... associated with the default subnet group does not exist").
- A DB subnet group is looked up in the Region of the call ("must be in the same Amazon Web
  Services Region in which the operation is running"): moto looks a read replica's up in the
  source's Region, so the replica's own Region's group is ``DBSubnetGroupNotFoundFault``; the
  stand-in looks it up where RDS does.
- VPC security groups must be in the VPC of the subnet group (or the default VPC):
  ``InvalidParameterCombination`` "The DB instance and EC2 security group are in different
  VPCs", as reported in terraform-aws-modules/terraform-aws-rds#378; an unknown group is
  ``InvalidParameterValue``. An option group not in the Region is ``OptionGroupNotFoundFault``.
- moto copies the source into a cross-Region replica, which keeps the source's subnet group,
  security groups, option group, tags, deletion protection and Multi-AZ. RDS creates it with what
  the request gives, else its defaults in its own Region: the default VPC (no DB subnet group
  shown), that VPC's default security group, the engine's default option group, no tags,
  deletion protection and Multi-AZ off. ``DescribeDBInstances`` then shows what was given.
- ``CreateDBCluster`` (moto keeps the settings given to a secondary) and ``CreateDBInstance`` of
  a standalone instance have the same network rule as a replica (an Aurora instance takes its
  cluster's).
- ``CreateOptionGroup`` for PostgreSQL: moto knows major versions 10 to 13 only; RDS has option
  groups for every supported major version (14 to 17 here), which the stand-in accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.ec2.models import ec2_backends
from moto.rds.exceptions import (
    DBSubnetGroupNotFoundError,
    InvalidParameterCombination,
    InvalidParameterValue,
    OptionGroupNotFoundFaultError,
    RDSClientError,
)
from moto.rds.models import DBInstance, RDSBackend

from drstandin import rds

_installed = False

# PostgreSQL major versions RDS has option groups for beyond moto's list (10 to 13).
POSTGRES_OPTION_GROUP_MAJORS = ("14", "15", "16", "17")


class InvalidVPCNetworkStateFault(RDSClientError):
    def __init__(self, message: str):
        super().__init__("InvalidVPCNetworkStateFault", message)


def default_vpc_id(account: str, region: str) -> str | None:
    """The Region's default VPC, or None once it was deleted."""
    vpc = ec2_backends[account][region].get_default_vpc()
    return vpc.id if vpc is not None else None


def _network(backend: RDSBackend, subnet_group: str | None, security_groups: list[str] | None) -> str:
    """The VPC the new instance or cluster goes into; raises what RDS answers when it cannot."""
    region = backend.region_name
    if subnet_group:
        found = backend.subnet_groups.get(subnet_group)
        if found is None:
            raise DBSubnetGroupNotFoundError(subnet_group)
        vpc_id = getattr(found, "vpc_id", None)
    else:
        vpc_id = default_vpc_id(backend.account_id, region)
        if vpc_id is None:
            raise InvalidVPCNetworkStateFault(
                f"{region} has no default VPC: specify a DBSubnetGroupName of {region}, or the "
                f"DB instance or cluster cannot be created."
            )
    ec2 = ec2_backends[backend.account_id][region]
    for group_id in security_groups or []:
        group = ec2.get_security_group_from_id(group_id)
        if group is None:
            raise InvalidParameterValue(f"Invalid security group , groupId= {group_id}, groupName=.")
        if vpc_id is not None and group.vpc_id != vpc_id:
            raise InvalidParameterCombination(
                f"The DB instance and EC2 security group are in different VPCs. The DB instance is in "
                f"{vpc_id} and the EC2 security group is in {group.vpc_id}"
            )
    return vpc_id or ""


def _default_security_group(backend: RDSBackend, vpc_id: str) -> list[str]:
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    group = ec2.get_default_security_group(vpc_id) if vpc_id else None
    return [group.id] if group is not None else []


def _cross_region(backend: RDSBackend, source: str) -> bool:
    parts = source.split(":")
    return source.startswith("arn:") and len(parts) > 6 and parts[3] != backend.region_name


def _wrap_create_replica(original: Callable[..., DBInstance]) -> Callable[..., DBInstance]:
    def create_db_instance_read_replica(self: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
        """A cross-Region read replica placed as RDS places it (see the module docstring)."""
        if not _cross_region(self, str(db_kwargs.get("source_db_instance_identifier") or "")):
            return original(self, db_kwargs)
        with rds._lock:
            subnet_group = db_kwargs.pop("db_subnet_group_name", None)
            security_groups = db_kwargs.pop("vpc_security_group_ids", None) or None
            vpc_id = _network(self, subnet_group, security_groups)
            option_group = db_kwargs.get("option_group_name")
            if option_group and option_group not in self.option_groups:
                raise OptionGroupNotFoundFaultError(option_group)
            replica = original(self, db_kwargs)
            replica.db_subnet_group_name = subnet_group
            if not subnet_group:
                replica.db_subnet_group = None
            replica.vpc_security_group_ids = list(security_groups or _default_security_group(self, vpc_id))
            if not option_group:
                semantic = str(replica.engine_version or "").split(".")
                suffix = semantic[0] + ("-" + semantic[1] if replica.engine in ("mysql", "mariadb") else "")
                replica.option_group_name = f"default:{replica.engine}-{suffix}"
            replica.tags = list(db_kwargs.get("tags") or [])
            replica.deletion_protection = bool(db_kwargs.get("deletion_protection") or False)
            replica.multi_az = bool(db_kwargs.get("multi_az") or False)
            return replica

    return create_db_instance_read_replica


def _wrap_create_cluster(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
        """A DB cluster only where it has a network (see the module docstring)."""
        with rds._lock:
            _network(self, kwargs.get("db_subnet_group_name"), kwargs.get("vpc_security_group_ids") or None)
            return original(self, kwargs)

    return create_db_cluster


def _wrap_create_instance(original: Callable[..., DBInstance]) -> Callable[..., DBInstance]:
    def create_db_instance(self: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
        """A DB instance only where it has a network; an Aurora one takes its cluster's."""
        if not db_kwargs.get("db_cluster_identifier"):
            with rds._lock:
                _network(self, db_kwargs.get("db_subnet_group_name"), db_kwargs.get("vpc_security_group_ids") or None)
        return original(self, db_kwargs)

    return create_db_instance


def _wrap_create_option_group(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_option_group(self: RDSBackend, option_group_kwargs: dict[str, Any]) -> Any:
        """PostgreSQL option groups of the major versions moto does not list."""
        major = option_group_kwargs.get("major_engine_version")
        if option_group_kwargs.get("engine_name") == "postgres" and major in POSTGRES_OPTION_GROUP_MAJORS:
            group = original(self, dict(option_group_kwargs, major_engine_version="13"))
            group.major_engine_version = major
            return group
        return original(self, option_group_kwargs)

    return create_option_group


def install(settings) -> None:
    global _installed
    if _installed:
        return
    _installed = True
    RDSBackend.create_db_instance_read_replica = _wrap_create_replica(RDSBackend.create_db_instance_read_replica)
    RDSBackend.create_db_cluster = _wrap_create_cluster(RDSBackend.create_db_cluster)
    RDSBackend.create_db_instance = _wrap_create_instance(RDSBackend.create_db_instance)
    RDSBackend.create_option_group = _wrap_create_option_group(RDSBackend.create_option_group)
