"""ENGINE=dask against a real cluster (docs/deployment.md "Training and batch scoring on Dask").

Starts `dask scheduler` and two `dask worker` processes from the project's .venv on free
localhost ports, then runs the training and batch-scoring entry points as `make train
ENGINE=dask` and `make score-batch ENGINE=dask` run them, with DASK_SCHEDULER naming that
scheduler and temporary MODELS_DIR / VAR_DIR (the project's champion is never touched). The
scheduler's task stream shows which worker ran what. Marked slow (not in `make test`):

    .venv/bin/python -m pytest -m slow tests/model/test_dask_cluster.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess  # nosec B404: our own .venv's executables, fixed arguments
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from config import Settings
from riskmodel.predictor import RiskModel
from training.extras import ENSEMBLE_MEMBERS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
_VENV_BIN = ROOT / ".venv" / "bin"
BIN = _VENV_BIN if (_VENV_BIN / "dask").exists() else Path(sys.executable).parent
PYTHON = str(BIN / "python")
N_COURSES = 20000  # as tests/conftest.py: the promotion gates need a test part this size
SEED = 11


def _start(args: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        # own process group: the nanny's worker process is stopped with it
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,  # nosec
                                cwd=cwd, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_for(path: Path, procs: list[subprocess.Popen], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError:
                pass  # being written
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a dask process exited while starting (logs beside " f"{path})")
        time.sleep(0.2)
    raise TimeoutError(f"no scheduler file {path} after {timeout} s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` + two single-threaded `dask worker`s; stopped even when a test fails."""
    from distributed import Client

    root = tmp_path_factory.mktemp("dask_cluster")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    env["OMP_WAIT_POLICY"] = "PASSIVE"  # see the Makefile: 2 shared cores
    procs: list[subprocess.Popen] = []
    try:
        scheduler_file = root / "scheduler.json"
        # port 0: the OS picks a free port; the scheduler file says which
        procs.append(_start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                             "--port", "0", "--no-dashboard",
                             "--scheduler-file", str(scheduler_file)],
                            root / "scheduler.log", env, root))
        address = _wait_for(scheduler_file, procs)["address"]
        for i in range(2):
            # cwd is not the repo: the workers import the project as an installed package
            workdir = root / f"worker-{i}"
            workdir.mkdir()
            procs.append(_start([str(BIN / "dask"), "worker", address, "--name", f"w{i}",
                                 "--host", "127.0.0.1", "--nthreads", "1",
                                 "--memory-limit", "2GiB", "--no-dashboard",
                                 "--local-directory", str(workdir)],
                                root / f"worker-{i}.log", env, workdir))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
            client.get_task_stream(start=0, stop=0)  # the scheduler records from now on
            yield {"address": address, "client": client, "root": root}
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory) -> Path:
    from synthetic.__main__ import main as generate

    out = tmp_path_factory.mktemp("dask_cohort") / "raw"
    generate(["--n", str(N_COURSES), "--seed", str(SEED), "--out", str(out)])
    return out


def _run(args: list[str], env: dict[str, str], log: Path) -> None:
    """A project entry point in its own process, as make runs it; its output kept in `log`."""
    with open(log, "wb") as out:
        done = subprocess.run(args, env=env, cwd=ROOT, stdout=out,  # nosec B603
                              stderr=subprocess.STDOUT, timeout=900)
    assert done.returncode == 0, log.read_text()[-4000:]


def _tasks(client, since: int) -> list[dict]:
    return client.get_task_stream(start=0)[since:]


def _prefix(record: dict) -> str:
    from dask.utils import key_split

    return key_split(record["key"])  # "_frame_of-<token>" -> "frame_of"


def test_training_and_batch_scoring_run_on_the_cluster(cluster, small_cohort, tmp_path):
    client = cluster["client"]
    workers = set(client.scheduler_info()["workers"])
    assert len(workers) == 2
    # docs/deployment.md: client, scheduler and workers run the same versions (raises if not)
    client.get_versions(check=True, packages=["xgboost-cpu", "relapse-risk"])
    # Nothing of the caller's settings (MODELS_DIR, VAR_DIR, AUDIT_*, MLFLOW_TRACKING_URI, ...)
    # reaches the jobs: they see only this test's folders, never the project's champion or stores.
    settings = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DASK_") and k.upper() not in settings}
    env.update(DASK_SCHEDULER=cluster["address"], ENGINE="dask",
               MODELS_DIR=str(tmp_path / "models"), VAR_DIR=str(tmp_path / "var"),
               REPORTS_DIR=str(tmp_path / "reports"), MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
               OMP_WAIT_POLICY="PASSIVE")
    (tmp_path / "models").mkdir()

    # make train ENGINE=dask DATA_DIR=... SEED=...
    before = len(client.get_task_stream(start=0))
    result_file = tmp_path / "train.json"
    _run([PYTHON, "-m", "training.train", "--data-dir", str(small_cohort), "--seed", str(SEED),
          "--json", str(result_file)], env, tmp_path / "train.log")
    result = json.loads(result_file.read_text())
    trained = _tasks(client, before)

    by_worker = Counter(r["worker"] for r in trained)
    prefixes = Counter(_prefix(r) for r in trained)
    print("training tasks by worker", dict(by_worker), "by name", dict(prefixes))
    assert set(by_worker) == workers, by_worker  # both workers of this cluster did work
    assert all(r["status"] == "OK" for r in trained)
    # features: one task per course partition (2 x workers), after the shuffle by course
    assert prefixes["frame_of"] == 4 and prefixes["p2pshuffle"] > 0
    # xgboost.dask: one training task per worker (its `fn`), on each of the two
    assert {r["worker"] for r in trained if _prefix(r) == "fn"} == workers
    assert result["decision"] == "promote", result["gates"]
    assert prefixes["members"] == ENSEMBLE_MEMBERS  # bootstrap members, one task each
    version = result["version"]
    model_dir = tmp_path / "models" / version
    assert (tmp_path / "models" / "CHAMPION").read_text().strip() == version
    model = RiskModel.load(model_dir)  # every sha256 checked, as serving does
    assert model.artifact.version == version
    assert result["metrics"]["auroc"] > 0.6

    def peak_rss_mib() -> float:  # nested: pickled by value, the workers cannot import tests/
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    peak = client.run(peak_rss_mib)
    print("worker peak RSS (MiB) after training", peak)  # the memory figure in the docs

    # make score-batch INPUT=... OUTPUT=... ENGINE=dask (a job never creates its audit store)
    _run([PYTHON, "-m", "audit", "init"], env, tmp_path / "audit-init.log")
    before = len(client.get_task_stream(start=0))
    out = tmp_path / "scores.parquet"
    _run([PYTHON, "-m", "jobs.score_batch", "--input", str(small_cohort), "--output", str(out),
          "--chunk", "1500", "--engine", "dask", "--no-progress"], env, tmp_path / "batch.log")
    scored = [r for r in _tasks(client, before) if _prefix(r) == "score_on_worker"]
    assert len(scored) >= 4 and {r["worker"] for r in scored} <= workers
    table = pq.read_table(out).to_pandas()
    intake = pd.read_csv(small_cohort / "intake.csv", dtype="str")
    assert 0.9 * len(intake) < len(table) <= len(intake)
    assert table["relapse_probability_180d"].between(0, 1).all()
