"""`./scripts/drill --us-east-1-down`: us-east-1 fails together with the application's primary.

The world is infra/plans/us-east-1.yaml's (primary us-east-1, DR us-west-2, failover records
behind the DNS gate). From the outage on, the stand-in (drstandin/outage.py) leaves every request
the product sends to us-east-1, or to a global service whose control plane is there (Route 53's
API, IAM, global STS), unanswered: the connection is reset. The drill's own inspection (its
administrator key) is exempt, so that it can still show the world before and after.

The report's ``outage`` section names every endpoint that was refused, how often and to whom
(each binary signs with its own access key id, a state machine with its role's), and a check
says whether the failover still ended failed-over: what it shows is that none of them was needed.
"""

from __future__ import annotations

import datetime
import time
from typing import Any, Callable, Dict, List, Tuple

from drill import aws, world

REGION = "us-east-1"
# How long the witness must see the primary down alone before it fails over, in the drill (its
# WITNESS_ALONE_SECONDS; minutes in a deployment), and how long the drill gives its probes.
WITNESS_ALONE_SECONDS = 3
PROBES_WITHIN_SECONDS = 60


def fail_us_east_1(session: Any, known: List[str], out: Callable[[str], None]) -> Tuple[datetime.datetime, str]:
    """Starts the outage; answers when it began and the failover execution that followed."""
    out(f"{REGION} goes down, and the primary with it: every request to {REGION}, and to Route 53's API, IAM "
        "and global STS (their control planes are there), goes unanswered from now on")
    began = datetime.datetime.now(datetime.timezone.utc)
    session.control("outage", {"regions": [REGION], "global": True, "exempt_access_keys": [aws.DUMMY_KEY]})
    arn = start_failover(session, known, out)
    delay = (_utc(session.describe(arn)["startDate"]) - began).total_seconds()
    out(f"  execution {arn.rsplit(':', 1)[1]} started {delay:.2f} s after the outage began")
    return began, arn


def start_failover(session: Any, known: List[str], out: Callable[[str], None]) -> str:
    """No operator: the witness in the DR region, probing on its schedule, finds the primary down
    and, with us-east-1's alarm silent, starts the failover once it has seen it down alone for
    WITNESS_ALONE_SECONDS (shared::witness)."""
    out(f"  the witness in {world.DR} probes the primary on its schedule (here every second) and finds it down; "
        f"the health check alarm in {REGION} says nothing")
    session.set_primary_endpoint(False)
    deadline = time.monotonic() + PROBES_WITHIN_SECONDS
    while True:
        detail = session.witness_probe().get("detail") or {}
        arn = detail.get("failover_execution")
        if arn:
            out(f"  the witness alone saw the primary down for {detail.get('down_seconds')} s and started the failover")
            return arn
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the witness started no failover within {PROBES_WITHIN_SECONDS} s of probes: {detail.get('not_started') or detail}"
            )
        time.sleep(1.0)


def end(session: Any, out: Callable[[str], None]) -> Dict[str, Any]:
    """Ends the outage; answers what it refused."""
    seen = session.control("outage", method="GET")
    session.control("outage", method="DELETE")
    refused = seen.get("refused_endpoints") or {}
    out("")
    out(f"{REGION} is back. While it was down the stand-in refused {sum(refused.values())} request(s) of the product:")
    for endpoint, count in sorted(refused.items()):
        callers = sorted({r["access_key"] for r in seen.get("refused", []) if r["endpoint"] == endpoint})
        out(f"  {endpoint:<36} {count:>4}  from {', '.join(callers)}")
    return seen


def add_to_report(report: Dict[str, Any], seen: Dict[str, Any]) -> None:
    """The report's ``outage`` section and its check."""
    refused = seen.get("refused") or []
    by_endpoint: Dict[str, Dict[str, Any]] = {}
    for request in refused:
        entry = by_endpoint.setdefault(request["endpoint"], {"count": 0, "operations": {}, "callers": set()})
        entry["count"] += 1
        key = f"{request['service']}:{request['operation']}"
        entry["operations"][key] = entry["operations"].get(key, 0) + 1
        entry["callers"].add(request["access_key"])
    report["outage"] = {
        "regions": seen.get("regions"),
        "global_control_planes": seen.get("global"),
        "since": seen.get("since"),
        "refused_endpoints": {
            endpoint: {"count": e["count"], "operations": e["operations"], "callers": sorted(e["callers"])}
            for endpoint, e in sorted(by_endpoint.items())
        },
    }
    failed_over = report.get("outcome") == "failed-over"
    total = sum(e["count"] for e in by_endpoint.values())
    report["checks"].append({
        "name": f"the failover needed nothing from {REGION} or a global control plane",
        "ok": failed_over,
        "detail": (f"{total} request(s) to {', '.join(sorted(by_endpoint)) or 'nothing'} went unanswered, "
                   f"and the run ended {report.get('outcome')}"),
    })
    global_sts = by_endpoint.get("sts.amazonaws.com", {}).get("count", 0)
    report["checks"].append({
        "name": "STS only through the DR region's endpoint (never the global one, served in us-east-1)",
        "ok": global_sts == 0,
        "detail": f"{global_sts} request(s) to sts.amazonaws.com",
    })
    report["ok"] = report["ok"] and failed_over and global_sts == 0


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
