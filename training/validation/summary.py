"""Outputs of the validation report: files, the keys evaluation.json gains, the MLflow run."""

from __future__ import annotations

import json
import math
from pathlib import Path

from config import Settings
from training.validation.render import NAMES, ci, markdown_to_html, render_markdown
from training.validation.served_render import served_lines


def _clean(obj):
    """JSON cannot hold NaN: write null instead."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def evaluation_keys(r: dict) -> dict:
    """The keys issue 6 adds to reports/evaluation.json."""
    held = r["held_out"]
    x = held["models"]["xgboost"]
    out = {
        "auroc_ci95": [x["auroc"]["low"], x["auroc"]["high"]],
        "ece_ci95": [x["ece"]["low"], x["ece"]["high"]],
        "calibration_slope_ci95": [x["calibration_slope"]["low"], x["calibration_slope"]["high"]],
        "baselines": {n: {"auroc": m["auroc"]["estimate"],
                          "auroc_ci95": [m["auroc"]["low"], m["auroc"]["high"]],
                          "xgboost_better": held["vs_reference"][n]["reference_better_auroc"]}
                      for n, m in held["models"].items() if n != "xgboost"},
        "subgroups": {f"{a}={g}": {"auroc": e["auroc"]["estimate"], "n": e["n"],
                                   "n_labelled": e["n_labelled"], "fnr": e["fnr_high"]["estimate"],
                                   "calibration_in_the_large":
                                       e["calibration_in_the_large"]["estimate"],
                                   "flagged": bool(e["flags"])}
                      for a, b in r["subgroups"]["attributes"].items()
                      for g, e in b["groups"].items()},
        "decision_curve": {"thresholds": held["decision_curve"]["thresholds"],
                           "xgboost": held["decision_curve"]["models"]["xgboost"],
                           "treat_all": held["decision_curve"]["treat_all"],
                           "useful_range": held["cut_points"]["useful_range"]},
    }
    if "oracle_gap" in held:
        out["oracle_gap_ci95"] = [held["oracle_gap"]["low"], held["oracle_gap"]["high"]]
        out["ece_noise_floor"] = held["ece_noise_floor"]["estimate"]
        out["ece_noise_floor_ci95"] = [held["ece_noise_floor"]["low"],
                                       held["ece_noise_floor"]["high"]]
    if r.get("censoring", {}).get("available"):
        out["censoring"] = {v: {"auroc": d["auroc"], "bias": d["bias"],
                                "rate_bias": d["rate_bias"]}
                            for v, d in r["censoring"]["variants"].items()}
    if "survival" in r:
        out["survival"] = {"c_index": r["survival"]["c_index"]}
    if "served_numbers" in r:
        s = r["served_numbers"]
        out["served_numbers"] = {"calibration_interval": {
                                     k: v for k, v in s["calibration_interval"].items()
                                     if k != "deciles"},
                                 "curve": s["curve"], "ood": s["ood"], "bands": s["bands"]}
    return _clean(out)


def verdict_lines(r: dict) -> list[str]:
    held = r["held_out"]
    lines = []
    for name, d in held["vs_reference"].items():
        word = "beats" if d["reference_better_auroc"] else "does NOT beat"
        lines.append(f"XGBoost {word} {NAMES.get(name, name)}: AUROC difference {ci(d['auroc'])}")
    x = held["models"]["xgboost"]
    lines.append(f"held-out AUROC {ci(x['auroc'])}, ECE {ci(x['ece'])}, "
                 f"slope {ci(x['calibration_slope'], 2)}")
    if "oracle_gap" in held:
        lines.append(f"oracle gap {ci(held['oracle_gap'])}")
        lines.append(f"ECE of the true probabilities on the same rows (noise floor) "
                     f"{ci(held['ece_noise_floor'])}")
    lines.append(f"subgroup flags: {len(r['subgroups']['flags'])}")
    if "served_numbers" in r:
        lines += served_lines(r["served_numbers"])
    return lines


def write_validation(r: dict, header: dict, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    clean = _clean({**header, **r})
    md = render_markdown(r, header)
    paths = [out_dir / "validation.json", out_dir / "validation.md", out_dir / "validation.html"]
    paths[0].write_text(json.dumps(clean, indent=1) + "\n")
    paths[1].write_text(md)
    paths[2].write_text(markdown_to_html(md, f"Validation of {header['model_name']} "
                                             f"{header['model_version']}"))
    return paths


def _flat_metrics(r: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, m in r["held_out"]["models"].items():
        for k, d in m.items():
            for part in ("estimate", "low", "high"):
                v = d[part]
                if isinstance(v, float) and math.isfinite(v):
                    out[f"test.{name}.{k}.{part}"] = v
    if "oracle_gap" in r["held_out"]:
        out["test.oracle_gap"] = r["held_out"]["oracle_gap"]["estimate"]
    for k, v in r.get("repeated_cv", {}).get("summary", {}).items():
        out[f"cv.{k}.mean"] = v["mean"]
    if "temporal" in r:
        out["temporal.xgboost.auroc"] = r["temporal"]["models"]["xgboost"]["auroc"]["estimate"]
    for site, b in r.get("leave_one_site_out", {}).items():
        out[f"site_{site}.xgboost.auroc"] = b["models"]["xgboost"]["auroc"]["estimate"]
    out["subgroup_flags"] = float(len(r["subgroups"]["flags"]))
    return out


def log_to_mlflow(settings: Settings, r: dict, header: dict, out_dir: Path) -> str:
    """One run in experiment relapse-risk-validation with the figures and every report file."""
    import mlflow

    from training.registry import configure_mlflow

    configure_mlflow(settings, "relapse-risk-validation")
    with mlflow.start_run(run_name=f"validate-v{header['model_version']}") as run:
        mlflow.set_tags({"task": "validate", "model_version": header["model_version"],
                         "artifact_sha256": header["artifact_sha256"],
                         "data_hash": header["data_hash"]})
        mlflow.log_params({k: v for k, v in r["options"].items()})
        mlflow.log_metrics(_flat_metrics(r))
        for p in sorted(out_dir.iterdir()):
            if p.suffix in (".json", ".md", ".html", ".png"):
                mlflow.log_artifact(str(p), "validation")
        return run.info.run_id
