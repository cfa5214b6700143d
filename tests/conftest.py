"""Shared fixtures: one synthetic cohort and one trained model per test process."""

from __future__ import annotations

import os
from pathlib import Path

# Before anything loads an OpenMP runtime: see the Makefile's OMP_WAIT_POLICY (spinning
# threads of two test workers made XGBoost fits 4-5x slower on 2 cores).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402

from config import Settings  # noqa: E402

COHORT_N = 20000  # test part ~4,000 courses: statistical assertions do not flake
COHORT_SEED = 11


@pytest.fixture(scope="session")
def cohort_dir(tmp_path_factory) -> Path:
    from synthetic.__main__ import main as generate

    out = tmp_path_factory.mktemp("cohort") / "raw"
    generate(["--n", str(COHORT_N), "--seed", str(COHORT_SEED), "--out", str(out)])
    return out


@pytest.fixture(scope="session")
def project_settings(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("project")
    return Settings(models_dir=root / "models", var_dir=root / "var", reports_dir=root / "reports",
                    data_dir=root / "data")


@pytest.fixture(scope="session")
def trained(cohort_dir, project_settings) -> dict:
    """Train once through the real job (MLflow, gates, export); returns the job's result."""
    from training.fit import FitParams
    from training.train import train

    project_settings.models_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return train(cohort_dir, project_settings, seed=COHORT_SEED, params=FitParams())


@pytest.fixture(scope="session")
def champion_dir(trained, project_settings) -> Path:
    from riskmodel.artifact import champion_path

    assert trained["promoted"], trained["gates"]
    return champion_path(project_settings.models_dir)
