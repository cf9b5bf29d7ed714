"""A whole failover on one machine: the drill the README's first command runs.

Start the local AWS, seed the two-region world, look at everything ("before"), make the primary
endpoint fail (health check unhealthy, alarm to ALARM), let EventBridge start the state machine,
follow it live, end the simulated outage, look again ("after"), and write the report.
"""

from __future__ import annotations

import datetime
import json
import math
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from drill import report as report_mod
from drill import cycle, outage, readiness_drill, snapshot, timeline, world
from drill import messages as published
from drill.session import REPO, Session


@dataclass
class DrillOptions:
    dry_run: bool = False
    aurora: bool = False
    keep: bool = False
    out_dir: Path = REPO / "target" / "drill"
    transition_seconds: float = 3.0
    # None: transition_seconds.
    promotion_seconds: Optional[float] = None
    launch_seconds: float = 0.0
    poll_seconds: int = 1
    # The stage budgets of the drill's world (world.Options), not repeated here.
    database_budget_seconds: int = world.Options.database_budget_seconds
    compute_budget_seconds: int = world.Options.compute_budget_seconds
    dns_budget_seconds: int = world.Options.dns_budget_seconds
    faults: Optional[List[Dict[str, Any]]] = None
    verbose: bool = False
    # After the failover, the same failover is started again by hand, and the report is the
    # re-run's: it must find everything done, change nothing, and say so.
    rerun: bool = False
    # The alarm-started failover waits for approval, and the drill answers it: "approve", "deny",
    # or "expire" (no answer; the request expires and ApprovalExpiryAction's default, abort,
    # changes nothing).
    approval: Optional[str] = None
    # After the failover: re-protect and an approved fail back (drill/cycle.py).
    failback: bool = False
    # The recovery plan whose world the drill builds and fails over (drill/plan_world.py).
    plan: Optional[Path] = None
    # us-east-1 goes down with the primary (drill/outage.py): a plan whose primary is us-east-1
    # (infra/plans/us-east-1.yaml), every request the product sends to us-east-1 or to a global
    # control plane there unanswered from the outage on.
    us_east_1_down: bool = False
    # The stand-in's Route 53 request rate (None: AWS's 10 a second; 0: not limited), as
    # Session takes it: a test about something else need not wait out the drill's own 500
    # TestDNSAnswer calls of a snapshot.
    route53_requests_per_second: Optional[float] = None


def _symbols() -> Dict[str, str]:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower()
    if "utf" in encoding:
        return {"start": "▶", "ok": "✓", "fail": "✗", "retry": "↻", "par": "⇉", "end": "■"}
    return {"start": ">", "ok": "+", "fail": "x", "retry": "~", "par": "=", "end": "#"}


class LivePrinter:
    """Prints each state as it starts and ends, relative to the alarm: Task, Parallel and Fail
    states, retries and the end; with ``verbose`` also every Pass, Choice and Wait state."""

    def __init__(self, origin: datetime.datetime, out: Callable[[str], None], verbose: bool = False):
        self.origin = origin
        self.out = out
        self.verbose = verbose
        self.timeline = timeline.Timeline()
        self.sym = _symbols()

    def __call__(self, event: Dict[str, Any]) -> None:
        happened = self.timeline.feed(event)
        if happened is None:
            return
        verb, run, detail = happened
        at = timeline.utc(event["timestamp"])
        stamp = f"  {(at - self.origin).total_seconds():+7.2f} s  "
        s = self.sym
        if verb == "entered" and run.kind == "Task":
            self.out(f"{stamp}{s['start']} {run.name}")
        elif verb == "entered" and run.kind == "Parallel":
            self.out(f"{stamp}{s['par']} {run.name} (parallel branches)")
        elif verb == "exited" and run.kind == "Task":
            took = f"{run.seconds:5.2f} s" if run.seconds is not None else ""
            mark = s["ok"] if run.status == "succeeded" else s["fail"]
            self.out(f"{stamp}{mark} {run.name:<20} {took}  {_clip(detail, 90)}")
        elif verb == "exited" and run.kind == "Parallel":
            self.out(f"{stamp}{s['ok'] if run.status != 'failed' else s['fail']} {run.name} done")
        elif verb == "task-failed":
            self.out(f"{stamp}{s['retry']} {run.name:<20} attempt {run.attempts} failed: {_clip(detail, 90)}")
        elif self.verbose and verb in ("entered", "exited"):
            took = f"{run.seconds:5.2f} s" if verb == "exited" and run.seconds is not None else ""
            self.out(f"{stamp}  {'·' if verb == 'entered' else ' '} {run.kind} {run.name} {'done ' + took if took else ''}".rstrip())
        elif verb == "fail-state":
            self.out(f"{stamp}{s['fail']} {run.name} (Fail state)")
        elif verb.startswith("execution-"):
            status = verb[len("execution-"):].upper()
            self.out(f"{stamp}{s['end']} execution {status}{'  ' + _clip(detail, 100) if detail else ''}")


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def analyse(described: Dict[str, Any], origin: datetime.datetime) -> Dict[str, Any]:
    """Steps, waits and the time breakdown of a finished execution."""
    line = timeline.Timeline()
    for event in described["events"]:
        line.feed(event)
    line.finish()
    start, stop = timeline.utc(described["startDate"]), timeline.utc(described["stopDate"])
    return {
        "timeline": line,
        "steps": [run.to_step() for run in line.steps()],
        "waits": [
            {"name": r.name, "start": timeline.iso(r.start), "end": timeline.iso(r.end),
             "seconds": round(r.seconds or 0.0, 3)}
            for r in line.runs
            if r.kind == "Wait"
        ],
        "breakdown": timeline.breakdown(line, start, stop),
        "rto_seconds": round((stop - origin).total_seconds(), 3),
    }


def outcome_of(described: Dict[str, Any]) -> str:
    if described["status"] == "SUCCEEDED":
        try:
            return json.loads(described.get("output") or "{}").get("outcome", "succeeded")
        except ValueError:
            return "succeeded"
    error = described.get("error", "")
    if error == "DrFailover.AlreadyRunning":
        return "already-running"
    if error == "DrFailover.Refused":
        return "refused"
    if error == "DrFailover.Incomplete":
        return "incomplete"
    if error == "DrFailover.ApprovalDenied":
        return "approval-denied"
    if error == "DrFailover.ApprovalExpired":
        return "approval-expired"
    return "failed"


def expected_targets(primary_reachable: bool = True) -> Dict[str, int]:
    """What the plan's ASG_TARGETS resolve to in the seeded world: a share of a primary group's
    size, or its fallback_capacity while the primary region does not answer."""
    targets = {}
    for target in world.asg_targets():
        if "capacity" in target:
            targets[target["group"]] = target["capacity"]
        elif not primary_reachable and "fallback_capacity" in target:
            targets[target["group"]] = target["fallback_capacity"]
        else:
            desired = world.PRIMARY_GROUPS[target["primary_group"]]
            targets[target["group"]] = int(math.ceil(desired * target["percent_of_primary"] / 100))
    return targets


def _backup_from_snapshot(shot: Dict[str, Any]) -> Dict[str, Any]:
    """The verdicts of the drill's own read-only verification, shaped like the function's result,
    for an execution that ended without a report (a failed one)."""
    backup = shot.get("backup") or {}
    return {
        "summary": backup.get("summary"),
        "detail": {
            "overall": backup.get("overall"),
            "vault_arn": backup.get("vault"),
            "resources": [
                {"arn": arn, "verdict": c["verdict"], "rpo_minutes": world.RPO_MINUTES,
                 "age_seconds": None if c.get("age_hours") is None else c["age_hours"] * 3600,
                 "failed_copy_jobs": c.get("failed_copy_jobs")}
                for arn, c in (backup.get("resources") or {}).items()
            ],
        },
    }


def _backup_result(output: Any) -> Dict[str, Any]:
    """verify-backup-copy's result inside the execution's report (failover or dry run)."""
    if not isinstance(output, dict):
        return {}
    return output.get("backup") or (output.get("plan") or {}).get("backup") or {}


PLAN_STEPS = ("database", "compute", "dns", "backup")


def plan_view(output: Any) -> Dict[str, Any]:
    """What the execution's plan said, per step, in plain view: what apply would do (the summary),
    every refusal and warning, and the verdict. Empty when the run ended before planning."""
    plan = (output or {}).get("plan") if isinstance(output, dict) else None
    if not isinstance(plan, dict):
        return {}
    steps = []
    for name in PLAN_STEPS:
        result = plan.get(name)
        if not isinstance(result, dict):
            continue
        steps.append({
            "stage": name,
            "step": result.get("step"),
            "summary": result.get("summary"),
            "ready": result.get("ready"),
            "refusals": list(result.get("refusals") or []),
            "warnings": list(result.get("warnings") or []),
        })
    refusals = [f"{s['stage']}: {r}" for s in steps if s["stage"] != "backup" for r in s["refusals"]]
    return {
        "steps": steps,
        "refusals": refusals,
        "verdict": "ready to fail over" if not refusals else f"not ready: {len(refusals)} refusal(s)",
    }


# What the subject of the published message says, per outcome (README, "Where the results go").
PUBLISHED_SUBJECTS = {
    "failed-over": "failed over to the DR region",
    "already-failed-over": "already failed over; nothing changed",
    "failed-over-degraded": "DEGRADED",
    "incomplete": "FAILOVER INCOMPLETE",
    "failed": "FAILOVER FAILED",
    "refused": "refused by a pre-flight check",
    "already-running": "another run of this deployment is running",
    "approval-denied": "approval DENIED, nothing changed",
    "approval-expired": "approval not given in time, nothing changed",
}

# How long --approval expire lets the request wait before it expires, in seconds.
APPROVAL_EXPIRY_SECONDS = 20


class ApprovalAnswer:
    """Watches a run's history for its approval request (the waitForTaskToken publish, whose
    parameters carry the published commands) and answers it as --approval says."""

    def __init__(self, session: Session, answer: str, out: Callable[[str], None]):
        self.session, self.answer, self.out, self.done = session, answer, out, False

    def __call__(self, event: Dict[str, Any]) -> None:
        details = event.get("taskScheduledEventDetails") or {}
        if self.done or not details.get("resource", "").endswith(".waitForTaskToken"):
            return
        self.done = True
        message = json.loads(details.get("parameters") or "{}").get("Message") or {}
        if isinstance(message, str):
            message = published.report(message) or {}
        approve, deny = message.get("approve_command", ""), message.get("deny_command", "")
        words = shlex.split(approve)
        token = words[words.index("--task-token") + 1]
        self.out("  approval requested (published with the plan); the commands it gives:")
        self.out(f"    approve: {_clip(approve, 140)}")
        self.out(f"    deny:    {_clip(deny, 140)}")
        sfn = self.session.client("stepfunctions")
        if self.answer == "approve":
            self.out("  the drill approves it (send-task-success)")
            sfn.send_task_success(taskToken=token, output="true")
        elif self.answer == "deny":
            self.out("  the drill denies it (send-task-failure)")
            sfn.send_task_failure(taskToken=token, error="DrFailover.ApprovalDenied", cause="denied by the drill (--approval deny)")
        else:
            self.out(f"  the drill does not answer: the request expires after {APPROVAL_EXPIRY_SECONDS} s, and "
                     "nothing changes (ApprovalExpiryAction abort, the default)")


# What --rerun starts once the failover is done: the manual failover input (events/statemachine/
# manual-failover.json's shape).
RERUN_INPUT = {"trigger": "manual", "dry_run": False, "reason": "re-run after a completed failover"}


def validation_check(session: Session) -> Dict[str, Any]:
    """The stand-in's request validation (drstandin/request_validation.py) refused no request of
    the run: AWS would have accepted the shape of every call (each refusal is in logs/standin.log)."""
    try:
        counts = session.control("validation", method="GET")
    except Exception as err:  # the stand-in is gone: say so rather than pass
        return {"name": "AWS would accept every request's shape", "ok": False, "detail": f"not read: {err}"}
    return {
        "name": "AWS would accept every request's shape",
        "ok": counts.get("refused") == 0,
        "detail": f"{counts.get('checked')} checked, {counts.get('refused')} refused (see logs/standin.log)",
    }


def checks_for(
    dry_run: bool,
    outcome: str,
    before: Dict[str, Any],
    after: Dict[str, Any],
    changes: List[Any],
    messages: List[Dict[str, Any]],
    started_by_ok: int,
    rerun: bool = False,
    plan_refusals: Optional[List[str]] = None,
    approval: Optional[str] = None,
    primary_reachable: bool = True,
) -> List[Dict[str, Any]]:
    checks: List[Dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append({"name": name, "ok": bool(ok), "detail": detail})

    subjects = [m.get("subject") or "" for m in messages]
    if approval == "deny":
        check("the execution ended as denied at its approval gate", outcome == "approval-denied", f"outcome {outcome}")
        check("nothing changed: before = after", not changes, f"{len(changes)} difference(s)")
        check("the denial was published", any(PUBLISHED_SUBJECTS["approval-denied"] in s for s in subjects),
              "; ".join(subjects))
    elif approval == "expire":
        check("the execution ended as expired at its approval gate", outcome == "approval-expired", f"outcome {outcome}")
        check("nothing changed: before = after", not changes, f"{len(changes)} difference(s)")
        check("the expiry was published", any(PUBLISHED_SUBJECTS["approval-expired"] in s for s in subjects),
              "; ".join(subjects))
    elif dry_run:
        check("the execution ended as a dry run", outcome == "dry-run", f"outcome {outcome}")
        check("nothing changed: before = after", not changes, f"{len(changes)} difference(s)")
        check("the dry-run report was published", any("dry run" in s for s in subjects), "; ".join(subjects))
        # What a dry run is for: a real run now would fail over.
        check("a real run would fail over: no plan refuses", not plan_refusals, "; ".join(plan_refusals or []))
    else:
        if rerun:
            check("the re-run found the failover done", outcome == "already-failed-over", f"outcome {outcome}")
            check("the re-run changed nothing: before = after", not changes, f"{len(changes)} difference(s)")
        else:
            check("the execution failed over", outcome == "failed-over", f"outcome {outcome}")
        db = after["database"]
        check("the DR database is writable", db.get("writable") is True, report_mod._db_text(db))
        for group, target in expected_targets(primary_reachable).items():
            g = after["compute"][group]
            check(
                f"{group} at its target of {target}, all InService",
                g["desired"] >= target and g["in_service"] >= target,
                f"desired {g['desired']}, {g['in_service']} InService",
            )
        for name, record in after["dns"].items():
            check(f"{name} answers DR", record["answers"] == "dr", ", ".join(record["answer"]))
        # The published message is checked against how the run ended, so that a failed run whose
        # failure was published does not also count as "no report published".
        expected = PUBLISHED_SUBJECTS.get(outcome, "")
        check(
            f"the {outcome} report was published",
            bool(expected) and any(expected in s for s in subjects),
            "; ".join(subjects) or "nothing published",
        )
    check("the alarm returning to OK started no execution", started_by_ok == 0, f"{started_by_ok} started")
    return checks


@dataclass
class Observed:
    """Everything a drill saw, from which the report is built."""

    options: DrillOptions
    scenario: str
    started_at: datetime.datetime
    began: float
    session: Session
    alarm_at: datetime.datetime
    ok_at: datetime.datetime
    arn: str
    described: Dict[str, Any]
    before: Dict[str, Any]
    after: Dict[str, Any]
    messages: List[Dict[str, Any]]
    alarm_events: List[Dict[str, Any]]
    started_by_ok: int


def run_drill(options: DrillOptions, out: Callable[[str], None] = print) -> int:
    began = time.monotonic()
    started_at = datetime.datetime.now(datetime.timezone.utc)
    plan_seen = None
    if options.plan:
        from drill import plan_world

        passed, printed = plan_world.check(options.plan)
        out(f"dr-failover plan check {options.plan}")
        out("  " + printed.replace("\n", "\n  "))
        if not passed:
            out("The plan is refused: nothing was started.")
            return 2
        pw = plan_world.configure(options.plan)
        options.aurora = pw.plan["database"]["kind"] == "aurora-global"
        if pw.approval_required and not options.approval:
            options.approval = "approve"
            out("  the plan requires approval of alarm-started failovers: the drill approves, as the on-call would")
        plan_seen = pw
    scenario = (
        ("Aurora Global Database" if options.aurora else "RDS cross-region read replica")
        + (" · dry run (the alarm rule passes dry_run: true)" if options.dry_run else "")
    )
    out(f"dr-failover drill: {scenario}")
    out(f"  primary {world.PRIMARY}, DR {world.DR}, health check alarm in {world.GLOBAL}")
    wopts = world.Options(
        aurora=options.aurora,
        dry_run_on_alarm=options.dry_run,
        poll_seconds=options.poll_seconds,
        database_budget_seconds=options.database_budget_seconds,
        compute_budget_seconds=options.compute_budget_seconds,
        dns_budget_seconds=options.dns_budget_seconds,
        approval="required" if options.approval else "none",
        approval_timeout_seconds=APPROVAL_EXPIRY_SECONDS if options.approval == "expire" else 900,
        **({"witness_alone_seconds": outage.WITNESS_ALONE_SECONDS} if options.us_east_1_down else {}),
    )
    session = Session(
        wopts, options.out_dir, options.transition_seconds, log=lambda line: out("  " + line),
        promotion_seconds=options.promotion_seconds, launch_seconds=options.launch_seconds,
        route53_requests_per_second=options.route53_requests_per_second,
    )
    try:
        session.start()
        out("")
        out("Readiness, as the schedule checks it every ReadinessRateMinutes (every step's plan, read-only)...")
        readiness_seen = readiness_drill.first_phase(session, out)
        out("")
        out("Looking at every resource (before)...")
        before = session.snapshot()
        session.alarm_events()  # drop what seeding emitted
        known = [e["executionArn"] for e in session.executions()]
        if options.faults:
            session.control("faults", options.faults)
            for fault in options.faults:
                out(f"  fault armed: {fault['count']} x {fault['kind']} on {fault['service']} {fault.get('operation') or '(any)'}")

        out("")
        if options.us_east_1_down:
            alarm_at, arn = outage.fail_us_east_1(session, known, out)
        else:
            out(f"The primary endpoint fails: health check unhealthy, alarm {world.ALARM} -> ALARM")
            alarm_at = session.trip_alarm()
            arn = session.wait_for_execution(known)
            delay = (timeline.utc(session.describe(arn)["startDate"]) - alarm_at).total_seconds()
            out(f"  EventBridge ({world.GLOBAL} -> {world.DR}) started execution {arn.rsplit(':', 1)[1]} {delay:.2f} s after the alarm")
        out("")
        printer = LivePrinter(alarm_at, out, options.verbose)
        answer = ApprovalAnswer(session, options.approval, out) if options.approval else None

        def on_event(event: Dict[str, Any]) -> None:
            printer(event)
            if answer:
                answer(event)

        described = session.follow(arn, on_event=on_event)
        if options.faults:
            session.control("faults", method="DELETE")

        outage_seen = outage.end(session, out) if options.us_east_1_down else None
        out("")
        out("Ending the simulated outage (health check healthy, alarm -> OK), then looking again (after)...")
        known_after = [e["executionArn"] for e in session.executions()]
        ok_at = session.end_outage()
        time.sleep(0.5)
        started_by_ok = len([e for e in session.executions() if e["executionArn"] not in known_after])
        after = session.snapshot()
        first = None
        if options.rerun:
            first = {"arn": arn, "outcome": outcome_of(described), "messages": session.reports(wait=1.0, started=True)}
            out("")
            out("Starting the same failover again by hand, as an operator unsure it finished would...")
            before, alarm_at = after, datetime.datetime.now(datetime.timezone.utc)
            arn = session.start_execution(RERUN_INPUT)
            described = session.follow(arn, on_event=LivePrinter(alarm_at, out, options.verbose))
            after = session.snapshot()
        observed = Observed(
            options=options, scenario=scenario, started_at=started_at, began=began, session=session,
            alarm_at=alarm_at, ok_at=ok_at, arn=arn, described=described, before=before, after=after,
            messages=session.reports(wait=1.0, started=True), alarm_events=session.alarm_events(), started_by_ok=started_by_ok,
        )
        report = build_report(observed)
        report["readiness"] = readiness_seen
        if outage_seen is not None:
            outage.add_to_report(report, outage_seen)
        if plan_seen:
            report["recovery_plan"] = {
                "file": str(options.plan), "version": plan_seen.version,
                "records": len(plan_seen.records), "groups": len(plan_seen.plan["compute"]["groups"]),
                "backup_resources": len(plan_seen.plan["backup"]["resources"]),
                "adapted_for_the_stand_in": plan_seen.adapted,
            }
            named = plan_seen.version in json.dumps(report.get("sns_messages") or [])
            report["checks"].append({
                "name": "the published report names the plan's version", "ok": named,
                "detail": f"plan_version {plan_seen.version[:12]}…" if named else "not in any published message",
            })
            report["ok"] = report["ok"] and named
            out(f"Plan {options.plan}: version {plan_seen.version[:12]}, {len(plan_seen.records)} records")
        if first:
            report["rerun_of"] = {
                "execution": first["arn"], "outcome": first["outcome"],
                "subjects": [m.get("subject") for m in first["messages"]],
            }
        json_path, html_path = report_mod.write(report, options.out_dir)

        out(report_mod.console(report))
        out("")
        if options.dry_run:
            out("Dry run: nothing changed; before and after are the same." if report["unchanged"]
                else f"Dry run, but {len(report['changes'])} thing(s) changed (see the report).")
        out(f"Outcome: {report['outcome']} ({'as expected' if report['ok'] else 'NOT as expected'}); "
            f"drill {report['drill']['wall_seconds']:.1f} s without build")
        out(f"Report: {_rel_path(json_path)}, {_rel_path(html_path)}")
        cycle_ok = cycle.run_cycle(session, arn, before, options.out_dir, out) if options.failback else True
        if options.keep:
            session.keep()
            write_keep_file(session, options.out_dir)
            _print_keep(session, out)
        return 0 if report["ok"] and cycle_ok else 1
    finally:
        session.close()


def build_report(seen: Observed) -> Dict[str, Any]:
    options, described = seen.options, seen.described
    analysis = analyse(described, seen.alarm_at)
    outcome = outcome_of(described)
    changes = snapshot.diff(seen.before, seen.after)
    output = json.loads(described["output"]) if described.get("output") else None
    # The plan as the run's output holds it, else as its published report does (a refused or
    # failed run ends without output).
    planned = output if isinstance(output, dict) and output.get("plan") else next(
        (m["message"] for m in seen.messages if isinstance(m.get("message"), dict) and m["message"].get("plan")), None
    )
    plan = plan_view(planned)
    checks = checks_for(
        options.dry_run, outcome, seen.before, seen.after, changes, seen.messages, seen.started_by_ok, options.rerun,
        plan.get("refusals"), options.approval, primary_reachable=not options.us_east_1_down,
    )
    checks.append(validation_check(seen.session))
    backup = _backup_result(output) or _backup_from_snapshot(seen.after)
    backup_detail = backup.get("detail") or {}
    report: Dict[str, Any] = {
        "drill": {
            "scenario": seen.scenario,
            "started_at": timeline.iso(seen.started_at),
            "wall_seconds": round(time.monotonic() - seen.began, 2),
            "options": {"dry_run": options.dry_run, "aurora": options.aurora, "keep": options.keep,
                        "faults": options.faults or [], "rerun": options.rerun, "approval": options.approval},
            "transition_seconds": options.transition_seconds,
            "promotion_seconds": (
                options.transition_seconds if options.promotion_seconds is None else options.promotion_seconds
            ),
            "launch_seconds": options.launch_seconds,
            "poll_seconds": options.poll_seconds,
            "budgets_seconds": {
                "database": options.database_budget_seconds,
                "compute": options.compute_budget_seconds,
                "dns": options.dns_budget_seconds,
            },
            "endpoint": seen.session.endpoint,
            "lambda_url": seen.session.lambda_url,
            "startup_seconds": {k: round(v, 2) for k, v in seen.session.timings.items()},
        },
        "outcome": outcome,
        "expected_outcome": (
            "dry-run" if options.dry_run else "already-failed-over" if options.rerun
            else "approval-denied" if options.approval == "deny"
            else "approval-expired" if options.approval == "expire" else "failed-over"
        ),
        "ok": all(c["ok"] for c in checks),
        "request": json.loads(described.get("input") or "{}"),
        "execution": {
            "arn": seen.arn,
            "name": seen.arn.rsplit(":", 1)[1],
            "status": described["status"],
            "start": timeline.iso(timeline.utc(described["startDate"])),
            "stop": timeline.iso(timeline.utc(described["stopDate"])),
            "error": described.get("error"),
            "cause": described.get("cause"),
            "output": output,
        },
        "alarm": {
            "name": world.ALARM,
            "arn": seen.session.world.alarm_arn,
            "state_changed_at": timeline.iso(seen.alarm_at),
            "ok_at": timeline.iso(seen.ok_at),
            "events_emitted": [
                {"time": e.get("time"), "state": e["detail"]["state"]["value"],
                 "previous": e["detail"]["previousState"]["value"]}
                for e in seen.alarm_events
            ],
        },
        "rto_seconds": analysis["rto_seconds"],
        "state_machine_overhead_seconds": analysis["breakdown"]["overhead_seconds"],
        "state_machine_overhead_share": analysis["breakdown"]["overhead_share"],
        "time_breakdown": analysis["breakdown"],
        "steps": analysis["steps"],
        "waits": analysis["waits"],
        "before": seen.before,
        "after": seen.after,
        "changes": [{"path": p, "before": b, "after": a} for p, b, a in changes],
        "unchanged": not changes,
        "after_note": (
            "The 'after' look was taken once the simulated outage had ended (health check healthy, "
            "alarm OK), so DNS answers show what the failover changed, not Route 53's own "
            "health-based routing."
        ),
        "sns_messages": seen.messages,
        "backup": {
            "overall": backup_detail.get("overall"),
            "summary": backup.get("summary"),
            "vault": backup_detail.get("vault_arn"),
            "resources": [
                {
                    "arn": r["arn"],
                    "verdict": r["verdict"],
                    "rpo_minutes": r["rpo_minutes"],
                    "age_hours": None if r.get("age_seconds") is None else round(r["age_seconds"] / 3600, 1),
                    "created_at": r.get("created_at"),
                    "failed_copy_jobs": r.get("failed_copy_jobs"),
                }
                for r in backup_detail.get("resources", [])
            ],
        },
        "checks": checks,
        "plan": plan,
        "world": seen.session.world.to_dict(),
    }
    report["table"] = report_mod.table_rows(seen.before, seen.after)
    return report


def _rel_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


KEEP_FILE = "keep.json"


def write_keep_file(session: Session, out_dir: Path) -> Path:
    """Where a kept drill runs, for scripts/invoke: {"endpoint", "region", "state_machine_arn"}."""
    path = out_dir / KEEP_FILE
    path.write_text(json.dumps({
        "endpoint": session.endpoint,
        "region": world.DR,
        "state_machine_arn": session.world.state_machine_arn,
        "pids": session.pids(),
    }, indent=2) + "\n")
    return path


def _print_keep(session: Session, out: Callable[[str], None]) -> None:
    w = session.world
    out("")
    out("Left running (--keep):")
    out(f"  stand-in           {session.endpoint}   (process group {session.standin.pid}, log {_rel_path(session.standin.log_path)})")
    out(f"  cargo lambda watch {session.lambda_url}   (process group {session.functions.pid}, log {_rel_path(session.functions.log_path)})")
    out(f"  function binaries  {len(session.function_processes)}, each its own process group: "
        f"{' '.join(str(m.pid) for m in session.function_processes.values())}")
    out("  Try, for example:")
    out(f"    export AWS_ENDPOINT_URL={session.endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"AWS_REGION={world.DR} AWS_DEFAULT_REGION={world.DR}")
    out(f"    aws stepfunctions list-executions --state-machine-arn {w.state_machine_arn}")
    if w.db_kind == "rds-instance":
        out(f"    aws rds describe-db-instances --db-instance-identifier {world.RDS_REPLICA}")
    else:
        out(f"    aws rds describe-global-clusters --global-cluster-identifier {world.AURORA_GLOBAL}")
    out(f"    aws route53 test-dns-answer --hosted-zone-id {w.zone_id} --record-name app.example.com --record-type A")
    out("    scripts/invoke promote-replica events/promote-replica/status.json")
    groups = " ".join(f"-{pid}" for pid in session.pids())
    out(f"  Stop them all: kill -- {groups}")
