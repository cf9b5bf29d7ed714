"""One local AWS: the stand-in and `cargo lambda watch` on free loopback ports, and the seeded world.

``Session`` starts the stand-in, seeds the world, starts `cargo lambda watch` (its Lambda runtime
API only) and the function binaries it serves, with the functions' configuration, waits until
every function answers, and offers what a drill or a test does with
it: snapshots, tripping the alarm, finding and following executions, reading what was published.
Used as a context manager it stops everything it started, whatever happens, unless ``keep()``.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from drill import iam, processes, snapshot, world
from drill import messages as published
from drill.aws import Clients

REPO = Path(__file__).resolve().parents[3]
STANDIN_DIR = REPO / "infra" / "standin"
DRILL_DIR = REPO / "infra" / "drill"


class SessionError(RuntimeError):
    pass


def cargo_lambda() -> str:
    """The pinned cargo-lambda from the venv, else one on PATH."""
    candidate = Path(sys.executable).parent / "cargo-lambda"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("cargo-lambda")
    if not found:
        raise SessionError("cargo-lambda not found: run scripts/setup-venv (it is pinned in infra/standin/requirements.txt)")
    return found


@functools.lru_cache(maxsize=None)
def function_binaries() -> Dict[str, Dict[str, str]]:
    """Every function binary of the workspace (a package under functions/), with the environment
    the workspace's Cargo.toml gives it (``[workspace.metadata.lambda.bin.<binary>.env]``, which
    `cargo lambda watch` reads when it starts a function itself)."""
    answer = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    metadata = json.loads(answer.stdout)
    env_by_bin = ((metadata.get("metadata") or {}).get("lambda") or {}).get("bin") or {}
    functions_dir = REPO / "functions"
    out = {}
    for package in metadata["packages"]:
        if Path(package["manifest_path"]).parent.parent != functions_dir:
            continue
        for target in package["targets"]:
            if "bin" in target["kind"]:
                out[target["name"]] = {k: str(v) for k, v in (env_by_bin.get(target["name"], {}).get("env") or {}).items()}
    return out


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


class PrimaryEndpoint:
    """The primary's health endpoint the witness probes (WITNESS_PRIMARY_URL): a small HTTP server
    on a free loopback port, in this process, that answers 200 while ``up`` and 503 when not. It
    lives as long as the session's process (with ``--keep``, the kept witness then finds it
    unreachable, which is down)."""

    def __init__(self) -> None:
        self.up = True
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(200 if endpoint.up else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Session:
    def __init__(
        self,
        options: world.Options,
        work_dir: Path,
        transition_seconds: float = 3.0,
        log: Callable[[str], None] = lambda line: None,
        release: bool = False,
        promotion_seconds: Optional[float] = None,
        launch_seconds: float = 0.0,
        route53_requests_per_second: Optional[float] = None,
        template: Optional[Path] = None,
    ):
        """``transition_seconds``: how long a Route 53 change stays PENDING in the stand-in;
        ``promotion_seconds``: how long each phase of an RDS promotion, an Aurora failover or a
        detach takes (None: ``transition_seconds``); ``launch_seconds``: how long a new Auto
        Scaling instance stays Pending (0: InService at once); ``route53_requests_per_second``: the
        stand-in's Route 53 request rate (None: its default, AWS's 10/s; 0: unlimited). The stand-in's
        ``POST /moto-api/dr/settings`` changes them while it runs (``Session.control("settings",
        {...})``). ``template``: the DR stack's template the stand-in authorizes the functions and
        state machines against (None: infra/template.yaml; a test may pass a copy it changed)."""
        self.template = template
        self.release = release
        self.promotion_seconds = promotion_seconds
        self.launch_seconds = launch_seconds
        self.route53_requests_per_second = route53_requests_per_second
        self.options = options
        self.work_dir = work_dir
        self.transition_seconds = transition_seconds
        self.log = log
        self.standin: Optional[processes.Managed] = None
        self.functions: Optional[processes.Managed] = None
        self.function_processes: Dict[str, processes.Managed] = {}
        self.clients: Optional[Clients] = None
        self.world: Optional[world.World] = None
        self.endpoint = ""
        self.lambda_url = ""
        self.warmup: Dict[str, Any] = {}
        # Each function's environment size in bytes, as Lambda measures it against its 4 KB.
        self.environment_bytes: Dict[str, int] = {}
        self.timings: Dict[str, float] = {}
        self._kept = False
        self.primary_endpoint: Optional[PrimaryEndpoint] = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "Session":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> None:
        """Start the stand-in and the functions on free ports. A port is free when chosen and taken
        a moment later; another program (another test's stand-in, when tests run side by side) may
        take it in between. Then the server fails with "Address already in use", and everything is
        started again on new ports (at most three times)."""
        for attempt in range(3):
            try:
                self._start_once()
                return
            except processes.StartError as err:
                if attempt == 2 or "already in use" not in str(err):
                    raise
                self.log(f"a port was taken meanwhile ({str(err).splitlines()[0]}); starting again on new ports")
                self.close()
                self.standin = self.functions = None

    def _start_once(self) -> None:
        logs = self.work_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        standin_port, lambda_port = processes.free_port(), processes.free_port()
        while lambda_port == standin_port:
            lambda_port = processes.free_port()
        self.endpoint = f"http://127.0.0.1:{standin_port}"
        self.lambda_url = f"http://127.0.0.1:{lambda_port}"

        began = time.monotonic()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(STANDIN_DIR), env.get("PYTHONPATH")]))
        for key in [k for k in env if k.startswith("AWS_")]:
            del env[key]  # real AWS settings must not reach the stand-in (nor the functions, below)
        # State machine definitions the stand-in found valid, shared by every stand-in of this
        # checkout (drstandin/stepfunctions.py: it saves parsing the same definitions again).
        env.setdefault("DR_STANDIN_CACHE_DIR", str(REPO / "target" / "standin-cache"))
        self.standin = processes.start(
            "stand-in",
            [
                sys.executable, "-m", "drstandin",
                "--port", str(standin_port),
                "--lambda-url", self.lambda_url,
                "--transition-seconds", str(self.transition_seconds),
                *(["--promotion-seconds", str(self.promotion_seconds)] if self.promotion_seconds is not None else []),
                "--launch-seconds", str(self.launch_seconds),
                *(["--route53-rps", str(self.route53_requests_per_second)]
                  if self.route53_requests_per_second is not None else []),
            ],
            logs / "standin.log",
            self.endpoint,
            env=env,
            cwd=REPO,
        )
        processes.wait_until(
            self.standin, lambda: processes.http_answers(f"{self.endpoint}/moto-api/"), 60, "answer on " + self.endpoint
        )
        self.timings["standin_start"] = time.monotonic() - began
        self.log(f"stand-in      {self.endpoint}  (pid {self.standin.pid}, {self.timings['standin_start']:.1f} s)")

        began = time.monotonic()
        self.clients = Clients(self.endpoint)
        self.world = world.seed(self.clients, self.options)
        self.timings["seed"] = time.monotonic() - began
        records = len(world.dns_records(self.options.extra_dns_records))
        groups = len(world.DR_GROUPS) + len(world.PRIMARY_GROUPS) + self.options.extra_groups
        self.log(
            f"world seeded  {self.world.db_kind}, {records} records, {groups} groups, 2 vaults "
            f"({self.timings['seed']:.1f} s)"
        )

        began = time.monotonic()
        if self.primary_endpoint is None:
            self.primary_endpoint = PrimaryEndpoint()
        self.world.primary_endpoint_url = self.primary_endpoint.url
        env_file = self.work_dir / "functions.env"
        env = world.function_env(self.world, self.endpoint)
        # Refuse to start, as AWS would refuse to deploy, a configuration past CloudFormation's
        # 4,096-byte parameter value or Lambda's 4 KB function environment.
        try:
            world.check_parameter_values(env)
            self.environment_bytes = world.configure_function_environments(self.clients, env)
        except (world.ParameterTooLong, world.EnvironmentTooLarge) as err:
            raise SessionError(f"this deployment would not be created on AWS: {err}") from err
        world.write_env_file(env, env_file)
        # IAM from the templates, rendered afresh with this world's parameters, before any
        # function runs (drill/iam.py, drstandin/iam.py).
        self.control("iam", {"stacks": iam.stacks(self.world, env, self.template)})
        watch_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        watch_env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), watch_env.get("PATH", "")])
        # `cargo lambda watch` serves the Lambda runtime API and forwards each invocation to the
        # function's queue; the built binaries are started here, once each, instead of by the
        # watcher's `cargo run` at the first invocation: four or more `cargo run` at once per test
        # contended for cargo's package cache lock, and one could wait on it past every timeout.
        self.functions = processes.start(
            "cargo lambda watch",
            [
                cargo_lambda(), "lambda", "watch",
                "--only-lambda-apis",
                "--invoke-address", "127.0.0.1",
                "--invoke-port", str(lambda_port),
            ],
            logs / "functions.log",
            self.lambda_url,
            env=watch_env,
            cwd=REPO,
        )
        processes.wait_until(self.functions, lambda: processes.port_open(lambda_port), 60, "listen on " + self.lambda_url)
        target = REPO / "target" / ("release" if self.release else "debug")
        self.function_processes = {}
        for name, own_env in function_binaries().items():
            binary = target / name
            if not binary.exists():
                raise SessionError(
                    f"{binary} is missing: build the functions first "
                    f"(cargo build --workspace --bins{' --release' if self.release else ''}; scripts/drill does)"
                )
            function_env = {
                **watch_env,
                **env,
                **own_env,
                # What `cargo lambda watch` sets for a function it starts (and Lambda for each).
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "1",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "4096",
                "AWS_LAMBDA_MAX_CONCURRENCY": "1",
                "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{lambda_port}/.rt/{name}",
            }
            self.function_processes[name] = processes.start(
                f"function {name}", [str(binary)], logs / "functions.log", self.lambda_url,
                env=function_env, cwd=REPO,
            )
        self.warmup = self._warm_up()
        self.timings["functions_start"] = time.monotonic() - began
        self.log(
            f"functions     {self.lambda_url}  (pid {self.functions.pid}, {len(self.warmup)} answering, "
            f"{self.timings['functions_start']:.1f} s)"
        )

    def _warm_up(self) -> Dict[str, Any]:
        """Invoke each function once, read-only, through the stand-in's Lambda API: proves the
        forwarding and each function's configuration, and keeps cold starts out of the RTO."""
        requests = {
            "promote-replica": {"action": "status", "reason": "drill warm-up"},
            "scale-asg": {"action": "status", "reason": "drill warm-up"},
            "flip-dns": {"action": "status", "reason": "drill warm-up"},
            "verify-backup-copy": {"action": "verify", "reason": "drill warm-up"},
            # Its first probe (the primary up), as its schedule makes one a minute after the
            # deployment: readiness and an alarm-started run find its mark.
            "witness": {"action": "probe"},
        }
        def exited() -> Dict[str, Any]:
            return {
                name: {"errorType": "Exited", "errorMessage": f"its process exited with code {managed.process.returncode}"}
                for name, managed in self.function_processes.items() if not managed.alive()
            }

        pool = concurrent.futures.ThreadPoolExecutor(len(requests))
        futures = {name: pool.submit(self.invoke, name, body) for name, body in requests.items()}
        # A binary that exits at its start (a panic on its configuration) would leave its
        # invocation waiting for the invoke timeout: look at the processes meanwhile.
        while not exited() and concurrent.futures.wait(futures.values(), timeout=0.2).not_done:
            pass
        broken = exited()
        pool.shutdown(wait=not broken, cancel_futures=True)
        results = {name: future.result() for name, future in futures.items() if future.done() and not future.exception()}
        broken.update({name: r for name, r in results.items() if r.get("errorType")})
        if not broken:
            results = {name: future.result() for name, future in futures.items()}
        if broken:
            lines = "\n".join(f"  {name}: {r['errorType']}: {r.get('errorMessage')}" for name, r in broken.items())
            raise SessionError(
                f"function(s) failed their first, read-only call:\n{lines}\n"
                f"--- last lines of {self.functions.log_path} ---\n{self.functions.log_tail(15)}"
            )
        return results

    def keep(self) -> None:
        """Leave the stand-in and the functions running after this session."""
        self._kept = True
        for managed in (self.standin, self.functions, *self.function_processes.values()):
            if managed is not None:
                processes.keep(managed)

    def close(self) -> None:
        if self._kept:
            return
        for managed in (*self.function_processes.values(), self.functions, self.standin):
            if managed is not None:
                processes.stop(managed)
        if self.primary_endpoint is not None:
            self.primary_endpoint.close()
            self.primary_endpoint = None

    def pids(self) -> List[int]:
        return [m.pid for m in (self.standin, self.functions, *self.function_processes.values()) if m is not None]

    def process_tree(self) -> List[int]:
        """Every process this session runs: the stand-in, cargo lambda and each function binary."""
        return [pid for root in self.pids() for pid in [root] + processes.descendants(root)]

    # ---- AWS helpers -------------------------------------------------------------------------

    def client(self, service: str, region: Optional[str] = None, account: str = world.ACCOUNT) -> Any:
        # The DR region is looked up when called: --plan names it (drill.plan_world.configure).
        region = region or world.DR
        return self.clients(service, region, account)

    def invoke(self, function: str, payload: Any) -> Dict[str, Any]:
        """Invoke through the stand-in's Lambda API (as AWS callers do); the decoded payload."""
        response = self.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
        return json.loads(response["Payload"].read() or b"null")

    def control(self, path: str, body: Any = None, method: str = "POST") -> Any:
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/dr/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def snapshot(self) -> Dict[str, Any]:
        return snapshot.take(self)

    # ---- the alarm ---------------------------------------------------------------------------

    def set_health(self, healthy: bool) -> None:
        self.control(f"route53/health-checks/{self.world.health_check_id}", {"healthy": healthy})
        # What Route 53 reports to CloudWatch for the check (1 healthy, 0 not).
        self.client("cloudwatch", world.GLOBAL).put_metric_data(
            Namespace="AWS/Route53",
            MetricData=[
                {
                    "MetricName": "HealthCheckStatus",
                    "Dimensions": [{"Name": "HealthCheckId", "Value": self.world.health_check_id}],
                    "Value": 1.0 if healthy else 0.0,
                }
            ],
        )

    def set_alarm(self, state: str, reason: str) -> datetime.datetime:
        """``aws cloudwatch set-alarm-state``; answers the alarm's StateUpdatedTimestamp."""
        cloudwatch = self.client("cloudwatch", world.GLOBAL)
        data = {"drill": True, "healthCheckId": self.world.health_check_id}
        cloudwatch.set_alarm_state(
            AlarmName=world.ALARM, StateValue=state, StateReason=reason, StateReasonData=json.dumps(data)
        )
        alarm = cloudwatch.describe_alarms(AlarmNames=[world.ALARM])["MetricAlarms"][0]
        return _utc(alarm["StateUpdatedTimestamp"])

    # ---- the witness (shared::witness) -------------------------------------------------------

    def set_primary_endpoint(self, up: bool) -> None:
        """What the primary's endpoint answers the witness from now on: 200 (up) or 503."""
        self.primary_endpoint.up = up

    def witness_probe(self) -> Dict[str, Any]:
        """One probe of the witness, as its one-minute schedule would invoke it; its result."""
        result = self.invoke("witness", {"action": "probe"})
        if not isinstance(result, dict) or result.get("errorType"):
            raise SessionError(f"the witness failed: {result}")
        return result

    def witness_sees(self, up: bool) -> Dict[str, Any]:
        """The primary's endpoint up or down, and the witness probes it once."""
        self.set_primary_endpoint(up)
        return self.witness_probe()

    def trip_alarm(self) -> datetime.datetime:
        """The primary endpoint fails: its health check turns unhealthy, the witness in the DR region
        sees it down (one probe), and the alarm goes to ALARM."""
        self.set_health(False)
        self.witness_sees(False)
        return self.set_alarm(
            "ALARM",
            "Threshold Crossed: 1 out of the last 1 datapoints [0.0] was less than the threshold (1.0).",
        )

    def end_outage(self) -> datetime.datetime:
        """The primary endpoint answers again: health check healthy, the witness sees it up, alarm OK."""
        self.set_health(True)
        self.witness_sees(True)
        return self.set_alarm(
            "OK", "Threshold Crossed: 1 out of the last 1 datapoints [1.0] was not less than the threshold (1.0)."
        )

    # ---- executions --------------------------------------------------------------------------

    def executions(self) -> List[Dict[str, Any]]:
        pages = self.client("stepfunctions").get_paginator("list_executions").paginate(
            stateMachineArn=self.world.state_machine_arn
        )
        return [execution for page in pages for execution in page["executions"]]

    def wait_for_execution(self, known: List[str], timeout: float = 15.0) -> str:
        """The ARN of the first execution not in ``known`` (started by a rule, so found by listing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = [e for e in self.executions() if e["executionArn"] not in known]
            if new:
                return sorted(new, key=lambda e: e["startDate"])[0]["executionArn"]
            time.sleep(0.05)
        raise SessionError(f"no execution of {world.STATE_MACHINE} started within {timeout:.0f} s")

    def start_execution(self, request: Any, witness_agrees: bool = True) -> str:
        """Start the failover with ``request``. A real run as the alarm starts it (trigger alarm) is
        judged by the witness: unless ``witness_agrees`` is False, the primary's endpoint goes down
        and the witness probes it first, as it would have in the outage the alarm reports."""
        alarm_started = isinstance(request, dict) and request.get("trigger") == "alarm"
        if witness_agrees and alarm_started and request.get("dry_run") is False:
            self.witness_sees(False)
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.world.state_machine_arn, input=json.dumps(request)
        )["executionArn"]

    def describe(self, execution_arn: str) -> Dict[str, Any]:
        return self.client("stepfunctions").describe_execution(executionArn=execution_arn)

    def history(self, execution_arn: str) -> List[Dict[str, Any]]:
        pages = self.client("stepfunctions").get_paginator("get_execution_history").paginate(
            executionArn=execution_arn
        )
        return [event for page in pages for event in page["events"]]

    def follow(
        self,
        execution_arn: str,
        on_event: Callable[[Dict[str, Any]], None] = lambda event: None,
        timeout: float = 300.0,
        interval: float = 0.1,
    ) -> Dict[str, Any]:
        """Wait for the execution to end, handing each new history event to ``on_event`` as it
        appears; answers DescribeExecution's result with the whole history under "events"."""
        seen = 0
        deadline = time.monotonic() + timeout
        while True:
            described = self.describe(execution_arn)
            events = self.history(execution_arn)
            for event in events[seen:]:
                on_event(event)
            seen = len(events)
            if described["status"] != "RUNNING":
                # The last events may land just after the status changes.
                events = self.history(execution_arn)
                for event in events[seen:]:
                    on_event(event)
                described["events"] = events
                return described
            if time.monotonic() > deadline:
                raise SessionError(f"execution {execution_arn} still running after {timeout:.0f} s")
            time.sleep(interval)

    # ---- what was published ------------------------------------------------------------------

    def _drain(self, queue_url: str, wait: float) -> List[Dict[str, Any]]:
        sqs = self.client("sqs")
        messages: List[Dict[str, Any]] = []
        deadline = time.monotonic() + wait
        while True:
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not batch:
                if time.monotonic() >= deadline:
                    return messages
                time.sleep(0.1)

    def reports(self, wait: float = 0.0, started: bool = False) -> List[Dict[str, Any]]:
        """SNS notifications the state machines published (consumed from the subscribed queue):
        {"subject", "message" (the report when the message carries one, else its text), "text"
        (the first paragraph, by drill.messages' rule), "bytes" (the whole message in UTF-8, as SNS
        counts it), "timestamp"}. The "FAILOVER STARTED" notice
        every real failover publishes as it begins is left out unless ``started``: the tests judge
        how a run ended by what follows it (tests/e2e/test_failover.py checks it)."""
        out = []
        for envelope in self._drain(self.world.report_queue_url, wait):
            if not started and ": FAILOVER STARTED (" in (envelope.get("Subject") or ""):
                continue
            text = envelope.get("Message", "")
            paragraph, report = published.split(text)
            out.append({
                "subject": envelope.get("Subject"), "timestamp": envelope.get("Timestamp"),
                "message": report if report is not None else text, "text": paragraph,
                "bytes": len(text.encode("utf-8")),
            })
        return out

    def alarm_events(self, wait: float = 0.0) -> List[Dict[str, Any]]:
        """Alarm state change events that reached the DR region's bus (a witness rule's queue)."""
        return self._drain(self.world.witness_queue_url, wait)
