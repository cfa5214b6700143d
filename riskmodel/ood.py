"""One multivariate out-of-distribution check: Mahalanobis distance to the training part.

Per-feature range checks cannot see a combination unlike any patient (every value in range:
many infusions scheduled but none attended and a full dose received). The course's feature
vector (median-imputed, standardised) is extended with its squares and the pairwise
products of the session features, whose tight relations (attended <= scheduled, dose with
infusions received, max >= mean) a linear Mahalanobis distance alone misses: with the
plain 45 features, courses drawn independently per feature were flagged about 90 % of the
time, with the second-order terms about 93 % (docs/validation.md). Mean and covariance come
from the training part; the threshold is the 99.5th percentile of the squared distance on
the validation part, out of sample, so about 0.5 % of courses like the training ones are
flagged (an in-sample threshold flagged 0.8-0.9 % of held-out courses). Cost: one 261 x 261
product per course, well under a millisecond.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features.spec import FEATURE_NAMES, SESSION_FEATURES

OOD_FILE = "ood.json"
OOD_QUANTILE = 0.995


SESSION_COLUMNS = np.array([FEATURE_NAMES.index(f.name) for f in SESSION_FEATURES])
_PAIRS = np.triu_indices(len(SESSION_COLUMNS), 1)


@dataclass(frozen=True)
class MahalanobisCheck:
    median: np.ndarray  # (F,) imputes a missing value (the missing flag is its own warning)
    mean: np.ndarray  # (F,) of the raw features
    scale: np.ndarray
    embed_mean: np.ndarray  # (E,) of the second-order embedding
    embed_scale: np.ndarray
    precision: np.ndarray  # (E, E) pseudo-inverse of the embedding's covariance
    threshold: float  # squared distance at the validation part's OOD_QUANTILE

    def _embed(self, X: np.ndarray) -> np.ndarray:
        Z = (np.where(np.isnan(X), self.median, X) - self.mean) / self.scale
        S = Z[:, SESSION_COLUMNS]
        return np.hstack([Z, Z * Z, S[:, _PAIRS[0]] * S[:, _PAIRS[1]]])

    @classmethod
    def fit(cls, X_train: np.ndarray, X_calibration: np.ndarray,
            quantile: float = OOD_QUANTILE) -> MahalanobisCheck:
        median = np.nanmedian(X_train, axis=0)
        median = np.where(np.isnan(median), 0.0, median)  # a feature never observed
        Z = np.where(np.isnan(X_train), median, X_train)
        mean, scale = Z.mean(axis=0), Z.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        ones = np.ones(1)
        raw = cls(median, mean, scale, ones, ones, ones, 0.0)
        E = raw._embed(X_train)
        e_mean, e_scale = E.mean(axis=0), E.std(axis=0)
        e_scale = np.where(e_scale > 0, e_scale, 1.0)
        # pinv: constant or collinear terms (scheduled, attended and their share) are singular.
        precision = np.linalg.pinv(np.cov((E - e_mean) / e_scale, rowvar=False), hermitian=True)
        check = cls(median, mean, scale, e_mean, e_scale, precision, 0.0)
        threshold = float(np.quantile(check.distance2(X_calibration), quantile))
        return cls(median, mean, scale, e_mean, e_scale, precision, threshold)

    def distance2(self, X: np.ndarray) -> np.ndarray:
        D = (self._embed(X) - self.embed_mean) / self.embed_scale
        return np.einsum("ij,ij->i", D @ self.precision, D)

    def flags(self, X: np.ndarray) -> np.ndarray:
        return self.distance2(X) > self.threshold

    def to_json(self) -> str:
        return json.dumps({"method": "mahalanobis, second-order embedding",
                           "quantile": OOD_QUANTILE, "threshold": self.threshold,
                           **{k: getattr(self, k).tolist() for k in _ARRAYS}}) + "\n"

    @classmethod
    def exists(cls, path: Path) -> bool:
        return (path / OOD_FILE).exists()

    @classmethod
    def load(cls, path: Path) -> MahalanobisCheck:
        d = json.loads((path / OOD_FILE).read_text())
        median, mean, scale, e_mean, e_scale, precision = (np.asarray(d[k]) for k in _ARRAYS)
        return cls(median, mean, scale, e_mean, e_scale, precision, float(d["threshold"]))


_ARRAYS = ("median", "mean", "scale", "embed_mean", "embed_scale", "precision")
