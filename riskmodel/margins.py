"""Margins of several XGBoost boosters for small batches without XGBoost's per-call cost.

One `inplace_predict` on one row costs ~0.1-0.3 ms of fixed overhead (argument checks, the
proxy DMatrix, thread launch) against a few microseconds of tree walking for the depth-3
models served here; the 10 ensemble members and the survival model made that ~4 ms a
request. `MarginEvaluator` walks the trees of all its boosters in one numba call.

It is bit-identical to `inplace_predict(..., predict_type="margin")`: XGBoost compares the
float32 feature value with the float32 threshold (`x < thr` goes left, NaN takes the
default direction) and sums float32 leaf values onto the float32 base margin in tree order;
the kernel does the same. The base margin is XGBoost's float32 link of `base_score`
(logf), which numpy's own float32 log does not always round alike, so at load the nearest
float32 values are tried against XGBoost and the one reproducing its margins is kept.

A load-time self-check compares every booster with `inplace_predict` on probe rows around
every split threshold with NaNs; anything unsupported (dart, multi-output, categorical
splits, an unknown base-score link) or a failed check makes `margins` call XGBoost instead,
logged once. Batches larger than `max_rows` always use XGBoost (multi-threaded, and its
fixed cost no longer matters there).

Why not a library: Treelite's GTIL (treelite 4.8) takes ~20 us per booster and call and
sums in another order (off by a float32 ulp in most rows); compiling with TL2cgen needs a
C toolchain at load. The trees are already parsed for TreeSHAP (`treeshap.tables`), so
walking them here is a short kernel.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import xgboost as xgb
from numba import njit

from riskmodel.treeshap.tables import ParsedModel, UnsupportedModelError, parse_booster

log = logging.getLogger(__name__)

# Up to this many rows the kernel runs (one thread, ~13 us a row for the 11 served boosters);
# XGBoost costs ~0.1-0.3 ms a booster call but uses every core: crossover ~100 rows here.
MAX_KERNEL_ROWS = 64
# Neighbouring float32 values tried for the base margin, each side.
_BASE_ULPS = 4
_PROBE_ROWS = 64


@njit(cache=True, nogil=True)
def _margins(X: np.ndarray, out: np.ndarray, base: np.ndarray, model_tree_off: np.ndarray,
             tree_root: np.ndarray, child: np.ndarray, feat: np.ndarray, thr: np.ndarray,
             default_right: np.ndarray, value: np.ndarray) -> None:
    """out[r, m] = base[m] + sum of model m's leaf values for row r, all in float32.

    Node n's children are child[2n] (left) and child[2n + 1] (right), -1 at leaves. The
    direction is computed branch-free (rows differ, so a branch on it mispredicts often).
    """
    for r in range(X.shape[0]):
        for m in range(base.shape[0]):
            acc = base[m]
            for t in range(model_tree_off[m], model_tree_off[m + 1]):
                n = tree_root[t]
                while child[2 * n] >= 0:
                    x = X[r, feat[n]]
                    # x >= thr is False for NaN, which goes right only by default.
                    right = np.int64(x >= thr[n]) | (np.int64(x != x) & default_right[n])
                    n = child[2 * n + right]
                acc += value[n]
            out[r, m] = acc


def _link(model: ParsedModel) -> float:
    """XGBoost's ProbToMargin(base_score) for the objectives served here.

    Its float32 steps are repeated (`-logf(1.0f / p - 1.0f)` for the logit); only the
    final log is taken in float64, within a float32 step of logf.
    """
    p = np.float32(model.base_score)
    if model.objective in ("binary:logistic", "reg:logistic"):
        if not 0.0 < p < 1.0:
            raise UnsupportedModelError("base_score outside (0, 1)")
        return -math.log(float(np.float32(np.float32(1.0) / p) - np.float32(1.0)))
    if model.objective in ("survival:aft", "count:poisson", "reg:gamma", "reg:tweedie"):
        if p <= 0.0:
            raise UnsupportedModelError("base_score must be positive")
        return math.log(float(p))
    if model.objective in ("reg:squarederror", "reg:absoluteerror", "binary:logitraw",
                           "reg:pseudohubererror"):
        return float(p)
    raise UnsupportedModelError(f"unknown base-score link for objective '{model.objective}'")


class MarginEvaluator:
    """`margins(X)` -> (rows, boosters) float32, as each booster's `inplace_predict` margin."""

    def __init__(self, boosters: Sequence[xgb.Booster], *,
                 max_rows: int = MAX_KERNEL_ROWS) -> None:
        self._boosters = tuple(boosters)
        self.max_rows = max_rows
        self.n_features = self._boosters[0].num_features()
        self.fallback_reason: str | None = None
        self._args: tuple = ()
        try:
            models = [parse_booster(b) for b in self._boosters]
            self._pack(models)
            self._fit_base_margins()
            self.fallback_reason = self._self_check()
        except UnsupportedModelError as exc:
            self.fallback_reason = str(exc)
        if self.fallback_reason is not None:
            self._args = ()
            log.warning("margin kernel unavailable (%s); using XGBoost's inplace_predict",
                        self.fallback_reason)

    @property
    def engine(self) -> str:
        return "kernel" if self._args else "xgboost"

    def _pack(self, models: list[ParsedModel]) -> None:
        if any(m.n_features != self.n_features for m in models):
            raise UnsupportedModelError("boosters differ in their number of features")
        child, feat, thr, dr, value, roots, off = [], [], [], [], [], [], [0]
        start = 0
        for model in models:
            for tree in model.trees:
                roots.append(start)
                inner = tree.left >= 0
                # Child indices become global (interleaved left, right); leaves keep -1.
                pair = np.column_stack([tree.left, tree.right])
                child.append(np.where(inner[:, None], pair + start, -1).reshape(-1))
                feat.append(np.where(inner, tree.feat, 0))
                thr.append(tree.thr)
                dr.append(~tree.default_left)
                value.append(tree.value.astype(np.float32))  # exact: parsed from float32
                start += tree.left.shape[0]
            off.append(len(roots))
        if feat and max(int(f.max(initial=0)) for f in feat) >= self.n_features:
            raise UnsupportedModelError("a split refers to a feature beyond num_feature")
        cat = np.concatenate
        self._base64 = np.array([_link(m) for m in models])
        self._base = self._base64.astype(np.float32)
        self._args = (np.asarray(off, dtype=np.int64), np.asarray(roots, dtype=np.int64),
                      cat(child).astype(np.int64), cat(feat).astype(np.int64),
                      cat(thr).astype(np.float32), cat(dr).astype(np.int64),
                      cat(value).astype(np.float32))

    def _probe_rows(self) -> np.ndarray:
        """Rows on and one float32 step either side of split thresholds, with NaNs."""
        rng = np.random.default_rng(0)
        _, _, child, feat, thr, _, _ = self._args
        inner = child[0::2] >= 0
        X = rng.normal(size=(_PROBE_ROWS, self.n_features)).astype(np.float32)
        for f in range(self.n_features):
            cand = thr[inner & (feat == f)]
            if cand.size:
                pick = rng.choice(cand, size=_PROBE_ROWS)
                step = rng.integers(-1, 2, size=_PROBE_ROWS).astype(np.float32)
                X[:, f] = np.nextafter(pick, pick + step)
        X[rng.random(X.shape) < 0.15] = np.nan
        return X

    def _reference(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([b.inplace_predict(X, predict_type="margin", missing=np.nan)
                                for b in self._boosters]).astype(np.float32)

    def _run(self, x32: np.ndarray, base: np.ndarray) -> np.ndarray:
        out = np.empty((x32.shape[0], base.shape[0]), dtype=np.float32)
        _margins(x32, out, base, *self._args)
        return out

    def _fit_base_margins(self) -> None:
        """Per booster, the float32 base margin (nearest to the link) XGBoost reproduces."""
        X = self._probe_rows()
        ref = self._reference(X)
        best = self._base.copy()
        candidates = [self._base]
        up, down = self._base.copy(), self._base.copy()
        for _ in range(_BASE_ULPS):
            up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
            candidates += [up, down]
        misses = np.full(self._base.shape[0], X.shape[0] + 1)
        for cand in candidates:  # nearest first: a tie keeps the nearer value
            wrong = np.sum(self._run(X, cand) != ref, axis=0)
            better = wrong < misses
            best[better], misses[better] = cand[better], wrong[better]
        self._base = best

    def _self_check(self) -> str | None:
        X = self._probe_rows()
        X[: X.shape[0] // 2] = np.random.default_rng(1).normal(
            scale=10.0, size=(X.shape[0] // 2, self.n_features))
        got, ref = self._run(X, self._base), self._reference(X)
        if not np.array_equal(got, ref):
            return "load-time self-check against inplace_predict failed"
        return None

    def margins(self, X: np.ndarray) -> np.ndarray:
        """(rows, boosters) float32 margins of a 2-D feature matrix."""
        arr = np.asarray(X)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise ValueError(f"expected a 2-D array with {self.n_features} columns")
        if not self._args or arr.shape[0] > self.max_rows:
            return self._reference(arr)
        # XGBoost compares float32 feature values with float32 thresholds.
        return self._run(np.ascontiguousarray(arr, dtype=np.float32), self._base)
