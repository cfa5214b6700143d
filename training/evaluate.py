"""`make evaluate [VERSION=n]`: the champion (or any registered version) on its test part -> reports/evaluation.{json,md} + plots,
and the full validation report -> reports/validation.{json,md,html} (issue 6), logged to MLflow.

Rebuilds the training set and the patient split with the seed the champion
was trained with, and scores through the serving predictor.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from config import get_settings
from riskmodel.artifact import champion_path
from riskmodel.predictor import RiskModel
from training.evaluation import evaluate_model, evaluation_plots
from training.prepare import prepare
from training.validation.report import Options, build_report
from training.validation.summary import (
    evaluation_keys,
    log_to_mlflow,
    verdict_lines,
    write_validation,
)

KEYS = ("auroc", "auprc", "brier", "ece", "calibration_slope", "calibration_intercept",
        "oracle_auroc", "auroc_true_outcomes", "oracle_gap", "n_test", "n_test_labelled")


def render_markdown(report: dict) -> str:
    lines = [f"# Evaluation of {report['model_name']} version {report['model_version']}", "",
             f"Data: `{report['data_dir']}`; test part: {report['n_test']} courses "
             f"({report['n_test_labelled']} with a known 180-day outcome), patient-grouped split, "
             "IPCW-weighted metrics.", "", "| metric | value |", "| --- | --- |"]
    for k in KEYS:
        if k in report:
            v = report[k]
            lines.append(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |")
    lines += ["", "![ROC](roc.png) ![Reliability](reliability.png)", "",
              "## Global explanation (SHAP, calibrated log-odds)", "", "![SHAP](shap_summary.png)"]
    return "\n".join(lines) + "\n"


def version_path(settings, version: str) -> Path:
    """Promoted and escalated versions live in models/, refused ones in var/candidates/."""
    exported = settings.models_dir / version
    return exported if exported.is_dir() else settings.var_dir / "candidates" / version


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="default: the folder the champion was trained on")
    ap.add_argument("--out", type=Path, default=settings.reports_dir)
    ap.add_argument("--n-boot", type=int, default=Options.n_boot)
    ap.add_argument("--cv-repeats", type=int, default=Options.cv_repeats)
    ap.add_argument("--cv-folds", type=int, default=Options.cv_folds)
    ap.add_argument("--quick", action="store_true",
                    help="held-out test, subgroups and censoring only (no CV/temporal/site refits)")
    ap.add_argument("--no-mlflow", action="store_true")
    ap.add_argument("--version", default=None,
                    help="any registered version: promoted or escalated (models/<v>/) or "
                         "refused (var/candidates/<v>/); default: the champion")
    args = ap.parse_args(argv)
    path = version_path(settings, args.version) if args.version else champion_path(
        settings.models_dir)
    if path is None or not path.is_dir():
        what = f"version {args.version}" if args.version else "a champion"
        print(f"no export of {what} under models/ or var/candidates/ (run `make train`)",
              file=sys.stderr)
        return 2
    model = RiskModel.load(path)
    info = json.loads((path / "training_info.json").read_text())
    data_dir = args.data_dir or Path(info["data_dir"])
    prep = prepare(data_dir, seed=int(info["seed"]), verbose=False)
    test = prep.test_part(data_dir)
    metrics = evaluate_model(model, test)
    report = {"model_name": model.artifact.name, "model_version": model.artifact.version,
              "artifact_sha256": model.artifact.sha256, "data_dir": str(data_dir),
              "data_hash": prep.ts.data_hash, **metrics}
    args.out.mkdir(parents=True, exist_ok=True)
    evaluation_plots(model, test, metrics, args.out)
    options = Options(n_boot=args.n_boot, cv_repeats=args.cv_repeats, cv_folds=args.cv_folds,
                      seed=int(info["seed"]), schemes=not args.quick)
    validation = build_report(model, prep, data_dir, options, out_dir=args.out)
    header = {k: report[k] for k in ("model_name", "model_version", "artifact_sha256",
                                     "data_dir", "data_hash")}
    report.update(evaluation_keys(validation))
    (args.out / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "evaluation.md").write_text(render_markdown(report))
    paths = write_validation(validation, header, args.out)
    if not args.no_mlflow:
        log_to_mlflow(settings, validation, header, args.out)
    print(f"wrote {args.out / 'evaluation.json'}, evaluation.md and "
          + ", ".join(p.name for p in paths)
          + f" (AUROC {metrics['auroc']:.3f}, ECE {metrics['ece']:.3f})")
    for line in verdict_lines(validation):
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
