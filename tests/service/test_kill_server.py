"""SIGKILL a loaded server: every answered prediction is in the store; verify, then tamper."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from audit import AuditStore, init_installation
from audit.paths import AuditPaths
from tests.service.auditor_fixtures import courses
from tests.service.conftest import ROOT, free_port

CLIENTS = 6
COURSES_PER_REQUEST = 5


def _auth_headers(var_dir: Path) -> dict[str, str]:
    """A clinician bearer token once the auth middleware is in; none before."""
    try:
        from serving.auth.keys import dev_keys
        from serving.auth.tokens import issue_dev_token
    except ImportError:
        return {}
    keys = dev_keys(var_dir / "keys" / "jwt-hs256.key")
    token = issue_dev_token(keys, role="clinician", sub="kill-test", audience="relapse-risk")
    return {"Authorization": f"Bearer {token}"}


def _start(env: dict[str, str], log: Path, port: int) -> subprocess.Popen:
    bentoml = Path(sys.executable).parent / "bentoml"
    with log.open("w") as fh:
        proc = subprocess.Popen([str(bentoml), "serve", "serving.service:RelapseRiskService",
                                 "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited:\n" + log.read_text()[-3000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("server not ready:\n" + log.read_text()[-3000:])


def _kill_orphaned_workers(bentoml_home: str) -> None:
    """BentoML's workers run in their own session, so a SIGKILLed arbiter leaves them
    running: find this test's by their BENTOML_HOME and kill them too."""
    import psutil

    for p in psutil.process_iter(["cmdline"]):
        try:
            if "_bentoml_impl.worker.service" in " ".join(p.info["cmdline"] or ()) and \
                    p.environ().get("BENTOML_HOME") == bentoml_home:
                p.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


def _verify(env: dict[str, str]) -> subprocess.CompletedProcess:
    # `-o install`: the venv is in place; do not let make re-sync it inside a test.
    return subprocess.run(["make", "-s", "-o", "install", "audit-verify"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_sigkill_mid_load_loses_no_answered_prediction(champion_dir, project_settings,
                                                       tmp_path):
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIT_", "JWT_"))}
    env.update(MODELS_DIR=str(project_settings.models_dir), VAR_DIR=str(var),
               BENTOML_HOME=str(tmp_path / "bento"), BENTO_WORKERS="1", BENTO_THREADS="4")
    env.pop("PATIENT_KEY_FILE", None)
    paths = AuditPaths.under(var)
    init_installation(f"sqlite:///{var / 'audit.db'}", paths)  # as make serve does first
    port = free_port()
    t0 = time.monotonic()
    proc = _start(env, tmp_path / "server.log", port)
    print(f"server ready in {time.monotonic() - t0:.1f} s")
    url = f"http://127.0.0.1:{port}/score"
    headers = _auth_headers(var)
    body = {"courses": courses(COURSES_PER_REQUEST, "K")}
    answered: list[str] = []
    failures: list[int] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=30, headers=headers) as http:
            while not stop.is_set():
                try:
                    r = http.post(url, json=body)
                except httpx.HTTPError:
                    continue  # the server is gone: keep trying until told to stop
                if r.status_code == 200:
                    answered.append(r.json()["request_id"])
                else:
                    failures.append(r.status_code)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(answered) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    print(f"{len(answered)} answered after {time.monotonic() - t0:.1f} s")
    os.killpg(proc.pid, signal.SIGKILL)  # the server and its workers, mid-load
    proc.wait(timeout=30)
    _kill_orphaned_workers(env["BENTOML_HOME"])
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(answered) >= 40, (len(answered), failures[:5])
    assert not failures or set(failures) <= {503}, failures[:5]

    with AuditStore(f"sqlite:///{var / 'audit.db'}", read_only=True, paths=paths) as store:
        stored: dict[str, int] = {}
        for row in store.iter_rows("prediction"):
            stored[row["request_id"]] = stored.get(row["request_id"], 0) + 1
        report = store.verify()
    missing = [rid for rid in answered if stored.get(rid) != COURSES_PER_REQUEST]
    assert not missing, f"{len(missing)} answered requests missing from the audit store"
    assert all(c.ok for c in report.chains.values()), str(report)

    ok = _verify(env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    db = sqlite3.connect(var / "audit.db")
    victim = db.execute("SELECT event_id FROM audit_events WHERE seq = 7").fetchone()[0]
    db.execute("DROP TRIGGER audit_events_no_update")
    db.execute("UPDATE audit_events SET probability = 0.01 WHERE seq = 7")
    db.commit()
    db.close()
    broken = _verify(env)
    assert broken.returncode != 0 and "FAILED" in broken.stdout, broken.stdout
    assert f"BROKEN at seq 7 (event {victim})" in broken.stdout
