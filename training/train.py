"""`make train`: records -> features -> XGBoost -> calibration -> MLflow -> gates -> export.

Every trained candidate is logged and registered in MLflow; only a candidate
that passes the promotion gates is exported to models/<version>/ and gets
the `champion` alias.
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

import numpy as np

from config import Settings, get_settings
from features.spec import FEATURE_NAMES
from riskmodel.artifact import (
    ArtifactError,
    RiskBands,
    champion_path,
    export_artifact,
    set_champion,
)
from riskmodel.extras import attach_extras
from riskmodel.predictor import RiskModel
from riskmodel.promotion_log import append_promotion
from training.bands import RISK_BANDS
from training.dataset import console, load_oracle
from training.evaluation import TestPart, evaluate_model, evaluation_plots
from training.extras import fit_extras
from training.fit import FitParams, fit_model
from training.gates_old import GateEvidence, collect_evidence, evaluate_gates, gates_table
from training.model_card import render_model_card
from training.prepare import prepare
from training.registry import configure_mlflow, promoter, set_champion_alias
from training.served_fit import fit_served
from training.validation.subgroups import CARD_ATTRIBUTES, subgroup_columns, subgroup_points

TRIPOD_CHECKLIST = Path(__file__).resolve().parents[1] / "docs" / "tripod_ai_checklist.md"


def training_ranges(X: np.ndarray) -> dict[str, list[float | None]]:
    out: dict[str, list[float | None]] = {}
    for j, name in enumerate(FEATURE_NAMES):
        col = X[:, j][~np.isnan(X[:, j])]
        out[name] = [float(col.min()), float(col.max())] if col.size else [None, None]
    return out


def _champion_predictions(settings: Settings,
                          part: TestPart) -> tuple[np.ndarray | None, str | None]:
    """The current champion's probabilities on the candidate's test rows."""
    path = champion_path(settings.models_dir)
    if path is None:
        return None, None
    try:
        champion = RiskModel.load(path)
    except ArtifactError as exc:
        console.print(f"[yellow]current champion cannot be loaded ({exc}); comparing without it")
        return None, None
    return champion.predict_proba(part.X), champion.artifact.version


def _gate(prep, part: TestPart, p: np.ndarray, settings: Settings, *, bands: RiskBands,
          seed: int) -> tuple[list[dict], GateEvidence, str | None]:
    test = prep.split.test
    p_champion, champion_version = _champion_predictions(settings, part)
    evidence = collect_evidence(
        part.y, part.weights, prep.ts.frame["patient_id"].to_numpy()[test],
        p, subgroup_columns(prep.ts.frame.iloc[test]),
        high_cut=bands.high_from, seed=seed, p_champion=p_champion)
    return gates_table(evaluate_gates(evidence)), evidence, champion_version


def _engine(engine: str):
    """(prepare, fit) of an engine: pandas in this process, or dask (training/dask_train.py)."""
    if engine == "dask":
        from training.dask_train import fit_model_dask, prepare_dask

        return prepare_dask, fit_model_dask
    if engine != "pandas":
        raise ValueError(f"unknown ENGINE {engine!r} (pandas or dask)")
    return prepare, fit_model


def train(data_dir: Path, settings: Settings, *, seed: int, params: FitParams,
          engine: str = "pandas") -> dict:
    import mlflow

    t0 = time.perf_counter()
    prepare_, fit_ = _engine(engine)
    prep = prepare_(data_dir, seed=seed, quarantine_dir=settings.var_dir / "quarantine")
    ts, split, weights, X, y, known = prep.ts, prep.split, prep.weights, prep.X, prep.y, prep.known
    frame = ts.frame
    t_features = time.perf_counter() - t0

    tr, va = prep.rows(split.train), prep.rows(split.valid)
    fitted = fit_(X[tr], y[tr], weights[tr], X[va], y[va], weights[va], params=params, seed=seed)
    t_fit = time.perf_counter() - t0 - t_features

    configure_mlflow(settings, "relapse-risk-train")
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params({**asdict(params), "seed": seed, "data_dir": str(data_dir),
                           "data_hash": ts.data_hash, "n_features": len(FEATURE_NAMES),
                           "best_iteration": fitted.best_iteration,
                           "calibration": "platt", "censoring": "ipcw-pooled-logistic-30d"})
        mlflow.set_tags({"data_hash": ts.data_hash, "task": "train"})
        mlflow.log_dict({"features": list(FEATURE_NAMES)}, "feature_list.json")
        info = mlflow.xgboost.log_model(fitted.booster, name="model",
                                        registered_model_name=settings.model_name,
                                        pip_requirements=["xgboost==3.2.0"])
        version = str(info.registered_model_version)

        staging = settings.models_dir / f".candidate-{run.info.run_id}"
        staging.parent.mkdir(parents=True, exist_ok=True)
        ranges = training_ranges(X[split.train])
        bands = RISK_BANDS
        sha = export_artifact(staging, name=settings.model_name, version=version,
                              booster=fitted.booster, calibrator=fitted.calibrator, bands=bands,
                              training_ranges=ranges, metrics={}, model_card="pending\n")
        candidate = RiskModel.load(staging)
        test = prep.test_part(data_dir)
        metrics = evaluate_model(candidate, test)
        t_gates = time.perf_counter()
        p_test = candidate.predict_proba(test.X)  # the gates and the card's subgroups
        gates, evidence, champion_version = _gate(prep, test, p_test, settings,
                                                  bands=RISK_BANDS, seed=seed)
        # Issue 12: what the served pairs, curve, OOD check and band rates mean; the
        # observable Venn-Abers check and the band-naming rule join the gates.
        served = fit_served(candidate, prep, seed=seed)
        gates = gates + served.gates
        t_gates = time.perf_counter() - t_gates
        for k in ("auroc", "ece", "calibration_slope"):
            metrics[f"{k}_ci95_low"] = evidence.metrics[k]["low"]
            metrics[f"{k}_ci95_high"] = evidence.metrics[k]["high"]
        promoted = all(g["passed"] for g in gates)

        mlflow.log_metrics({k: v for k, v in metrics.items() if isinstance(v, int | float)})
        mlflow.log_metric("seconds_features", t_features)
        mlflow.log_metric("seconds_fit", t_fit)
        mlflow.log_metric("seconds_gates", t_gates)
        mlflow.log_dict({"gates": gates, "promoted": promoted,
                         "champion_version_compared": champion_version,
                         "vs_champion_auroc": evidence.vs_champion,
                         "subgroups": evidence.subgroups}, "gates.json")
        evaluation_plots(candidate, test, metrics, Path(tmp))
        mlflow.log_artifacts(tmp, "plots")

        # The generator writes its truth beside the records; real record folders have none.
        training_data = "synthetic" if load_oracle(data_dir) is not None else "records"
        data_info = {"data_dir": str(data_dir), "data_hash": ts.data_hash,
                     "n_courses": len(frame), "n_labelled": int(known.sum()),
                     "n_train": len(split.train), "n_valid": len(split.valid),
                     "n_test": len(split.test)}
        card_params = {**asdict(params), "best_iteration": fitted.best_iteration,
                       "calibration_a": fitted.calibrator.a, "calibration_b": fitted.calibrator.b}
        t_sub = time.perf_counter()
        test_rows = split.test
        subgroups = subgroup_points(
            test.y, p_test, test.weights,
            subgroup_columns(frame.iloc[test_rows])[list(CARD_ATTRIBUTES)],
            high_cut=bands.high_from)
        mlflow.log_metric("seconds_subgroups", time.perf_counter() - t_sub)
        card = render_model_card(name=settings.model_name, version=version, run_id=run.info.run_id,
                                 metrics=metrics, gates=gates, bands=bands, data=data_info,
                                 params=card_params, subgroups=subgroups)
        mlflow.log_text(card, "model_card.md")
        checklist = TRIPOD_CHECKLIST.read_text()
        mlflow.log_text(checklist, TRIPOD_CHECKLIST.name)
        shutil.rmtree(staging)

        result = {"run_id": run.info.run_id, "version": version, "promoted": promoted,
                  "gates": gates, "metrics": metrics, "champion_compared": champion_version,
                  "seconds": {"features": t_features, "fit": t_fit,
                              "gates": t_gates}}
        if promoted:
            final = settings.models_dir / version
            sha = export_artifact(final, name=settings.model_name, version=version,
                                  booster=fitted.booster, calibrator=fitted.calibrator, bands=bands,
                                  training_ranges=ranges, metrics=metrics, model_card=card,
                                  extra={"run_id": run.info.run_id, "seed": seed,
                                         "split": "patient-grouped 60/20/20",
                                         "training_data": training_data, **data_info},
                                  extra_files={TRIPOD_CHECKLIST.name: checklist,
                                               **served.files()})
            # Optional parts for serving (issue 6): risk curve and prediction intervals.
            t_extras = time.perf_counter()
            client = None
            if engine == "dask":
                from compute.dask_client import get_client

                client = get_client()
            survival, ensemble = fit_extras(prep, rounds=fitted.booster.num_boosted_rounds(),
                                            params=params, seed=seed, client=client)
            result["seconds"]["extras"] = time.perf_counter() - t_extras
            sha = attach_extras(final, survival=survival, ensemble=ensemble)
            set_champion(settings.models_dir, version)
            set_champion_alias(settings, version)
            append_promotion(settings.models_dir, {
                "version": version, "artifact_sha256": sha, "run_id": run.info.run_id,
                "promoted_by": promoter(), "reason": "all promotion gates passed",
                "previous_champion": champion_version, "gates": gates,
                "metrics": {k: metrics[k] for k in ("auroc", "ece", "calibration_slope")}})
            result["artifact_sha256"] = sha
        mlflow.set_tag("promoted", str(promoted).lower())
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
        console.print(f"  gate {g['name']:<18} {'pass' if g['passed'] else 'FAIL'}  {g['detail']}")
    verdict = "PROMOTED to champion" if result["promoted"] else "NOT promoted (a gate failed)"
    console.print(f"version {result['version']}: {verdict}; "
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
    result = train(args.data_dir, settings, seed=args.seed, engine=args.engine, params=params)
    _report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
