"""Route 53 health check status: set by a control, or following a CloudWatch alarm.

moto 5.2.5 gives health checks no status (``GetHealthCheckStatus`` always reports success) and
drops a ``CLOUDWATCH_METRIC`` health check's ``AlarmIdentifier`` and
``InsufficientDataHealthStatus``. Here:

- A health check of type ``CLOUDWATCH_METRIC`` follows its alarm (``AlarmIdentifier`` ``Region``
  and ``Name``, in the stand-in's CloudWatch of the health check's account): healthy while the
  alarm is ``OK``, unhealthy in ``ALARM``, and in ``INSUFFICIENT_DATA`` (or when the alarm does not
  exist) as ``InsufficientDataHealthStatus`` says: ``Healthy``, ``Unhealthy``, or
  ``LastKnownStatus``, the status from the last time the alarm was ``OK`` or ``ALARM`` (from the
  alarm's state history), healthy when it never was. AWS: "Types of Amazon Route 53 health checks"
  (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-types.html, health
  checks that monitor CloudWatch alarms), "How Amazon Route 53 determines whether a health check is
  healthy"
  (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html),
  and ``HealthCheckConfig`` in the API reference
  (https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html:
  ``InsufficientDataHealthStatus``; "For new health checks that have no last known status, the
  default status for the health check is healthy"). Route 53 follows an alarm after its health
  checkers' next reading (seconds to a minute); the stand-in follows at once.
- When the alarm's region is unreachable (``drstandin.outage``), the health check keeps the status
  it had when the outage began (its last known status): Route 53's health checkers run outside
  the region and can no longer read the alarm.
- A health check that monitors an endpoint is probed when a control maps its endpoint to a local
  server (``drstandin.route53_probe``); otherwise it is healthy until the control says otherwise.
- ``Disabled`` health checks count as healthy, ``Inverted`` ones flip, ``CALCULATED`` ones count
  their healthy children against ``HealthThreshold``, as in AWS ("HealthCheckConfig": Disabled,
  Inverted, HealthThreshold).

The control wins when it is set: ``POST /moto-api/dr/route53/health-checks/<id>``
``{"healthy": false}`` (or ``POST /moto-api/dr/route53/health-checks``
``{"id": "<id>", "healthy": false}``) sets a status that holds whatever the alarm does (Disabled
and Inverted still apply; a CALCULATED check always counts its children);
``{"healthy": null}`` clears it, and the health check follows its alarm again (or is healthy, for
the other types). Add ``"account_id"`` for an account other than moto's default. ``GET`` on either
answers ``{"id", "healthy", "source"}``, ``source`` being ``control``, ``alarm``, ``outage``
(the last known status of an alarm in an unreachable region), ``endpoint`` (probed),
``calculated`` or ``default``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.route53.models import HealthCheck, Route53Backend, route53_backends
from moto.route53.responses import Route53

from drstandin import outage
from drstandin.control import json_object

INSUFFICIENT_DATA_STATUSES = ("Healthy", "Unhealthy", "LastKnownStatus")
_original: dict[str, Any] = {}


def state(backend: Route53Backend) -> dict[str, Any]:
    """The stand-in's Route 53 state of one account: ``health`` (the control's statuses),
    ``changes`` (drstandin.route53), ``frozen`` (statuses kept through an outage). Kept on the
    backend itself so moto's reset (/moto-api/reset) clears it too."""
    found = backend.__dict__.get("_dr_state")
    if found is None:
        found = backend.__dict__["_dr_state"] = {"health": {}, "changes": {}, "frozen": {}}
    return found


def _alarm(backend: Route53Backend, check: HealthCheck) -> Any | None:
    from moto.cloudwatch.models import cloudwatch_backends

    ident = getattr(check, "_dr_alarm", None) or {}
    if not ident.get("Region") or not ident.get("Name"):
        return None
    return cloudwatch_backends[backend.account_id][ident["Region"]].alarms.get(ident["Name"])


def _last_known(alarm: Any | None) -> bool:
    """The status from the last time the alarm was OK or ALARM; healthy when it never was."""
    if alarm is None:
        return True
    states = [entry[3] for entry in alarm.history if entry and entry[0] == "StateUpdate"]
    for value in reversed([*states, alarm.state_value]):
        if value in ("OK", "ALARM"):
            return value == "OK"
    return True


def _from_alarm(backend: Route53Backend, check: HealthCheck) -> bool:
    alarm = _alarm(backend, check)
    value = alarm.state_value if alarm is not None else "INSUFFICIENT_DATA"
    if value in ("OK", "ALARM"):
        return value == "OK"
    rule = getattr(check, "_dr_insufficient", None) or "LastKnownStatus"
    if rule == "Healthy":
        return True
    if rule == "Unhealthy":
        return False
    return _last_known(alarm)


def _alarm_region(check: HealthCheck) -> str | None:
    return (getattr(check, "_dr_alarm", None) or {}).get("Region")


def _is_metric(check: HealthCheck) -> bool:
    return (check.type_ or "").upper() == "CLOUDWATCH_METRIC"


def status(backend: Route53Backend, health_check_id: str | None, _depth: int = 0) -> tuple[bool, str]:
    """(healthy, source) of a health check, before Disabled and Inverted; see the module doc."""
    check: HealthCheck | None = backend.health_checks.get(health_check_id or "")
    if check is None:
        return True, "default"
    if (check.type_ or "").upper() == "CALCULATED" and check.children and _depth < 8:
        healthy_children = sum(is_healthy(backend, child, _depth + 1) for child in check.children)
        threshold = len(check.children) if check.health_threshold is None else int(check.health_threshold)
        return healthy_children >= threshold, "calculated"
    controlled = state(backend)["health"].get(check.id)
    if controlled is not None:
        return controlled, "control"
    if _is_metric(check):
        if outage.unreachable(_alarm_region(check)):
            frozen = state(backend)["frozen"].get(check.id)
            return (_last_known(_alarm(backend, check)) if frozen is None else frozen), "outage"
        return _from_alarm(backend, check), "alarm"
    from drstandin.route53_probe import probed_status

    probed = probed_status(backend, check)
    if probed is not None:
        return probed, "endpoint"
    return True, "default"


def is_healthy(backend: Route53Backend, health_check_id: str | None, _depth: int = 0) -> bool:
    """Route 53's view of a health check (see the module doc). No or unknown check: healthy."""
    check: HealthCheck | None = backend.health_checks.get(health_check_id or "")
    if check is None or check.disabled:
        return True
    healthy, _ = status(backend, health_check_id, _depth)
    return not healthy if check.inverted else healthy


def route(sets: list[Any], healthy: Callable[[Any], bool], rng: random.Random | None = None) -> list[Any]:
    """The record sets Route 53 answers from, among the sets of one name and type, given each
    set's health (``healthy(set)``). AWS: "Choosing a routing policy"
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy.html), "Active-active
    and active-passive failover"
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-types.html) and "How
    Amazon Route 53 chooses records when health checking is configured"
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html).

    - failover: PRIMARY if healthy (a set without health check is healthy), else SECONDARY if
      healthy; if both are unhealthy Route 53 answers PRIMARY.
    - weighted: among healthy sets with a weight above 0 (sets weighing 0 only when no set above
      0 is healthy; every set when none is healthy), one drawn in proportion to its weight by
      ``rng`` (all equally when all weigh 0); without ``rng`` (TestDNSAnswer) deterministically
      the heaviest (first on ties). AWS: "Weighted routing"
      (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html).
    - multivalue: every healthy set (all if none is healthy), at most 8.
    - anything else (simple, latency, geolocation...): the first healthy set (first if none).
    """
    if any(rs.failover for rs in sets):
        primary = next((rs for rs in sets if (rs.failover or "").upper() == "PRIMARY"), None)
        secondary = next((rs for rs in sets if (rs.failover or "").upper() == "SECONDARY"), None)
        if primary is not None and healthy(primary):
            return [primary]
        if secondary is not None and healthy(secondary):
            return [secondary]
        return [primary or secondary]
    if any(rs.weight is not None for rs in sets):
        weighted = [rs for rs in sets if rs.weight is not None]
        up = [rs for rs in weighted if healthy(rs)] or weighted
        pool = [rs for rs in up if int(rs.weight) > 0] or up
        if rng is not None:  # every set weighing 0: each as likely (AWS: weighted routing)
            weights = [int(rs.weight) for rs in pool] if any(int(rs.weight) > 0 for rs in pool) else None
            return rng.choices(pool, weights=weights)
        best = max(int(rs.weight) for rs in pool)
        return [next(rs for rs in pool if int(rs.weight) == best)]
    if any(rs.multi_value_answer for rs in sets):
        return ([rs for rs in sets if healthy(rs)] or sets)[:8]
    return [next((rs for rs in sets if healthy(rs)), sets[0])]


def _freeze(newly_unreachable: set[str]) -> None:
    """Before regions become unreachable: keep the status of each health check following an alarm
    there (``drstandin.outage`` calls this)."""
    for account in list(route53_backends.keys()):
        backend = route53_backends[account]["aws"]
        frozen = state(backend)["frozen"]
        for check in list(backend.health_checks.values()):
            region = _alarm_region(check)
            if _is_metric(check) and region in newly_unreachable:
                frozen[check.id] = _from_alarm(backend, check)


def get_health_check_status(self: Route53) -> ActionResult:
    """GetHealthCheckStatus reporting the health check's status (moto always reports success).
    The report's wording for an alarm-based check is the stand-in's; it starts with ``Success`` or
    ``Failure`` as AWS's reports do."""
    health_check_id = self._get_param("HealthCheckId")
    check = self.backend.get_health_check(health_check_id)
    healthy = is_healthy(self.backend, health_check_id)
    if _is_metric(check):
        ident = getattr(check, "_dr_alarm", None) or {}
        alarm = _alarm(self.backend, check)
        alarm_state = alarm.state_value if alarm is not None else "INSUFFICIENT_DATA"
        detail = f"CloudWatch alarm {ident.get('Name')} in {ident.get('Region')} is {alarm_state}"
        if outage.unreachable(ident.get("Region")):
            detail = f"CloudWatch alarm {ident.get('Name')} in {ident.get('Region')} cannot be read; last known status"
        status_text = f"{'Success' if healthy else 'Failure'}: {detail}"
    else:
        ip = check.ip_address or "192.0.2.10"
        if healthy:
            status_text = f"Success: HTTP Status Code 200, OK. Resolved IP: {ip}"
        else:
            status_text = f"Failure: HTTP Status Code 503, Service Unavailable. Resolved IP: {ip}"
    regions = check.regions or ["us-east-1", "us-west-1", "eu-west-1"]
    return ActionResult({
        "HealthCheckObservations": [
            {"Region": region, "IPAddress": f"15.177.{i}.10", "StatusReport": {"Status": status_text, "CheckedTime": utcnow()}}
            for i, region in enumerate(regions)
        ]
    })


def health_control(request: Any, health_check_id: str | None) -> Any:
    body = json_object(request) if request.method == "POST" else {}
    health_check_id = health_check_id or body.get("id") or request.args.get("id")
    account = str(body.get("account_id") or request.args.get("account_id") or DEFAULT_ACCOUNT_ID)
    backend = route53_backends[account]["aws"]
    if not health_check_id or health_check_id not in backend.health_checks:
        return 404, {"error": f"A health check with id {health_check_id} does not exist."}
    if request.method == "POST":
        if "healthy" not in body or not (body["healthy"] is None or isinstance(body["healthy"], bool)):
            return 400, {"error": 'body must be {"healthy": true|false|null}'}
        if body["healthy"] is None:
            state(backend)["health"].pop(health_check_id, None)
        else:
            state(backend)["health"][health_check_id] = body["healthy"]
    elif request.method != "GET":
        return 405, {"error": "use GET or POST"}
    _, source = status(backend, health_check_id)
    return {"id": health_check_id, "healthy": is_healthy(backend, health_check_id), "source": source}


def _keep_alarm(check: HealthCheck, alarm: Any, insufficient: Any) -> None:
    if alarm:
        check._dr_alarm = {"Region": alarm.get("Region"), "Name": alarm.get("Name")}  # type: ignore[attr-defined]
    if insufficient:
        check._dr_insufficient = insufficient  # type: ignore[attr-defined]


def _refuse_misplaced_alarm(config: dict[str, Any]) -> None:
    """Route 53 refuses an ``AlarmIdentifier`` on a health check that is not of type
    ``CLOUDWATCH_METRIC`` ("Invalid parameter : Basic health checks must not have an metric region
    specified", a public report: aws/aws-sdk-php#1528), and a ``CLOUDWATCH_METRIC`` health check
    without one ("HealthCheckConfig", AlarmIdentifier: required for CLOUDWATCH_METRIC,
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html)."""
    from moto.route53.exceptions import InvalidInput

    metric = config.get("Type") == "CLOUDWATCH_METRIC"
    if config.get("AlarmIdentifier") and not metric:
        raise InvalidInput("Invalid parameter : Basic health checks must not have an metric region specified.")
    if metric and not config.get("AlarmIdentifier"):
        raise InvalidInput("Invalid parameter : A CLOUDWATCH_METRIC health check must specify AlarmIdentifier.")


def create_health_check_response(self: Route53) -> ActionResult:
    """moto's CreateHealthCheck, keeping ``AlarmIdentifier`` and ``InsufficientDataHealthStatus``."""
    _refuse_misplaced_alarm(self._get_param("HealthCheckConfig") or {})
    result = _original["create"](self)
    config = self._get_param("HealthCheckConfig") or {}
    _keep_alarm(result.result["HealthCheck"], config.get("AlarmIdentifier"), config.get("InsufficientDataHealthStatus"))
    return result


def update_health_check_response(self: Route53) -> ActionResult:
    """moto's UpdateHealthCheck, keeping ``AlarmIdentifier`` and ``InsufficientDataHealthStatus``."""
    result = _original["update"](self)
    _keep_alarm(
        result.result["HealthCheck"], self._get_param("AlarmIdentifier"), self._get_param("InsufficientDataHealthStatus")
    )
    return result


def _config(self: HealthCheck) -> dict[str, Any]:
    config = _original["config"].fget(self)
    if getattr(self, "_dr_alarm", None):
        config["AlarmIdentifier"] = dict(self._dr_alarm)
    if getattr(self, "_dr_insufficient", None):
        config["InsufficientDataHealthStatus"] = self._dr_insufficient
    return config


def install(settings: Any) -> None:
    if _original:
        return
    _original["create"] = Route53.create_health_check
    _original["update"] = Route53.update_health_check
    _original["config"] = HealthCheck.health_check_config
    Route53.create_health_check = create_health_check_response
    Route53.update_health_check = update_health_check_response
    Route53.get_health_check_status = get_health_check_status
    HealthCheck.health_check_config = property(_config)  # type: ignore[assignment]
    outage.on_outage(_freeze)

    from drstandin.control import register_control_route

    register_control_route("route53/health-checks", lambda request: health_control(request, None))
