"""Decision curve analysis and the operating characteristics at cut points (IPCW-weighted).

Net benefit at threshold t (Vickers & Elkin 2006): TP/n - FP/n * t / (1 - t); treating
everyone gives prevalence - (1 - prevalence) * t / (1 - t); treating nobody gives 0. A
threshold t says a clinician accepts (1 - t) / t unneeded extra-support referrals to
reach one patient who would relapse.
"""

from __future__ import annotations

import numpy as np

THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.01), 2)


def net_benefit(y: np.ndarray, p: np.ndarray, w: np.ndarray, t: float) -> float:
    treat = p >= t
    n = w.sum()
    tp = w[treat & y].sum() / n
    fp = w[treat & ~y].sum() / n
    return float(tp - fp * t / (1 - t))


def decision_curve(y: np.ndarray, w: np.ndarray, models: dict[str, np.ndarray],
                   thresholds: np.ndarray = THRESHOLDS) -> dict:
    """Net benefit per threshold for each model, treat-all and treat-none."""
    y = y.astype(bool)
    prev = float(np.average(y, weights=w))
    out: dict = {"thresholds": [float(t) for t in thresholds], "prevalence": prev,
                 "treat_all": [prev - (1 - prev) * t / (1 - t) for t in thresholds],
                 "treat_none": [0.0] * len(thresholds), "models": {}}
    for name, p in models.items():
        out["models"][name] = [net_benefit(y, p, w, float(t)) for t in thresholds]
    return out


def useful_range(curve: dict, model: str, margin: float = 0.0) -> tuple[float, float] | None:
    """Smallest and largest threshold where the model beats both treat-all and treat-none."""
    nb = np.array(curve["models"][model])
    best_default = np.maximum(np.array(curve["treat_all"]), 0.0)
    ok = nb > best_default + margin
    if not ok.any():
        return None
    ts = np.array(curve["thresholds"])[ok]
    return float(ts.min()), float(ts.max())


def operating_point(y: np.ndarray, p: np.ndarray, w: np.ndarray, cut: float) -> dict[str, float]:
    """Sensitivity, specificity, PPV, NPV and share flagged for `p >= cut`."""
    y = y.astype(bool)
    flag = p >= cut
    tp, fp = w[flag & y].sum(), w[flag & ~y].sum()
    fn, tn = w[~flag & y].sum(), w[~flag & ~y].sum()
    div = lambda a, b: float(a / b) if b > 0 else float("nan")  # noqa: E731
    return {"sensitivity": div(tp, tp + fn), "specificity": div(tn, tn + fp),
            "ppv": div(tp, tp + fp), "npv": div(tn, tn + fn),
            "flagged": div(tp + fp, tp + fp + fn + tn),
            "net_benefit": net_benefit(y, p, w, cut) if 0 < cut < 1 else float("nan")}
