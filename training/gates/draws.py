"""Patient-bootstrap draws as one weight matrix, and metrics over every draw at once.

The gates read ~10 metrics for the candidate, the champion, the reference, a
logistic baseline and ~20 subgroups against the rest, on 200 draws each: a
loop of per-draw metric calls took seconds per gate evaluation, and the gate
study runs thousands of them. Here a draw is a row of W (draws x courses:
IPCW weight times the patient's multiplicity) and each metric is a few
matrix operations over all draws (numpy; no library does weighted AUROC or
calibration slope over a batch of weight vectors).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from riskmodel.calibration import logit, sigmoid

ECE_BINS = 10


def draw_weights(groups: np.ndarray, w: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n): IPCW weight times the multiplicity of the row's patient."""
    _, codes = np.unique(groups, return_inverse=True)
    n_patients = int(codes.max()) + 1 if codes.size else 0
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_patients, np.full(n_patients, 1.0 / max(n_patients, 1)),
                             size=n_boot).astype(np.float64)
    return counts[:, codes] * w[None, :]


def _2d(W: np.ndarray) -> np.ndarray:
    return W[None, :] if W.ndim == 1 else W


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def citl(W: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Calibration-in-the-large per draw: mean predicted minus observed (IPCW) rate."""
    W = _2d(W)
    return _ratio(W @ (p - y), W.sum(axis=1))


def auroc(W: np.ndarray, y: np.ndarray, p: np.ndarray,
          mask: np.ndarray | None = None) -> np.ndarray:
    """Weighted AUROC per draw (ties count half), equal to scikit-learn's on each row of W;
    `mask` restricts it to some rows."""
    order = np.argsort(p, kind="stable")
    if mask is not None:
        order = order[mask[order]]
    return auroc_sorted(_2d(W)[:, order], y[order].astype(bool), p[order])


def auroc_sorted(Ws: np.ndarray, ys: np.ndarray, ps: np.ndarray) -> np.ndarray:
    """AUROC per draw of columns already sorted by score (ascending); the subgroup gate
    sorts once and passes each group's columns."""
    pos, neg = Ws * ys, Ws * ~ys
    if ps.size and (ps[1:] == ps[:-1]).any():  # tied scores: one step per tie group
        starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
        pos, neg = np.add.reduceat(pos, starts, axis=1), np.add.reduceat(neg, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg  # negatives scored strictly lower
    num = (pos * (below + 0.5 * neg)).sum(axis=1)
    return _ratio(num, pos.sum(axis=1) * neg.sum(axis=1))


def ece(W: np.ndarray, y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """Expected calibration error over equal-width bins (training.metrics' definition)."""
    W = _2d(W)
    which = np.clip(np.digitize(p, np.linspace(0, 1, bins + 1)[1:-1]), 0, bins - 1)
    onehot = np.eye(bins, dtype=np.float32)[which]  # (n, bins)
    wsum = W @ onehot
    gap = np.abs(_ratio(W @ (onehot * y[:, None]), wsum) - _ratio(W @ (onehot * p[:, None]), wsum))
    return _ratio(np.nansum(wsum * gap, axis=1), W.sum(axis=1))


def slope(W: np.ndarray, y: np.ndarray, p: np.ndarray, iterations: int = 12) -> np.ndarray:
    """Calibration slope per draw: Newton's method on y ~ a + b logit(p), all draws at once."""
    W = _2d(W).astype(np.float64)
    x = logit(np.clip(p, 1e-6, 1 - 1e-6))
    beta = np.tile([0.0, 1.0], (W.shape[0], 1))
    for _ in range(iterations):
        mu = sigmoid(beta[:, :1] + beta[:, 1:] * x[None, :])
        r, v = W * (y - mu), W * mu * (1 - mu)
        g = np.stack([r.sum(1), r @ x], axis=1)
        h00, h01, h11 = v.sum(1), v @ x, v @ (x * x)
        det = h00 * h11 - h01 * h01 + 1e-12
        step = np.stack([(h11 * g[:, 0] - h01 * g[:, 1]) / det,
                         (h00 * g[:, 1] - h01 * g[:, 0]) / det], axis=1)
        beta += step
        if np.nanmax(np.abs(step)) < 1e-7:  # Newton converges in ~5 steps from (0, 1)
            break
    return beta[:, 1]


Metric = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
METRICS: dict[str, Metric] = {"auroc": auroc, "ece": ece, "calibration_slope": slope,
                              "calibration_in_the_large": citl}


def interval(point: float, draws: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Percentile interval of finite draws around the point estimate."""
    d = draws[np.isfinite(draws)]
    if d.size == 0:
        return {"estimate": float(point), "low": float("nan"), "high": float("nan")}
    lo, hi = np.percentile(d, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return {"estimate": float(point), "low": float(lo), "high": float(hi)}
