"""Region outages: every request to an unreachable region, or to a global service whose control
plane lives in us-east-1, is answered as an unreachable endpoint would be: not at all.

What moto lacks: any notion of a region being down. The faults of ``drstandin.faults`` answer in
the service's own words (a throttle, a 5xx): a region that is down answers nothing.

AWS: "AWS Fault Isolation Boundaries", Global services
(https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/global-services.html):
a global service's control plane is hosted in a single Region while its data plane is spread out;
in the aws partition IAM's, Organizations' and Account Management's control planes are in
us-east-1, and so is Route 53's (its public DNS data plane runs at the edge, not there; its
health checkers too). "AWS STS Regions and endpoints"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_region-endpoints.html) and
"AWS Security Token Service endpoints and quotas" (https://docs.aws.amazon.com/general/latest/gr/sts.html):
the global (legacy) endpoint ``sts.amazonaws.com`` is hosted in US East (N. Virginia); regional
endpoints are served in their own Region. The SDKs sign a global endpoint's requests for
us-east-1; so a request signed for us-east-1 to STS is taken as the global endpoint's (the
regional us-east-1 endpoint cannot be told apart by its signature: it is refused too when
us-east-1 itself is listed).

Control (JSON), served by ``drstandin.control``:

* ``POST /moto-api/dr/outage`` ``{"regions": ["us-east-1"], "global": true}`` starts (or replaces)
  the outage: from then on a request signed (SigV4 credential scope) for a listed region, or, with
  ``"global": true``, to Route 53's API, IAM, Organizations, Account Management, CloudFront or STS
  signed for us-east-1, is refused. ``"exempt_access_keys": ["..."]`` (optional) lets requests
  signed with those keys through (a drill's own inspection, not the product). Unsigned requests
  (``/moto-api/...``, the stand-in's own controls) and the stand-in's name server
  (``drstandin.route53_dns``: Route 53's data plane) are never refused.
* ``GET /moto-api/dr/outage``: the outage (``regions``, ``global``, ``since``) and what it refused:
  ``refused`` (the last 1,000 requests, oldest first: ``at``, ``endpoint``, ``service``,
  ``region``, ``operation``, ``access_key``) and ``refused_endpoints`` (``{endpoint: count}`` over
  the whole outage), for a report to name the refused endpoints.
* ``DELETE /moto-api/dr/outage``: the regions are reachable again (the log of what was refused is
  kept until the next outage starts).

How a request is refused: the connection is reset (TCP RST) without an HTTP answer, so an SDK sees
a dispatch (connection) failure, never an HTTP status. The WSGI server (werkzeug's, threaded)
hands the application its socket (``environ["werkzeug.socket"]``): the hook sets ``SO_LINGER`` to
0 and replaces the socket's file descriptor (``dup2``) with one end of a closed socket pair; the
kernel then closes the client's connection abortively (RST), and werkzeug, reading end of file,
drops the connection without writing. Where the server gives no socket, the answer is HTTP 503
with ``Connection: close`` and ``x-drstandin-outage: unreachable`` (marked so, not an AWS answer).

Inside the stand-in, an unreachable region's alarms stop evaluating (``alarm_evaluation``; their
metrics cannot arrive anyway: ``PutMetricData`` is refused) and a Route 53 health check that
follows an alarm there keeps its last known status (``route53_health``). What is not modelled: the
region's own background work (Step Functions executions already running there, RDS transitions,
EventBridge rules forwarding events) goes on; requests between the stand-in's own services (Step
Functions' calls to Lambda) are refused only when they are signed for a listed region.
"""

from __future__ import annotations

import datetime
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from drstandin.control import ControlError, json_object, register_control_route, register_request_hook
from drstandin.faults import identify

# Signing names of the global services whose control plane is in us-east-1 (the whitepaper above).
GLOBAL_SERVICES = ("route53", "iam", "organizations", "account", "cloudfront")
CONTROL_PLANE_REGION = "us-east-1"
LOG_LIMIT = 1000

_lock = threading.Lock()
_outage: dict[str, Any] = {"regions": [], "global": False, "since": None, "exempt_access_keys": []}
_refused: list[dict[str, Any]] = []
_refused_endpoints: dict[str, int] = {}
# Called with the set of regions that become unreachable (and "global" for the global services)
# just before they do; route53_health takes the last known status of its alarms' health checks.
_listeners: list[Callable[[set[str]], None]] = []


def on_outage(listener: Callable[[set[str]], None]) -> None:
    """``listener(newly_unreachable)`` runs before requests to those regions start being refused."""
    _listeners.append(listener)


def unreachable(region: str | None) -> bool:
    """Whether ``region`` is down (a listed region of the current outage)."""
    return bool(region) and region in _outage["regions"]


def endpoint(service: str, region: str | None) -> str:
    """The AWS endpoint a request went to: a global service's (``route53.amazonaws.com``,
    ``sts.amazonaws.com``...) or a regional one (``rds.us-east-1.amazonaws.com``)."""
    if service in GLOBAL_SERVICES:
        return f"{service}.amazonaws.com"
    if service == "sts" and region == CONTROL_PLANE_REGION:
        return "sts.amazonaws.com"
    return f"{service}.{region}.amazonaws.com"


def _refuses(service: str, region: str | None) -> bool:
    if unreachable(region):
        return True
    if not _outage["global"]:
        return False
    return service in GLOBAL_SERVICES or (service == "sts" and region == CONTROL_PLANE_REGION)


def _reset(environ: dict) -> Response | None:
    """Reset the request's TCP connection; None when done (werkzeug then writes nothing)."""
    sock = environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        return None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        left, right = socket.socketpair()
        right.close()
        # The connection's last descriptor goes: the kernel resets it (linger 0). Reads of the
        # replacement see end of file, so werkzeug ends the request without an answer.
        os.dup2(left.fileno(), sock.fileno())
        left.close()
    except OSError:
        return None
    return _Dropped()


class _Dropped(Response):
    """A response werkzeug cannot send: writing it raises ``ConnectionResetError``, which werkzeug
    takes as a dropped connection (``connection_dropped``) and so answers nothing."""

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        raise ConnectionResetError("drstandin outage: connection reset")


def _unreachable_answer() -> Response:
    return Response(
        "drstandin: region unreachable (outage)\n",
        status=503,
        headers={"Connection": "close", "x-drstandin-outage": "unreachable"},
        content_type="text/plain",
    )


def _hook(environ: dict) -> Response | None:
    if not (_outage["regions"] or _outage["global"]) or environ.get("PATH_INFO", "").startswith("/moto-api"):
        return None
    call = identify(environ)
    if call is None or not _refuses(call.service, call.region):
        return None
    if call.access_key in _outage["exempt_access_keys"]:
        return None
    where = endpoint(call.service, call.region)
    with _lock:
        _refused.append({
            "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "endpoint": where,
            "service": call.service,
            "region": call.region,
            "operation": call.operation,
            "access_key": call.access_key,
        })
        del _refused[:-LOG_LIMIT]
        _refused_endpoints[where] = _refused_endpoints.get(where, 0) + 1
    return _reset(environ) or _unreachable_answer()


def _strings(body: dict, key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ControlError(400, f"{key} must be a list of strings")
    return value


def _report() -> dict[str, Any]:
    with _lock:
        return {
            **{k: (list(v) if isinstance(v, list) else v) for k, v in _outage.items()},
            "refused": list(_refused),
            "refused_endpoints": dict(_refused_endpoints),
        }


def _control(request: Request) -> Any:
    if request.method == "GET":
        return _report()
    if request.method == "DELETE":
        with _lock:
            _outage.update(regions=[], exempt_access_keys=[], since=None)
            _outage["global"] = False
        return _report()
    if request.method != "POST":
        return 405, {"error": "use GET, POST or DELETE"}
    body = json_object(request)
    unknown = sorted(set(body) - {"regions", "global", "exempt_access_keys"})
    if unknown:
        raise ControlError(400, f"unknown field(s) {unknown}: use regions, global, exempt_access_keys")
    regions = _strings(body, "regions")
    exempt = _strings(body, "exempt_access_keys")
    is_global = body.get("global", False)
    if not isinstance(is_global, bool):
        raise ControlError(400, "global must be true or false")
    if not regions and not is_global:
        raise ControlError(400, 'name the unreachable regions, or "global": true (DELETE ends an outage)')
    newly = set(regions) - set(_outage["regions"])
    if is_global and not _outage["global"]:
        newly.add("global")
    for listener in list(_listeners):
        listener(newly)
    with _lock:
        if not (_outage["regions"] or _outage["global"]):
            _refused.clear()
            _refused_endpoints.clear()
            _outage["since"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        _outage.update(regions=sorted(set(regions)), exempt_access_keys=exempt)
        _outage["global"] = is_global
    return 201, _report()


def install(settings: Any) -> None:
    register_control_route("outage", _control)
    register_request_hook(_hook)
