"""boto3 clients for the stand-in, in either of the drill's two accounts.

The workload account is moto's default account (any access key that moto did not issue maps to
it). The vault account is reached as a real cross-account caller would: by assuming a role in it
(moto's STS issues keys that map to the role's account).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, Tuple

import boto3
from botocore.config import Config

ACCOUNT = "123456789012"
VAULT_ACCOUNT = "210987654321"
DUMMY_KEY = "testing"

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60)

# One boto3 session for every client of the process: its loader keeps each service model once it
# is read, where a session per client read and parsed the model's JSON again for every client (most
# of a world seed's own time). Creating clients from one session is not thread-safe, hence the lock;
# credentials and region are each client's own, passed when it is created.
_session_lock = threading.Lock()
_session: Any = None


def _new_client(service: str, **kwargs: Any) -> Any:
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session.client(service, **kwargs)


def isolate_from_real_aws() -> None:
    """Forget any AWS settings of the person running the drill (profile, region, keys, endpoint):
    everything here talks to the stand-in, with its own dummy credentials, and nothing may reach
    a real account or trip over a profile this machine does not have."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]


class Clients:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self._cache: Dict[Tuple[str, str, str], Any] = {}
        self._credentials: Dict[str, Dict[str, str]] = {
            ACCOUNT: {"aws_access_key_id": DUMMY_KEY, "aws_secret_access_key": DUMMY_KEY}
        }
        self._lock = threading.Lock()

    def __call__(self, service: str, region: str, account: str = ACCOUNT) -> Any:
        key = (service, region, account)
        with self._lock:
            client = self._cache.get(key)
            if client is None:
                client = _new_client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint,
                    config=_CONFIG,
                    **self._credentials_for(account),
                )
                self._cache[key] = client
            return client

    def _credentials_for(self, account: str) -> Dict[str, str]:
        if account not in self._credentials:
            raise KeyError(f"no credentials for account {account}; call assume_role first")
        return self._credentials[account]

    def assume_role(self, role_arn: str, session_name: str, external_id: str | None = None) -> None:
        """Use the role's credentials for every later client of the role's account."""
        account = role_arn.split(":")[4]
        sts = self("sts", "us-east-1")
        kwargs = {"RoleArn": role_arn, "RoleSessionName": session_name}
        if external_id:
            kwargs["ExternalId"] = external_id
        creds = sts.assume_role(**kwargs)["Credentials"]
        with self._lock:
            self._credentials[account] = {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            }
            for key in [k for k in self._cache if k[2] == account]:
                del self._cache[key]
