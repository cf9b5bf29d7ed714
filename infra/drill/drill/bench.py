"""Figures for sizing the functions: latency of each read-only action and each function's peak
memory, measured on release builds against the stand-in.

Printed, and written to target/bench/bench.json. Latency includes the stand-in's own answer
time (moto is far slower than AWS), so it is an upper bound for the function's work; memory is
each function process's peak resident set (VmHWM) after all calls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from pathlib import Path

from drill import processes, world
from drill.session import REPO, Session

ACTIONS = {
    "promote-replica": {"action": "plan", "reason": "bench"},
    "scale-asg": {"action": "plan", "reason": "bench"},
    "flip-dns": {"action": "plan", "reason": "bench"},
    "verify-backup-copy": {"action": "verify", "reason": "bench"},
}


def invoke(lambda_url: str, function: str, payload: dict) -> float:
    request = urllib.request.Request(
        f"{lambda_url}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(payload).encode(),
        method="POST",
    )
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read() or b"null")
    elapsed = time.perf_counter() - began
    if isinstance(body, dict) and body.get("errorType"):
        raise RuntimeError(f"{function}: {body['errorType']}: {body.get('errorMessage')}")
    return elapsed


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def function_pids(session: Session) -> dict:
    found = {}
    for pid in session.process_tree():
        try:
            exe = Path(f"/proc/{pid}/exe").resolve().name
        except OSError:
            continue
        if exe in ACTIONS:
            found[exe] = pid
    return found


def percentile(values: list, share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30, help="invocations per function (default 30)")
    args = parser.parse_args()
    out = REPO / "target" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    processes.install_signal_handlers()

    results = {}
    with Session(world.Options(), out, release=True, log=print) as session:
        for function, payload in ACTIONS.items():
            invoke(session.lambda_url, function, payload)  # warm: the first call started the process
            times = [invoke(session.lambda_url, function, payload) for _ in range(args.calls)]
            results[function] = {
                "calls": args.calls,
                "p50_ms": round(statistics.median(times) * 1000, 1),
                "p95_ms": round(percentile(times, 0.95) * 1000, 1),
                "max_ms": round(max(times) * 1000, 1),
            }
        for function, pid in function_pids(session).items():
            results[function]["peak_rss_mib"] = round(peak_rss_kib(pid) / 1024, 1)
    for function in results:
        binary = REPO / "target" / "release" / function
        results[function]["release_binary_mib"] = round(binary.stat().st_size / 2**20, 1) if binary.exists() else None

    print()
    print(f"{'function':<20} {'action':<7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'peak RSS MiB':>13} {'binary MiB':>11}")
    for function, r in results.items():
        print(
            f"{function:<20} {ACTIONS[function]['action']:<7} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8} "
            f"{r.get('peak_rss_mib', '?'):>13} {r['release_binary_mib']:>11}"
        )
    (out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out / 'bench.json'}")


if __name__ == "__main__":
    main()
