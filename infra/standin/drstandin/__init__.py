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
    "faults",
    "lambda_forward",
    "stepfunctions",
    "events",
    "cloudwatch",
    "backup",
    "rds",
    "route53",
]


@dataclass(frozen=True)
class Settings:
    """How the stand-in is wired to the rest of the local world."""

    # Base URL of `cargo lambda watch` (its Lambda Invoke API); None leaves Lambda to moto.
    lambda_url: str | None = None
    # How long an RDS promotion or Aurora failover stays in progress, in seconds.
    transition_seconds: float = 3.0


def install_all(settings: Settings) -> None:
    for name in MODULES:
        module = importlib.import_module(f"drstandin.{name}")
        module.install(settings)
