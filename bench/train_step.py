"""One training measurement in its own process: `training.train.train` end to end
(validate, features, split, IPCW, XGBoost, calibration, MLflow, gates, export)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench.common import emit


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--engine", default=os.environ.get("ENGINE", "pandas"))
    args = ap.parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from config import Settings
    from training.fit import FitParams
    from training.train import train

    settings = Settings()  # MODELS_DIR / VAR_DIR from the orchestrator's environment
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = train(args.data, settings, seed=args.seed, params=FitParams(), engine=args.engine)
    emit({"seconds": time.perf_counter() - t0, "stage_seconds": result["seconds"],
          "auroc": result["metrics"]["auroc"], "version": result["version"],
          "promoted": result["promoted"], "decision": result["decision"], "engine": args.engine})


if __name__ == "__main__":
    main()
