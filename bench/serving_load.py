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
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.common import PY, ROOT, stop_server

CLIENTS = (1, 8, 32)
DEFAULT_THREADS = "4"  # BENTO_THREADS for both servers unless set


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


def init_audit(env: dict[str, str]) -> None:
    """The bench's own audit installation under its VAR_DIR, as `make serve` makes one (the
    service never creates a store itself), migrated: a store left by an earlier checkout's
    bench would stop the service until it is."""
    for command in (["init", "--if-fresh"], ["migrate"]):
        out = subprocess.run([PY, "-m", "audit", *command], cwd=ROOT, capture_output=True,
                             text=True, timeout=300, env={**os.environ, **env})
        if out.returncode:
            raise RuntimeError(f"audit {command[0]} failed: {out.stdout[-500:]} "
                               f"{out.stderr[-500:]}")


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
        # circus keeps the parent alive when a worker fails to start: read its log too
        if proc.poll() is not None or "Application startup failed" in log.read_text():
            stop_server(proc)
            raise RuntimeError(f"{target} did not start:\n{log.read_text()[-2000:]}")
        # /readyz answers once one worker is up: wait for every worker's instance too, or
        # the first measurements overlap a worker still starting.
        started = log.read_text().count(" initialized")
        try:
            if (started >= int(env.get("BENTO_WORKERS", "1"))
                    and httpx.get(base + "/readyz", timeout=2).status_code == 200):
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(f"{target} not ready in 180 s")


def bodies(work: Path) -> dict[str, Path]:
    from devtools.example_course import example_request

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
    paths = {"one": work / "one_course.json", "many": work / "100_courses.json"}
    paths["one"].write_text(json.dumps(one))
    paths["many"].write_text(json.dumps({"courses": many}))
    # Each endpoint's body: the 100-course one for the `_100` endpoints.
    return {name: paths["many" if name.endswith("_100") else "one"] for name in ENDPOINTS}


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


# Endpoint -> (server, route). Both servers run through the whole load so that load from
# neighbours on the shared cores falls on echo and /score alike.
# floor: the service with its pipeline's work taken out (bench/floor_service.py).
ENDPOINTS = {"echo": ("echo", "/echo"), "floor_1": ("floor", "/score"),
             "score_1": ("score", "/score"), "echo_100": ("echo", "/echo"),
             "floor_100": ("floor", "/score"), "score_100": ("score", "/score")}
SERVERS = {"echo": "bench.echo_service:EchoService",
           "floor": "bench.floor_service:RelapseRiskService",
           "score": "serving.service:RelapseRiskService"}
# One round: at each client count the endpoints back to back (echo first). The 100-course
# body is compared with the batch job at 1 client only (the target's figure); echo of the
# same body is what the framework alone allows that figure (bench.targets, "ceilings").
PLAN = tuple((e, c) for c in CLIENTS for e in ENDPOINTS if not e.endswith("_100") or c == 1)


def _server_cpu_seconds(proc: subprocess.Popen) -> float:
    """User + system CPU used so far by a server and its worker processes."""
    import psutil

    total = 0.0
    root = psutil.Process(proc.pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            cpu = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += cpu.user + cpu.system
    return total


def server_env(model_dir: Path, work: Path) -> dict[str, str]:
    """What both servers run with: the bench's model, its own var/ and BentoML home."""
    # MODEL_VERSION pins the directory itself: a refused candidate has no CHAMPION pointer.
    return {"MODELS_DIR": str(model_dir.parent), "MODEL_VERSION": model_dir.name,
            "VAR_DIR": str(work / "var"),
            "BENTOML_HOME": str(work / "bentoml"),
            "BENTO_WORKERS": os.environ.get("BENTO_WORKERS", "2"),
            "BENTO_THREADS": os.environ.get("BENTO_THREADS", DEFAULT_THREADS)}


def run(model_dir: Path, work: Path, seconds: int = 5, rounds: int = 4,
        between_rounds: Callable[[], dict] | None = None) -> dict:
    """`rounds` rounds of PLAN under wrk; a result dict, or a 'skipped' reason.

    Each run records the servers' CPU per request (`server_cpu_ms_per_request`), a figure
    that depends less on what else shares the cores than req/s does. `between_rounds`
    (the audited batch job) runs once after each round while both servers idle, so its
    figure sees the same machine as that round's.
    """
    work.mkdir(parents=True, exist_ok=True)
    env = server_env(model_dir, work)
    token, source = find_token(env)
    if token is None:
        return {"skipped": f"serving load skipped: {source}. Set BENCH_TOKEN or add the target."}
    if shutil.which("wrk") is None:
        return {"skipped": "serving load skipped: wrk not installed (make bench-tools)"}
    init_audit(env)
    files = bodies(work)
    results: dict = {"token_source": source, "settings": {k: env[k] for k in
                                                          ("BENTO_WORKERS", "BENTO_THREADS")},
                     "seconds_per_run": seconds, "rounds": []}
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    try:
        for name in SERVERS:
            servers[name] = _start(SERVERS[name], env, work / f"{name}.log")
        for endpoint in ENDPOINTS:
            (_, base), route = servers[ENDPOINTS[endpoint][0]], ENDPOINTS[endpoint][1]
            probe = httpx.post(base + route, content=files[endpoint].read_bytes(),
                               headers={"Content-Type": "application/json",
                                        "Authorization": f"Bearer {token}"}, timeout=60)
            if probe.status_code != 200:
                raise RuntimeError(f"{endpoint}: probe answered {probe.status_code}")
        for i in range(rounds):
            print(f"[bench] serving round {i + 1}/{rounds}", flush=True)
            runs: dict = {}
            for endpoint, clients in PLAN:
                (proc, base), route = servers[ENDPOINTS[endpoint][0]], ENDPOINTS[endpoint][1]
                cpu = _server_cpu_seconds(proc)
                out = wrk(base + route, files[endpoint], token, clients, seconds)
                out["server_cpu_ms_per_request"] = (
                    (_server_cpu_seconds(proc) - cpu) * 1000 / max(out["requests"], 1))
                runs[f"{endpoint}@{clients}"] = {"endpoint": endpoint, "clients": clients, **out}
            results["rounds"].append({"runs": runs, **(between_rounds() if between_rounds
                                                         else {})})
    finally:
        for proc, _ in servers.values():
            stop_server(proc)
    return results


PROFILE_WARMUP = 20  # untimed calls per stage first: caches, lazy imports, SQLite pages


def profile_pipeline(model_dir: Path, work: Path, n: int = 200,
                     out: Path | None = None) -> dict:
    """In-process cost of one single-course /score, without HTTP: token check, request
    parsing, `PredictionPipeline.predict` (features, SHAP, interval, risk curve, audit
    write to SQLite under `work`) and the response's JSON. Per stage: median CPU ms of `n`
    calls each; the whole request is also profiled with pyinstrument (text to `out`)."""
    import statistics

    os.environ.update(VAR_DIR=str(work / "var"), MODELS_DIR=str(model_dir.parent))
    from config import get_settings

    get_settings.cache_clear()
    from audit import AuditStore
    from devtools.example_course import example_request
    from riskmodel.predictor import RiskModel
    from serving.auth.keys import dev_keys
    from serving.auth.tokens import issue_dev_token
    from serving.auth.users import UserAuthenticator
    from serving.pipeline import Caller, PredictionPipeline
    from serving.recording import prediction_events
    from serving.schemas import ScoreRequest, ScoreResponse
    from serving.scoring import score_courses

    settings = get_settings()
    auth = UserAuthenticator.from_settings(settings)
    token = issue_dev_token(dev_keys(settings.jwt_secret_path), role="clinician",
                            sub="bench", audience=settings.jwt_audience)
    body = json.dumps(example_request()).encode()
    model = RiskModel.load(model_dir)
    from audit import init_if_fresh

    init_if_fresh(settings.audit_url)
    store = AuditStore(settings.audit_url)
    pipeline = PredictionPipeline(model, store)
    courses = list(ScoreRequest.model_validate_json(body).courses)
    scored = score_courses(pipeline.model, courses)

    def events() -> list:
        return prediction_events(store, model, courses, scored, request_id="0" * 32,
                                 caller_sub="bench", caller_role="clinician",
                                 endpoint="/score", latency_ms=1.0)

    def request() -> bytes:
        principal = auth({}, token)
        req = ScoreRequest.model_validate_json(body)
        served = pipeline.predict(list(req.courses), Caller(principal.sub, principal.role),
                                  "/score")
        return ScoreResponse(request_id=served.request_id, model=served.model,
                             warning=served.warning, predictions=served.scored.predictions).model_dump_json().encode()

    stages = {
        "token check (cached after the first)": lambda: auth({}, token),
        "parse + validate request": lambda: ScoreRequest.model_validate_json(body),
        "features + SHAP + interval + curve": lambda: score_courses(pipeline.model,
                                                                    courses),
        "audit event objects": events,
        "audit event objects + append (commit)": lambda: store.append_rows(events()),
        "whole request": request,
    }
    report: dict = {"n": n, "cpu_ms": {}, "wall_ms": {}}
    for name, fn in stages.items():
        for _ in range(PROFILE_WARMUP):
            fn()
        cpu, wall = [], []
        for _ in range(n):
            c, w = time.thread_time(), time.perf_counter()
            fn()
            cpu.append((time.thread_time() - c) * 1000)
            wall.append((time.perf_counter() - w) * 1000)
        report["cpu_ms"][name] = statistics.median(cpu)
        report["wall_ms"][name] = statistics.median(wall)
    if out is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0001)
        with profiler:
            for _ in range(n):
                request()
        out.write_text(profiler.output_text(unicode=False, color=False))
        report["profile"] = str(out)
    store.close()
    return report
