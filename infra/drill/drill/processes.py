"""The local processes a drill needs, and the guarantee that none outlives it.

Each process starts in a session (and so a process group) of its own, so stopping it stops whatever
it started too. Every group started here is
registered until it is stopped; ``stop_all`` runs at interpreter exit and, once
``install_signal_handlers`` has run, on SIGTERM and SIGHUP as well (SIGINT raises
KeyboardInterrupt, which unwinds through the callers' ``finally`` blocks to the same place).
A process the caller chose to keep (``--keep``) is unregistered and left running.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

_lock = threading.Lock()
_running: Dict[int, "Managed"] = {}


class StartError(RuntimeError):
    """A process did not start, or did not answer in time; the message says which and why."""


@dataclass
class Managed:
    name: str
    process: subprocess.Popen
    log_path: Path
    url: str
    argv: List[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None


def free_port() -> int:
    """A free TCP port on the loopback interface (free now; the caller binds it next)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(
    name: str,
    argv: List[str],
    log_path: Path,
    url: str,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[Path] = None,
) -> Managed:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")
    try:
        process = subprocess.Popen(
            argv,
            cwd=str(cwd) if cwd else None,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as err:
        raise StartError(f"could not start {name} ({argv[0]}): {err}") from err
    finally:
        log.close()  # the child holds its own descriptor
    managed = Managed(name, process, log_path, url, argv)
    with _lock:
        _running[process.pid] = managed
    return managed


def wait_until(
    managed: Managed, ready: Callable[[], bool], timeout: float, what: str
) -> None:
    """Poll ``ready()`` until true; fail with the process's log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while True:
        if not managed.alive():
            raise StartError(
                f"{managed.name} exited with code {managed.process.returncode} before {what}.\n"
                f"--- last lines of {managed.log_path} ---\n{managed.log_tail()}"
            )
        try:
            if ready():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise StartError(
                f"{managed.name} did not {what} within {timeout:.0f} s.\n"
                f"--- last lines of {managed.log_path} ---\n{managed.log_tail()}"
            )
        time.sleep(0.05)


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if not with 200
    except OSError:
        return False


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _table() -> Dict[int, Tuple[int, int, str]]:
    """pid -> (ppid, pgid, state) for every process, from /proc (Linux)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2:
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def descendants(pid: int) -> List[int]:
    """Every live process below ``pid``, whatever session or group it put itself in."""
    table = _table()
    children: Dict[int, List[int]] = {}
    for child, (parent, _, state) in table.items():
        if state != "Z":
            children.setdefault(parent, []).append(child)
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def is_running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[0] != "Z"


def stop(managed: Managed) -> None:
    """Stop the process, its group and every process below it (a process may put itself in a
    session of its own, so the group alone is not enough). Nothing here needs a
    graceful shutdown (the stand-in keeps its state in memory, the functions keep none)."""
    with _lock:
        _running.pop(managed.pid, None)
    tree = descendants(managed.pid) if managed.alive() else []
    own_group = os.getpgrp()
    try:
        os.killpg(managed.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in tree:
        try:
            if os.getpgid(pid) == pid and pid != own_group:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        managed.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 5
    while any(is_running(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.02)


def keep(managed: Managed) -> None:
    """Leave this process running after the drill: forget it, so exit does not stop it."""
    with _lock:
        _running.pop(managed.pid, None)


def stop_all() -> None:
    with _lock:
        managed = list(_running.values())
    for item in reversed(managed):
        stop(item)


def running() -> List[Managed]:
    with _lock:
        return list(_running.values())


def group_members(pgid: int) -> List[int]:
    """Live (not zombie) processes in a process group."""
    return [pid for pid, (_, group, state) in _table().items() if group == pgid and state != "Z"]


def _on_signal(signum: int, frame) -> None:
    stop_all()
    # Exit with the conventional status for the signal; `finally` blocks still run.
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """Stop every registered process on SIGTERM and SIGHUP (main thread only), and let SIGINT
    raise KeyboardInterrupt even when the drill was started with SIGINT ignored (a background job
    of a shell without job control passes it on ignored, and Python then leaves it so)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)


atexit.register(stop_all)


