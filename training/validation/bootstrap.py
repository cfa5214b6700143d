"""Patient-level bootstrap: resample patients, keep all of a drawn patient's courses.

A draw is a vector of multiplicities per patient; each row's bootstrap weight is
its patient's multiplicity times its own (IPCW) weight. Metrics that accept
sample weights then give the resampled value without copying rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

CI_LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}

    def fmt(self, digits: int = 3) -> str:
        return f"{self.estimate:.{digits}f} ({self.low:.{digits}f} to {self.high:.{digits}f})"


def patient_multiplicities(groups: np.ndarray, n_boot: int,
                           seed: int) -> Iterator[np.ndarray]:
    """Per-row multiplicity vectors, one per bootstrap draw of patients (with replacement)."""
    _, codes = np.unique(groups, return_inverse=True)
    n_patients = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        counts = rng.multinomial(n_patients, np.full(n_patients, 1.0 / n_patients))
        yield counts[codes].astype(np.float64)


def percentile_interval(estimate: float, draws: np.ndarray, level: float = CI_LEVEL) -> Interval:
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return Interval(float(estimate), float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(draws, [tail, 100 - tail])
    return Interval(float(estimate), float(lo), float(hi))


def bootstrap_metrics(metric_fn: Callable[[np.ndarray], dict[str, float]], weights: np.ndarray,
                      groups: np.ndarray, *, n_boot: int, seed: int) -> dict[str, Interval]:
    """`metric_fn(row_weights)` -> {name: value}; 95% percentile intervals over patient draws.

    Rows whose weight is 0 (censored courses under IPCW) stay in the draw so a
    patient's censored and labelled courses move together.
    """
    point = metric_fn(weights)
    draws: dict[str, list[float]] = {k: [] for k in point}
    for mult in patient_multiplicities(groups, n_boot, seed):
        values = _safe(metric_fn, weights * mult)
        for k in point:
            draws[k].append(values.get(k, float("nan")))
    return {k: percentile_interval(point[k], np.array(draws[k])) for k in point}


def _safe(fn: Callable[[np.ndarray], dict[str, float]], w: np.ndarray) -> dict[str, float]:
    # A draw can miss every event of a small group; that draw then says nothing.
    try:
        return fn(w)
    except ValueError:
        return {}
