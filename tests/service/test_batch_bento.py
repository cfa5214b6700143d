"""`bentoml build` packs the service (about 30 s on 2 cores: marked slow; `make bento` runs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bentoml_build_produces_a_bento(tmp_path):
    req = ROOT / "var" / "bento" / "requirements.txt"
    req.parent.mkdir(parents=True, exist_ok=True)
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv not on PATH (make installs it)")
    subprocess.run([uv, "export", "--frozen", "--no-dev", "--no-hashes",
                    "--no-emit-project", "-o", str(req)], cwd=ROOT, check=True,
                   capture_output=True)
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml")}
    bentoml = Path(sys.executable).parent / "bentoml"
    out = subprocess.run([str(bentoml), "build", "-f", "bentofile.yaml", "."], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    built = list((tmp_path / "bentoml" / "bentos" / "relapse_risk").glob("*/src/serving/service.py"))
    assert built, "no Bento with the service source"
    src = built[0].parent.parent
    assert (src / "features" / "builder.py").exists()
    assert not (src / "training").exists()  # serving never needs training/
    assert (src / "audit" / "store.py").exists()
    assert not (src / "jobs").exists() and not (src / "devtools").exists()  # offline, dev only
