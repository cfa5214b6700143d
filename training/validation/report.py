"""Assemble the validation report: run every analysis, write JSON, Markdown, HTML and plots."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from features.fields import HORIZON_DAYS
from riskmodel.extras import load_extras
from riskmodel.predictor import RiskModel
from training.dataset import load_oracle
from training.extras import ENSEMBLE_MEMBERS
from training.fit import FitParams
from training.intervals import coverage, fit_ensemble
from training.survival import fit_survival, validate_survival
from training.validation import plots
from training.validation.censoring_sensitivity import censoring_sensitivity
from training.validation.heldout import held_out_report
from training.validation.refit import Data
from training.validation.schemes import (
    REFERENCE,
    course_end_dates,
    leave_one_site_out,
    repeated_cv,
    temporal,
)
from training.validation.served_checks import served_checks
from training.validation.subgroups import subgroup_columns, subgroup_report


@dataclass(frozen=True)
class Options:
    n_boot: int = 500  # held-out test intervals
    n_boot_schemes: int = 200  # temporal, per-site and subgroup intervals
    cv_repeats: int = 2
    cv_folds: int = 3
    temporal_train_share: float = 0.6
    seed: int = 7
    schemes: bool = True  # repeated CV, temporal, leave-one-site-out (the refits)
    censoring: bool = True
    survival: bool = True
    ensemble_members: int = ENSEMBLE_MEMBERS  # as exported; 0: no interval section
    served: bool = True  # calibration interval, curve, OOD and band checks (issue 12)


def build_report(model: RiskModel, prep, data_dir: Path, options: Options,
                 params: FitParams | None = None, out_dir: Path | None = None) -> dict:
    """Every analysis of issue 6 on one prepared cohort; plots go to `out_dir` if given."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    oracle = load_oracle(data_dir)
    data = Data.from_prepared(prep, oracle)
    frame = prep.ts.frame
    report: dict = {"options": asdict(options), "synthetic": oracle is not None}
    held, preds, test = held_out_report(model, prep, data, n_boot=options.n_boot,
                                        seed=options.seed)
    report["held_out"] = held
    timings["held_out"] = time.perf_counter() - t

    t = time.perf_counter()
    w = prep.weights[test]
    report["subgroups"] = subgroup_report(prep.y[test], preds[REFERENCE], w, data.groups[test],
                                          subgroup_columns(frame.iloc[test]),
                                          high_cut=model.bands.high_from,
                                          n_boot=options.n_boot_schemes, seed=options.seed,
                                          true_p=None if data.true_p is None
                                          else data.true_p[test])
    timings["subgroups"] = time.perf_counter() - t

    if options.censoring:
        t = time.perf_counter()
        train_rows = np.sort(np.concatenate([prep.split.train, prep.split.valid]))
        report["censoring"] = censoring_sensitivity(data, train_rows, prep.split.test,
                                                    seed=options.seed, params=params)
        timings["censoring"] = time.perf_counter() - t
    if options.survival:
        t = time.perf_counter()
        report["survival"] = survival_report(model, prep, data, preds[REFERENCE],
                                             seed=options.seed)
        timings["survival"] = time.perf_counter() - t
    if options.ensemble_members:
        t = time.perf_counter()
        report["intervals"] = interval_report(model, prep, data, preds[REFERENCE],
                                              members=options.ensemble_members,
                                              seed=options.seed, params=params)
        timings["intervals"] = time.perf_counter() - t
    if options.served:
        t = time.perf_counter()
        report["served_numbers"] = served_checks(model, prep, data_dir, data.true_p,
                                                 seed=options.seed)
        timings["served_numbers"] = time.perf_counter() - t
    if options.schemes:
        t = time.perf_counter()
        report["repeated_cv"] = repeated_cv(data, repeats=options.cv_repeats,
                                            folds=options.cv_folds, seed=options.seed,
                                            params=params)
        timings["repeated_cv"] = time.perf_counter() - t
        t = time.perf_counter()
        report["temporal"] = temporal(data, course_end_dates(frame), seed=options.seed,
                                      horizon_days=HORIZON_DAYS,
                                      train_share=options.temporal_train_share,
                                      n_boot=options.n_boot_schemes, params=params)
        timings["temporal"] = time.perf_counter() - t
        t = time.perf_counter()
        report["leave_one_site_out"] = leave_one_site_out(
            data, frame["site"].astype(str).to_numpy(), seed=options.seed,
            n_boot=options.n_boot_schemes, params=params)
        timings["leave_one_site_out"] = time.perf_counter() - t
    report["seconds"] = timings
    report["verdict"] = verdict(report)
    if out_dir is not None:
        report["plots"] = [p.name for p in write_plots(report, prep, preds, test, out_dir)]
    return report


def survival_report(champion: RiskModel, prep, data: Data, classifier_p: np.ndarray, *,
                    seed: int) -> dict:
    """Fit the AFT model on the champion's train part (early stopping on validation), test."""
    frame = prep.ts.frame
    time_days = frame["time_days"].to_numpy(dtype=float)
    event = frame["event_observed"].to_numpy(dtype=bool)
    tr, va, te = prep.split.train, prep.split.valid, prep.split.test
    model = load_extras(champion.artifact.path).survival  # the served one, if exported
    fit_info: dict = {"source": "exported with the version"}
    if model is None:
        model, fit_info = fit_survival(prep.X[tr], time_days[tr], event[tr], prep.X[va],
                                       time_days[va], event[va], seed=seed)
    true_p = data.true_p[te] if data.true_p is not None else None
    out = validate_survival(model, prep.X[te], time_days[te], event[te],
                            classifier_p=classifier_p, true_p180=true_p)
    out["fit"] = fit_info
    return out


def interval_report(model: RiskModel, prep, data: Data, served_p: np.ndarray, *, members: int,
                    seed: int, params: FitParams | None) -> dict:
    """Bootstrap ensemble on the champion's train part; coverage of the true risk on test."""
    tr, va, te = prep.rows(prep.split.train), prep.rows(prep.split.valid), prep.split.test
    # The served ensemble when the version carries one; otherwise fit one the same way.
    ensemble = load_extras(model.artifact.path).ensemble
    if ensemble is None:
        ensemble = fit_ensemble(prep.X[tr], prep.y[tr], prep.weights[tr], data.groups[tr],
                                prep.X[va], prep.y[va], prep.weights[va],
                                rounds=model.booster.num_boosted_rounds(), members=members,
                                seed=seed, params=params)
    true_p = data.true_p[te] if data.true_p is not None else None
    return coverage(ensemble, prep.X[te], served_p, true_p,
                    (model.bands.moderate_from, model.bands.high_from))


def verdict(report: dict) -> dict:
    """Plain statements the report leads with, each computed from the figures."""
    held = report["held_out"]
    out = {}
    for name, d in held["vs_reference"].items():
        out[f"beats_{name}_held_out"] = d["reference_better_auroc"]
    if "repeated_cv" in report:
        cv = report["repeated_cv"]
        out["beats_logistic_regression_cv_folds"] = (
            f"{cv['xgboost_beats_logistic_in_folds']} of {cv['n_folds']}")
    if "temporal" in report:
        out["beats_logistic_regression_temporal"] = (
            report["temporal"]["vs_reference"]["logistic_regression"]["reference_better_auroc"])
    out["subgroup_flags"] = len(report["subgroups"]["flags"])
    return out


def write_plots(report: dict, prep, preds: dict, test: np.ndarray, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    held = report["held_out"]
    y, w = prep.y[test], prep.weights[test]
    m = w > 0
    cuts = {k: v["cut"] for k, v in held["cut_points"]["cuts"].items()}
    aurocs = {k: v["auroc"]["estimate"] for k, v in held["models"].items()}
    return [
        plots.decision_curve_plot(held["decision_curve"], out_dir / "decision_curve.png", cuts),
        plots.forest_plot(report["subgroups"], out_dir / "subgroup_forest.png"),
        plots.roc_baselines_plot(y[m], w[m], {k: v[m] for k, v in preds.items()}, aurocs,
                                 out_dir / "roc_baselines.png"),
    ]
