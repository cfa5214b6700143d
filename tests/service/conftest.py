"""A real BentoML server on a free loopback port, serving the model trained in the session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(champion_dir, project_settings, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "MODELS_DIR": str(project_settings.models_dir),
           "VAR_DIR": str(project_settings.var_dir), "BENTOML_HOME": str(log_path.parent / "bento")}
    bentoml = Path(sys.executable).parent / "bentoml"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(bentoml), "serve", "serving.service:RelapseRiskService", "--host", "127.0.0.1",
             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited:\n" + log_path.read_text()[-3000:])
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        proc.terminate()
        raise RuntimeError("server not ready in 120 s:\n" + log_path.read_text()[-3000:])
    yield {"url": base, "log": log_path}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
