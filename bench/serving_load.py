"""Serving under load: wrk over loopback against the real service and a bare echo endpoint.

Both are started by `bentoml serve` with the same BENTO_WORKERS / BENTO_THREADS.
/score needs a bearer token: it comes from `make token ROLE=clinician` when that
target exists (or BENCH_TOKEN); without one the serving part is skipped with a message,
because an unauthenticated run would not measure what clinicians get.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

from bench.common import PY, ROOT, stop_server

CLIENTS = (1, 8, 32)


def find_token(env: dict[str, str]) -> tuple[str | None, str]:
    """(token, where it came from) or (None, why not).

    `make token` runs with the server's environment, so the dev secret it signs with
    (under VAR_DIR) is the one the server verifies with.
    """
    if os.environ.get("BENCH_TOKEN"):
        return os.environ["BENCH_TOKEN"], "BENCH_TOKEN"
    makefile = (ROOT / "Makefile").read_text()
    if not any(line.startswith("token:") for line in makefile.splitlines()):
        return None, "no `make token` target yet (bearer auth on /score is not merged)"
    out = subprocess.run(["make", "-s", "--no-print-directory", "token", "ROLE=clinician"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, **env})
    lines = [x.strip() for x in out.stdout.splitlines() if x.strip()]
    if out.returncode != 0 or not lines:
        return None, f"`make token ROLE=clinician` failed (exit {out.returncode})"
    return lines[-1], "make token ROLE=clinician"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(target: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    bentoml = str(Path(PY).parent / "bentoml")
    with log.open("w") as fh:
        proc = subprocess.Popen([bentoml, "serve", target, "--host", "127.0.0.1", "--port",
                                 str(port)], cwd=ROOT, env={**os.environ, **env}, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{target} exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(f"{target} not ready in 180 s")


def bodies(work: Path) -> dict[str, Path]:
    from serving.example import example_request

    one = example_request()
    course = one["courses"][0]
    many = []
    for i in range(100):
        c = copy.deepcopy(course)
        c["intake"]["course_id"] = f"C-BENCH-{i}"
        c["intake"]["patient_id"] = f"P-BENCH-{i}"
        for s in c["sessions"]:
            s["course_id"] = f"C-BENCH-{i}"
        many.append(c)
    out = {}
    for name, body in (("score_1", one), ("score_100", {"courses": many}), ("echo", one)):
        out[name] = work / f"{name}.json"
        out[name].write_text(json.dumps(body))
    return out


def wrk(url: str, body: Path, token: str | None, clients: int, seconds: int) -> dict:
    threads = min(clients, 2)
    argv = ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--timeout", "30s",
            "-s", str(ROOT / "bench" / "wrk_post.lua"), url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120,
                         env={**os.environ, "BENCH_BODY": str(body), "BENCH_TOKEN": token or ""})
    for line in out.stdout.splitlines():
        if line.startswith("WRK "):
            return {**json.loads(line[4:]), "command": " ".join(argv)}
    raise RuntimeError(f"wrk failed: {out.stdout[-500:]} {out.stderr[-500:]}")


def run(model_dir: Path, work: Path, seconds: int = 10) -> dict:
    """Load every endpoint at 1, 8, 32 clients; a result dict, or a 'skipped' reason."""
    work.mkdir(parents=True, exist_ok=True)
    env = {"MODELS_DIR": str(model_dir.parent), "VAR_DIR": str(work / "var"),
           "BENTOML_HOME": str(work / "bentoml"), "BENTO_WORKERS":
           os.environ.get("BENTO_WORKERS", "2"), "BENTO_THREADS":
           os.environ.get("BENTO_THREADS", "4")}
    token, source = find_token(env)
    if token is None:
        return {"skipped": f"serving load skipped: {source}. Set BENCH_TOKEN or add the target."}
    if shutil.which("wrk") is None:
        return {"skipped": "serving load skipped: wrk not installed (make bench-tools)"}
    files = bodies(work)
    results: dict = {"token_source": source, "settings": {k: env[k] for k in
                                                          ("BENTO_WORKERS", "BENTO_THREADS")},
                     "seconds_per_run": seconds, "runs": {}}
    for name, target, route in (("echo", "bench.echo_service:EchoService", "/echo"),
                                ("score", "serving.service:RelapseRiskService", "/score")):
        proc, base = _start(target, env, work / f"{name}.log")
        try:
            endpoints = ["echo"] if name == "echo" else ["score_1", "score_100"]
            for endpoint in endpoints:
                probe = httpx.post(base + route, content=files[endpoint].read_bytes(),
                                   headers={"Content-Type": "application/json",
                                            "Authorization": f"Bearer {token}"}, timeout=60)
                if probe.status_code != 200:
                    raise RuntimeError(f"{endpoint}: probe answered {probe.status_code}")
                for clients in CLIENTS:
                    results["runs"][f"{endpoint}@{clients}"] = {
                        "endpoint": endpoint, "clients": clients,
                        **wrk(base + route, files[endpoint], token, clients, seconds)}
        finally:
            stop_server(proc)
    return results
