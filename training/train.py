"""`make train`: records -> features -> XGBoost -> calibration -> MLflow -> gates -> export.

Every trained candidate is logged and registered in MLflow. The gates decide:
- promote: exported to models/<version>/, alias `champion`, promotion log;
- escalate: exported and logged as a candidate awaiting `make promote VERSION=n
  REASON=...` (a person accepts the escalations, recorded with who and why);
- refuse: registered in MLflow with the reasons; never in models/ (a copy under
  var/candidates/<version>/ lets `make evaluate VERSION=n` report on it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from config import Settings, get_settings
from features.spec import FEATURE_NAMES
from riskmodel.artifact import export_artifact, set_champion
from riskmodel.extras import attach_extras
from riskmodel.predictor import RiskModel
from riskmodel.promotion_log import append_promotion
from training.bands import RISK_BANDS
from training.baselines import LogisticBaseline
from training.dataset import console, load_oracle
from training.evaluation import TestPart, evaluate_model, evaluation_plots
from training.extras import fit_extras
from training.fit import FitParams, FittedModel, fit_model
from training.gates import Comparator, GateReport, evaluate
from training.model_card import render_model_card
from training.prepare import Prepared, TrainingDataError, prepare
from training.references import comparators
from training.registry import configure_mlflow, promoter, set_champion_alias
from training.served_fit import ServedFit, fit_served, with_served_gates
from training.validation.subgroups import CARD_ATTRIBUTES, subgroup_columns, subgroup_points

TRIPOD_CHECKLIST = Path(__file__).resolve().parents[1] / "docs" / "tripod_ai_checklist.md"


def training_ranges(X: np.ndarray) -> dict[str, list[float | None]]:
    out: dict[str, list[float | None]] = {}
    for j, name in enumerate(FEATURE_NAMES):
        col = X[:, j][~np.isnan(X[:, j])]
        out[name] = [float(col.min()), float(col.max())] if col.size else [None, None]
    return out


def _engine(engine: str):
    """(prepare, fit) of an engine: pandas in this process, or dask (training/dask_train.py)."""
    if engine == "dask":
        from training.dask_train import fit_model_dask, prepare_dask

        return prepare_dask, fit_model_dask
    if engine != "pandas":
        raise ValueError(f"unknown ENGINE {engine!r} (pandas or dask)")
    return prepare, fit_model


def run_gates(prep: Prepared, test: TestPart, p_test: np.ndarray, settings: Settings, *,
              seed: int, served: ServedFit | None = None) -> tuple[GateReport, str | None]:
    """The candidate against logistic regression fitted on the same training rows, the
    champion and the reference, paired on the test part; plus the served extras' own gates
    (the observable calibration-interval check, the band-naming rule)."""
    rows = np.concatenate([prep.rows(prep.split.train), prep.rows(prep.split.valid)])
    logistic = LogisticBaseline().fit(prep.X[rows], prep.y[rows], prep.weights[rows])
    versions, champion_version = comparators(settings.models_dir, test.X)
    report = evaluate(test.y, test.weights, prep.ts.frame["patient_id"].to_numpy()[prep.split.test],
                      p_test, subgroup_columns(prep.ts.frame.iloc[prep.split.test]),
                      [Comparator("logistic", "logistic regression",
                                  logistic.predict_proba(test.X)), *versions], seed=seed)
    if served is not None:
        report = with_served_gates(report, served.gates)
    return report, champion_version


def _artifact(path: Path, settings: Settings, version: str, fitted: FittedModel, ranges: dict,
              **rest: Any) -> str:
    """export_artifact with what every export of this run shares (staged, final, refused)."""
    return export_artifact(path, name=settings.model_name, version=version,
                           booster=fitted.booster, calibrator=fitted.calibrator,
                           bands=RISK_BANDS, training_ranges=ranges, **rest)


def _stage(settings: Settings, run_id: str, version: str, fitted: FittedModel,
           ranges: dict) -> RiskModel:
    """The candidate as the service would load it (calibrated, checksummed), in a scratch dir."""
    staging = settings.models_dir / f".candidate-{run_id}"
    staging.parent.mkdir(parents=True, exist_ok=True)
    _artifact(staging, settings, version, fitted, ranges, metrics={}, model_card="pending\n")
    candidate = RiskModel.load(staging)
    shutil.rmtree(staging)
    return candidate


def _card(settings: Settings, version: str, run_id: str, prep: Prepared, test: TestPart,
          p_test: np.ndarray, metrics: dict, report: GateReport, fitted: FittedModel,
          params: FitParams, data_info: dict) -> str:
    subgroups = subgroup_points(
        test.y, p_test, test.weights,
        subgroup_columns(prep.ts.frame.iloc[prep.split.test])[list(CARD_ATTRIBUTES)],
        high_cut=RISK_BANDS.high_from)
    card_params = {**asdict(params), "best_iteration": fitted.best_iteration,
                   "calibration_a": fitted.calibrator.a, "calibration_b": fitted.calibrator.b}
    return render_model_card(name=settings.model_name, version=version, run_id=run_id,
                             metrics=metrics, gates=report.table(), bands=RISK_BANDS,
                             data=data_info, params=card_params, subgroups=subgroups,
                             decision=report.decision, not_assessable=report.not_assessable)


def _export(settings: Settings, version: str, run_id: str, seed: int, prep: Prepared,
            fitted: FittedModel, params: FitParams, ranges: dict, metrics: dict, card: str,
            data_info: dict, engine: str, served: ServedFit) -> str:
    """models/<version>/ with the risk curve and ensemble; returns the artifact's sha256."""
    final = settings.models_dir / version
    _artifact(final, settings, version, fitted, ranges, metrics=metrics, model_card=card,
              extra={"run_id": run_id, "seed": seed, "split": "patient-grouped 60/20/20",
                     **data_info},
              extra_files={TRIPOD_CHECKLIST.name: TRIPOD_CHECKLIST.read_text(),
                           **served.files()})
    client = None
    if engine == "dask":
        from compute.dask_client import get_client

        client = get_client()
    survival, ensemble = fit_extras(prep, rounds=fitted.booster.num_boosted_rounds(),
                                    params=params, seed=seed, client=client)
    return attach_extras(final, survival=survival, ensemble=ensemble)


def _log_entry(version: str, sha: str, run_id: str, report: GateReport, metrics: dict,
               champion_version: str | None, **extra: Any) -> dict:
    return {"version": version, "artifact_sha256": sha, "run_id": run_id,
            "previous_champion": champion_version, "decision": report.decision,
            "gates": report.table(), "not_assessable": report.not_assessable,
            "metrics": {k: metrics[k] for k in ("auroc", "ece", "calibration_slope")}, **extra}


def train(data_dir: Path, settings: Settings, *, seed: int, params: FitParams,
          engine: str = "pandas") -> dict:
    import mlflow

    t0 = time.perf_counter()
    prepare_, fit_ = _engine(engine)
    prep = prepare_(data_dir, seed=seed, quarantine_dir=settings.var_dir / "quarantine")
    X = prep.X
    t_features = time.perf_counter() - t0
    tr, va = prep.rows(prep.split.train), prep.rows(prep.split.valid)
    fitted = fit_(X[tr], prep.y[tr], prep.weights[tr], X[va], prep.y[va], prep.weights[va],
                  params=params, seed=seed)
    t_fit = time.perf_counter() - t0 - t_features

    configure_mlflow(settings, "relapse-risk-train")
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        run_id = run.info.run_id
        mlflow.log_params({**asdict(params), "seed": seed, "data_dir": str(data_dir),
                           "data_hash": prep.ts.data_hash, "n_features": len(FEATURE_NAMES),
                           "best_iteration": fitted.best_iteration, "calibration": "platt",
                           "censoring": "ipcw-pooled-logistic"})
        mlflow.set_tags({"data_hash": prep.ts.data_hash, "task": "train"})
        mlflow.log_dict({"features": list(FEATURE_NAMES)}, "feature_list.json")
        info = mlflow.xgboost.log_model(fitted.booster, name="model",
                                        registered_model_name=settings.model_name,
                                        pip_requirements=["xgboost==3.2.0"])
        version = str(info.registered_model_version)
        ranges = training_ranges(X[prep.split.train])
        candidate = _stage(settings, run_id, version, fitted, ranges)
        test = prep.test_part(data_dir)
        metrics = evaluate_model(candidate, test)
        t_gates = time.perf_counter()
        p_test = candidate.predict_proba(test.X)
        # Issue 12: what the served pairs, curve, OOD check and band rates mean.
        served = fit_served(candidate, prep, seed=seed)
        report, champion_version = run_gates(prep, test, p_test, settings, seed=seed,
                                             served=served)
        t_gates = time.perf_counter() - t_gates
        for k in ("auroc", "ece", "calibration_slope"):
            metrics[f"{k}_ci95_low"] = report.metrics[k]["low"]
            metrics[f"{k}_ci95_high"] = report.metrics[k]["high"]
        mlflow.log_metrics({k: v for k, v in metrics.items() if isinstance(v, int | float)})
        mlflow.log_metrics({"seconds_features": t_features, "seconds_fit": t_fit,
                            "seconds_gates": t_gates})
        mlflow.log_dict({**report.as_dict(), "champion_version_compared": champion_version},
                        "gates.json")
        evaluation_plots(candidate, test, metrics, Path(tmp))
        mlflow.log_artifacts(tmp, "plots")
        data_info = {"data_dir": str(data_dir), "data_hash": prep.ts.data_hash,
                     "n_courses": len(prep.ts.frame), "n_labelled": int(prep.known.sum()),
                     "n_train": len(prep.split.train), "n_valid": len(prep.split.valid),
                     "n_test": len(prep.split.test),
                     # The generator writes its truth beside the records; real folders have none.
                     "training_data": "synthetic" if load_oracle(data_dir) is not None
                     else "records"}
        card = _card(settings, version, run_id, prep, test, p_test, metrics, report, fitted,
                     params, data_info)
        mlflow.log_text(card, "model_card.md")
        mlflow.log_text(TRIPOD_CHECKLIST.read_text(), TRIPOD_CHECKLIST.name)
        decision = report.decision
        result = {"run_id": run_id, "version": version, "decision": decision,
                  "promoted": decision == "promote", "gates": report.table(),
                  "not_assessable": report.not_assessable, "metrics": metrics,
                  "champion_compared": champion_version,
                  "seconds": {"features": t_features, "fit": t_fit, "gates": t_gates}}
        if decision in ("promote", "escalate"):
            t_extras = time.perf_counter()
            sha = _export(settings, version, run_id, seed, prep, fitted, params, ranges, metrics,
                          card, data_info, engine, served)
            result["seconds"]["extras"] = time.perf_counter() - t_extras
            result["artifact_sha256"] = sha
            if decision == "promote":
                set_champion(settings.models_dir, version)
                set_champion_alias(settings, version)
                append_promotion(settings.models_dir, _log_entry(
                    version, sha, run_id, report, metrics, champion_version, event="promotion",
                    promoted_by=promoter(), reason="all promotion gates passed"))
            else:
                append_promotion(settings.models_dir, _log_entry(
                    version, sha, run_id, report, metrics, champion_version, event="escalation",
                    reason="gates escalated: a person decides with `make promote`"))
        else:  # refused: never in models/, but `make evaluate VERSION=n` can still report it
            _artifact(settings.var_dir / "candidates" / version, settings, version, fitted,
                      ranges, metrics=metrics, model_card=card,
                      extra={"run_id": run_id, "seed": seed, "decision": "refuse",
                             "split": "patient-grouped 60/20/20", **data_info},
                      extra_files=served.files())
        mlflow.set_tags({"promoted": str(decision == "promote").lower(), "decision": decision})
    result["seconds"]["total"] = time.perf_counter() - t0
    return result


def _report(result: dict) -> None:
    m = result["metrics"]
    console.print(f"run {result['run_id']}  registered version {result['version']}")
    line = (f"test AUROC {m['auroc']:.3f}  AUPRC {m['auprc']:.3f}  Brier {m['brier']:.3f}  "
            f"ECE {m['ece']:.3f}  slope {m['calibration_slope']:.2f}")
    if "oracle_auroc" in m:
        line += (f"  | true outcomes: model {m['auroc_true_outcomes']:.3f} "
                 f"vs oracle {m['oracle_auroc']:.3f}")
    console.print(line)
    for g in result["gates"]:
        console.print(f"  gate {g['name']:<18} {g['status']:<8} {g['detail']}")
    if result["not_assessable"]:
        console.print("  not assessable at this size: " + ", ".join(result["not_assessable"]))
    verdict = {"promote": "PROMOTED to champion",
               "escalate": f"ESCALATED: exported as a candidate; `make promote VERSION="
                           f"{result['version']} REASON=...` to accept",
               "refuse": "REFUSED (see the gates above); registered in MLflow only"}
    console.print(f"version {result['version']}: {verdict[result['decision']]}; "
                  f"{result['seconds']['total']:.1f} s in total")


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", type=Path, default=settings.data_dir)
    ap.add_argument("--seed", type=int, default=settings.seed)
    ap.add_argument("--engine", choices=("pandas", "dask"),
                    default=os.environ.get("ENGINE") or "pandas")
    ap.add_argument("--json", type=Path, help="also write the result as JSON here")
    ap.add_argument("--params", type=Path,
                    help="FitParams as JSON (e.g. reports/tuning.json from make tune); default: "
                         "the reviewed defaults in training/fit.py")
    args = ap.parse_args(argv)
    params = FitParams()
    if args.params:
        loaded = json.loads(args.params.read_text())
        params = FitParams(**loaded.get("best_params", loaded))
    try:
        result = train(args.data_dir, settings, seed=args.seed, engine=args.engine,
                       params=params)
    except TrainingDataError as exc:
        console.print(f"[red]{exc}")
        return 2
    _report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
