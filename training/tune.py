"""`make tune`: Optuna search over XGBoost hyperparameters with patient-grouped CV.

Bounded: `--trials` trials (default 20) and `--timeout` seconds. Only the champion
procedure's train + validation parts are used (the test part stays untouched); each
trial scores the IPCW-weighted log loss averaged over grouped folds, with early stopping
on each fold's held-out patients. The study is one MLflow run with a nested run per
trial; the best parameters go to reports/tuning.json, to pass to `make train` by hand
after review (`python -m training.train --params reports/tuning.json`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.model_selection import GroupKFold

from config import get_settings
from features.spec import FEATURE_NAMES
from training.fit import FitParams
from training.prepare import Prepared, prepare


def suggest(trial) -> FitParams:
    return FitParams(
        max_depth=trial.suggest_int("max_depth", 2, 5),
        learning_rate=trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        subsample=trial.suggest_float("subsample", 0.6, 1.0),
        colsample_bytree=trial.suggest_float("colsample_bytree", 0.5, 1.0),
        min_child_weight=trial.suggest_float("min_child_weight", 1.0, 30.0, log=True),
        reg_lambda=trial.suggest_float("reg_lambda", 0.1, 10.0, log=True),
    )


def cv_logloss(prep: Prepared, params: FitParams, *, folds: int, seed: int) -> dict:
    rows = prep.rows(np.concatenate([prep.split.train, prep.split.valid]))
    X, y, w = prep.X[rows], prep.y[rows], prep.weights[rows]
    groups = prep.ts.frame["patient_id"].to_numpy()[rows]
    losses, rounds = [], []
    for tr, te in GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(X, groups=groups):
        names = list(FEATURE_NAMES)
        dtr = xgb.DMatrix(X[tr], label=y[tr], weight=w[tr], feature_names=names, missing=np.nan)
        dte = xgb.DMatrix(X[te], label=y[te], weight=w[te], feature_names=names, missing=np.nan)
        hist: dict = {}
        booster = xgb.train(params.xgb_params(seed), dtr, num_boost_round=params.num_boost_round,
                            evals=[(dte, "held_out")], evals_result=hist, verbose_eval=False,
                            early_stopping_rounds=params.early_stopping_rounds)
        losses.append(float(booster.best_score))
        rounds.append(int(booster.best_iteration) + 1)
    return {"logloss": float(np.mean(losses)), "logloss_sd": float(np.std(losses, ddof=1)),
            "rounds": float(np.mean(rounds))}


def tune(data_dir: Path, *, trials: int, timeout: float, folds: int, seed: int,
         out: Path) -> dict:
    import mlflow
    import optuna

    from training.registry import configure_mlflow

    settings = get_settings()
    prep = prepare(data_dir, seed=seed, verbose=False)
    configure_mlflow(settings, "relapse-risk-tune")
    with mlflow.start_run(run_name="optuna-study") as parent:
        mlflow.log_params({"trials": trials, "timeout_s": timeout, "folds": folds, "seed": seed,
                           "data_hash": prep.ts.data_hash})

        def objective(trial) -> float:
            params = suggest(trial)
            with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
                mlflow.log_params(trial.params)
                res = cv_logloss(prep, params, folds=folds, seed=seed)
                mlflow.log_metrics({"cv_logloss": res["logloss"], "cv_rounds": res["rounds"]})
            return res["logloss"]

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="minimize",
                                    sampler=optuna.samplers.TPESampler(seed=seed))
        study.enqueue_trial({k: getattr(FitParams(), k) for k in (
            "max_depth", "learning_rate", "subsample", "colsample_bytree", "min_child_weight",
            "reg_lambda")})  # the current defaults compete too
        t0 = time.perf_counter()
        study.optimize(objective, n_trials=trials, timeout=timeout)
        best = replace(FitParams(), **study.best_params)
        default = study.trials[0].value  # the enqueued defaults
        if default is None:  # their trial failed: nothing to compare with
            default = float("nan")
        result = {"best_params": asdict(best), "best_cv_logloss": study.best_value,
                  "default_cv_logloss": default, "improvement": default - study.best_value,
                  "n_trials": len(study.trials), "folds": folds,
                  "seconds": time.perf_counter() - t0, "mlflow_run_id": parent.info.run_id}
        mlflow.log_metrics({"best_cv_logloss": study.best_value, "default_cv_logloss": default})
        mlflow.log_dict(result, "tuning.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", type=Path, default=settings.data_dir)
    ap.add_argument("--seed", type=int, default=settings.seed)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=settings.reports_dir / "tuning.json")
    args = ap.parse_args(argv)
    r = tune(args.data_dir, trials=args.trials, timeout=args.timeout, folds=args.folds,
             seed=args.seed, out=args.out)
    print(f"{r['n_trials']} trials in {r['seconds']:.0f} s: best grouped-CV log loss "
          f"{r['best_cv_logloss']:.4f} vs defaults {r['default_cv_logloss']:.4f}; "
          f"best {json.dumps({k: r['best_params'][k] for k in ('max_depth', 'learning_rate')})}"
          f" -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
