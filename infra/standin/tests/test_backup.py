"""AWS Backup recovery points, backup jobs and copy jobs (drstandin.backup)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

PRIMARY, DR = "us-east-1", "us-west-2"
ACCOUNT, OTHER_ACCOUNT = "123456789012", "210987654321"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/backup"
DB_ARN = f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:app-db"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def backup(standin, region=PRIMARY, account=None):
    client = standin.client("backup", region)
    if account:
        def add_account(request, **_):
            request.headers["x-moto-account-id"] = account

        client.meta.events.register("before-sign.backup", add_account)
    return client


def control(standin, path, body):
    return standin.control(f"backup/{path}", body)


def raw_bodies(client, operation):
    """Record the raw JSON bodies the client receives for an operation."""
    bodies = []

    def keep(http_response, **_):
        bodies.append(json.loads(http_response.content))

    client.meta.events.register(f"after-call.backup.{operation}", keep)
    return bodies


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_start_backup_job_creates_completed_job_and_recovery_point(standin):
    primary = backup(standin)
    vault_arn = primary.create_backup_vault(BackupVaultName="app")["BackupVaultArn"]

    started = primary.start_backup_job(BackupVaultName="app", ResourceArn=DB_ARN, IamRoleArn=ROLE)
    point_arn = started["RecoveryPointArn"]
    assert re.fullmatch(rf"arn:aws:rds:{PRIMARY}:{ACCOUNT}:snapshot:awsbackup:job-{UUID}", point_arn)
    assert started["IsParent"] is False

    job = primary.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "COMPLETED"
    assert job["AccountId"] == ACCOUNT
    assert job["BackupVaultArn"] == vault_arn
    assert job["RecoveryPointArn"] == point_arn
    assert job["ResourceArn"] == DB_ARN
    assert job["ResourceType"] == "RDS"
    assert job["IamRoleArn"] == ROLE
    assert job["PercentDone"] == "100.0"
    assert job["CreationDate"] <= job["CompletionDate"]

    bodies = raw_bodies(primary, "DescribeRecoveryPoint")
    point = primary.describe_recovery_point(BackupVaultName="app", RecoveryPointArn=point_arn)
    assert point["Status"] == "COMPLETED"
    assert point["ResourceArn"] == DB_ARN and point["ResourceType"] == "RDS"
    assert point["BackupVaultName"] == "app" and point["BackupVaultArn"] == vault_arn
    assert "SourceBackupVaultArn" not in point
    # AWS Backup sends timestamps as epoch seconds, JSON numbers.
    assert isinstance(bodies[0]["CreationDate"], (int, float))
    assert abs(bodies[0]["CreationDate"] - datetime.now(timezone.utc).timestamp()) < 60

    aurora = primary.start_backup_job(
        BackupVaultName="app", ResourceArn=f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:cluster:app", IamRoleArn=ROLE
    )["RecoveryPointArn"]
    assert re.fullmatch(rf"arn:aws:rds:{PRIMARY}:{ACCOUNT}:cluster-snapshot:awsbackup:job-{UUID}", aurora)
    ebs = primary.start_backup_job(
        BackupVaultName="app", ResourceArn=f"arn:aws:ec2:{PRIMARY}:{ACCOUNT}:volume/vol-0abc", IamRoleArn=ROLE
    )["RecoveryPointArn"]
    assert re.fullmatch(rf"arn:aws:ec2:{PRIMARY}::snapshot/snap-[0-9a-f]{{17}}", ebs)
    table = primary.start_backup_job(
        BackupVaultName="app", ResourceArn=f"arn:aws:dynamodb:{PRIMARY}:{ACCOUNT}:table/orders", IamRoleArn=ROLE
    )["RecoveryPointArn"]
    assert re.fullmatch(rf"arn:aws:backup:{PRIMARY}:{ACCOUNT}:recovery-point:{UUID.upper()}", table)
    # A recovery point whose ARN contains a slash is addressable too.
    assert primary.describe_recovery_point(BackupVaultName="app", RecoveryPointArn=ebs)["ResourceType"] == "EBS"

    by_resource = primary.list_recovery_points_by_resource(ResourceArn=DB_ARN)["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in by_resource] == [point_arn]
    assert by_resource[0]["BackupVaultName"] == "app"
    jobs = primary.list_backup_jobs(ByResourceArn=DB_ARN)["BackupJobs"]
    assert [j["BackupJobId"] for j in jobs] == [started["BackupJobId"]]
    assert len(primary.list_backup_jobs()["BackupJobs"]) == 4
    assert primary.list_backup_vaults()["BackupVaultList"][0]["NumberOfRecoveryPoints"] == 4


def test_unknown_vaults_jobs_and_recovery_points_are_not_found(standin):
    primary = backup(standin)
    primary.create_backup_vault(BackupVaultName="app")
    with pytest.raises(ClientError) as e:
        primary.start_backup_job(BackupVaultName="missing", ResourceArn=DB_ARN, IamRoleArn=ROLE)
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        primary.describe_backup_job(BackupJobId="00000000-0000-0000-0000-000000000000")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        primary.describe_copy_job(CopyJobId="00000000-0000-0000-0000-000000000000")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        primary.describe_recovery_point(BackupVaultName="app", RecoveryPointArn=f"{DB_ARN}x")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        primary.list_recovery_points_by_backup_vault(BackupVaultName="missing")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        primary.start_copy_job(
            RecoveryPointArn=f"{DB_ARN}x", SourceBackupVaultName="app",
            DestinationBackupVaultArn=f"arn:aws:backup:{DR}:{ACCOUNT}:backup-vault:dr", IamRoleArn=ROLE,
        )
    assert error_code(e) == "ResourceNotFoundException"
    point = primary.start_backup_job(BackupVaultName="app", ResourceArn=DB_ARN, IamRoleArn=ROLE)["RecoveryPointArn"]
    with pytest.raises(ClientError) as e:
        primary.start_copy_job(
            RecoveryPointArn=point, SourceBackupVaultName="app",
            DestinationBackupVaultArn="not-a-vault-arn", IamRoleArn=ROLE,
        )
    assert error_code(e) == "InvalidParameterValueException"


def test_copy_job_copies_across_regions_and_accounts(standin):
    primary = backup(standin)
    dr = backup(standin, DR)
    other = backup(standin, DR, account=OTHER_ACCOUNT)
    primary.create_backup_vault(BackupVaultName="app")
    dr_vault = dr.create_backup_vault(BackupVaultName="dr")["BackupVaultArn"]
    other_vault = other.create_backup_vault(BackupVaultName="bunker")["BackupVaultArn"]
    assert other_vault == f"arn:aws:backup:{DR}:{OTHER_ACCOUNT}:backup-vault:bunker"
    source_vault = f"arn:aws:backup:{PRIMARY}:{ACCOUNT}:backup-vault:app"
    point = primary.start_backup_job(BackupVaultName="app", ResourceArn=DB_ARN, IamRoleArn=ROLE)["RecoveryPointArn"]

    copy_id = primary.start_copy_job(
        RecoveryPointArn=point, SourceBackupVaultName="app", DestinationBackupVaultArn=dr_vault,
        IamRoleArn=ROLE, Lifecycle={"DeleteAfterDays": 35},
    )["CopyJobId"]
    job = primary.describe_copy_job(CopyJobId=copy_id)["CopyJob"]
    assert job["State"] == "COMPLETED"
    assert job["AccountId"] == ACCOUNT
    assert job["SourceBackupVaultArn"] == source_vault
    assert job["SourceRecoveryPointArn"] == point
    assert job["DestinationBackupVaultArn"] == dr_vault
    assert job["ResourceArn"] == DB_ARN and job["ResourceType"] == "RDS"
    assert re.fullmatch(
        rf"arn:aws:rds:{DR}:{ACCOUNT}:snapshot:awsbackup:copyjob-{UUID}", job["DestinationRecoveryPointArn"]
    )

    copied = dr.list_recovery_points_by_backup_vault(BackupVaultName="dr")["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in copied] == [job["DestinationRecoveryPointArn"]]
    assert copied[0]["SourceBackupVaultArn"] == source_vault
    assert copied[0]["ResourceArn"] == DB_ARN
    assert copied[0]["Status"] == "COMPLETED"
    assert copied[0]["CalculatedLifecycle"]["DeleteAt"] - copied[0]["CreationDate"] == timedelta(days=35)

    cross_account = primary.start_copy_job(
        RecoveryPointArn=point, SourceBackupVaultName="app", DestinationBackupVaultArn=other_vault, IamRoleArn=ROLE
    )["CopyJobId"]
    copied_arn = primary.describe_copy_job(CopyJobId=cross_account)["CopyJob"]["DestinationRecoveryPointArn"]
    assert copied_arn.startswith(f"arn:aws:rds:{DR}:{OTHER_ACCOUNT}:snapshot:awsbackup:copyjob-")
    assert other.describe_recovery_point(BackupVaultName="bunker", RecoveryPointArn=copied_arn)["Status"] == "COMPLETED"
    # Copy jobs are listed in the source account and region.
    assert {j["CopyJobId"] for j in primary.list_copy_jobs()["CopyJobs"]} == {copy_id, cross_account}
    assert dr.list_copy_jobs()["CopyJobs"] == []
    assert other.list_copy_jobs()["CopyJobs"] == []

    missing = primary.start_copy_job(
        RecoveryPointArn=point, SourceBackupVaultName="app",
        DestinationBackupVaultArn=f"arn:aws:backup:{DR}:{ACCOUNT}:backup-vault:nope", IamRoleArn=ROLE,
    )["CopyJobId"]
    failed = primary.describe_copy_job(CopyJobId=missing)["CopyJob"]
    assert failed["State"] == "FAILED"
    assert "nope" in failed["StatusMessage"]
    assert "DestinationRecoveryPointArn" not in failed


def test_list_copy_jobs_filters_and_pages(standin):
    primary = backup(standin)
    dr = backup(standin, DR)
    primary.create_backup_vault(BackupVaultName="app")
    dr_vault = dr.create_backup_vault(BackupVaultName="dr")["BackupVaultArn"]
    other_vault = dr.create_backup_vault(BackupVaultName="other")["BackupVaultArn"]
    point = primary.start_backup_job(BackupVaultName="app", ResourceArn=DB_ARN, IamRoleArn=ROLE)["RecoveryPointArn"]
    ok = primary.start_copy_job(
        RecoveryPointArn=point, SourceBackupVaultName="app", DestinationBackupVaultArn=dr_vault, IamRoleArn=ROLE
    )["CopyJobId"]
    to_other = primary.start_copy_job(
        RecoveryPointArn=point, SourceBackupVaultName="app", DestinationBackupVaultArn=other_vault, IamRoleArn=ROLE
    )["CopyJobId"]
    two_hours_ago = datetime.now(timezone.utc) - timedelta(hours=2)
    status, body = control(standin, "copy-jobs", {
        "account_id": ACCOUNT, "region": PRIMARY, "resource_arn": DB_ARN, "source_backup_vault_name": "app",
        "destination_backup_vault_arn": dr_vault, "state": "FAILED",
        "status_message": "Insufficient privileges to perform this action.",
        "creation_date": two_hours_ago.timestamp(),
    })
    assert status == 200
    failed = body["CopyJob"]["CopyJobId"]
    assert body["CopyJob"]["State"] == "FAILED"
    assert body["CopyJob"]["CreationDate"] == pytest.approx(two_hours_ago.timestamp())
    status, body = control(standin, "copy-jobs", {
        "region": PRIMARY, "resource_arn": f"arn:aws:ec2:{PRIMARY}:{ACCOUNT}:volume/vol-1",
        "source_backup_vault_name": "app", "destination_backup_vault_arn": dr_vault,
        "status_message": "Copy job failed.", "creation_date": "2020-01-01T00:00:00Z",
    })
    assert status == 200
    old_ebs = body["CopyJob"]["CopyJobId"]

    def ids(**filters):
        return [j["CopyJobId"] for j in primary.list_copy_jobs(**filters)["CopyJobs"]]

    assert ids() == [to_other, ok, failed, old_ebs]  # newest first
    assert ids(ByState="FAILED") == [failed, old_ebs]
    assert ids(ByState="COMPLETED") == [to_other, ok]
    assert ids(ByCreatedAfter=datetime.now(timezone.utc) - timedelta(hours=24)) == [to_other, ok, failed]
    assert ids(ByCreatedBefore=datetime.now(timezone.utc) - timedelta(hours=1)) == [failed, old_ebs]
    assert ids(ByResourceArn=DB_ARN) == [to_other, ok, failed]
    assert ids(ByResourceType="EBS") == [old_ebs]
    assert ids(ByDestinationVaultArn=other_vault) == [to_other]
    assert ids(ByAccountId=ACCOUNT) == [to_other, ok, failed, old_ebs]
    assert ids(ByAccountId=OTHER_ACCOUNT) == []

    first = primary.list_copy_jobs(MaxResults=3)
    assert [j["CopyJobId"] for j in first["CopyJobs"]] == [to_other, ok, failed]
    second = primary.list_copy_jobs(MaxResults=3, NextToken=first["NextToken"])
    assert [j["CopyJobId"] for j in second["CopyJobs"]] == [old_ebs]
    assert "NextToken" not in second
    pages = primary.get_paginator("list_copy_jobs").paginate(PaginationConfig={"PageSize": 1})
    assert [j["CopyJobId"] for page in pages for j in page["CopyJobs"]] == [to_other, ok, failed, old_ebs]


def test_list_recovery_points_by_backup_vault_filters_and_pages(standin):
    dr = backup(standin, DR)
    dr.create_backup_vault(BackupVaultName="dr")
    plan_id = dr.create_backup_plan(BackupPlan={
        "BackupPlanName": "daily", "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "dr"}],
    })["BackupPlanId"]
    now = datetime.now(timezone.utc)
    source_vault = f"arn:aws:backup:{PRIMARY}:{ACCOUNT}:backup-vault:app"
    created = {}
    for name, hours, resource, extra in [
        ("old-db", 50, DB_ARN, {"backup_plan_id": plan_id}),
        ("fresh-db", 2, DB_ARN, {"backup_plan_id": plan_id}),
        ("volume", 5, f"arn:aws:ec2:{PRIMARY}:{ACCOUNT}:volume/vol-1", {}),
    ]:
        status, body = control(standin, "recovery-points", {
            "account_id": ACCOUNT, "region": DR, "backup_vault_name": "dr", "resource_arn": resource,
            "creation_date": (now - timedelta(hours=hours)).isoformat(),
            "source_backup_vault_arn": source_vault, **extra,
        })
        assert status == 200, body
        created[name] = body["RecoveryPointArn"]
    assert created["fresh-db"].startswith(f"arn:aws:rds:{DR}:{ACCOUNT}:snapshot:awsbackup:copyjob-")

    def arns(**filters):
        return [p["RecoveryPointArn"] for p in dr.list_recovery_points_by_backup_vault(BackupVaultName="dr", **filters)["RecoveryPoints"]]

    assert arns() == [created["fresh-db"], created["volume"], created["old-db"]]  # newest first
    assert arns(ByResourceArn=DB_ARN) == [created["fresh-db"], created["old-db"]]
    assert arns(ByResourceType="EBS") == [created["volume"]]
    assert arns(ByCreatedAfter=now - timedelta(hours=24)) == [created["fresh-db"], created["volume"]]
    assert arns(ByCreatedBefore=now - timedelta(hours=24)) == [created["old-db"]]
    assert arns(ByBackupPlanId=plan_id) == [created["fresh-db"], created["old-db"]]

    point = dr.describe_recovery_point(BackupVaultName="dr", RecoveryPointArn=created["old-db"])
    assert abs(point["CreationDate"] - (now - timedelta(hours=50))) < timedelta(seconds=1)
    assert point["SourceBackupVaultArn"] == source_vault
    assert point["CreatedBy"]["BackupPlanId"] == plan_id

    first = dr.list_recovery_points_by_backup_vault(BackupVaultName="dr", MaxResults=2)
    assert len(first["RecoveryPoints"]) == 2
    rest = dr.list_recovery_points_by_backup_vault(BackupVaultName="dr", MaxResults=2, NextToken=first["NextToken"])
    assert [p["RecoveryPointArn"] for p in rest["RecoveryPoints"]] == [created["old-db"]]
    assert "NextToken" not in rest


def test_controls_refuse_bad_requests(standin):
    backup(standin).create_backup_vault(BackupVaultName="app")
    status, body = control(standin, "recovery-points", {"backup_vault_name": "missing", "resource_arn": DB_ARN})
    assert status == 404 and "missing" in body["error"]
    status, body = control(standin, "recovery-points", {"backup_vault_name": "app"})
    assert status == 400
    status, body = control(standin, "recovery-points", {
        "backup_vault_name": "app", "resource_arn": DB_ARN, "creation_date": "yesterday",
    })
    assert status == 400 and "creation_date" in body["error"]
    status, body = control(standin, "copy-jobs", {
        "resource_arn": DB_ARN, "source_backup_vault_name": "app",
        "destination_backup_vault_arn": f"arn:aws:backup:{DR}:{ACCOUNT}:backup-vault:dr", "state": "EXPLODED",
    })
    assert status == 400 and "state" in body["error"]
    status, body = control(standin, "copy-jobs", {
        "resource_arn": DB_ARN, "source_backup_vault_name": "app", "destination_backup_vault_arn": "dr",
    })
    assert status == 400
