"""A serving worker runs BLAS on one thread (in a child process: the limit is global)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import json
import numpy as np
from threadpoolctl import threadpool_info
from serving.threads import one_blas_thread
before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
one_blas_thread()
after = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"before": before, "after": after}))
"""


def test_one_blas_thread_limits_every_loaded_blas():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env={"OPENBLAS_NUM_THREADS": "2", "PATH": "/usr/bin"},
                         check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["before"] and all(n == 2 for n in got["before"])  # the limit has work to do
    assert all(n == 1 for n in got["after"])
