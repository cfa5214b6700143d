"""Figures for the MLflow run and the evaluation report (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402


def roc_plot(y: np.ndarray, p: np.ndarray, w: np.ndarray, path: Path, *, auroc: float,
             oracle: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    fpr, tpr, _ = roc_curve(y, p, sample_weight=w)
    ax.plot(fpr, tpr, label=f"model (AUROC {auroc:.3f})")
    if oracle is not None:
        ofpr, otpr, _ = roc_curve(*oracle)
        ax.plot(ofpr, otpr, ls="--", label="oracle (true risk)")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC, test part")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reliability_plot(y: np.ndarray, p: np.ndarray, w: np.ndarray, path: Path, bins: int = 10) -> Path:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    xs, ys, ns = [], [], []
    for b in range(bins):
        m = which == b
        if w[m].sum() > 0:
            xs.append(np.average(p[m], weights=w[m]))
            ys.append(np.average(y[m], weights=w[m]))
            ns.append(m.sum())
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.scatter(xs, ys, s=[10 + 40 * n / max(ns) for n in ns])
    ax.plot(xs, ys)
    ax.set(xlabel="predicted probability", ylabel="observed relapse rate (IPCW)",
           title="Reliability, test part", xlim=(0, 1), ylim=(0, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def shap_summary_plot(contributions: np.ndarray, X: np.ndarray, labels: list[str], path: Path,
                      max_display: int = 15) -> Path:
    import shap

    # A generator of its own: the beeswarm's jitter is the same on every run, and shap does
    # not fall back to numpy's global RNG (deprecated; it warned once something seeded it).
    shap.summary_plot(contributions, X, feature_names=labels, show=False, max_display=max_display,
                      rng=np.random.default_rng(0))
    fig = plt.gcf()
    fig.set_size_inches(8, 6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
