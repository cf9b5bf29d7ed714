"""dr-failover's local AWS stand-in: moto server plus the pieces moto lacks.

Each module below patches one gap and exposes ``install(settings)``. ``install_all`` runs them in
the moto server process before it starts serving, so every client (the Rust functions, the drill,
the tests) sees one consistent fake AWS over HTTP.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

# Order matters only where a module builds on another; each says so in its docstring.
MODULES = [
    # First: a region that is down answers nothing, not even a fault.
    "outage",
    "faults",
    "request_validation",
    "sns_publish",
    "lambda_forward",
    "lambda_environment",
    "stepfunctions",
    "events",
    "cloudwatch",
    "alarm_evaluation",
    "backup",
    "rds",
    "rds_replication",
    "rds_rules",
    "rds_quota",
    "rds_network",
    "route53_health",
    "route53",
    "route53_dns",
    "route53_probe",
    "autoscaling",
    "ratelimit",
    "iam",
]


@dataclass
class Settings:
    """How the stand-in is wired to the rest of the local world.

    One instance is shared by every module (each keeps a reference and reads it at call time), so
    ``POST /moto-api/dr/settings`` changes the durations of a running stand-in in place.
    """

    # Base URL of `cargo lambda watch` (its Lambda Invoke API); None leaves Lambda to moto.
    lambda_url: str | None = None
    # How long a Route 53 change stays PENDING (and other generic transitions), in seconds.
    transition_seconds: float = 3.0
    # How long an RDS read-replica promotion (each of its phases) or an Aurora global failover or
    # switchover takes, in seconds; None: transition_seconds.
    promotion_seconds: float | None = None
    # How long an instance launched by Auto Scaling stays Pending before it is InService; 0 =
    # InService at once (moto's behaviour).
    launch_seconds: float = 0.0
    # Route 53 API requests per second per account (token bucket, burst 5x); 0 = unlimited.
    route53_requests_per_second: float = 10.0
    # How long a new RDS read replica stays `creating` before it is available; 0 = at once.
    replica_creation_seconds: float = 0.0
    # How long a new Step Functions execution is missing from ListExecutions (eventual
    # consistency, drstandin.stepfunctions); 0 = listed at once.
    list_executions_lag_seconds: float = 0.0
    # Loopback port of the stand-in's name server (drstandin.route53_dns), UDP and TCP; 0 = a free one.
    dns_port: int = 0
    # How often health checks whose endpoint is mapped to a local server are probed
    # (drstandin.route53_probe), in seconds; Route 53's RequestInterval is 10 or 30.
    health_check_probe_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.promotion_seconds is None:
            self.promotion_seconds = self.transition_seconds


# Durations ``POST /moto-api/dr/settings`` may change (any subset), in seconds, each >= 0.
ADJUSTABLE = ("transition_seconds", "promotion_seconds", "launch_seconds", "replica_creation_seconds",
              "list_executions_lag_seconds", "health_check_probe_seconds")


def _settings_control(settings: Settings):
    from dataclasses import asdict

    from drstandin.control import is_non_negative_number, json_object

    def handle(request):
        if request.method == "GET":
            return asdict(settings)
        if request.method != "POST":
            return 405, {"error": "use GET or POST"}
        body = json_object(request)
        unknown = sorted(set(body) - set(ADJUSTABLE))
        if unknown:
            return 400, {"error": f"unknown setting(s) {unknown}; adjustable: {list(ADJUSTABLE)}"}
        values = {}
        for key, value in body.items():
            if not is_non_negative_number(value):
                return 400, {"error": f"{key} must be a number of seconds >= 0"}
            values[key] = float(value)
        for key, value in values.items():
            setattr(settings, key, value)
        return asdict(settings)

    return handle


def install_all(settings: Settings) -> None:
    for name in MODULES:
        module = importlib.import_module(f"drstandin.{name}")
        module.install(settings)
    from drstandin.control import register_control_route

    register_control_route("settings", _settings_control(settings))
