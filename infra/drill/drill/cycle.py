"""``scripts/drill --failback``: after the drill's failover, the rest of the cycle on the same
stand-in: re-protect, the write freeze, fail back with the drill giving the approval, and a check
that the world ends where it started (the same writer region, records and group capacities, and a
standby in the DR region). Writes ``cycle.json`` and ``cycle.html``: the three runs on one
timeline, counted from the alarm. An RDS read replica or an Aurora Global Database (switchover back)."""

from __future__ import annotations

import datetime
import html
import json
import shlex
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from drill import failback, reprotect, world


def _run(session: Any, arn_attr: str, execution_input: Dict[str, Any]) -> str:
    return session.client("stepfunctions").start_execution(
        stateMachineArn=getattr(session.world, arn_attr), input=json.dumps(execution_input)
    )["executionArn"]


def _approve(session: Any, timeout: float = 60.0) -> Dict[str, Any]:
    """Waits for the published approval request; approves it with the command it names."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in session.reports(wait=0.5):
            if "APPROVAL NEEDED" in (message["subject"] or ""):
                approve = shlex.split(message["message"]["approve_command"])
                token = approve[approve.index("--task-token") + 1]
                session.client("stepfunctions").send_task_success(
                    taskToken=token, output=json.dumps({"approved_by": "the drill"})
                )
                return message
    raise RuntimeError(f"no approval request was published within {timeout:.0f} s")


def _freeze_writes(session: Any) -> None:
    """What RDS reports once the application stops writing: the primary region's replica at lag 0."""
    session.client("cloudwatch", world.PRIMARY).put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[{"MetricName": "ReplicaLag", "Unit": "Seconds", "Value": 0.0,
                     "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": reprotect.REPLICA}],
                     "Timestamp": datetime.datetime.now(datetime.timezone.utc)}],
    )


def _span(session: Any, name: str, arn: str, origin: datetime.datetime) -> Dict[str, Any]:
    described = session.describe(arn)

    def at(value: Any) -> float:
        value = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return round((value - origin).total_seconds(), 2)

    return {"run": name, "execution": arn, "status": described["status"], "start": at(described["startDate"]),
            "end": at(described.get("stopDate") or datetime.datetime.now(datetime.timezone.utc))}


def _database_checks(session: Any) -> List[Dict[str, Any]]:
    if session.world.db_kind == "aurora-global":
        (global_cluster,) = session.client("rds", world.PRIMARY).describe_global_clusters(
            GlobalClusterIdentifier=world.AURORA_GLOBAL)["GlobalClusters"]
        members = {m["DBClusterArn"]: m for m in global_cluster["GlobalClusterMembers"]}
        writer = next((arn for arn, m in members.items() if m["IsWriter"]), "")
        dr = next((arn for arn in members if arn.endswith(f":cluster:{world.AURORA_DR}")), "")
        return [
            {"check": "the writer is in the primary region again",
             "ok": writer.split(":")[3:4] == [world.PRIMARY] and not global_cluster.get("FailoverState"),
             "detail": f"{world.AURORA_GLOBAL} writer {writer}"},
            {"check": "a standby (secondary cluster) in the DR region",
             "ok": bool(dr) and not members[dr]["IsWriter"],
             "detail": f"{world.AURORA_DR} {'is a secondary' if dr and not members[dr]['IsWriter'] else 'is not a secondary'} of {world.AURORA_GLOBAL}"},
        ]
    rds = session.client("rds", world.PRIMARY)
    writer = rds.describe_db_instances(DBInstanceIdentifier=reprotect.REPLICA)["DBInstances"][0]
    dr = session.client("rds", world.DR).describe_db_instances()["DBInstances"]
    standby = next((i for i in dr if i["DBInstanceIdentifier"] == failback.STANDBY), {})
    retired = [i["DBInstanceIdentifier"] for i in dr if i["DBInstanceIdentifier"].startswith(failback.RETIRED_PREFIX)
               and "ReadReplicaSourceDBInstanceIdentifier" not in i]
    return [
        {"check": "the writer is in the primary region again",
         "ok": "ReadReplicaSourceDBInstanceIdentifier" not in writer and writer["DBInstanceStatus"] in ("available", "backing-up"),
         "detail": f"{reprotect.REPLICA} ({world.PRIMARY}) {writer['DBInstanceStatus']}"},
        {"check": "a standby replica in the DR region, under the failover's replica name",
         "ok": standby.get("ReadReplicaSourceDBInstanceIdentifier") == writer["DBInstanceArn"],
         "detail": f"{failback.STANDBY} replicates {standby.get('ReadReplicaSourceDBInstanceIdentifier')}; "
                   f"the former DR writer kept as {', '.join(retired) or 'NOTHING'}"},
    ]


def _automation_check(session: Any) -> Dict[str, Any]:
    state = session.client("events").describe_rule(Name=world.ALARM_RULE_DR)["State"]
    return {"check": "the failover automation is re-armed", "ok": state == "ENABLED",
            "detail": f"alarm rule {world.ALARM_RULE_DR} {state}"}


def checks(session: Any, before: Dict[str, Any], after: Dict[str, Any]) -> List[Dict[str, Any]]:
    database = _database_checks(session)
    dns = {n: r["answers"] for n, r in after["dns"].items()}
    groups = {n: (g["min"], g["desired"], g["max"]) for n, g in after["compute"].items()}
    expected_groups = {n: (g["min"], g["desired"], g["max"]) for n, g in before["compute"].items()}
    return [
        database[0],
        {"check": "every record answers as before the failover",
         "ok": dns == {n: r["answers"] for n, r in before["dns"].items()}, "detail": json.dumps(dns)},
        {"check": "every group at its capacity from before the failover",
         "ok": groups == expected_groups, "detail": json.dumps(groups)},
        database[1],
        _automation_check(session),
    ]


def run_cycle(session: Any, failover_arn: str, before: Dict[str, Any], out_dir: Path,
              out: Callable[[str], None] = print) -> bool:
    origin = session.describe(failover_arn)["startDate"]
    origin = origin if origin.tzinfo else origin.replace(tzinfo=datetime.timezone.utc)
    out("")
    aurora = session.world.db_kind == "aurora-global"
    if aurora:
        out(f"Re-protect: a secondary of {world.AURORA_GLOBAL} in {world.PRIMARY} (the rejoined {world.AURORA_PRIMARY},"
            f" else {reprotect.SECONDARY_CLUSTER})")
    else:
        out(f"Re-protect: a read replica of {world.RDS_REPLICA} in {world.PRIMARY} ({reprotect.REPLICA})")
    reprotect_arn = _run(session, "reprotect_state_machine_arn", {"dry_run": False, "reason": "drill: standby after the failover"})
    status = session.follow(reprotect_arn, timeout=180)["status"]
    out(f"  {status}: " + "; ".join(m["subject"] for m in session.reports(wait=1.0)))
    if aurora:
        out("Write freeze: Aurora's switchover holds writes itself until the secondary has caught up")
    else:
        out("Write freeze: the application stops writing; the new replica's lag reaches 0")
        _freeze_writes(session)
    out("Fail back: the drill gives the approval the run asks for")
    failback_arn = _run(session, "failback_state_machine_arn", {"dry_run": False, "reason": "drill: fail back"})
    request = _approve(session)
    out(f"  approved: {request['subject']}")
    status = session.follow(failback_arn, timeout=300)["status"]
    published = session.reports(wait=1.0)
    out(f"  {status}: " + "; ".join(m["subject"] for m in published))
    time.sleep(1.0)
    after = session.snapshot()
    results = checks(session, before, after)
    for result in results:
        out(f"  [{'ok' if result['ok'] else 'FAILED'}] {result['check']}: {result['detail']}")
    runs = [_span(session, "failover", failover_arn, origin), _span(session, "re-protect", reprotect_arn, origin),
            _span(session, "fail back", failback_arn, origin)]
    ok = all(r["ok"] for r in results) and [r["status"] for r in runs] == ["SUCCEEDED"] * 3
    cycle = {"ok": ok, "runs": runs, "checks": results,
             "failback_report": next((m["message"] for m in published if isinstance(m["message"], dict)), None)}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "cycle.json").write_text(json.dumps(cycle, indent=2, default=str) + "\n")
    (out_dir / "cycle.html").write_text(_html(cycle))
    out(f"Cycle: {'the world is back where it started' if ok else 'NOT back where it started'}; "
        f"{out_dir / 'cycle.json'}, {out_dir / 'cycle.html'}")
    return ok


def _html(cycle: Dict[str, Any]) -> str:
    total = max(r["end"] for r in cycle["runs"]) or 1.0
    bars = "".join(
        f"<tr><td>{html.escape(r['run'])}</td><td>{html.escape(r['status'])}</td>"
        f"<td><div style='margin-left:{100 * r['start'] / total:.1f}%;width:{max(0.5, 100 * (r['end'] - r['start']) / total):.1f}%;"
        f"background:#4a7;height:1em'></div></td><td>{r['start']:.1f}-{r['end']:.1f} s</td></tr>"
        for r in cycle["runs"]
    )
    rows = "".join(f"<li>{'ok' if c['ok'] else 'FAILED'}: {html.escape(c['check'])} ({html.escape(c['detail'])})</li>"
                   for c in cycle["checks"])
    return (f"<!doctype html><meta charset=utf-8><title>dr-failover cycle</title><h1>Failover, re-protect, fail back</h1>"
            f"<table style='width:100%'><tr><th>run</th><th>status</th><th style='width:60%'>timeline (s from the failover's start)</th><th></th></tr>{bars}</table>"
            f"<ul>{rows}</ul>")
