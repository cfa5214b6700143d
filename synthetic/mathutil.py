"""Small vectorised helpers shared by the generator steps."""

from __future__ import annotations

import numpy as np


def expit(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def logit(p: np.ndarray | float) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.log(p) - np.log1p(-p)


def bernoulli(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    return rng.random(np.shape(p)) < p


def choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of an (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return (u > cum).sum(axis=1)


def group_starts(group: np.ndarray) -> np.ndarray:
    """First row of each run of equal values in a sorted group array."""
    return np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
