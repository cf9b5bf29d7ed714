"""Where RDS puts a cross-Region read replica or a secondary cluster (drstandin.rds_network): no DB
subnet group in a Region without a default VPC is refused, the settings given are kept and shown,
and a replica does not inherit its source's network."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from test_rds import build_global, error, instance
from test_rds_rules import PRIMARY, replicate, writer


def delete_default_vpc(standin, region):
    """As an account may do: the default VPC's subnets, then the VPC."""
    ec2 = standin.client("ec2", region)
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc["VpcId"])


def network(standin, region, name="app-db-subnets", cidr="10.1"):
    """A VPC of the application's with two subnets, its DB subnet group and a security group."""
    ec2 = standin.client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{cidr}.{i}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=f"{name}-sg", Description="app database", VpcId=vpc)["GroupId"]
    standin.client("rds", region).create_db_subnet_group(
        DBSubnetGroupName=name, DBSubnetGroupDescription="app database", SubnetIds=subnets,
    )
    return vpc, group


def test_a_cross_region_replica_without_a_subnet_group_is_refused_where_there_is_no_default_vpc(standin):
    source = writer(standin)
    delete_default_vpc(standin, PRIMARY)

    with pytest.raises(ClientError) as excinfo:
        replicate(standin, source["DBInstanceArn"])
    assert error(excinfo)[0] == "InvalidVPCNetworkStateFault"
    assert "no default VPC" in error(excinfo)[1]
    with pytest.raises(ClientError):
        instance(standin.client("rds", PRIMARY), "app-db-2")

    # With the Region's own subnet group it is created there (moto looked it up in the source's).
    _, group = network(standin, PRIMARY)
    created = replicate(standin, source["DBInstanceArn"], DBSubnetGroupName="app-db-subnets", VpcSecurityGroupIds=[group])
    assert created["DBSubnetGroup"]["DBSubnetGroupName"] == "app-db-subnets"


def test_the_settings_given_are_kept_and_shown_and_nothing_comes_from_the_source(standin):
    source = writer(
        standin, Tags=[{"Key": "source-only", "Value": "1"}], DeletionProtection=True, MultiAZ=True,
    )
    rds = standin.client("rds", PRIMARY)
    _, group = network(standin, PRIMARY)
    rds.create_option_group(
        OptionGroupName="app-options", EngineName="postgres", MajorEngineVersion="16",
        OptionGroupDescription="app, PostgreSQL 16",
    )

    replicate(
        standin, source["DBInstanceArn"], DBSubnetGroupName="app-db-subnets", VpcSecurityGroupIds=[group],
        OptionGroupName="app-options", DeletionProtection=True, MultiAZ=True,
        Tags=[{"Key": "app", "Value": "shop"}],
    )
    shown = instance(rds, "app-db-2")
    assert shown["DBSubnetGroup"]["DBSubnetGroupName"] == "app-db-subnets"
    assert [g["VpcSecurityGroupId"] for g in shown["VpcSecurityGroups"]] == [group]
    assert [g["OptionGroupName"] for g in shown["OptionGroupMemberships"]] == ["app-options"]
    assert shown["DeletionProtection"] is True and shown["MultiAZ"] is True
    assert shown["TagList"] == [{"Key": "app", "Value": "shop"}]

    # Without them: RDS's defaults in the replica's Region, never the source's.
    standin.client("rds", PRIMARY).create_db_instance_read_replica(
        DBInstanceIdentifier="app-db-3", SourceDBInstanceIdentifier=source["DBInstanceArn"],
        DBInstanceClass="db.r6g.large",
    )
    plain = instance(rds, "app-db-3")
    assert "DBSubnetGroup" not in plain
    ec2 = standin.client("ec2", PRIMARY)
    (default_vpc,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    (default_group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [default_vpc["VpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    assert [g["VpcSecurityGroupId"] for g in plain["VpcSecurityGroups"]] == [default_group["GroupId"]]
    major = source["EngineVersion"].split(".")[0]
    assert plain["OptionGroupMemberships"][0]["OptionGroupName"] == f"default:postgres-{major}"
    assert plain["DeletionProtection"] is False and plain["MultiAZ"] is False
    assert plain.get("TagList", []) == []


def test_security_groups_of_another_vpc_and_unknown_groups_are_refused(standin):
    source = writer(standin)
    network(standin, PRIMARY)
    _, other_group = network(standin, PRIMARY, name="other-subnets", cidr="10.2")

    with pytest.raises(ClientError) as excinfo:
        replicate(standin, source["DBInstanceArn"], DBSubnetGroupName="app-db-subnets", VpcSecurityGroupIds=[other_group])
    assert error(excinfo)[0] == "InvalidParameterCombination"
    assert "different VPCs" in error(excinfo)[1]
    for kwargs, code in (
        ({"DBSubnetGroupName": "app-db-subnets", "VpcSecurityGroupIds": ["sg-0000000000"]}, "InvalidParameterValue"),
        ({"DBSubnetGroupName": "nowhere"}, "DBSubnetGroupNotFoundFault"),
        ({"DBSubnetGroupName": "app-db-subnets", "OptionGroupName": "nowhere"}, "OptionGroupNotFoundFault"),
    ):
        with pytest.raises(ClientError) as excinfo:
            replicate(standin, source["DBInstanceArn"], **kwargs)
        assert error(excinfo)[0] == code, kwargs
    with pytest.raises(ClientError):
        instance(standin.client("rds", PRIMARY), "app-db-2")


def test_a_secondary_cluster_needs_a_subnet_group_where_there_is_no_default_vpc_and_keeps_its_settings(standin):
    build_global(standin, primary_region="eu-central-1", dr_region="eu-west-2")
    region = PRIMARY
    delete_default_vpc(standin, region)
    rds = standin.client("rds", region)
    secondary = dict(
        DBClusterIdentifier="app-primary-2", Engine="aurora-postgresql", EngineVersion="15.4",
        GlobalClusterIdentifier="app-global",
    )

    with pytest.raises(ClientError) as excinfo:
        rds.create_db_cluster(**secondary)
    assert error(excinfo)[0] == "InvalidVPCNetworkStateFault"

    _, group = network(standin, region)
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="app-apg15", DBParameterGroupFamily="aurora-postgresql15", Description="app",
    )
    rds.create_db_cluster(
        **secondary, DBSubnetGroupName="app-db-subnets", VpcSecurityGroupIds=[group],
        DBClusterParameterGroupName="app-apg15", DeletionProtection=True, Tags=[{"Key": "app", "Value": "shop"}],
    )
    shown = rds.describe_db_clusters(DBClusterIdentifier="app-primary-2")["DBClusters"][0]
    assert shown["DBSubnetGroup"] == "app-db-subnets"
    assert [g["VpcSecurityGroupId"] for g in shown["VpcSecurityGroups"]] == [group]
    assert shown["DBClusterParameterGroup"] == "app-apg15"
    assert shown["DeletionProtection"] is True
    assert shown["TagList"] == [{"Key": "app", "Value": "shop"}]


def test_a_standalone_instance_needs_a_network_too(standin):
    delete_default_vpc(standin, PRIMARY)
    with pytest.raises(ClientError) as excinfo:
        standin.client("rds", PRIMARY).create_db_instance(
            DBInstanceIdentifier="app-db", DBInstanceClass="db.r6g.large", Engine="postgres",
            MasterUsername="app", MasterUserPassword="password123", AllocatedStorage=20,
        )
    assert error(excinfo)[0] == "InvalidVPCNetworkStateFault"
