"""Shared by the bench steps: run a command in a child process and measure it.

Each measured step runs in its own process so its peak memory (ru_maxrss of
that child, from wait4) is its own and not the orchestrator's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


@dataclass(frozen=True)
class Measured:
    command: str
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str


def stop_server(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a `bentoml serve` started with start_new_session=True, workers included:
    terminating the parent alone leaves its worker processes running."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # any worker that outlived its parent


def run_measured(argv: list[str], *, env: dict[str, str] | None = None,
                 timeout: float | None = None) -> Measured:
    """Run argv from the repo root; wall time and the child's own peak RSS."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    # communicate() reaped the child; its rusage is in RUSAGE_CHILDREN only as a max over
    # all children, so steps that need their own peak report it themselves (see step_json).
    return Measured(shlex.join(argv), seconds, 0.0, proc.returncode, out)


def step_json(m: Measured) -> dict:
    """The JSON line a step prints last (`BENCH {...}`)."""
    for line in reversed(m.output.splitlines()):
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError(f"step failed ({m.returncode}): {m.command}\n{m.output[-3000:]}")


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result: dict) -> None:
    print("BENCH " + json.dumps({**result, "peak_rss_mb": peak_rss_mb()}), flush=True)
