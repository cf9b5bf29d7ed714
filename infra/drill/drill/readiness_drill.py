"""``scripts/drill --readiness``: readiness on the stand-in, shown the way an operator meets it.

A readiness run (what the schedule starts every ReadinessRateMinutes) on the healthy world; then
one thing breaks (the DR record set of api.example.com. is deleted), the next run turns red with
the reason, the not-ready alarm goes to ALARM and the change is published once; a further run
publishes nothing; the record is created again and the next run is green, the alarm OK. Writes
``readiness.json`` and ``readiness.html`` (the readiness view, from the stand-in's metrics) to the
output directory. Exit status 0 when every step behaved so, 1 otherwise.
"""

from __future__ import annotations

import datetime
import html
import json
from pathlib import Path
from typing import Any, Callable, Dict, List

from drill import readiness, world
from drill.session import Session

STEPS = (("database", "promote-replica"), ("compute", "scale-asg"), ("dns", "flip-dns"))


def _show_run(number: int, output: Dict[str, Any], out: Callable[[str], None]) -> None:
    verdict = "READY" if output["ready"] == 1 else "NOT READY"
    out(f"  run {number}: {verdict}, {output['refusal_count']} refusal(s), {output['warning_count']} warning(s)")
    for stage, step in STEPS:
        result = output["steps"][stage]
        mark = "ok " if output["step_ready"][stage] == 1 else "RED"
        out(f"    {mark} {step:16} {result['summary'][:110]}")
        for refusal in result["refusals"]:
            out(f"        refuses: {refusal}")


def _show_published(messages: List[Dict[str, Any]], first: bool, out: Callable[[str], None]) -> None:
    if not messages:
        out("  published: nothing (" + ("a first run tells only a deployment that is not ready" if first else "readiness unchanged") + ")")
    for message in messages:
        out(f"  published: {message['subject']}")


def run_readiness_drill(
    out_dir: Path, transition_seconds: float = 1.0, poll_seconds: int = 1, out: Callable[[str], None] = print
) -> int:
    out("dr-failover readiness drill: every step's plan, read-only, as the schedule runs it")
    session = Session(world.Options(poll_seconds=poll_seconds), out_dir, transition_seconds, log=lambda line: out("  " + line))
    runs: List[Dict[str, Any]] = []
    checks: List[Dict[str, Any]] = []

    def check(name: str, ok: bool) -> None:
        checks.append({"check": name, "ok": bool(ok)})
        out(f"  {'PASS' if ok else 'FAIL'}  {name}")

    def one_run(label: str) -> Dict[str, Any]:
        if runs:
            readiness.next_period()
        described = readiness.run(session)
        output = json.loads(described.get("output") or "{}")
        if described["status"] != "SUCCEEDED" or "ready" not in output:
            raise RuntimeError(f"readiness run {described['executionArn']} ended {described['status']}")
        published = session.reports(wait=1.0)
        alarm = readiness.alarm_state(session)
        runs.append({"label": label, "execution": described["executionArn"], "output": output,
                     "alarm": alarm, "published": published})
        _show_run(len(runs), output, out)
        out(f"  alarm {world.READINESS_ALARM}: {alarm}")
        _show_published(published, len(runs) == 1, out)
        return runs[-1]

    try:
        session.start()
        session.reports()  # nothing of seeding's
        out("")
        out("Readiness run on the healthy world...")
        first = one_run("healthy")
        check("the healthy world is ready and nobody is mailed",
              first["output"]["ready"] == 1 and first["alarm"] == "OK" and not first["published"])

        out("")
        out(f"Breaking one thing: {readiness.break_dr_record(session)}")
        red = one_run("drift")
        subjects = [m["subject"] for m in red["published"]]
        check("the next run is red on flip-dns, with the reason",
              red["output"]["ready"] == 0 and red["output"]["step_ready"]["dns"] == 0
              and bool(red["output"]["steps"]["dns"]["refusals"]))
        check("the not-ready alarm went to ALARM and the change was published once, with the refusals",
              red["alarm"] == "ALARM" and len([s for s in subjects if "readiness NOT READY" in s]) == 1
              and len([s for s in subjects if s.startswith("ALARM:")]) == 1)

        out("")
        out("Still broken, the next scheduled run...")
        again = one_run("drift, unchanged")
        check("an unchanged state publishes nothing", again["output"]["ready"] == 0 and not again["published"])

        out("")
        out(f"Repairing: {readiness.repair_dr_record(session)}")
        green = one_run("repaired")
        check("the next run is green again, the alarm OK, the change published once",
              green["output"]["ready"] == 1 and green["alarm"] == "OK"
              and len([m for m in green["published"] if "readiness ready" in m["subject"]]) == 1)

        view = metrics_view(session)
        path_json, path_html = write(out_dir, runs, view, checks)
        out("")
        out(f"readiness report: {path_json}")
        out(f"readiness page:   {path_html}")
    finally:
        session.close()
    ok = all(c["ok"] for c in checks)
    out("")
    out("readiness drill: " + ("every check passed" if ok else "SOME CHECKS FAILED"))
    return 0 if ok else 1


def first_phase(session: Session, out: Callable[[str], None] = print) -> Dict[str, Any]:
    """The main drill's first phase: one readiness run on the world before the outage, shown in a
    line per step; answers what the report's readiness view needs (the run's output, the alarm's
    state, the readiness metrics the stand-in holds)."""
    described = readiness.run(session)
    output = json.loads(described.get("output") or "{}")
    if described["status"] != "SUCCEEDED" or "ready" not in output:
        out(f"  readiness run ended {described['status']}: {described.get('error', '')} {described.get('cause', '')}")
        return {"execution": described["executionArn"], "status": described["status"]}
    _show_run(1, output, out)
    return {"execution": described["executionArn"], "status": described["status"], "output": output,
            "alarm": readiness.alarm_state(session), "metrics": metrics_view(session)}


def report_section(seen: Dict[str, Any]) -> str:
    """The main drill page's readiness view (from ``first_phase``): each step's readiness metric
    as the stand-in's CloudWatch holds it, and the refusals."""
    e = html.escape
    if not seen or "output" not in seen:
        status = (seen or {}).get("status", "not run")
        return f'<h2>Readiness</h2><p class="note">The readiness run did not complete ({e(str(status))}).</p>'
    output, view = seen["output"], seen.get("metrics", {})
    rows = ""
    for name, values in view.items():
        cell = _cell(values[-1]).replace('class="red"', 'class="bad"') if values else "<td>-</td>"
        rows += f"<tr><td>{e(name)}</td>{cell}</tr>"
    refusals = [r for stage, _ in STEPS for r in output["steps"][stage]["refusals"]]
    listed = "".join(f"<li>{e(r)}</li>" for r in refusals) or "<li>none</li>"
    verdict = "ready" if output["ready"] == 1 else "NOT READY"
    return (
        f'<h2>Readiness before the outage: <span class="{"ok" if output["ready"] == 1 else "bad"}">{verdict}</span></h2>'
        f"<table><thead><tr><th>Metric (namespace {e(world.METRIC_NAMESPACE)})</th><th>Value</th></tr></thead>"
        f"<tbody>{rows}<tr><td>alarm {e(world.READINESS_ALARM)}</td><td>{e(seen.get('alarm', '-'))}</td></tr></tbody></table>"
        f"<p>Refusals:</p><ul>{listed}</ul>"
        '<p class="note">One run of the readiness state machine, as its schedule starts it; the values are what '
        "the stand-in's CloudWatch holds, as the dashboard's readiness widgets show them. "
        "<code>scripts/drill --readiness</code> shows it turn red on a drift and green on the repair.</p>"
    )


def metrics_view(session: Session) -> Dict[str, List[float]]:
    """The readiness metrics the stand-in holds, oldest first: Ready, StepReady per step,
    Refusals and Warnings."""
    view = {"Ready": readiness.latest(session, "Ready")}
    for _, step in STEPS:
        view[f"StepReady {step}"] = readiness.latest(session, "StepReady", step)
    view["Refusals"] = readiness.latest(session, "Refusals")
    view["Warnings"] = readiness.latest(session, "Warnings")
    return view


def write(out_dir: Path, runs: List[Dict[str, Any]], view: Dict[str, List[float]], checks: List[Dict[str, Any]]):
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {"written_at": datetime.datetime.now(datetime.timezone.utc).isoformat(), "runs": runs,
            "metrics": view, "checks": checks}
    path_json = out_dir / "readiness.json"
    path_json.write_text(json.dumps(data, indent=2, default=str) + "\n")
    path_html = out_dir / "readiness.html"
    path_html.write_text(page(runs, view, checks))
    return path_json, path_html


def _cell(value: float) -> str:
    if value == 1:
        return '<td class="ok">1</td>'
    if value == 0:
        return '<td class="red">0</td>'
    return f"<td>{value:g}</td>"


def page(runs: List[Dict[str, Any]], view: Dict[str, List[float]], checks: List[Dict[str, Any]]) -> str:
    """The readiness view: each metric per run (green 1, red 0), then each run's refusals and what
    was published, then the checks."""
    e = html.escape
    head = "".join(f"<th>{i + 1}. {e(run['label'])}</th>" for i, run in enumerate(runs))
    rows = "".join(
        f"<tr><th>{e(name)}</th>{''.join(_cell(v) for v in values)}</tr>" for name, values in view.items()
    )
    alarm_row = "".join(f"<td>{e(run['alarm'])}</td>" for run in runs)
    details = []
    for i, run in enumerate(runs):
        refusals = [r for stage, _ in STEPS for r in run["output"]["steps"][stage]["refusals"]]
        items = "".join(f"<li>{e(r)}</li>" for r in refusals) or "<li>none</li>"
        published = "".join(
            f"<li>{e(m['subject'] or '')}"
            + (f"<div style=\"white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12px\">{e(m['text'])}</div>" if m.get("text") else "")
            + "</li>"
            for m in run["published"]
        ) or "<li>nothing</li>"
        details.append(f"<h3>{i + 1}. {e(run['label'])}</h3><p>Refusals:</p><ul>{items}</ul>"
                       f"<p>Published on the report topic:</p><ul>{published}</ul>")
    check_items = "".join(f"<li>{'PASS' if c['ok'] else 'FAIL'}: {e(c['check'])}</li>" for c in checks)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>dr-failover readiness</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:center}}
table{{border-collapse:collapse}}.ok{{background:#c8f0c8}}.red{{background:#f4b4b4}}</style></head>
<body><h1>Readiness</h1>
<p>Each column is one readiness run (the schedule runs one every ReadinessRateMinutes); the values
are the metrics the stand-in's CloudWatch holds, as the dashboard's readiness widgets show them.</p>
<table><tr><th>metric</th>{head}</tr>{rows}<tr><th>alarm {e(world.READINESS_ALARM)}</th>{alarm_row}</tr></table>
{''.join(details)}
<h2>Checks</h2><ul>{check_items}</ul>
</body></html>
"""
