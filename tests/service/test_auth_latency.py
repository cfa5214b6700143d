"""p50 latency of /score with and without the auth middleware, in one run (slow: not in make test).

    .venv/bin/pytest -m slow -s tests/service/test_auth_latency.py

Two servers on the same model: the real one, and the same service with the
auth middleware swapped for one that sets a fixed principal. Sequential
single-course requests, so the figures are per-request latency, not throughput.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.common import stop_server
from devtools.example_course import example_request
from tests.service.conftest import ROOT, free_port

N = 300
NO_AUTH_MODULE = '''
from serving.auth.middleware import AuthMiddleware
from serving.auth.principal import Principal, set_principal
from serving.service import RelapseRiskService


class FixedPrincipal:
    def __init__(self, app, factory=None):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            set_principal(scope, Principal("bench", "clinician"))
        await self.app(scope, receive, send)


RelapseRiskService.middlewares[:] = [(FixedPrincipal, {}) if cls is AuthMiddleware else (cls, o)
                                     for cls, o in RelapseRiskService.middlewares]
'''


def p50_ms(url: str, headers: dict[str, str]) -> float:
    body = example_request()
    with httpx.Client(timeout=30) as client:
        for _ in range(20):  # warm up
            assert client.post(url + "/score", json=body, headers=headers).status_code == 200
        times = []
        for _ in range(N):
            t = time.perf_counter()
            r = client.post(url + "/score", json=body, headers=headers)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
    return statistics.median(times)


@pytest.mark.slow
def test_p50_with_and_without_auth(server, project_settings, tmp_path):
    (tmp_path / "bench_noauth.py").write_text(NO_AUTH_MODULE)
    port = free_port()
    env = {**__import__("os").environ, "MODELS_DIR": str(project_settings.models_dir),
           "VAR_DIR": str(project_settings.var_dir), "PYTHONPATH": f"{tmp_path}:{ROOT}",
           "BENTOML_HOME": str(tmp_path / "bento")}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "bentoml"), "serve",
                             "bench_noauth:RelapseRiskService", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        with_auth = p50_ms(server["url"], server["auth"])
        without = p50_ms(url, {})
        with_auth_again = p50_ms(server["url"], server["auth"])
    finally:
        stop_server(proc)
    print(f"\n/score p50 over {N} sequential requests: with auth {with_auth:.2f} ms "
          f"(again {with_auth_again:.2f} ms), without auth {without:.2f} ms")
    assert without > 0 and with_auth > 0
