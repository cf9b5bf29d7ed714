"""End-to-end failover tests: the real state machine on the stand-in, the real function binaries
behind `cargo lambda watch`, started the way the drill starts them (infra/drill's modules).

Each test gets its own stand-in and its own `cargo lambda watch` on free loopback ports, a freshly
seeded world, and a check at teardown that no process it started is left. The binaries are built
once per test run (scripts/test has built them already, so that is a quick no-op there).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
for path in (REPO / "infra" / "standin", REPO / "infra" / "drill"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from drill import processes, world  # noqa: E402
from drill.aws import isolate_from_real_aws  # noqa: E402
from drill.run import LivePrinter  # noqa: E402
from drill.session import Session  # noqa: E402
from drill.timeline import Timeline  # noqa: E402

# Short loops keep the suite quick: promotions and DNS changes take 1 s, the state machine polls
# every second.
TRANSITION_SECONDS = 1.0
POLL_SECONDS = 1


isolate_from_real_aws()


@pytest.fixture(scope="session", autouse=True)
def function_binaries() -> None:
    """Each session runs the built function binaries (drill.session): build them once per worker
    (a no-op when `scripts/test` has just built them), so a test never runs stale code."""
    result = subprocess.run(
        ["cargo", "build", "--workspace", "--bins", "--quiet"], cwd=REPO, capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.fail(f"cargo build --workspace --bins failed:\n{result.stderr[-3000:]}")


@pytest.fixture
def local_aws(tmp_path) -> Callable[..., Session]:
    """``local_aws(aurora=False, dry_run_on_alarm=False, ...)`` starts a stand-in, seeds the world
    and starts the functions; everything is stopped after the test, and checked to be gone."""
    started: List[Session] = []

    def start(
        transition_seconds: float = TRANSITION_SECONDS,
        promotion_seconds: Optional[float] = None,
        launch_seconds: float = 0.0,
        route53_requests_per_second: Optional[float] = None,
        template: Optional[Path] = None,
        **options: Any,
    ) -> Session:
        """``options`` are `world.Options` fields (aurora, dry_run_on_alarm, budgets, ...);
        ``template``: the DR stack's template IAM authorizes against (default infra/template.yaml)."""
        options.setdefault("poll_seconds", POLL_SECONDS)
        session = Session(
            world.Options(**options),
            tmp_path / f"aws-{len(started)}",
            transition_seconds,
            promotion_seconds=promotion_seconds,
            launch_seconds=launch_seconds,
            route53_requests_per_second=route53_requests_per_second,
            template=template,
        )
        started.append(session)
        session.start()
        return session

    yield start
    refused = {}
    for session in started:
        try:
            counts = session.control("validation", method="GET")
        except Exception:
            continue  # a test that stopped its stand-in itself
        if counts.get("refused"):
            refused[str(session.work_dir)] = counts
    tree = [pid for session in started for pid in session.process_tree()]
    for session in started:
        session.close()
    # Every request of the run had a shape AWS accepts (drstandin/request_validation.py); each
    # refusal is in the session's logs/standin.log.
    assert not refused, f"the stand-in's request validation refused requests: {refused}"
    assert len(tree) >= 6 * len(started), tree  # stand-in, cargo lambda, four functions
    leftovers = [pid for pid in tree if processes.is_running(pid)]
    assert not leftovers, f"processes left running: {leftovers}"


class Watched:
    """A command run to its end while every process below it is noted (sampled every 0.1 s), so a
    test can check afterwards that none of them is left."""

    def __init__(self, argv: List[str], cwd: Path):
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=drill_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.seen: set = set()
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._done.is_set() and self.process.poll() is None:
            self.seen.update(processes.descendants(self.process.pid))
            time.sleep(0.1)

    def lines(self):
        for line in self.process.stdout:
            yield line

    def finish(self, timeout: float = 300) -> str:
        rest = self.process.communicate(timeout=timeout)[0]
        self._done.set()
        self._sampler.join(timeout=5)
        return rest

    def leftovers(self) -> List[int]:
        return sorted(pid for pid in self.seen if processes.is_running(pid))


def fail_over_by_alarm(session: Session, timeout: float = 120.0) -> Dict[str, Any]:
    """Trip the alarm, find the execution the rules started, wait for its end.
    Answers {"arn", "described", "alarm_at", "timeline"}."""
    known = [e["executionArn"] for e in session.executions()]
    alarm_at = session.trip_alarm()
    arn = session.wait_for_execution(known)
    return follow(session, arn, alarm_at, timeout)


def follow(session: Session, arn: str, origin, timeout: float = 120.0) -> Dict[str, Any]:
    printer = LivePrinter(origin, out=lambda line: None)
    described = session.follow(arn, on_event=printer, timeout=timeout)
    printer.timeline.finish()
    return {"arn": arn, "described": described, "alarm_at": origin, "timeline": printer.timeline}


def task_runs(timeline: Timeline, name: str) -> list:
    return [run for run in timeline.steps() if run.name == name]


def assert_in_the_applications_network(instance: Dict[str, Any], session: Session, region: str) -> None:
    """An RDS DB instance (as DescribeDBInstances shows it) created where the drill's world puts its
    databases in ``region`` (world.py): the application's DB subnet group and security groups,
    its option group, deletion protection, Multi-AZ and tags, never RDS's defaults."""
    assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == world.DB_SUBNET_GROUP, instance.get("DBSubnetGroup")
    assert [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]] == session.world.db_security_groups[region]
    assert [g["OptionGroupName"] for g in instance["OptionGroupMemberships"]] == [world.OPTION_GROUP]
    assert instance["DeletionProtection"] is True and instance["MultiAZ"] is True
    assert instance["TagList"] == world.DB_TAGS


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        time.sleep(interval)


def drill_command(*args: str, out: Optional[Path] = None) -> List[str]:
    argv = [sys.executable, "-m", "drill", "--transition-seconds", str(TRANSITION_SECONDS),
            "--poll-seconds", str(POLL_SECONDS)]
    if out is not None:
        argv += ["--out", str(out)]
    return argv + list(args)


def drill_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "infra" / "drill"), str(REPO / "infra" / "standin")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    return env


__all__ = [
    "Watched", "fail_over_by_alarm", "follow", "task_runs", "wait_until", "drill_command", "drill_env",
]


# The tests that take longest (each waits out minutes of simulated AWS time: a Route 53 change that
# stays PENDING, a whole fail back), started first: spread over the workers while the short ones
# fill in, the suite's wall time is not the longest test started last. Names only; a test missing
# from the suite is simply not found.
LONG_FIRST = (
    "test_approved_fail_back_returns_the_world_to_where_it_started",
    "test_aurora_fail_back_switches_over_to_the_primary_regions_secondary_and_resumes_the_automation",
    "test_a_failover_started_by_hand_during_a_fail_backs_drain_is_refused_and_the_fail_back_ends",
    "test_reprotect_refuses_before_a_failover_then_creates_the_standby_once_across_a_failed_run",
    "test_refused_while_a_failover_runs_then_denied_then_expired_and_nothing_changes",
    "test_the_readiness_drill_turns_red_on_a_drift_and_green_on_its_repair",
    "test_pause_readiness_and_an_approval_gated_failover_through_the_command_line",
)


def pytest_collection_modifyitems(session, config, items) -> None:
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.originalname, len(LONG_FIRST)))
