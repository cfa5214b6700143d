"""Subgroup gaps against the rest of the test part, with simultaneous intervals.

A group is compared with the courses outside it (comparing it with the whole
part, which contains it, dilutes its gap). About 20 groups x 2 metrics are
judged at once, so the intervals are simultaneous: the max-T bootstrap
(studentised gaps, the 95th percentile of their maximum over all judged
group-metric pairs) gives a critical value c, and each interval is estimate
+- c x its bootstrap SD. Then with 95 % confidence no judged interval misses,
and a group is refused only when its whole interval lies beyond the margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.gates import draws as d
from training.gates.spec import MIN_ASSESSABLE_LABELLED, SUBGROUP_TOLERANCE

GAP_METRICS = ("calibration_in_the_large", "auroc")


@dataclass(frozen=True)
class _Sorted:
    """W's columns sorted by score once per evaluation, shared by every group's AUROC."""

    order: np.ndarray
    Ws: np.ndarray
    ys: np.ndarray
    ps: np.ndarray

    @classmethod
    def of(cls, W: np.ndarray, y: np.ndarray, p: np.ndarray) -> _Sorted:
        order = np.argsort(p, kind="stable")
        return cls(order, d._2d(W)[:, order], y[order].astype(bool), p[order])

    def auroc(self, keep: np.ndarray) -> np.ndarray:
        k = keep[self.order]
        return d.auroc_sorted(self.Ws[:, k], self.ys[k], self.ps[k])


def _gap(metric: str, W: np.ndarray, y: np.ndarray, p: np.ndarray,
         inside: np.ndarray, ranked: _Sorted) -> np.ndarray:
    if metric == "auroc":
        return ranked.auroc(inside) - ranked.auroc(~inside)
    W = d._2d(W)  # calibration-in-the-large from two matrix products, no masked copies
    resid, n_in = W @ ((p - y) * inside), W @ inside.astype(np.float64)
    total, n_all = W @ (p - y), W.sum(axis=1)
    return d._ratio(resid, n_in) - d._ratio(total - resid, n_all - n_in)


@dataclass(frozen=True)
class GroupGap:
    attribute: str
    group: str
    n_labelled: int
    metric: str
    estimate: float
    low: float  # simultaneous interval; nan when not assessable
    high: float
    status: str  # pass | refuse | not_assessable

    def describe(self) -> str:
        head = f"{self.attribute} {self.group} ({self.n_labelled} labelled): {self.metric}"
        if self.status == "not_assessable":
            return f"{head} not assessable at this size (< {MIN_ASSESSABLE_LABELLED} labelled)"
        return (f"{head} gap vs the rest {self.estimate:+.3f} (simultaneous 95% CI "
                f"{self.low:+.3f} to {self.high:+.3f}; margin {SUBGROUP_TOLERANCE[self.metric]})")


def _status(lo: float, hi: float, margin: float) -> str:
    """Refused when the whole simultaneous interval lies beyond +-margin."""
    return "refuse" if lo > margin or hi < -margin else "pass"


def subgroup_gaps(y: np.ndarray, p: np.ndarray, w: np.ndarray, W: np.ndarray,
                  attributes: pd.DataFrame, *, min_assessable: int | None = None,
                  ) -> tuple[list[GroupGap], float]:
    """Every group of every column of `attributes`; returns (gaps, critical value c).
    `min_assessable` overrides the minimum labelled size (the gate study's design run)."""
    minimum = MIN_ASSESSABLE_LABELLED if min_assessable is None else min_assessable
    labelled = w > 0
    ranked_point, ranked_draws = _Sorted.of(w, y, p), _Sorted.of(W, y, p)
    rows = []  # (attribute, group, n_labelled, metric, point, draws)
    for attribute in attributes.columns:
        values = attributes[attribute].astype(str).to_numpy()
        for group in sorted(set(values)):
            inside = values == group
            if inside.all():
                continue
            n_lab = int((inside & labelled).sum())
            for metric in GAP_METRICS:
                point = float(_gap(metric, w, y, p, inside, ranked_point)[0])
                draws = (_gap(metric, W, y, p, inside, ranked_draws)
                         if n_lab >= max(minimum, 1) else None)
                rows.append((attribute, group, n_lab, metric, point, draws))
    judged = [r for r in rows if r[5] is not None and np.isfinite(r[4])]
    c = _max_t_critical(judged)
    out = []
    for attribute, group, n_lab, metric, point, draws in rows:
        if draws is None or not np.isfinite(point):
            out.append(GroupGap(attribute, group, n_lab, metric, point, np.nan, np.nan,
                                "not_assessable"))
            continue
        sd = float(np.nanstd(draws, ddof=1))
        lo, hi = point - c * sd, point + c * sd
        out.append(GroupGap(attribute, group, n_lab, metric, point, lo, hi,
                            _status(lo, hi, SUBGROUP_TOLERANCE[metric])))
    return out, c


def _max_t_critical(judged: list, level: float = 0.95) -> float:
    if not judged:
        return float("nan")
    centred = np.stack([(r[5] - r[4]) / np.nanstd(r[5], ddof=1) for r in judged])  # (k, B)
    return float(np.nanpercentile(np.nanmax(np.abs(centred), axis=0), level * 100))
