"""Decision curve, subgroup forest plot and baseline ROC curves for the validation report."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402


def decision_curve_plot(curve: dict, path: Path, cuts: dict[str, float]) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ts = curve["thresholds"]
    for name, nb in curve["models"].items():
        ax.plot(ts, nb, label=name.replace("_", " "))
    ax.plot(ts, curve["treat_all"], color="grey", ls="--", label="treat all")
    ax.plot(ts, curve["treat_none"], color="black", lw=0.8, label="treat none")
    for name, cut in cuts.items():
        ax.axvline(cut, color="red", lw=0.6, ls=":")
        ax.text(cut, curve["prevalence"], name, rotation=90,
                fontsize=7, va="top")
    ax.set(xlabel="threshold probability", ylabel="net benefit (IPCW)",
           title="Decision curve, test part", ylim=(-0.05, curve["prevalence"] + 0.05))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def forest_plot(subgroups: dict, path: Path, metric: str = "auroc") -> Path:
    labels, est, lo, hi, flagged = [], [], [], [], []
    for attr, block in subgroups["attributes"].items():
        for g, e in block["groups"].items():
            labels.append(f"{attr}: {g} (n={e['n_labelled']})")
            est.append(e[metric]["estimate"])
            lo.append(e[metric]["low"])
            hi.append(e[metric]["high"])
            flagged.append(any(f["metric"] == metric for f in e["flags"]))
    y = np.arange(len(labels))[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(labels) + 1.2))
    est_a, lo_a, hi_a = np.array(est), np.array(lo), np.array(hi)
    err = np.vstack([np.nan_to_num(est_a - lo_a), np.nan_to_num(hi_a - est_a)])
    colors = ["red" if f else "C0" for f in flagged]
    ax.errorbar(est_a, y, xerr=err, fmt="none", ecolor="grey", lw=1)
    ax.scatter(est_a, y, c=colors, zorder=3, s=18)
    overall = next(iter(subgroups["attributes"].values()))["overall"][metric]
    ax.axvline(overall, color="black", lw=0.8)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set(xlabel=f"{metric} (95% patient-bootstrap interval)", title="Subgroups, test part")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def roc_baselines_plot(y: np.ndarray, w: np.ndarray, preds: dict[str, np.ndarray],
                       aurocs: dict[str, float], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(4.8, 4.8))
    for name, p in preds.items():
        fpr, tpr, _ = roc_curve(y, p, sample_weight=w)
        ax.plot(fpr, tpr, label=f"{name.replace('_', ' ')} ({aurocs[name]:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC: model and baselines")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
