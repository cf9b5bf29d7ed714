"""Route 53 health checks that monitor an endpoint, probed for real when the endpoint is mapped to
a server on this machine.

What moto lacks: health checkers. The stand-in cannot reach the endpoints a health check names
(``FullyQualifiedDomainName``, ``IPAddress``), and Route 53 refuses loopback and private addresses
(API reference, ``HealthCheckConfig``, ``IPAddress``), so a check keeps its real endpoint and a
control maps that endpoint to a local server, as a hosts file would:

* ``POST /moto-api/dr/route53/endpoints`` ``{"endpoints": {"gate.example.com": "127.0.0.1:8080"}}``
  maps each FQDN or IP address (case-insensitive) to a loopback ``host:port`` (a value ``null``
  removes a mapping); ``GET`` lists them; ``DELETE`` removes them all.

A health check of type ``HTTP``, ``HTTPS``, ``HTTP_STR_MATCH``, ``HTTPS_STR_MATCH`` or ``TCP`` whose
``FullyQualifiedDomainName`` (else ``IPAddress``) is mapped is probed every
``settings.health_check_probe_seconds`` (default 1; Route 53's ``RequestInterval`` is 10 or 30 s)
as Route 53's health checkers do ("How Amazon Route 53 determines whether a health check is
healthy", endpoints,
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html,
and ``HealthCheckConfig`` ``Type``,
https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html): ``TCP``, a
connection within 10 s; HTTP(S), a connection within 4 s and a status from 200 to 399 within 2 s
(``GET`` of ``ResourcePath``, ``Host`` the FQDN, TLS unverified for HTTPS); ``*_STR_MATCH`` also
needs ``SearchString`` in the first 5,120 bytes of the body. The status changes after
``FailureThreshold`` consecutive probes disagree with it; a new check is healthy until then ("Route
53 considers a new health check to be healthy until there's enough data"). An unmapped endpoint is
not probed: its status is the control's, healthy by default (``route53_health``). The control
(``route53/health-checks``) still wins over a probe; ``Disabled`` and ``Inverted`` apply. Not
modelled: checker regions (every observation is the same), latency measurement, HTTPS's TLS
versions and SNI.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from moto.route53.models import HealthCheck, Route53Backend, route53_backends

from drstandin.control import ControlError, json_object, register_control_route
from drstandin.route53_health import state

LOG = logging.getLogger(__name__)
PROBED_TYPES = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP")
SEARCH_BYTES = 5120
_settings: Any = None
_endpoints: dict[str, tuple[str, int]] = {}
_in_flight: set[tuple[str, str]] = set()
_lock = threading.Lock()
_started = False


def _target(check: HealthCheck) -> tuple[str, int] | None:
    for name in (check.fqdn, check.ip_address):
        if name and name.lower().rstrip(".") in _endpoints:
            return _endpoints[name.lower().rstrip(".")]
    return None


def probed_status(backend: Route53Backend, check: HealthCheck) -> bool | None:
    """The probed status of a check whose endpoint is mapped; None when it is not probed."""
    if (check.type_ or "").upper() not in PROBED_TYPES or _target(check) is None:
        return None
    return state(backend).get("probed", {}).get(check.id, {"healthy": True})["healthy"]


def probe(check: HealthCheck, host: str, port: int) -> bool:
    """One health checker's observation of ``check``'s endpoint, found at ``host:port``."""
    kind = (check.type_ or "").upper()
    if kind == "TCP":
        try:
            socket.create_connection((host, port), timeout=10).close()
            return True
        except OSError:
            return False
    if kind.startswith("HTTPS"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=4, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=4)
    try:
        connection.connect()
        connection.sock.settimeout(2)
        connection.request("GET", check.resource_path or "/", headers={"Host": check.fqdn or check.ip_address or host})
        response = connection.getresponse()
        body = response.read(SEARCH_BYTES)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    if not 200 <= response.status < 400:
        return False
    if kind.endswith("STR_MATCH"):
        return (check.search_string or "").encode() in body
    return True


def _observe(backend: Route53Backend, check: HealthCheck, target: tuple[str, int]) -> None:
    try:
        seen = probe(check, *target)
        probed = state(backend).setdefault("probed", {})
        current = probed.setdefault(check.id, {"healthy": True, "streak": 0})
        if seen == current["healthy"]:
            current["streak"] = 0
        else:
            current["streak"] += 1
            if current["streak"] >= int(check.failure_threshold or 3):
                current.update(healthy=seen, streak=0)
    except Exception:
        LOG.exception("health check %s: probe failed", check.id)
    finally:
        with _lock:
            _in_flight.discard((backend.account_id, check.id))


def _loop(pool: ThreadPoolExecutor) -> None:
    while True:
        time.sleep(max(0.05, float(getattr(_settings, "health_check_probe_seconds", 1.0))))
        if not _endpoints:
            continue
        for account in list(route53_backends.keys()):
            backend = route53_backends[account]["aws"]
            for check in list(backend.health_checks.values()):
                target = _target(check) if (check.type_ or "").upper() in PROBED_TYPES else None
                if target is None:
                    continue
                with _lock:
                    if (account, check.id) in _in_flight:
                        continue
                    _in_flight.add((account, check.id))
                pool.submit(_observe, backend, check, target)


def _address(value: Any) -> tuple[str, int]:
    host, _, port = str(value).rpartition(":")
    if not host or not port.isdigit():
        raise ControlError(400, f"{value!r} is not host:port")
    return host, int(port)


def _control(request: Any) -> Any:
    if request.method == "DELETE":
        _endpoints.clear()
    elif request.method == "POST":
        body = json_object(request).get("endpoints")
        if not isinstance(body, dict):
            raise ControlError(400, 'body must be {"endpoints": {"<fqdn or ip>": "host:port" or null}}')
        mapped = {str(name).lower().rstrip("."): (None if value is None else _address(value)) for name, value in body.items()}
        for name, address in mapped.items():
            if address is None:
                _endpoints.pop(name, None)
            else:
                _endpoints[name] = address
    elif request.method != "GET":
        return 405, {"error": "use GET, POST or DELETE"}
    return {"endpoints": {name: f"{host}:{port}" for name, (host, port) in _endpoints.items()}}


def install(settings: Any) -> None:
    global _settings, _started
    _settings = settings
    register_control_route("route53/endpoints", _control)
    if not _started:
        _started = True
        pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="drstandin-probe")
        threading.Thread(target=_loop, args=(pool,), daemon=True, name="drstandin-probe").start()
