"""Venn-Abers calibration pairs [p0, p1] around the served probability.

Served as `calibration_range`: among courses given a pair like this one, the relapse rate
within 180 days lies between p0 and p1 (a calibration promise about groups of courses, not
a range for one patient's own risk). Fitted on the validation ("calibration") part with its
IPCW weights: censoring makes the guarantee approximate (docs/validation.md).

A new score s is inserted into the sorted calibration scores once with label 0 and once with
label 1; the isotonic fit's value at s is p0 and p1. Isotonic regression depends only on the
order of the scores, so the pair depends only on the insertion position k = #{s_i <= s}: the
(n + 1) pairs are tabulated at fit time and serving is one `searchsorted` (microseconds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.isotonic import isotonic_regression

VENN_ABERS_FILE = "venn_abers.json"
# O(n^2) to tabulate: 5,000 calibration courses take ~3 s; above it a seeded random subset
# (still exact Venn-Abers on that subset, only a little wider).
MAX_CALIBRATION_ROWS = 5000


@dataclass(frozen=True)
class VennAbers:
    scores: np.ndarray  # (n,) sorted calibration scores (served probabilities)
    p0: np.ndarray  # (n + 1,) by insertion position
    p1: np.ndarray  # (n + 1,)

    @classmethod
    def fit(cls, scores: np.ndarray, y: np.ndarray, weights: np.ndarray, *,
            seed: int = 0) -> VennAbers:
        keep = weights > 0
        s, yy, w = scores[keep], y[keep].astype(np.float64), weights[keep].astype(np.float64)
        if len(s) > MAX_CALIBRATION_ROWS:
            rows = np.random.default_rng(seed).choice(len(s), MAX_CALIBRATION_ROWS, replace=False)
            s, yy, w = s[rows], yy[rows], w[rows]
        order = np.argsort(s, kind="stable")
        s, yy, w = s[order], yy[order], w[order]
        # The new course weighs what an average calibration course weighs (IPCW mean).
        w_new = float(w.mean())
        n = len(s)
        p0, p1 = np.empty(n + 1), np.empty(n + 1)
        for k in range(n + 1):
            ww = np.insert(w, k, w_new)
            for label, out in ((0.0, p0), (1.0, p1)):
                fitted = isotonic_regression(np.insert(yy, k, label), sample_weight=ww)
                out[k] = fitted[k]
        return cls(s, p0, p1)

    def pairs(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = np.searchsorted(self.scores, np.asarray(p, dtype=np.float64), side="right")
        return self.p0[k], self.p1[k]

    def to_json(self) -> str:
        return json.dumps({"method": "venn-abers (IPCW-weighted isotonic), validation part",
                           "scores": self.scores.tolist(), "p0": self.p0.tolist(),
                           "p1": self.p1.tolist()}) + "\n"

    @classmethod
    def exists(cls, path: Path) -> bool:
        return (path / VENN_ABERS_FILE).exists()

    @classmethod
    def load(cls, path: Path) -> VennAbers:
        d = json.loads((path / VENN_ABERS_FILE).read_text())
        return cls(np.asarray(d["scores"]), np.asarray(d["p0"]), np.asarray(d["p1"]))
