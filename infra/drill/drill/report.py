"""The drill's report: target/drill/report.json for tools, report.html for people, and the console.

The HTML page is self-contained (inline CSS and SVG, no scripts, no network): the outcome and the
RTO at the top, a timeline picture (one bar per Task step, coloured by status, on a time axis that
starts at the alarm), the checks, a before/after table of every resource, the backup verdicts and
the notifications the state machine published.
"""

from __future__ import annotations

import datetime
import html
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from drill import world

STATUS_COLOURS = {
    "succeeded": "#2f9e5b",
    "retried": "#e29a00",
    "failed": "#d64545",
    "aborted": "#9aa0a6",
    "running": "#5b7ce6",
}
OUTCOME_STYLE = {
    "failed-over": ("#1f7a45", "#e8f5ec", "Failed over to the DR region"),
    "already-failed-over": ("#1f7a45", "#e8f5ec", "Already failed over: nothing changed"),
    "dry-run": ("#1f5fa8", "#e8f0fb", "Dry run: nothing changed"),
    "refused": ("#9a6200", "#fdf3e1", "Refused by a pre-flight check"),
    "failed-over-degraded": ("#9a6200", "#fdf3e1", "Failed over, DEGRADED: compute below its target"),
    "incomplete": ("#b42323", "#fdeaea", "FAILOVER INCOMPLETE: database promoted, DNS not moved"),
    "failed": ("#b42323", "#fdeaea", "Failover FAILED"),
    "already-running": ("#9a6200", "#fdf3e1", "Refused: another failover was running"),
    "approval-denied": ("#9a6200", "#fdf3e1", "Approval DENIED: nothing changed"),
    "approval-expired": ("#9a6200", "#fdf3e1", "Approval not given in time: nothing changed"),
}


def parse_time(text: Optional[str]) -> Optional[datetime.datetime]:
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------------------------
# Human-readable rows for the before/after table


def _db_text(db: Dict[str, Any]) -> str:
    if "error" in db:
        return db["error"]
    writable = "writable" if db.get("writable") else "read-only"
    if db.get("kind") == "aurora-global":
        role = "writer" if db.get("writer") == db.get("identifier") else f"secondary (writer {db.get('writer')})"
        extra = f" · {db['failover_in_progress']}" if db.get("failover_in_progress") else ""
        return f"{role} · {db.get('status')} · {writable}{extra}"
    source = db.get("replica_source")
    role = f"read replica of {source.split(':')[-1]}" if source else "standalone instance"
    return f"{role} · {db.get('status')} · {writable} · backups {db.get('backup_retention_days')} d"


def _group_text(group: Dict[str, Any]) -> str:
    return f"{group['min']} / {group['desired']} / {group['max']} · {group['in_service']} InService"


def short_target(target: str) -> str:
    """A load balancer's DNS name without its common suffix: app-dr-0987654321.eu-central-1.elb"""
    suffix = ".amazonaws.com."
    return target[: -len(suffix)] if target.endswith(suffix) else target


def _sets_text(record: Dict[str, Any]) -> str:
    parts = []
    for s in record["sets"]:
        if s.get("failover"):
            label = s["failover"]
        elif "weight" in s:
            label = f"{s['set']} weight {s['weight']}"
        else:
            label = "alias" if any(t.endswith(".") for t in s["target"]) else "values"
        target = ", ".join(short_target(t) for t in s["target"])
        hc = " +health check" if s.get("health_check") else ""
        parts.append(f"{label} {target}{hc}")
    return " · ".join(parts)


def _answer_text(record: Dict[str, Any]) -> str:
    answer = ", ".join(short_target(v) for v in record["answer"]) or "(no answer)"
    return f"{answer} ({record['answers']})"


def table_rows(before: Dict[str, Any], after: Dict[str, Any]) -> List[Dict[str, Any]]:
    """[{group, resource, before, after, changed}] in reading order."""
    rows: List[Dict[str, Any]] = []

    def add(group: str, resource: str, b: str, a: str, b_detail: str = "", a_detail: str = "") -> None:
        rows.append({
            "group": group, "resource": resource, "before": b, "after": a,
            "before_detail": b_detail, "after_detail": a_detail,
            "changed": (a, a_detail) != (b, b_detail),
        })

    db_b, db_a = before["database"], after["database"]
    if db_b.get("kind") == "aurora-global":
        add("Database", f"{db_b['identifier']} (DR cluster)", _db_text(db_b), _db_text(db_a))
        add("Database", f"{db_b['global_cluster']} writer", str(db_b.get("writer")), str(db_a.get("writer")))
    else:
        add("Database", f"{db_b['identifier']} (DR replica)", _db_text(db_b), _db_text(db_a))
    for name in before["compute"]:
        region = before["compute"][name]["region"]
        side = "DR" if region == world.DR else "primary"
        add("Compute — min / desired / max, instances InService", f"{name} ({side})", _group_text(before["compute"][name]),
            _group_text(after["compute"][name]))
    for name, record in before["dns"].items():
        label = f"{name} {record['type']} ({record['routing']})"
        add("DNS — what Route 53 answers (TestDNSAnswer), and the record sets", label,
            _answer_text(record), _answer_text(after["dns"][name]),
            _sets_text(record), _sets_text(after["dns"][name]))
    bb, ba = before.get("backup", {}), after.get("backup", {})
    for arn, check in bb.get("resources", {}).items():
        after_check = ba.get("resources", {}).get(arn, {})
        add("Backup — newest copy in the DR vault", short_arn(arn), _backup_text(check), _backup_text(after_check))
    return rows


def _backup_text(check: Dict[str, Any]) -> str:
    if not check:
        return "-"
    age = "" if check.get("age_hours") is None else f" · {check['age_hours']:g} h old"
    failed = f" · {check['failed_copy_jobs']} failed copy job(s)" if check.get("failed_copy_jobs") else ""
    return f"{check['verdict']}{age}{failed}"


def short_arn(arn: str) -> str:
    parts = arn.split(":")
    service = parts[2] if len(parts) > 2 else ""
    return f"{service} {parts[-1].split('/')[-1]}"


# ---------------------------------------------------------------------------------------------
# Console


def _rel(at: Optional[str], origin: datetime.datetime) -> str:
    t = parse_time(at)
    return "   -   " if t is None else f"{(t - origin).total_seconds():+7.2f}"


def console(report: Dict[str, Any]) -> str:
    out: List[str] = []
    origin = parse_time(report["alarm"]["state_changed_at"])
    out.append("")
    out.append("Timeline (seconds from the alarm)")
    out.append(f"  {'step':<22} {'start':>7} {'end':>7} {'took':>6}  status")
    for step in report["steps"]:
        took = "" if step["seconds"] is None else f"{step['seconds']:.2f}"
        retry = f" ({step['attempts']} attempts)" if step.get("attempts", 0) > 1 else ""
        out.append(
            f"  {step['name']:<22} {_rel(step['start'], origin)} {_rel(step['end'], origin)} {took:>6}  "
            f"{step['status']}{retry}"
        )
    plan = report.get("plan") or {}
    if plan:
        out.append("")
        heading = "What a real run would do" if report["outcome"] == "dry-run" else "Plan"
        out.append(f"{heading}: {plan['verdict']}")
        for step in plan["steps"]:
            out.append(f"  {step['stage']:<9} {step['summary']}")
            for refusal in step["refusals"]:
                out.append(f"            REFUSES: {refusal}")
            for warning in step["warnings"]:
                out.append(f"            warning: {warning}")
    out.append("")
    out.append("Before and after")
    width = max(len(r["resource"]) for r in report["table"]) + 2
    col = max(len(r["before"]) for r in report["table"]) + 2
    col = max([col] + [len(r.get("before_detail", "")) + 2 for r in report["table"]])
    group = None
    for row in report["table"]:
        if row["group"] != group:
            group = row["group"]
            out.append(f"  {group}")
        mark = "*" if row["changed"] else " "
        arrow = "->" if row["changed"] else "  "
        after = row["after"] if row["changed"] else "(unchanged)"
        out.append(f"  {mark} {row['resource']:<{width}}{row['before']:<{col}}{arrow} {after}")
        if row.get("before_detail"):
            after_detail = row["after_detail"] if row["changed"] else ""
            out.append(f"    {'':<{width}}{row['before_detail']:<{col}}   {after_detail}")
    out.append("")
    out.append("Checks")
    for check in report["checks"]:
        out.append(f"  [{'ok' if check['ok'] else 'FAIL'}] {check['name']}{': ' + check['detail'] if check.get('detail') else ''}")
    out.append("")
    b = report["time_breakdown"]
    if report.get("rto_seconds") is not None:
        label = "RTO" if report["outcome"] == "failed-over" else "Start to end" if report.get("rerun_of") else "Alarm to end"
        origin = "start" if report.get("rerun_of") else "alarm state change"
        out.append(
            f"{label} {report['rto_seconds']:.2f} s ({origin} -> execution end); execution "
            f"{b['wall_seconds']:.2f} s = Lambda {b['lambda_seconds']:.2f} s + Wait {b['wait_seconds']:.2f} s"
            f" + Retry backoff {b['retry_backoff_seconds']:.2f} s (overlapping in parallel) + state machine "
            f"overhead {b['overhead_seconds']:.2f} s ({b['overhead_share'] * 100:.0f} %)"
        )
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# HTML


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _tick_step(span: float) -> float:
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300):
        if span / step <= 14:
            return step
    return 600


def gantt_svg(report: Dict[str, Any]) -> str:
    origin = parse_time(report["alarm"]["state_changed_at"])
    steps = [s for s in report["steps"] if s["start"]]
    if origin is None or not steps:
        return "<p>No steps to draw.</p>"
    execution_start = parse_time(report["execution"]["start"])
    execution_end = parse_time(report["execution"]["stop"])

    def t(value: Optional[str]) -> Optional[float]:
        at = parse_time(value)
        return None if at is None else (at - origin).total_seconds()

    rows: List[str] = []
    for step in steps:
        if step["name"] not in rows:
            rows.append(step["name"])
    waits = [w for w in report.get("waits", []) if w["start"] and w["end"]]

    end_t = max([t(s["end"]) or t(s["start"]) or 0 for s in steps] + [t(report["execution"]["stop"]) or 0])
    span = max(end_t, 1.0)
    step_t = _tick_step(span)
    span = math.ceil(span / step_t) * step_t

    label_w, left, right, top, row_h = 170, 180, 1060, 34, 24
    width = right + 30
    height = top + row_h * len(rows) + 62

    def x(seconds: float) -> float:
        return left + (right - left) * max(0.0, seconds) / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="timeline of the failover steps" font-family="system-ui, sans-serif" font-size="12">'
    ]
    # Grid and axis.
    tick = 0.0
    while tick <= span + 1e-9:
        gx = x(tick)
        parts.append(f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{top + row_h * len(rows)}" stroke="#e4e6ea"/>')
        parts.append(
            f'<text x="{gx:.1f}" y="{top + row_h * len(rows) + 16}" text-anchor="middle" fill="#5f6368">{tick:g} s</text>'
        )
        tick += step_t
    # Row backgrounds and labels.
    for i, name in enumerate(rows):
        y = top + i * row_h
        if i % 2 == 0:
            parts.append(f'<rect x="{left - label_w}" y="{y}" width="{right - left + label_w}" height="{row_h}" fill="#f7f8fa"/>')
        parts.append(f'<text x="{left - 8}" y="{y + row_h / 2 + 4}" text-anchor="end" fill="#202124">{_esc(name)}</text>')
    # Waits, thin, on the row of the Task that follows them ("PromoteWait" -> "PromoteStatus").
    for wait in waits:
        prefix = wait["name"][: -len("Wait")] if wait["name"].endswith("Wait") else None
        row = next((r for r in rows if prefix and r.startswith(prefix) and r.endswith("Status")), None)
        if row is None:
            continue
        y = top + rows.index(row) * row_h + row_h / 2 - 2
        x0, x1 = x(t(wait["start"])), x(t(wait["end"]))
        parts.append(
            f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 1):.1f}" height="4" fill="#c7cbd1">'
            f'<title>{_esc(wait["name"])}: waited {wait["seconds"]:.2f} s</title></rect>'
        )
    # Steps.
    for step in steps:
        y = top + rows.index(step["name"]) * row_h + 5
        start = t(step["start"])
        end = t(step["end"]) if step["end"] else end_t
        x0, x1 = x(start), x(end)
        colour = STATUS_COLOURS.get(step["status"], "#5b7ce6")
        tip = f'{step["name"]}: {step["status"]}, {start:.2f}–{end:.2f} s ({end - start:.2f} s)'
        if step.get("attempts", 0) > 1:
            tip += f", {step['attempts']} attempts"
        if step.get("summary"):
            tip += f" · {step['summary']}"
        for error in step.get("errors", []):
            tip += f" · {error['error']}: {error['cause']}"
        attempts = step.get("attempt_log") or []
        if not attempts:
            parts.append(
                f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 2.5):.1f}" height="{row_h - 10}" rx="2" fill="{colour}">'
                f"<title>{_esc(tip)}</title></rect>"
            )
            continue
        # Retried: the whole state run faint, each attempt solid (red when it failed), the
        # backoff between attempts showing as the faint gaps.
        parts.append(f"<g><title>{_esc(tip)}</title>")
        parts.append(
            f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 2.5):.1f}" height="{row_h - 10}" rx="2" '
            f'fill="{colour}" fill-opacity="0.28"/>'
        )
        for attempt in attempts:
            a0, a1 = x(t(attempt["start"])), x(t(attempt["end"]))
            fill = STATUS_COLOURS["failed"] if attempt["error"] else STATUS_COLOURS["succeeded"]
            parts.append(
                f'<rect x="{a0:.1f}" y="{y}" width="{max(a1 - a0, 2.5):.1f}" height="{row_h - 10}" rx="2" fill="{fill}"/>'
            )
        parts.append("</g>")
    # Markers: the alarm, the execution's start and end.
    markers = [(0.0, "alarm → ALARM", "#d64545", "start")]
    if execution_start is not None:
        started = (execution_start - origin).total_seconds()
        if started * (right - left) / span < 120:
            markers[0] = (0.0, f"alarm → ALARM · execution started +{started:.2f} s", "#d64545", "start")
        else:
            markers.append((started, "execution started", "#5f6368", "start"))
    if execution_end is not None:
        ended = (execution_end - origin).total_seconds()
        label = f"execution ended · RTO {ended:.1f} s" if report["outcome"] == "failed-over" else f"execution ended {ended:.1f} s"
        markers.append((ended, label, "#202124", "end"))
    label_y = [12, 26]
    for i, (at, text, colour, anchor) in enumerate(markers):
        mx = x(at)
        parts.append(
            f'<line x1="{mx:.1f}" y1="{top - 4}" x2="{mx:.1f}" y2="{top + row_h * len(rows)}" stroke="{colour}" '
            f'stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
        anchor_attr = "end" if anchor == "end" else ("start" if i == 0 else "start")
        tx = mx - 4 if anchor == "end" else mx + 4
        parts.append(
            f'<text x="{tx:.1f}" y="{label_y[i % 2]}" text-anchor="{anchor_attr}" fill="{colour}" font-weight="600">{_esc(text)}</text>'
        )
    # Legend.
    ly = top + row_h * len(rows) + 38
    lx = left
    for status in ("succeeded", "retried", "failed", "aborted"):
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="12" height="10" rx="2" fill="{STATUS_COLOURS[status]}"/>')
        parts.append(f'<text x="{lx + 17}" y="{ly}" fill="#3c4043">{status}</text>')
        lx += 100
    parts.append(f'<rect x="{lx}" y="{ly - 9}" width="22" height="10" rx="2" fill="{STATUS_COLOURS["retried"]}" fill-opacity="0.28"/>')
    parts.append(f'<rect x="{lx + 2}" y="{ly - 9}" width="5" height="10" fill="{STATUS_COLOURS["failed"]}"/>')
    parts.append(f'<text x="{lx + 27}" y="{ly}" fill="#3c4043">attempts and Retry backoff</text>')
    lx += 215
    parts.append(f'<rect x="{lx}" y="{ly - 6}" width="18" height="4" fill="#c7cbd1"/>')
    parts.append(f'<text x="{lx + 23}" y="{ly}" fill="#3c4043">Wait state (poll interval)</text>')
    parts.append("</svg>")
    return "\n".join(parts)


CSS = """
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #202124; background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
header.outcome { border-radius: 10px; padding: 18px 22px; display: grid; grid-template-columns: 1fr auto; align-items: center; gap: 24px; }
header.outcome h1 { margin: 0; font-size: 26px; }
header.outcome .sub { color: #3c4043; margin-top: 4px; }
.figures { display: flex; gap: 26px; white-space: nowrap; }
.figure { text-align: right; }
.figure .value { font-size: 26px; font-weight: 700; }
.figure.main .value { font-size: 40px; line-height: 1.1; }
.detail { font-size: 12px; color: #5f6368; font-weight: 400; margin-top: 2px; }
.paragraph { font-size: 12px; color: #3c4043; white-space: pre-wrap; overflow-wrap: anywhere; margin-top: 4px; }
tr.changed td.after .detail { color: #2d5a3d; }
.figure .label { font-size: 12px; color: #5f6368; text-transform: uppercase; letter-spacing: .04em; }
h2 { font-size: 17px; margin: 28px 0 10px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eceef1; vertical-align: top; }
th { font-size: 12px; color: #5f6368; text-transform: uppercase; letter-spacing: .04em; font-weight: 600; }
td.group { color: #5f6368; font-size: 12px; padding-top: 14px; border-bottom: none; font-weight: 600; }
tr.changed td.after { background: #eef7f1; font-weight: 600; }
tr.changed td.before { color: #5f6368; }
td.resource { white-space: nowrap; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
.checks { list-style: none; padding: 0; margin: 0; columns: 2; }
.checks li { padding: 2px 0; break-inside: avoid; }
.ok { color: #1f7a45; font-weight: 700; }
.bad { color: #b42323; font-weight: 700; }
.warn { color: #8a5a00; }
section.next { border: 2px solid #b42323; padding: 4px 16px; margin: 16px 0; }
section.next pre { white-space: pre-wrap; word-break: break-all; background: #f6f6f6; padding: 8px; }
ul.plan-notes { margin: 4px 0 0 0; padding-left: 18px; font-size: 13px; }
.verdict { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.verdict.fresh { background: #e3f4e8; color: #1f7a45; }
.verdict.stale { background: #fdf0d5; color: #8a5a00; }
.verdict.missing { background: #fde2e2; color: #b42323; }
.note { color: #5f6368; font-size: 12.5px; }
table.backup td, table.backup th { white-space: nowrap; }
table.backup td.resource { white-space: normal; width: 60%; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
.meta td { border: none; padding: 2px 12px 2px 0; }
"""


def _failure_line(report: Dict[str, Any]) -> str:
    """Why an execution did not fail over: the stage and error from the published failure report,
    else the execution's own error."""
    for message in report.get("sns_messages", []):
        body = message.get("message")
        if isinstance(body, dict) and body.get("outcome") == "failed":
            error = body.get("error") or {}
            cause = error.get("Cause", "")
            try:
                cause = json.loads(cause).get("errorMessage", cause)
            except (ValueError, AttributeError):
                pass
            return f"Stopped at {body.get('failed_stage')}: {error.get('Error')}: {cause}"
    execution = report["execution"]
    if execution.get("error"):
        return f"{execution['error']}: {execution.get('cause') or ''}"
    return ""


def next_step(report: Dict[str, Any]) -> Dict[str, str]:
    """The next step a published failure or incomplete report gives: {"text", "command"}, or {}."""
    for message in report.get("sns_messages", []):
        body = message.get("message")
        if not isinstance(body, dict):
            continue
        if body.get("finish_command"):
            return {"text": "The failover is incomplete: DNS has not moved. Finish it now with:",
                    "command": body["finish_command"]}
        if body.get("rerun_command"):
            return {"text": body.get("next_step") or "Fix the cause, then start the same input again:",
                    "command": body["rerun_command"]}
    return {}


def _paragraph_html(message: Dict[str, Any]) -> str:
    """A published message's first paragraph (what a person on call reads first), under its subject."""
    text = message.get("text")
    if not text:
        return ""
    return f'<div class="paragraph">{_esc(text)}</div>'


def render_html(report: Dict[str, Any]) -> str:
    outcome = report["outcome"]
    colour, background, title = OUTCOME_STYLE.get(outcome, ("#3c4043", "#f1f3f4", outcome))
    b = report["time_breakdown"]
    execution = report["execution"]
    figures = []
    if report.get("rto_seconds") is not None:
        label = "RTO: alarm → end" if outcome == "failed-over" else "start → end" if report.get("rerun_of") else "alarm → end"
        figures.append((f"{report['rto_seconds']:.1f} s", label, "main"))
    figures.append((f"{b['overhead_seconds']:.2f} s", f"state machine overhead ({b['overhead_share'] * 100:.0f} %)", ""))
    figures.append((str(len(report["steps"])), "task steps", ""))
    sub = (
        f"{_esc(report['request'].get('reason', ''))} · execution <code>{_esc(execution['name'])}</code> "
        f"· {_esc(execution['status'])}"
    )
    if report.get("unchanged"):
        sub += " · before = after"
    if report.get("rerun_of"):
        first = report["rerun_of"]
        sub += (f" · a re-run of execution <code>{_esc(first['execution'].rsplit(':', 1)[1])}</code>"
                f" ({_esc(first['outcome'])}); before = the world that run left")
    failed_checks = [c for c in report["checks"] if not c["ok"]]
    verdict_line = "All checks passed." if not failed_checks else (
        f"{len(failed_checks)} of {len(report['checks'])} checks failed (see Checks below)."
    )
    failure = _failure_line(report)
    if failure:
        verdict_line = f"{_esc(failure)}<br>{verdict_line}"
    changed_rows = [row["resource"] for row in report["table"] if row["changed"]]
    step = next_step(report)
    next_html = ""
    if step:
        done = ", ".join(changed_rows) if changed_rows else "nothing"
        next_html = (
            f'<section class="next"><h2>Next step</h2><p>Already changed: {_esc(done)}.</p>'
            f'<p>{_esc(step["text"])}</p><pre>{_esc(step["command"])}</pre></section>'
        )

    rows_html = []
    group = None
    for row in report["table"]:
        if row["group"] != group:
            group = row["group"]
            rows_html.append(f'<tr><td class="group" colspan="3">{_esc(group)}</td></tr>')
        before_html = _esc(row["before"])
        if row.get("before_detail"):
            before_html += f'<div class="detail">{_esc(row["before_detail"])}</div>'
        if row["changed"]:
            after_html = _esc(row["after"])
            if row.get("after_detail"):
                after_html += f'<div class="detail">{_esc(row["after_detail"])}</div>'
        else:
            after_html = '<span class="note">unchanged</span>'
        rows_html.append(
            f'<tr class="{"changed" if row["changed"] else ""}"><td class="resource">{_esc(row["resource"])}</td>'
            f'<td class="before">{before_html}</td><td class="after">{after_html}</td></tr>'
        )

    backup_rows = []
    for check in report.get("backup", {}).get("resources", []):
        age = "-" if check.get("age_hours") is None else f"{check['age_hours']:g} h"
        backup_rows.append(
            f"<tr><td class=\"resource\" title=\"{_esc(check['arn'])}\">{_esc(short_arn(check['arn']))}"
            f"<div class=\"detail\">{_esc(check['arn'])}</div></td>"
            f"<td><span class=\"verdict {_esc(check['verdict'])}\">{_esc(check['verdict'])}</span></td>"
            f"<td>{age}</td><td>{check['rpo_minutes'] // 60} h</td><td>{_esc(check.get('failed_copy_jobs', '-'))}</td></tr>"
        )
    messages = "".join(
        f"<tr><td>{_esc((m.get('timestamp') or '')[11:23])}</td><td>{_esc(m.get('subject'))}"
        f"{_paragraph_html(m)}</td></tr>"
        for m in report.get("sns_messages", [])
    ) or '<tr><td colspan="2" class="note">none received</td></tr>'
    checks = "".join(
        f'<li><span class="{"ok" if c["ok"] else "bad"}">{"✓" if c["ok"] else "✗"}</span> {_esc(c["name"])}'
        f'{" <span class=note>— " + _esc(c["detail"]) + "</span>" if c.get("detail") else ""}</li>'
        for c in report["checks"]
    )
    figures_html = "".join(
        f'<div class="figure {cls}"><div class="value">{_esc(v)}</div><div class="label">{_esc(l)}</div></div>'
        for v, l, cls in figures
    )
    plan = report.get("plan") or {}
    plan_html = ""
    from drill.readiness_drill import report_section

    readiness_html = report_section(report["readiness"]) if "readiness" in report else ""
    if plan:
        plan_rows = []
        for step in plan["steps"]:
            notes = "".join(f'<li class="bad">refuses: {_esc(r)}</li>' for r in step["refusals"])
            notes += "".join(f'<li class="warn">warning: {_esc(w)}</li>' for w in step["warnings"])
            plan_rows.append(
                f'<tr><td class="resource">{_esc(step["stage"])}<div class="detail">{_esc(step["step"])}</div></td>'
                f'<td>{_esc(step["summary"])}{"<ul class=plan-notes>" + notes + "</ul>" if notes else ""}</td></tr>'
            )
        heading = "What a real run would do" if outcome == "dry-run" else "The plan"
        plan_html = (
            f'<h2>{heading}: <span class="{"ok" if not plan["refusals"] else "bad"}">{_esc(plan["verdict"])}</span></h2>'
            f'<table class="plan"><thead><tr><th>Step</th><th>Plan (apply would ...), refusals and warnings</th></tr></thead>'
            f'<tbody>{"".join(plan_rows)}</tbody></table>'
        )
    drill = report["drill"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>dr-failover drill: {_esc(title)}</title><style>{CSS}</style></head>
<body><main>
<header class="outcome" style="background:{background}; border-left: 6px solid {colour}">
  <div><h1 style="color:{colour}">{_esc(title)}</h1><div class="sub">{sub}</div>
  <div class="sub">{verdict_line}</div></div>
  <div class="figures">{figures_html}</div>
</header>

{next_html}
{plan_html}
{readiness_html}

<h2>Timeline</h2>
{gantt_svg(report)}
<p class="note">Each bar is one run of a Task state (hover for its result). The execution took {b['wall_seconds']:.2f} s:
{b['lambda_seconds']:.2f} s inside Lambda functions, {b['wait_seconds']:.2f} s in Wait states (polling),
{b['retry_backoff_seconds']:.2f} s in Retry backoff — overlapping across parallel branches — and
{b['overhead_seconds']:.2f} s ({b['overhead_share'] * 100:.0f} %) in the state machine itself.</p>

<h2>Checks</h2>
<ul class="checks">{checks}</ul>

<h2>Before and after</h2>
<table><thead><tr><th>Resource</th><th>Before</th><th>After</th></tr></thead><tbody>
{''.join(rows_html)}
</tbody></table>
<p class="note">{_esc(report.get('after_note', ''))} "+health check": the record set carries the primary endpoint's Route 53 health check.</p>

<h2>Backup copies in the DR vault</h2>
<table class="backup"><thead><tr><th>Resource</th><th>Verdict</th><th>Newest copy</th><th>RPO</th><th>Failed copy jobs, 24 h</th></tr></thead>
<tbody>{''.join(backup_rows)}</tbody></table>
<p class="note">Overall: <b>{_esc(report.get('backup', {}).get('overall', '-'))}</b>. {_esc(report.get('backup', {}).get('summary', ''))}</p>

<h2>Notifications published (SNS topic {_esc(world.TOPIC)})</h2>
<table><thead><tr><th>Time (UTC)</th><th>Subject</th></tr></thead><tbody>{messages}</tbody></table>

<h2>Run</h2>
<table class="meta">
<tr><td>Execution</td><td><code>{_esc(execution['arn'])}</code></td></tr>
<tr><td>Alarm</td><td><code>{_esc(report['alarm']['name'])}</code> → ALARM at {_esc(report['alarm']['state_changed_at'])}</td></tr>
<tr><td>Scenario</td><td>{_esc(drill['scenario'])}</td></tr>
<tr><td>Drill</td><td>{_esc(drill['started_at'])} · {drill['wall_seconds']:.1f} s without build · stand-in transitions {drill['transition_seconds']:g} s, poll every {drill['poll_seconds']} s</td></tr>
</table>
</main></body></html>
"""


def write(report: Dict[str, Any], out_dir: Path) -> Tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    html_path.write_text(render_html(report))
    return json_path, html_path


def rerender(json_path: Path) -> Path:
    """Render report.html again from a report.json (after changing this module)."""
    report = json.loads(json_path.read_text())
    report["table"] = table_rows(report["before"], report["after"])
    html_path = json_path.with_suffix(".html")
    html_path.write_text(render_html(report))
    return html_path


if __name__ == "__main__":
    import sys

    print(rerender(Path(sys.argv[1] if len(sys.argv) > 1 else "target/drill/report.json")))
