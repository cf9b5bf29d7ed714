"""AWS Backup recovery points, backup jobs and copy jobs, which moto 5.2.5 lacks.

moto's Backup backend knows vaults and plans only: there is no StartBackupJob, no recovery point
and no copy job, so nothing the verify-backup-copy function reads exists. This module adds, as
real AWS Backup REST-JSON operations served by moto's Backup backend:

- ``StartBackupJob`` / ``DescribeBackupJob`` / ``ListBackupJobs``
- ``StartCopyJob`` / ``DescribeCopyJob`` / ``ListCopyJobs``
- ``ListRecoveryPointsByBackupVault`` / ``DescribeRecoveryPoint`` / ``ListRecoveryPointsByResource``

Jobs complete at once (AWS takes minutes): a backup job is ``COMPLETED`` with a ``COMPLETED``
recovery point in its vault; a copy job is ``COMPLETED`` with the copied recovery point in the
destination vault, which may be in another region and/or account (moto keeps one backend per
account and region; the copy job itself lives in the source account and region, as in AWS).
Timestamps are epoch seconds (JSON numbers), as AWS Backup sends them. Lists are newest first.

Recovery point ARNs follow AWS's format for the resource type:

- RDS instance: ``arn:aws:rds:REGION:ACCOUNT:snapshot:awsbackup:job-<uuid>``
  (a copy: ``...:snapshot:awsbackup:copyjob-<uuid>``)
- Aurora/RDS cluster: ``arn:aws:rds:REGION:ACCOUNT:cluster-snapshot:awsbackup:job-<uuid>``
- EBS volume: ``arn:aws:ec2:REGION::snapshot/snap-<17 hex>``; EC2 instance: ``...::image/ami-<17 hex>``
- anything else: ``arn:aws:backup:REGION:ACCOUNT:recovery-point:<UUID>``

Real AWS cannot backdate, so two test controls exist (JSON in, JSON out, AWS field names out):

- ``POST /moto-api/dr/backup/recovery-points`` creates a recovery point with a given CreationDate.
- ``POST /moto-api/dr/backup/copy-jobs`` creates a copy job in any state (e.g. ``FAILED`` with a
  StatusMessage) at a given CreationDate.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from moto.backup import urls as backup_urls
from moto.backup.exceptions import (
    BackupClientError,
    InvalidParameterValueException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from moto.backup.models import BackupBackend, Vault, backup_backends
from moto.backup.responses import BackupResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.moto_api._internal import mock_random
from moto.utilities.utils import get_partition

DEFAULT_BACKUP_SIZE = 10 * 1024**3
VAULT_ARN = re.compile(r"^arn:[^:]+:backup:([a-z0-9-]+):(\d{12}):backup-vault:([^:/]+)$")
COPY_JOB_STATES = {"CREATED", "RUNNING", "COMPLETED", "FAILED", "PARTIAL"}
RECOVERY_POINT_STATES = {"COMPLETED", "PARTIAL", "DELETING", "EXPIRED", "AVAILABLE", "STOPPED", "CREATING"}


class MissingParameterValueException(BackupClientError):
    def __init__(self, msg: str):
        super().__init__("MissingParameterValueException", msg)


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _upper_uuid() -> str:
    return str(mock_random.uuid4()).upper()


def _hex17() -> str:
    return mock_random.get_random_hex(17)


def resource_type_of(resource_arn: str) -> str:
    """AWS Backup's ResourceType for a resource ARN (``RDS``, ``Aurora``, ``EBS``, ...)."""
    parts = resource_arn.split(":", 5)
    service = parts[2] if len(parts) > 2 else ""
    rest = parts[5] if len(parts) > 5 else ""
    if service == "rds":
        return "Aurora" if rest.startswith("cluster:") else "RDS"
    if service == "ec2":
        return "EC2" if rest.startswith("instance/") else "EBS"
    return {
        "dynamodb": "DynamoDB",
        "elasticfilesystem": "EFS",
        "fsx": "FSx",
        "s3": "S3",
        "redshift": "Redshift",
        "storagegateway": "Storage Gateway",
        "timestream": "Timestream",
        "cloudformation": "CloudFormation",
        "backup-gateway": "VirtualMachine",
        "docdb": "DocumentDB",
        "neptune": "Neptune",
    }.get(service, service or "Unknown")


def resource_name_of(resource_arn: str) -> str:
    return re.split(r"[:/]", resource_arn)[-1]


def recovery_point_arn_for(resource_arn: str, region: str, account: str, copy: bool) -> str:
    """A new recovery point ARN in AWS's format for the resource type."""
    partition = get_partition(region)
    rtype = resource_type_of(resource_arn)
    job = "copyjob" if copy else "job"
    if rtype == "RDS":
        return f"arn:{partition}:rds:{region}:{account}:snapshot:awsbackup:{job}-{mock_random.uuid4()}"
    if rtype == "Aurora":
        return f"arn:{partition}:rds:{region}:{account}:cluster-snapshot:awsbackup:{job}-{mock_random.uuid4()}"
    if rtype == "EBS":
        return f"arn:{partition}:ec2:{region}::snapshot/snap-{_hex17()}"
    if rtype == "EC2":
        return f"arn:{partition}:ec2:{region}::image/ami-{_hex17()}"
    return f"arn:{partition}:backup:{region}:{account}:recovery-point:{_upper_uuid()}"


def _calculated_lifecycle(lifecycle: dict[str, Any] | None, created: datetime) -> dict[str, Any] | None:
    if not lifecycle:
        return None
    out: dict[str, Any] = {}
    if lifecycle.get("MoveToColdStorageAfterDays"):
        out["MoveToColdStorageAt"] = created + timedelta(days=int(lifecycle["MoveToColdStorageAfterDays"]))
    if lifecycle.get("DeleteAfterDays"):
        out["DeleteAt"] = created + timedelta(days=int(lifecycle["DeleteAfterDays"]))
    return out or None


class RecoveryPoint:
    def __init__(
        self,
        vault: Vault,
        resource_arn: str,
        creation_date: datetime,
        iam_role_arn: str | None = None,
        arn: str | None = None,
        status: str = "COMPLETED",
        status_message: str | None = None,
        source_backup_vault_arn: str | None = None,
        created_by: dict[str, Any] | None = None,
        lifecycle: dict[str, Any] | None = None,
        completion_date: datetime | None = None,
        resource_type: str | None = None,
        backup_size: int = DEFAULT_BACKUP_SIZE,
    ):
        region, account = vault.backup_vault_arn.split(":")[3:5]
        self.recovery_point_arn = arn or recovery_point_arn_for(
            resource_arn, region, account, copy=source_backup_vault_arn is not None
        )
        self.backup_vault_name = vault.backup_vault_name
        self.backup_vault_arn = vault.backup_vault_arn
        self.source_backup_vault_arn = source_backup_vault_arn
        self.resource_arn = resource_arn
        self.resource_type = resource_type or resource_type_of(resource_arn)
        self.resource_name = resource_name_of(resource_arn)
        self.iam_role_arn = iam_role_arn
        self.status = status
        self.status_message = status_message
        self.creation_date = _aware(creation_date)
        self.initiation_date = self.creation_date
        self.completion_date = _aware(completion_date) if completion_date else self.creation_date
        self.created_by = created_by
        self.lifecycle = lifecycle
        self.encryption_key_arn = vault.encryption_key_arn or (
            f"arn:{get_partition(region)}:kms:{region}:{account}:key/aws/backup"
        )
        self.backup_size = backup_size

    def to_dict(self) -> dict[str, Any]:
        """Superset of DescribeRecoveryPoint / RecoveryPointByBackupVault / RecoveryPointByResource."""
        return {
            "RecoveryPointArn": self.recovery_point_arn,
            "BackupVaultName": self.backup_vault_name,
            "BackupVaultArn": self.backup_vault_arn,
            "SourceBackupVaultArn": self.source_backup_vault_arn,
            "ResourceArn": self.resource_arn,
            "ResourceType": self.resource_type,
            "ResourceName": self.resource_name,
            "CreatedBy": self.created_by,
            "IamRoleArn": self.iam_role_arn,
            "Status": self.status,
            "StatusMessage": self.status_message,
            "CreationDate": self.creation_date,
            "InitiationDate": self.initiation_date,
            "CompletionDate": self.completion_date,
            "BackupSizeInBytes": self.backup_size,
            "BackupSizeBytes": self.backup_size,
            "Lifecycle": self.lifecycle,
            "CalculatedLifecycle": _calculated_lifecycle(self.lifecycle, self.creation_date),
            "EncryptionKeyArn": self.encryption_key_arn,
            "IsEncrypted": True,
            "StorageClass": "WARM",
            "IsParent": False,
            "VaultType": "BACKUP_VAULT",
        }


class BackupJob:
    def __init__(self, account: str, vault: Vault, point: RecoveryPoint, iam_role_arn: str,
                 start_window_minutes: int, backup_options: dict[str, str] | None):
        self.backup_job_id = _upper_uuid()
        self.account_id = account
        self.vault = vault
        self.point = point
        self.iam_role_arn = iam_role_arn
        self.creation_date = point.creation_date
        self.start_by = self.creation_date + timedelta(minutes=start_window_minutes)
        self.backup_options = backup_options

    def to_dict(self) -> dict[str, Any]:
        p = self.point
        return {
            "AccountId": self.account_id,
            "BackupJobId": self.backup_job_id,
            "BackupVaultName": self.vault.backup_vault_name,
            "BackupVaultArn": self.vault.backup_vault_arn,
            "VaultType": "BACKUP_VAULT",
            "RecoveryPointArn": p.recovery_point_arn,
            "RecoveryPointLifecycle": p.lifecycle,
            "EncryptionKeyArn": p.encryption_key_arn,
            "IsEncrypted": True,
            "ResourceArn": p.resource_arn,
            "ResourceType": p.resource_type,
            "ResourceName": p.resource_name,
            "CreationDate": self.creation_date,
            "InitiationDate": self.creation_date,
            "CompletionDate": p.completion_date,
            "State": "COMPLETED",
            "PercentDone": "100.0",
            "BackupSizeInBytes": p.backup_size,
            "BytesTransferred": p.backup_size,
            "IamRoleArn": self.iam_role_arn,
            "StartBy": self.start_by,
            "BackupOptions": self.backup_options,
            "BackupType": "",
            "IsParent": False,
        }


class CopyJob:
    def __init__(
        self,
        account: str,
        source_vault_arn: str,
        source_recovery_point_arn: str,
        destination_vault_arn: str,
        resource_arn: str,
        iam_role_arn: str | None,
        state: str,
        creation_date: datetime,
        completion_date: datetime | None = None,
        status_message: str | None = None,
        destination_recovery_point_arn: str | None = None,
        lifecycle: dict[str, Any] | None = None,
        created_by: dict[str, Any] | None = None,
    ):
        self.copy_job_id = _upper_uuid()
        self.account_id = account
        self.source_backup_vault_arn = source_vault_arn
        self.source_recovery_point_arn = source_recovery_point_arn
        self.destination_backup_vault_arn = destination_vault_arn
        self.destination_recovery_point_arn = destination_recovery_point_arn
        self.resource_arn = resource_arn
        self.resource_type = resource_type_of(resource_arn)
        self.iam_role_arn = iam_role_arn
        self.state = state
        self.status_message = status_message
        self.creation_date = _aware(creation_date)
        self.completion_date = _aware(completion_date) if completion_date else (
            self.creation_date if state in ("COMPLETED", "FAILED", "PARTIAL") else None
        )
        self.lifecycle = lifecycle
        self.created_by = created_by

    def to_dict(self) -> dict[str, Any]:
        return {
            "AccountId": self.account_id,
            "CopyJobId": self.copy_job_id,
            "SourceBackupVaultArn": self.source_backup_vault_arn,
            "SourceRecoveryPointArn": self.source_recovery_point_arn,
            "DestinationBackupVaultArn": self.destination_backup_vault_arn,
            "DestinationVaultType": "BACKUP_VAULT",
            "DestinationRecoveryPointArn": self.destination_recovery_point_arn,
            "DestinationRecoveryPointLifecycle": self.lifecycle,
            "ResourceArn": self.resource_arn,
            "ResourceType": self.resource_type,
            "ResourceName": resource_name_of(self.resource_arn),
            "CreationDate": self.creation_date,
            "CompletionDate": self.completion_date,
            "State": self.state,
            "StatusMessage": self.status_message,
            "BackupSizeInBytes": DEFAULT_BACKUP_SIZE,
            "IamRoleArn": self.iam_role_arn,
            "CreatedBy": self.created_by,
            "IsParent": False,
        }


class _Store:
    """What one account+region's Backup backend holds beyond moto's vaults and plans."""

    def __init__(self) -> None:
        self.recovery_points: dict[str, dict[str, RecoveryPoint]] = {}  # vault name -> arn -> point
        self.backup_jobs: dict[str, BackupJob] = {}
        self.copy_jobs: dict[str, CopyJob] = {}


def _store(backend: BackupBackend) -> _Store:
    # Kept on the backend itself so moto's reset (/moto-api/reset) clears it too.
    store = backend.__dict__.get("_dr_store")
    if store is None:
        store = backend.__dict__["_dr_store"] = _Store()
    return store


def _vault(backend: BackupBackend, name: str) -> Vault:
    vault = backend.vaults.get(name)
    if vault is None:
        raise ResourceNotFoundException(msg=f"Backup vault {name} not found")
    return vault


def add_recovery_point(backend: BackupBackend, point: RecoveryPoint) -> RecoveryPoint:
    _store(backend).recovery_points.setdefault(point.backup_vault_name, {})[point.recovery_point_arn] = point
    backend.vaults[point.backup_vault_name].num_of_recovery_points += 1
    return point


def _vault_from_arn(arn: str) -> tuple[BackupBackend, Vault | None]:
    match = VAULT_ARN.match(arn or "")
    if not match:
        raise InvalidParameterValueException(msg=f"Invalid backup vault ARN: {arn}")
    region, account, name = match.groups()
    backend = backup_backends[account][region]
    return backend, backend.vaults.get(name)


def _start_copy(
    backend: BackupBackend,
    account: str,
    source_vault: Vault,
    point: RecoveryPoint,
    destination_vault_arn: str,
    iam_role_arn: str | None,
    lifecycle: dict[str, Any] | None,
) -> CopyJob:
    dest_backend, dest_vault = _vault_from_arn(destination_vault_arn)
    now = _now()
    if dest_vault is None:
        job = CopyJob(
            account, source_vault.backup_vault_arn, point.recovery_point_arn, destination_vault_arn,
            point.resource_arn, iam_role_arn, "FAILED", now,
            status_message=f"Backup vault {destination_vault_arn} does not exist.",
            lifecycle=lifecycle, created_by=point.created_by,
        )
    else:
        copied = add_recovery_point(dest_backend, RecoveryPoint(
            dest_vault, point.resource_arn, now, iam_role_arn=iam_role_arn,
            source_backup_vault_arn=source_vault.backup_vault_arn, created_by=point.created_by,
            lifecycle=lifecycle or point.lifecycle, resource_type=point.resource_type,
            backup_size=point.backup_size,
        ))
        job = CopyJob(
            account, source_vault.backup_vault_arn, point.recovery_point_arn, destination_vault_arn,
            point.resource_arn, iam_role_arn, "COMPLETED", now,
            destination_recovery_point_arn=copied.recovery_point_arn,
            lifecycle=copied.lifecycle, created_by=point.created_by,
        )
    _store(backend).copy_jobs[job.copy_job_id] = job
    return job


# --------------------------------------------------------------------------------------------
# Filtering and pagination
# --------------------------------------------------------------------------------------------


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    max_results = params.get("MaxResults") or 1000
    if not 1 <= int(max_results) <= 1000:
        raise InvalidParameterValueException(msg="MaxResults must be between 1 and 1000")
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.b64decode(token).decode())
        except ValueError:
            raise InvalidParameterValueException(msg="Invalid NextToken")
    end = start + int(max_results)
    next_token = base64.b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], next_token


def _created_between(items: list[Any], params: dict[str, Any]) -> list[Any]:
    before = params.get("ByCreatedBefore")
    after = params.get("ByCreatedAfter")
    if before is not None:
        items = [i for i in items if i.creation_date < _aware(before)]
    if after is not None:
        items = [i for i in items if i.creation_date > _aware(after)]
    return items


def _newest_first(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda i: i.creation_date, reverse=True)


# --------------------------------------------------------------------------------------------
# API operations (methods added to moto's BackupResponse)
# --------------------------------------------------------------------------------------------


def _params(self: BackupResponse) -> dict[str, Any]:
    """The request parsed against the AWS Backup model (URI labels, query string, JSON body)."""
    self.parse_parameters(self.normalized_request)
    return dict(self.params)


def _require(params: dict[str, Any], *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise MissingParameterValueException(f"{name} is required")


def start_backup_job(self: BackupResponse) -> ActionResult:
    """StartBackupJob: a COMPLETED job and recovery point in the vault (AWS takes minutes)."""
    params = _params(self)
    _require(params, "BackupVaultName", "ResourceArn", "IamRoleArn")
    backend = self.backup_backend
    vault = _vault(backend, params["BackupVaultName"])
    point = add_recovery_point(backend, RecoveryPoint(
        vault, params["ResourceArn"], _now(), iam_role_arn=params["IamRoleArn"],
        lifecycle=params.get("Lifecycle"),
    ))
    job = BackupJob(
        self.current_account, vault, point, params["IamRoleArn"],
        int(params.get("StartWindowMinutes") or 480), params.get("BackupOptions"),
    )
    _store(backend).backup_jobs[job.backup_job_id] = job
    return ActionResult({
        "BackupJobId": job.backup_job_id,
        "RecoveryPointArn": point.recovery_point_arn,
        "CreationDate": job.creation_date,
        "IsParent": False,
    })


def describe_backup_job(self: BackupResponse) -> ActionResult:
    """DescribeBackupJob (moto lacks it): the job; unknown ID: ResourceNotFoundException."""
    params = _params(self)
    job = _store(self.backup_backend).backup_jobs.get(params.get("BackupJobId", ""))
    if job is None:
        raise ResourceNotFoundException(msg=f"Backup job {params.get('BackupJobId')} not found")
    return ActionResult(job.to_dict())


def list_backup_jobs(self: BackupResponse) -> ActionResult:
    """ListBackupJobs (moto lacks it) with AWS's By* filters and MaxResults/NextToken."""
    params = _params(self)
    jobs = list(_store(self.backup_backend).backup_jobs.values())
    if params.get("ByResourceArn"):
        jobs = [j for j in jobs if j.point.resource_arn == params["ByResourceArn"]]
    if params.get("ByState"):
        jobs = [j for j in jobs if params["ByState"] == "COMPLETED"]
    if params.get("ByBackupVaultName"):
        jobs = [j for j in jobs if j.vault.backup_vault_name == params["ByBackupVaultName"]]
    if params.get("ByResourceType"):
        jobs = [j for j in jobs if j.point.resource_type == params["ByResourceType"]]
    if params.get("ByAccountId") not in (None, "*"):
        jobs = [j for j in jobs if j.account_id == params["ByAccountId"]]
    page, token = _page(_newest_first(_created_between(jobs, params)), params)
    return ActionResult({"BackupJobs": [j.to_dict() for j in page], "NextToken": token})


def start_copy_job(self: BackupResponse) -> ActionResult:
    """StartCopyJob: a COMPLETED copy job here and the copied recovery point in the destination
    vault (any region/account). A destination vault that does not exist makes the job FAILED."""
    params = _params(self)
    _require(params, "RecoveryPointArn", "SourceBackupVaultName", "DestinationBackupVaultArn", "IamRoleArn")
    backend = self.backup_backend
    source_vault = _vault(backend, params["SourceBackupVaultName"])
    point = _store(backend).recovery_points.get(source_vault.backup_vault_name, {}).get(params["RecoveryPointArn"])
    if point is None:
        raise ResourceNotFoundException(
            msg=f"Recovery point {params['RecoveryPointArn']} not found in backup vault {source_vault.backup_vault_name}"
        )
    job = _start_copy(
        backend, self.current_account, source_vault, point, params["DestinationBackupVaultArn"],
        params["IamRoleArn"], params.get("Lifecycle"),
    )
    return ActionResult({"CopyJobId": job.copy_job_id, "CreationDate": job.creation_date, "IsParent": False})


def describe_copy_job(self: BackupResponse) -> ActionResult:
    """DescribeCopyJob (moto lacks it): {"CopyJob": ...}; unknown ID: ResourceNotFoundException."""
    params = _params(self)
    job = _store(self.backup_backend).copy_jobs.get(params.get("CopyJobId", ""))
    if job is None:
        raise ResourceNotFoundException(msg=f"Copy job {params.get('CopyJobId')} not found")
    return ActionResult({"CopyJob": job.to_dict()})


def list_copy_jobs(self: BackupResponse) -> ActionResult:
    """ListCopyJobs (moto lacks it): the copy jobs started in this account and region, with
    AWS's By* filters (ByAccountId "*" = all) and MaxResults/NextToken, newest first."""
    params = _params(self)
    jobs = list(_store(self.backup_backend).copy_jobs.values())
    if params.get("ByResourceArn"):
        jobs = [j for j in jobs if j.resource_arn == params["ByResourceArn"]]
    if params.get("ByState"):
        jobs = [j for j in jobs if j.state == params["ByState"]]
    if params.get("ByResourceType"):
        jobs = [j for j in jobs if j.resource_type == params["ByResourceType"]]
    if params.get("ByDestinationVaultArn"):
        jobs = [j for j in jobs if j.destination_backup_vault_arn == params["ByDestinationVaultArn"]]
    if params.get("BySourceRecoveryPointArn"):
        jobs = [j for j in jobs if j.source_recovery_point_arn == params["BySourceRecoveryPointArn"]]
    if params.get("ByAccountId") not in (None, "*"):
        jobs = [j for j in jobs if j.account_id == params["ByAccountId"]]
    if params.get("ByCompleteBefore") is not None:
        jobs = [j for j in jobs if j.completion_date and j.completion_date < _aware(params["ByCompleteBefore"])]
    if params.get("ByCompleteAfter") is not None:
        jobs = [j for j in jobs if j.completion_date and j.completion_date > _aware(params["ByCompleteAfter"])]
    page, token = _page(_newest_first(_created_between(jobs, params)), params)
    return ActionResult({"CopyJobs": [j.to_dict() for j in page], "NextToken": token})


def _vault_for_read(self: BackupResponse, params: dict[str, Any]) -> tuple[BackupBackend, Vault]:
    account = params.get("BackupVaultAccountId") or self.current_account
    backend = backup_backends[account][self.region]
    return backend, _vault(backend, params.get("BackupVaultName", ""))


def list_recovery_points_by_backup_vault(self: BackupResponse) -> ActionResult:
    """ListRecoveryPointsByBackupVault (moto lacks it): ByResourceArn, ByResourceType,
    ByBackupPlanId, ByCreatedBefore/After, pagination; unknown vault: ResourceNotFoundException."""
    params = _params(self)
    backend, vault = _vault_for_read(self, params)
    points = list(_store(backend).recovery_points.get(vault.backup_vault_name, {}).values())
    if params.get("ByResourceArn"):
        points = [p for p in points if p.resource_arn == params["ByResourceArn"]]
    if params.get("ByResourceType"):
        points = [p for p in points if p.resource_type == params["ByResourceType"]]
    if params.get("ByBackupPlanId"):
        points = [p for p in points if (p.created_by or {}).get("BackupPlanId") == params["ByBackupPlanId"]]
    page, token = _page(_newest_first(_created_between(points, params)), params)
    return ActionResult({"RecoveryPoints": [p.to_dict() for p in page], "NextToken": token})


def describe_recovery_point(self: BackupResponse) -> ActionResult:
    """DescribeRecoveryPoint (moto lacks it); unknown vault or point: ResourceNotFoundException."""
    params = _params(self)
    backend, vault = _vault_for_read(self, params)
    point = _store(backend).recovery_points.get(vault.backup_vault_name, {}).get(params.get("RecoveryPointArn", ""))
    if point is None:
        raise ResourceNotFoundException(
            msg=f"Recovery point {params.get('RecoveryPointArn')} not found in backup vault {vault.backup_vault_name}"
        )
    return ActionResult(point.to_dict())


def list_recovery_points_by_resource(self: BackupResponse) -> ActionResult:
    """ListRecoveryPointsByResource (moto lacks it): the resource's points in this account and
    region, across vaults."""
    params = _params(self)
    points = [
        p
        for per_vault in _store(self.backup_backend).recovery_points.values()
        for p in per_vault.values()
        if p.resource_arn == params.get("ResourceArn")
    ]
    page, token = _page(_newest_first(points), params)
    return ActionResult({"RecoveryPoints": [p.to_dict() for p in page], "NextToken": token})


OPERATIONS = [
    start_backup_job,
    describe_backup_job,
    list_backup_jobs,
    start_copy_job,
    describe_copy_job,
    list_copy_jobs,
    list_recovery_points_by_backup_vault,
    describe_recovery_point,
    list_recovery_points_by_resource,
]

URL_PATHS = {
    # A trailing "/$" makes a Flask rule that matches with and without the slash.
    "{0}/backup-jobs/$": BackupResponse.dispatch,
    "{0}/backup-jobs/(?P<backup_job_id>[^/]+)$": BackupResponse.dispatch,
    "{0}/copy-jobs/$": BackupResponse.dispatch,
    "{0}/copy-jobs/(?P<copy_job_id>[^/]+)$": BackupResponse.dispatch,
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$": BackupResponse.dispatch,
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<recovery_point_arn>.+)$": BackupResponse.dispatch,
    "{0}/resources/(?P<resource_arn>.+)/recovery-points/$": BackupResponse.dispatch,
}


# --------------------------------------------------------------------------------------------
# Test controls: /moto-api/dr/backup/...
# --------------------------------------------------------------------------------------------


def _parse_time(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    try:
        return _aware(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        raise _ControlError(400, f"{field}: expected epoch seconds or ISO 8601, got {value!r}")


class _ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _control(handler: Any) -> Any:
    """A drstandin.control route: POST a JSON object, get JSON back (or {"error": ...})."""

    def route(request: Any) -> Any:
        if request.method != "POST":
            return 405, {"error": "use POST"}
        try:
            body = json.loads(request.get_data() or b"{}")
            if not isinstance(body, dict):
                raise _ControlError(400, "body must be a JSON object")
            return 200, _jsonable(handler(body))
        except _ControlError as e:
            return e.status, {"error": str(e)}
        except (ResourceNotFoundException, InvalidParameterValueException, InvalidRequestException) as e:
            return (404 if isinstance(e, ResourceNotFoundException) else 400), {"error": e.message}
        except (ValueError, KeyError, TypeError) as e:
            return 400, {"error": f"{type(e).__name__}: {e}"}

    return route


def _control_backend(body: dict[str, Any]) -> BackupBackend:
    return backup_backends[str(body.get("account_id") or DEFAULT_ACCOUNT_ID)][body.get("region") or "us-east-1"]


def control_create_recovery_point(body: dict[str, Any]) -> dict[str, Any]:
    """Body: account_id, region, backup_vault_name, resource_arn (required), creation_date
    (epoch seconds or ISO 8601; default now), and optional status, status_message,
    completion_date, source_backup_vault_arn (marks it a copy), backup_plan_id, iam_role_arn,
    recovery_point_arn, resource_type, lifecycle. Answers the recovery point (AWS field names)."""
    backend = _control_backend(body)
    if not body.get("backup_vault_name") or not body.get("resource_arn"):
        raise _ControlError(400, "backup_vault_name and resource_arn are required")
    vault = backend.vaults.get(body["backup_vault_name"])
    if vault is None:
        raise _ControlError(404, f"Backup vault {body['backup_vault_name']} not found")
    status = body.get("status") or "COMPLETED"
    if status not in RECOVERY_POINT_STATES:
        raise _ControlError(400, f"status must be one of {sorted(RECOVERY_POINT_STATES)}")
    created_by = None
    if body.get("backup_plan_id"):
        region, account = vault.backup_vault_arn.split(":")[3:5]
        created_by = {
            "BackupPlanId": body["backup_plan_id"],
            "BackupPlanArn": f"arn:{get_partition(region)}:backup:{region}:{account}:backup-plan:{body['backup_plan_id']}",
        }
    point = add_recovery_point(backend, RecoveryPoint(
        vault,
        body["resource_arn"],
        _parse_time(body.get("creation_date"), "creation_date") or _now(),
        iam_role_arn=body.get("iam_role_arn"),
        arn=body.get("recovery_point_arn"),
        status=status,
        status_message=body.get("status_message"),
        source_backup_vault_arn=body.get("source_backup_vault_arn"),
        created_by=created_by,
        lifecycle=body.get("lifecycle"),
        completion_date=_parse_time(body.get("completion_date"), "completion_date"),
        resource_type=body.get("resource_type"),
    ))
    return point.to_dict()


def control_create_copy_job(body: dict[str, Any]) -> dict[str, Any]:
    """Body: account_id, region (the source side, where the job is listed), resource_arn,
    source_backup_vault_name, destination_backup_vault_arn (required), and optional state
    (default FAILED), status_message, creation_date, completion_date, recovery_point_arn,
    destination_recovery_point_arn, iam_role_arn. Creates the job only (no recovery point)."""
    backend = _control_backend(body)
    for field in ("resource_arn", "source_backup_vault_name", "destination_backup_vault_arn"):
        if not body.get(field):
            raise _ControlError(400, f"{field} is required")
    state = body.get("state") or "FAILED"
    if state not in COPY_JOB_STATES:
        raise _ControlError(400, f"state must be one of {sorted(COPY_JOB_STATES)}")
    if not VAULT_ARN.match(body["destination_backup_vault_arn"]):
        raise _ControlError(400, "destination_backup_vault_arn is not a backup vault ARN")
    source_vault = backend.vaults.get(body["source_backup_vault_name"])
    if source_vault is not None:
        source_vault_arn = source_vault.backup_vault_arn
    else:
        source_vault_arn = (
            f"arn:{backend.partition}:backup:{backend.region_name}:{backend.account_id}"
            f":backup-vault:{body['source_backup_vault_name']}"
        )
    job = CopyJob(
        backend.account_id,
        source_vault_arn,
        body.get("recovery_point_arn")
        or recovery_point_arn_for(body["resource_arn"], backend.region_name, backend.account_id, copy=False),
        body["destination_backup_vault_arn"],
        body["resource_arn"],
        body.get("iam_role_arn"),
        state,
        _parse_time(body.get("creation_date"), "creation_date") or _now(),
        completion_date=_parse_time(body.get("completion_date"), "completion_date"),
        status_message=body.get("status_message"),
        destination_recovery_point_arn=body.get("destination_recovery_point_arn"),
    )
    _store(backend).copy_jobs[job.copy_job_id] = job
    return {"CopyJob": job.to_dict()}


def _register_controls() -> None:
    from drstandin.control import register_control_route

    register_control_route("backup/recovery-points", _control(control_create_recovery_point))
    register_control_route("backup/copy-jobs", _control(control_create_copy_job))


def install(settings) -> None:
    for operation in OPERATIONS:
        setattr(BackupResponse, operation.__name__, operation)
    backup_urls.url_paths.update(URL_PATHS)
    _register_controls()
