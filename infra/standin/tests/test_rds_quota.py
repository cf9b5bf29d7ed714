"""The account's DB instance quota (drstandin.rds_quota): DescribeAccountAttributes answers it,
and a create beyond it is refused InstanceQuotaExceeded, nothing created."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from test_rds import error
from test_rds_rules import DR, PRIMARY, replicate, writer


def db_instances(standin, region):
    (quota,) = [q for q in standin.client("rds", region).describe_account_attributes()["AccountQuotas"]
                if q["AccountQuotaName"] == "DBInstances"]
    return quota["Used"], quota["Max"]


def test_the_quota_is_answered_per_region_with_rdss_default_maximum(standin):
    assert db_instances(standin, PRIMARY) == (0, 40)
    writer(standin)
    assert db_instances(standin, DR) == (1, 40)
    assert db_instances(standin, PRIMARY) == (0, 40)


def test_a_replica_beyond_the_quota_is_refused_and_nothing_is_created(standin):
    source = writer(standin)
    status, _ = standin.control("rds/quota", {"region": PRIMARY, "db_instances": 0})
    assert status == 200

    with pytest.raises(ClientError) as excinfo:
        replicate(standin, source["DBInstanceArn"])

    assert error(excinfo)[0] == "InstanceQuotaExceeded"
    assert db_instances(standin, PRIMARY) == (0, 0)
    standin.control("rds/quota", {"region": PRIMARY, "db_instances": 1})
    replicate(standin, source["DBInstanceArn"])
    assert db_instances(standin, PRIMARY) == (1, 1)


def test_a_bad_quota_request_is_refused(standin):
    status, body = standin.control("rds/quota", {"region": PRIMARY, "db_instances": -1})
    assert status == 400 and "db_instances" in body["error"]
