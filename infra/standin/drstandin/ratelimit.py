"""Route 53 request rate: throttle an account's Route 53 API calls past its token bucket, as AWS does.

What moto lacks: any request quota. Route 53's is low enough for the failover to meet it (the
functions poll ``GetChange`` and ``TestDNSAnswer`` while other callers list record sets), so the
functions' retry of ``Throttling`` must be exercised against it.

AWS behaviour followed: "Throttling for Amazon Route 53 API requests"
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html), linked
from "Quotas" (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html):

* Route 53 throttles API requests per account with a token bucket: each request takes a token,
  the bucket refills at a fixed rate (the sustained requests per second) up to its maximum
  capacity (the burst); a request finding the bucket empty is throttled.
* Account level: all Route 53 API requests of an account share one bucket, capacity 50, refill 10
  per second. (The page says this replaced the former limit of five requests per second.)
* A throttled request gets HTTP 400 with ``Code`` ``Throttling`` and ``Message`` ``Rate
  exceeded``, in Route 53's REST-XML error body (built by ``faults.fault_response``, the same
  answer as an injected ``throttle`` fault).

Not modelled: the per-operation buckets (the operations the failover uses, ``GetChange``,
``ChangeResourceRecordSets``, ``ListResourceRecordSets``, ``TestDNSAnswer``, have the default
50/10, the same as the account bucket, so one bucket gives the same answers for them alone) and the
separate change-throughput limit on record changes.

Which calls count: every SigV4-signed call whose credential scope names ``route53`` (all Route 53
operations; ``/moto-api/`` and unsigned calls never). The account is the one moto serves the call
for: ``MOTO_ACCOUNT_ID``, else the ``x-moto-account-id`` header, else the access key's account.

Setting: ``route53_requests_per_second`` (``Settings``, ``python -m drstandin --route53-rps``):
the refill rate; the capacity is 5 times that (50 at 10/s, as AWS) unless set; 0 = unlimited.

Control (JSON), served by ``drstandin.control``:

* ``GET /moto-api/dr/route53/rate``: ``{"requests_per_second": 10.0, "burst": 50.0,
  "throttled": N}`` (``throttled``: calls answered ``Throttling`` so far).
* ``POST /moto-api/dr/route53/rate`` ``{"requests_per_second": 2, "burst": 2}`` (either or both;
  ``requests_per_second`` alone sets ``burst`` to 5 times it; 0 disables): changes the quota and
  refills every account's bucket. Answers the new state.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any

from werkzeug.wrappers import Request, Response

from drstandin.control import is_non_negative_number, json_object, register_control_route, register_request_hook

DEFAULT_REQUESTS_PER_SECOND = 10.0
# Capacity over refill rate of the account bucket: 50 / 10.
BURST_FACTOR = 5.0

_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")


class TokenBucket:
    def __init__(self, rate: float, capacity: float, now: float):
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Limiter:
    def __init__(self, rate: float, burst: float | None = None, clock=time.monotonic):
        self._lock = threading.Lock()
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self.throttled = 0
        self.configure(rate, burst)

    def configure(self, rate: float, burst: float | None = None) -> None:
        if rate < 0 or (burst is not None and burst < 0):
            raise ValueError("requests_per_second and burst must be >= 0")
        with self._lock:
            self.rate = float(rate)
            self.burst = float(burst) if burst is not None else self.rate * BURST_FACTOR
            if self.rate > 0 and self.burst < 1:
                raise ValueError("burst must be at least 1 when the rate is limited")
            self._buckets.clear()

    def allow(self, account: str) -> bool:
        with self._lock:
            if self.rate <= 0:
                return True
            now = self._clock()
            bucket = self._buckets.get(account)
            if bucket is None:
                bucket = self._buckets[account] = TokenBucket(self.rate, self.burst, now)
            if bucket.take(now):
                return True
            self.throttled += 1
            return False

    def state(self) -> dict:
        with self._lock:
            return {"requests_per_second": self.rate, "burst": self.burst, "throttled": self.throttled}


_limiter: Limiter | None = None


def _account(environ: dict) -> str:
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"]
    from moto.iam.models import get_account_id_from

    match = _ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    return get_account_id_from(match.group(1) if match else "")


def _hook(environ: dict) -> Response | None:
    from drstandin import faults

    limiter = _limiter
    if limiter is None or limiter.rate <= 0 or environ.get("PATH_INFO", "").startswith("/moto-api"):
        return None
    if "/route53/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
        return None
    call = faults.identify(environ)
    if call is None or call.service != "route53":
        return None
    if limiter.allow(_account(environ)):
        return None
    throttle = faults.Fault(service="route53", operation=call.operation, kind="throttle", remaining=1)
    return faults.fault_response(throttle, call)


def _control(settings: Any):
    def handle(request: Request) -> Any:
        assert _limiter is not None
        if request.method == "GET":
            return _limiter.state()
        if request.method != "POST":
            return 405, {"error": "use GET or POST"}
        body = json_object(request)
        if not set(body) <= {"requests_per_second", "burst"}:
            return 400, {"error": "body: {\"requests_per_second\": n, \"burst\": n} (either or both)"}
        for key, value in body.items():
            if not is_non_negative_number(value):
                return 400, {"error": f"{key} must be a number >= 0"}
        rate = float(body.get("requests_per_second", _limiter.rate))
        burst = body.get("burst")
        if burst is None and "requests_per_second" not in body:
            burst = _limiter.burst
        try:
            _limiter.configure(rate, burst)
        except ValueError as err:
            return 400, {"error": str(err)}
        try:
            settings.route53_requests_per_second = rate  # the shared Settings, when mutable
        except Exception:
            pass
        return _limiter.state()

    return handle


def install(settings: Any) -> None:
    global _limiter
    rate = getattr(settings, "route53_requests_per_second", DEFAULT_REQUESTS_PER_SECOND)
    _limiter = Limiter(DEFAULT_REQUESTS_PER_SECOND if rate is None else float(rate))
    register_control_route("route53/rate", _control(settings))
    register_request_hook(_hook)
