"""py-spy on the live `bentoml serve` workers while wrk loads them (needs root for ptrace).

    python -m bench.live_profile --endpoint score_1 --clients 8 --seconds 10 [--idle] [--gil]

Starts the service as the bench does (its model, var and token), runs wrk, and records
each worker process with `py-spy record --format raw` (collapsed stacks) for the same
seconds. Prints, per worker and summed, the functions with the most samples (self and
inclusive), and writes the raw files and a summary under var/bench/pyspy/.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bench.common import PY, ROOT, stop_server

OUT = ROOT / "var" / "bench" / "pyspy"


def worker_pids(server_pid: int) -> list[int]:
    """The uvicorn worker processes (circus children that run `_bentoml_impl.worker`)."""
    import psutil

    out = []
    for p in psutil.Process(server_pid).children(recursive=True):
        try:
            if any("_bentoml_impl.worker" in part for part in p.cmdline()):
                out.append(p.pid)
        except psutil.NoSuchProcess:
            continue
    return out


def collapsed(path: Path) -> collections.Counter[str]:
    """`stack;frames count` lines -> Counter of stacks."""
    c: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            c[stack] += int(n)
    return c


# Frames whose inclusive share splits a /score request into its parts: our route, the
# feature build and model, the audit (events, write, checkpoints), BentoML's parse and
# response, the hand-off to the audit thread, our middlewares (Metrics minus what runs
# under BentoML's ContextMiddleware, which sits inside them).
PARTS = ("RelapseRiskService.score", "score_courses", "prediction_events",
         "PredictionPipeline.record", "Checkpointer._run", "model_validate_json",
         "to_http_response", "api_endpoint_wrapper", "AsyncPipeline.predict",
         "MetricsMiddleware.__call__", "ContextMiddleware.__call__", "otel_receive")


def shares(stacks: collections.Counter[str], frames: Sequence[str]) -> dict[str, float]:
    """Inclusive share (%) of each frame name: samples whose stack holds a frame that
    contains it."""
    total = sum(stacks.values()) or 1
    return {name: 100 * sum(n for stack, n in stacks.items() if name in stack) / total
            for name in frames}


def summarise(stacks: collections.Counter[str], top: int = 30, requests: int = 0,
              parts: Sequence[str] = PARTS) -> str:
    """Self and inclusive sample shares per frame (a frame counted once per stack); with
    `requests`, samples per request, and the inclusive shares of `parts`."""
    total = sum(stacks.values()) or 1
    self_c: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    for stack, n in stacks.items():
        frames = stack.split(";")
        self_c[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    lines = [f"{total} samples" + (f", {total / requests:.2f} per request" if requests else "")]
    if parts:
        lines += ["", "incl %  part"] + [f"{v:6.1f}  {k}" for k, v in shares(stacks, parts).items()]
    lines += ["", "self %  frame"]
    lines += [f"{100 * n / total:6.1f}  {f}" for f, n in self_c.most_common(top)]
    lines += ["", "incl %  frame"]
    lines += [f"{100 * n / total:6.1f}  {f}" for f, n in incl.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from bench.run import WORK, _champion
    from bench.serving_load import (
        ENDPOINTS,
        SERVERS,
        _start,
        bodies,
        find_token,
        init_audit,
        server_env,
        wrk,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", default="score_1", choices=tuple(ENDPOINTS))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--idle", action="store_true", help="include idle (waiting) threads")
    ap.add_argument("--gil", action="store_true", help="only samples holding the GIL")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--tag", default="")
    args = ap.parse_args(argv)
    model_dir = args.model or _champion(WORK / "models" / "n100000-pandas", 7)
    work = WORK / "serve"
    work.mkdir(parents=True, exist_ok=True)
    env = server_env(model_dir, work)
    token, source = find_token(env)
    if token is None:
        raise SystemExit(source)
    init_audit(env)
    files = bodies(work)
    server, route = ENDPOINTS[args.endpoint]
    proc, base = _start(SERVERS[server], env, work / f"{server}-profile.log")
    OUT.mkdir(parents=True, exist_ok=True)
    tag = args.tag or f"{args.endpoint}@{args.clients}"
    try:
        wrk(base + route, files[args.endpoint], token, args.clients, 2)  # warm-up
        spies = []
        for pid in worker_pids(proc.pid):
            raw = OUT / f"{tag}-{pid}.txt"
            argv_spy = [str(Path(PY).parent / "py-spy"), "record", "--pid", str(pid),
                        "--duration", str(args.seconds), "--rate", str(args.rate),
                        "--format", "raw", "--nolineno", "-o", str(raw)]
            argv_spy += ["--idle"] if args.idle else []
            argv_spy += ["--gil"] if args.gil else []
            spies.append((raw, subprocess.Popen(argv_spy, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL)))
        result = wrk(base + route, files[args.endpoint], token, args.clients, args.seconds)
        for _, spy in spies:
            spy.wait(timeout=args.seconds + 60)
    finally:
        stop_server(proc)
    total: collections.Counter[str] = collections.Counter()
    for raw, _ in spies:
        if raw.exists():
            total += collapsed(raw)
    text = (f"{tag}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms "
            f"(py-spy {' '.join(a for a in ('--idle', '--gil') if getattr(args, a[2:]))})\n"
            + summarise(total, requests=int(result["requests"])))
    (OUT / f"{tag}-summary.txt").write_text(text)
    print(text)
    print(f"raw stacks: {OUT}/{tag}-*.txt", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    raise SystemExit(main())
