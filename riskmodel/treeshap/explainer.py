"""Public explainer: exact path-dependent TreeSHAP for XGBoost via precomputed tables."""

from __future__ import annotations

import logging
import threading
import time

import numba
import numpy as np
import xgboost as xgb

from riskmodel.treeshap.kernels import explain_parallel, explain_serial
from riskmodel.treeshap.tables import (
    DEFAULT_MAX_GROUP_BITS,
    ParsedModel,
    TableBudgetError,
    Tables,
    build_tables,
    parse_booster,
)

logger = logging.getLogger(__name__)

# Below this many rows the serial kernel wins (thread-pool launch costs ~10-20 us; measured
# crossover ~16 rows on 2 cores for the champion-sized model).
PARALLEL_ROW_THRESHOLD = 16
# Rows per block: one tree's tables are reused across the block while hot in cache.
ROW_BLOCK = 128
# Load-time self-check against pred_contribs (float32): a guard against gross errors
# such as a wrong base-score link, not the exactness test (that lives in the tests).
_SELF_CHECK_TOL = 1e-3

# numba's default workqueue threading layer is not safe for concurrent parallel launches,
# and one batch already uses every core, so batch launches are serialised.
_PARALLEL_LOCK = threading.Lock()


class TreeShapExplainer:
    """Exact TreeSHAP values (same layout as ``pred_contribs``) for a single-output gbtree.

    ``engine`` is ``"fast"`` (table kernels) or ``"pred_contribs"`` (fallback for models the
    tables cannot handle within ``memory_budget_bytes``).
    """

    def __init__(
        self,
        booster: xgb.Booster,
        model: ParsedModel,
        tables: Tables | None,
        build_seconds: float,
        fallback_reason: str | None,
    ) -> None:
        self._booster = booster
        self._model = model
        self._tables = tables
        self._args = tables.kernel_args() if tables is not None else ()
        self.n_features: int = model.n_features
        self.n_trees: int = len(model.trees)
        self.build_seconds: float = build_seconds
        self.table_bytes: int = tables.nbytes if tables is not None else 0
        self.group_bits: int | None = tables.group_bits if tables is not None else None
        self.fallback_reason: str | None = fallback_reason
        self.engine: str = "fast" if tables is not None else "pred_contribs"
        self.expected_value: float = (
            tables.bias if tables is not None else float("nan")
        )

    @classmethod
    def from_booster(
        cls,
        booster: xgb.Booster,
        *,
        memory_budget_bytes: int = 256 << 20,
        max_group_bits: int = DEFAULT_MAX_GROUP_BITS,
    ) -> TreeShapExplainer:
        """Build tables for ``booster`` (or choose the pred_contribs fallback) and warm up.

        Raises ``UnsupportedModelError`` for dart, gblinear, multi-class/multi-output and
        categorical-split models.
        """
        t0 = time.perf_counter()
        model = parse_booster(booster)
        booster = booster.copy()
        tables: Tables | None = None
        reason: str | None = None
        try:
            tables = build_tables(model, memory_budget_bytes, max_group_bits)
        except TableBudgetError as exc:
            reason = str(exc)
        self = cls(booster, model, tables, 0.0, reason)
        if tables is not None:
            reason = self._self_check()
            if reason is not None:
                self = cls(booster, model, None, 0.0, reason)
        if reason is not None:
            logger.warning(
                "TreeSHAP fast engine unavailable (%s); falling back to pred_contribs", reason
            )
        self.build_seconds = time.perf_counter() - t0
        return self

    def _probe_rows(self) -> np.ndarray:
        """Rows on, just above and below split thresholds, plus NaNs, to exercise both sides."""
        rng = np.random.default_rng(0)
        n_rows = 48
        nf = self.n_features
        thr: list[list[float]] = [[] for _ in range(nf)]
        t = self._tables
        assert t is not None
        for f, v in zip(t.node_feat.tolist(), t.node_thr.tolist(), strict=True):
            thr[f].append(v)
        X = np.zeros((n_rows, nf), dtype=np.float32)
        for f in range(nf):
            cand = np.asarray(thr[f] or [0.0], dtype=np.float32)
            pick = rng.choice(cand, size=n_rows)
            step = rng.integers(-1, 2, size=n_rows).astype(np.float32)
            X[:, f] = np.nextafter(pick, pick + step)
        X[rng.random(X.shape) < 0.15] = np.nan
        return X

    def _self_check(self) -> str | None:
        X = self._probe_rows()
        # One call per kernel path (scalar row, serial blocks, parallel blocks) also loads or
        # compiles each JIT specialisation now, so the first request is fast.
        a, b = 1, PARALLEL_ROW_THRESHOLD - 1
        fast = np.vstack([self.shap_values(X[:a]), self.shap_values(X[a:b]),
                          self.shap_values(X[b:])])
        ref = self._pred_contribs(X)
        err = float(np.max(np.abs(fast - ref)))
        scale = 1.0 + float(np.max(np.abs(ref)))
        if not np.isfinite(err) or err > _SELF_CHECK_TOL * scale:
            return "load-time self-check against pred_contribs failed"
        return None

    def _pred_contribs(self, X: np.ndarray) -> np.ndarray:
        dm = xgb.DMatrix(
            X,
            missing=np.nan,
            feature_names=self._booster.feature_names,
            feature_types=self._booster.feature_types,
        )
        return np.asarray(self._booster.predict(dm, pred_contribs=True), dtype=np.float64)

    def shap_values(self, X: np.ndarray) -> np.ndarray:
        """SHAP values, shape (n, n_features + 1), float64; last column is the bias."""
        arr = np.asarray(X)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise ValueError(
                f"expected a 2-D array with {self.n_features} columns, got shape {arr.shape}"
            )
        if self._tables is None:
            return self._pred_contribs(arr)
        # XGBoost compares float32 feature values with float32 thresholds.
        x32 = np.ascontiguousarray(arr, dtype=np.float32)
        out = np.empty((x32.shape[0], self.n_features + 1), dtype=np.float64)
        if x32.shape[0] < PARALLEL_ROW_THRESHOLD:
            explain_serial(x32, out, *self._args, ROW_BLOCK)
        else:
            # Smaller blocks for medium batches so every thread gets work.
            block = min(ROW_BLOCK, -(-x32.shape[0] // numba.get_num_threads()))
            with _PARALLEL_LOCK:
                explain_parallel(x32, out, *self._args, block)
        return out
