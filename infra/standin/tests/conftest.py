"""Each test gets its own stand-in server on its own free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from standin_support import FunctionError

STANDIN_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Standin:
    def __init__(self, url: str, process: subprocess.Popen):
        self.url = url
        self.process = process
        # Keep reading the server's log so a full pipe never blocks it; keep the tail for errors.
        self.log_tail: list[str] = []
        if process.stderr is not None:
            threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in iter(self.process.stderr.readline, b""):
            self.log_tail.append(line.decode(errors="replace"))
            del self.log_tail[:-400]

    def log(self) -> str:
        return "".join(self.log_tail)

    def control(self, path: str, body=None, method: str = "POST") -> tuple[int, object]:
        """Call ``/moto-api/dr/<path>``; (HTTP status, decoded JSON body), error statuses included."""
        request = urllib.request.Request(
            f"{self.url}/moto-api/dr/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def client(self, service: str, region: str = "us-east-1", **kwargs):
        kwargs.setdefault("aws_access_key_id", "testing")
        kwargs.setdefault("aws_secret_access_key", "testing")
        return boto3.client(service, region_name=region, endpoint_url=self.url, **kwargs)


def start_standin(extra_args: list[str] | None = None) -> Standin:
    """A stand-in on a free port. The port is free when chosen; another test's server running side
    by side (pytest -n) may take it before this one binds it: then it starts again on a new port."""
    for attempt in range(3):
        try:
            return _start_standin_once(extra_args)
        except RuntimeError as err:
            if attempt == 2 or "already in use" not in str(err):
                raise
    raise AssertionError("unreachable")


def _start_standin_once(extra_args: list[str] | None) -> Standin:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(STANDIN_DIR))
    # Definitions found valid, shared by the stand-ins (drstandin/stepfunctions.py); as the drill's.
    env.setdefault("DR_STANDIN_CACHE_DIR", str(STANDIN_DIR.parents[1] / "target" / "standin-cache"))
    process = subprocess.Popen(
        [sys.executable, "-m", "drstandin", "--port", str(port), *(extra_args or [])],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"stand-in exited: {process.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            return Standin(url, process)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("stand-in did not start within 30 s")


@pytest.fixture
def standin(request):
    args = ["--transition-seconds", "1"]
    if "lambda_runtime" in request.fixturenames:
        # A test that also asks for `lambda_runtime` gets its Lambda forwarded there.
        args += ["--lambda-url", request.getfixturevalue("lambda_runtime").url]
    server = start_standin(args)
    yield server
    # Nothing to flush: kill outright (a graceful stop costs ~0.5 s per test).
    server.process.kill()
    server.process.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# Lambda: the real `cargo lambda watch` (from the venv) in --only-lambda-apis mode, with a small
# Python stand-in for the functions' runtime, so tests need neither the Rust build nor Docker.

LAMBDA_FUNCTIONS = ["promote-replica", "scale-asg", "flip-dns", "verify-backup-copy", "test-fn"]


class LambdaRuntime:
    """`cargo lambda watch` plus one polling runtime thread per function name.

    ``handlers[name] = fn(event) -> result``; a handler raising ``FunctionError`` reports a
    function error. ``calls[name]`` records the events received. Unset handlers echo the event.
    """

    def __init__(self, url: str, process: subprocess.Popen):
        self.url = url
        self.process = process
        self.handlers: dict = {}
        self.calls: dict[str, list] = {name: [] for name in LAMBDA_FUNCTIONS}
        self.stopped = threading.Event()
        for name in LAMBDA_FUNCTIONS:
            threading.Thread(target=self._serve, args=(name,), daemon=True).start()

    def _serve(self, name: str) -> None:
        base = f"{self.url}/.rt/{name}/2018-06-01/runtime/invocation"
        while not self.stopped.is_set():
            try:
                with urllib.request.urlopen(f"{base}/next", timeout=5) as response:
                    if response.status != 200:
                        time.sleep(0.02)
                        continue
                    request_id = response.headers["lambda-runtime-aws-request-id"]
                    event = json.loads(response.read() or b"null")
            except OSError:
                time.sleep(0.05)
                continue
            self.calls[name].append(event)
            handler = self.handlers.get(name, lambda e: e)
            try:
                body, kind = json.dumps(handler(event)).encode(), "response"
            except FunctionError as err:
                body = json.dumps({"errorType": err.error_type, "errorMessage": err.message}).encode()
                kind = "error"
            request = urllib.request.Request(
                f"{base}/{request_id}/{kind}",
                data=body,
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            try:
                urllib.request.urlopen(request, timeout=5).close()
            except OSError:
                pass


def cargo_lambda_binary() -> str | None:
    candidate = Path(sys.executable).parent / "cargo-lambda"
    if candidate.exists():
        return str(candidate)
    return shutil.which("cargo-lambda")


@pytest.fixture
def lambda_runtime(tmp_path):
    binary = cargo_lambda_binary()
    if binary is None:
        pytest.skip("cargo-lambda is not installed (it is pinned in requirements.txt)")
    bins = "".join(f'[[bin]]\nname = "{n}"\npath = "src/{n}.rs"\n' for n in LAMBDA_FUNCTIONS)
    (tmp_path / "Cargo.toml").write_text(
        f'[package]\nname = "fake-functions"\nversion = "0.1.0"\nedition = "2021"\n{bins}'
    )
    (tmp_path / "src").mkdir()
    for name in LAMBDA_FUNCTIONS:
        (tmp_path / "src" / f"{name}.rs").write_text("fn main() {}\n")
    for attempt in range(3):
        # As start_standin: a free port may be taken by a test running side by side before
        # cargo lambda binds it; it then exits at once, and starts again on another port.
        port = free_port()
        process = subprocess.Popen(
            [binary, "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", str(port)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError("cargo lambda watch did not start")
                time.sleep(0.05)
        if process.poll() is None:
            break
        if attempt == 2:
            raise RuntimeError(f"cargo lambda watch exited with code {process.returncode}")
    runtime = LambdaRuntime(url, process)
    yield runtime
    runtime.stopped.set()
    process.kill()  # its graceful shutdown waits a full second
    process.wait(timeout=10)
