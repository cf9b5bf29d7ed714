"""An execution's history as a timeline: one entry per state run, the Task steps, where time went.

GetExecutionHistory gives a flat list of events. Each names the event before it in the same
branch (``previousEventId``), so every task event can be traced back to the state it belongs to,
even while parallel branches interleave. ``Timeline.feed`` takes events one at a time (the drill
prints them live), ``Timeline.steps()`` answers the Task states, and ``breakdown`` splits the
execution's wall time into time inside Lambda, in Wait states, in Retry backoff, and the rest: the
state machine's own overhead.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

Interval = Tuple[datetime.datetime, datetime.datetime]


def utc(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def iso(value: Optional[datetime.datetime]) -> Optional[str]:
    if value is None:
        return None
    return utc(value).strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc(value).microsecond // 1000:03d}Z"


@dataclass
class StateRun:
    """One entry into one state, until it exits (or fails, or is aborted)."""

    name: str
    kind: str  # Task, Wait, Pass, Choice, Parallel, Fail, Succeed, Map
    start: datetime.datetime
    end: Optional[datetime.datetime] = None
    status: str = "running"  # succeeded | retried | failed | aborted | running
    resource: Optional[str] = None  # e.g. "lambda:invoke", "sns:publish"
    function: Optional[str] = None
    attempts: int = 0
    errors: List[Dict[str, str]] = field(default_factory=list)
    summary: Optional[str] = None
    task_intervals: List[Interval] = field(default_factory=list)
    # One per attempt: (start, end, the error or None).
    attempt_log: List[Tuple[datetime.datetime, datetime.datetime, Optional[str]]] = field(default_factory=list)
    backoff_intervals: List[Interval] = field(default_factory=list)
    _task_started: Optional[datetime.datetime] = None
    _failed_at: Optional[datetime.datetime] = None

    @property
    def seconds(self) -> Optional[float]:
        return None if self.end is None else (self.end - self.start).total_seconds()

    def to_step(self) -> Dict[str, Any]:
        step: Dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "start": iso(self.start),
            "end": iso(self.end),
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "resource": self.resource,
            "attempts": self.attempts,
        }
        if self.function:
            step["function"] = self.function
        if self.summary:
            step["summary"] = self.summary
        if self.errors:
            step["errors"] = self.errors
        if len(self.attempt_log) > 1 or self.errors:
            step["attempt_log"] = [
                {"start": iso(a), "end": iso(b), "error": error} for a, b, error in self.attempt_log
            ]
        return step


def _summary_of(resource: Optional[str], output: str) -> Optional[str]:
    try:
        value = json.loads(output)
    except (TypeError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    payload = value.get("Payload")
    if isinstance(payload, dict) and isinstance(payload.get("summary"), str):
        return payload["summary"]
    if "Executions" in value:
        running = [e for e in value["Executions"] if e.get("Status") == "RUNNING"]
        return f"{len(running)} execution(s) running"
    if "MessageId" in value:
        return "published"
    return None


def _error(details: Dict[str, Any]) -> Dict[str, str]:
    error = details.get("error", "")
    cause = details.get("cause", "")
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict) and parsed.get("errorMessage"):
            cause = parsed["errorMessage"]
    except (TypeError, ValueError):
        pass
    return {"error": error, "cause": cause}


class Timeline:
    def __init__(self) -> None:
        self.runs: List[StateRun] = []
        self._owner: Dict[int, StateRun] = {}
        self.started: Optional[datetime.datetime] = None
        self.ended: Optional[datetime.datetime] = None
        self.status: Optional[str] = None
        self.error: Optional[Dict[str, str]] = None

    # Each call answers what happened, for a live display: (verb, run, detail) or None.
    def feed(self, event: Dict[str, Any]) -> Optional[Tuple[str, Optional[StateRun], str]]:
        kind: str = event["type"]
        at = utc(event["timestamp"])
        previous = self._owner.get(event.get("previousEventId", 0))

        if kind == "ExecutionStarted":
            self.started = at
            return None
        if kind in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
            self.ended = at
            self.status = kind[len("Execution"):].upper()
            for run in self.runs:
                if run.end is None and run._failed_at is None:
                    run.end, run.status = at, "aborted" if self.status != "SUCCEEDED" else "succeeded"
            if kind == "ExecutionFailed":
                self.error = _error(event.get("executionFailedEventDetails", {}))
                return ("execution-failed", None, f"{self.error['error']}: {self.error['cause']}")
            return ("execution-" + self.status.lower(), None, "")

        if kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails", {})
            run = StateRun(name=details.get("name", "?"), kind=kind[: -len("StateEntered")], start=at)
            self.runs.append(run)
            self._owner[event["id"]] = run
            if run.kind == "Fail":
                run.end, run.status = at, "failed"
                return ("fail-state", run, "")
            return ("entered", run, "")

        if kind.endswith("StateExited"):
            name = event.get("stateExitedEventDetails", {}).get("name")
            run = previous if previous is not None and previous.name == name and previous.end is None else None
            if run is None:
                run = next((r for r in self.runs if r.name == name and r.end is None), None)
            if run is None:
                return None
            self._owner[event["id"]] = run
            run.end = at
            if run.status == "running":
                run.status = "succeeded"
            return ("exited", run, run.summary or "")

        if kind.startswith("ParallelState") or kind.startswith("MapState"):
            run = next((r for r in reversed(self.runs) if r.kind in ("Parallel", "Map") and r.end is None), None)
            if run is not None:
                self._owner[event["id"]] = run
                if kind.endswith("Failed"):
                    run.status = "failed"
            return None

        run = previous
        if run is None:
            return None
        self._owner[event["id"]] = run

        if kind in ("TaskScheduled", "LambdaFunctionScheduled"):
            details = event.get("taskScheduledEventDetails") or event.get("lambdaFunctionScheduledEventDetails") or {}
            run.attempts += 1
            if "resourceType" in details:
                run.resource = f"{details['resourceType']}:{details.get('resource', '')}"
            elif kind == "LambdaFunctionScheduled":
                run.resource = "lambda"
            try:
                parameters = json.loads(details.get("parameters") or details.get("input") or "{}")
                function = parameters.get("FunctionName") if isinstance(parameters, dict) else None
                if function:
                    run.function = str(function).split(":")[-1]
            except ValueError:
                pass
            if run._failed_at is not None:
                run.backoff_intervals.append((run._failed_at, at))
                run._failed_at = None
            return None
        if kind in ("TaskStarted", "LambdaFunctionStarted"):
            run._task_started = at
            return None
        if kind in ("TaskSucceeded", "LambdaFunctionSucceeded"):
            details = event.get("taskSucceededEventDetails") or event.get("lambdaFunctionSucceededEventDetails") or {}
            self._close_task(run, at)
            run.summary = _summary_of(run.resource, details.get("output", ""))
            run.status = "running"  # until the state exits
            run._failed_at = None
            return None
        if kind in (
            "TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed",
            "LambdaFunctionFailed", "LambdaFunctionTimedOut", "LambdaFunctionStartFailed",
        ):
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            error = _error(details)
            self._close_task(run, at, error["error"] or kind)
            run.errors.append(error)
            run._failed_at = at
            # Whether Retry runs it again or Catch takes over shows in the next event; say both.
            run.status = "failed"
            return ("task-failed", run, f"{error['error']}: {error['cause']}")
        if kind.endswith("StateAborted"):
            run.end, run.status = at, "aborted"
            return ("aborted", run, "")
        return None

    @staticmethod
    def _close_task(run: StateRun, at: datetime.datetime, error: Optional[str] = None) -> None:
        if run._task_started is not None:
            run.task_intervals.append((run._task_started, at))
            run.attempt_log.append((run._task_started, at, error))
            run._task_started = None

    def finish(self) -> None:
        """Settle statuses once the whole history is in: a Task whose last attempt failed failed
        (whether Catch then took over or the execution stopped); one that failed and was retried
        to success is "retried"."""
        for run in self.runs:
            if run.kind != "Task":
                continue
            if run._failed_at is not None:
                run.status = "failed"
                run.end = run.end or run._failed_at
            elif run.errors and run.status == "succeeded":
                run.status = "retried"

    def steps(self) -> List[StateRun]:
        return [run for run in self.runs if run.kind == "Task"]


def _union(intervals: List[Interval]) -> float:
    total, current = 0.0, None
    for start, end in sorted(intervals):
        if current is None or start > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds()
            current = [start, end]
        else:
            current[1] = max(current[1], end)
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total


def _clip(intervals: List[Interval], start: datetime.datetime, end: datetime.datetime) -> List[Interval]:
    return [(max(a, start), min(b, end)) for a, b in intervals if min(b, end) > max(a, start)]


def breakdown(timeline: Timeline, start: datetime.datetime, stop: datetime.datetime) -> Dict[str, float]:
    """Wall time of the execution, and how much of it was spent inside Lambda functions, in Wait
    states and in Retry backoff (each the union over parallel branches), and the remainder: the
    state machine's own overhead (state transitions, Pass/Choice, its SNS and SDK calls)."""
    lambdas = [i for r in timeline.runs if (r.resource or "").startswith("lambda") for i in r.task_intervals]
    waits = [(r.start, r.end) for r in timeline.runs if r.kind == "Wait" and r.end is not None]
    backoffs = [i for r in timeline.runs for i in r.backoff_intervals]
    wall = (stop - start).total_seconds()
    in_lambda = _union(_clip(lambdas, start, stop))
    in_wait = _union(_clip(waits, start, stop))
    in_backoff = _union(_clip(backoffs, start, stop))
    waiting = _union(_clip(lambdas + waits + backoffs, start, stop))
    overhead = max(0.0, wall - waiting)
    return {
        "wall_seconds": round(wall, 3),
        "lambda_seconds": round(in_lambda, 3),
        "wait_seconds": round(in_wait, 3),
        "retry_backoff_seconds": round(in_backoff, 3),
        "overhead_seconds": round(overhead, 3),
        "overhead_share": round(overhead / wall, 4) if wall > 0 else 0.0,
    }
