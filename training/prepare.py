"""Shared by train and evaluate: training set, patient split and IPCW weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.censoring import CensoringModel
from training.dataset import TrainingSet, load_oracle, load_training_set
from training.evaluation import TestPart
from training.split import Split, patient_split


@dataclass(frozen=True)
class Prepared:
    ts: TrainingSet
    split: Split
    weights: np.ndarray  # IPCW, 0 for censored courses
    X: np.ndarray
    y: np.ndarray
    known: np.ndarray

    def rows(self, part: np.ndarray) -> np.ndarray:
        """Labelled rows of a part (censored courses carry no label)."""
        return part[self.known[part]]

    def test_part(self, data_dir: Path) -> TestPart:
        t = self.split.test
        return TestPart(self.X[t], self.y[t], self.weights[t], self.known[t],
                        self.ts.frame.index[t], load_oracle(data_dir))


def prepare(data_dir: Path, *, seed: int, quarantine_dir: Path | None = None,
            verbose: bool = True) -> Prepared:
    ts = load_training_set(data_dir, quarantine_dir=quarantine_dir, verbose=verbose)
    return prepare_from_set(ts, seed=seed)


def prepare_from_set(ts: TrainingSet, *, seed: int) -> Prepared:
    """Patient split and IPCW weights for an already built training set (any engine)."""
    X, y, known = ts.X, ts.y, ts.labelled
    time_days = ts.frame["time_days"].to_numpy(dtype=float)
    split = patient_split(ts.frame["patient_id"].to_numpy(), seed=seed)
    # The censoring model sees only the training part; its cap carries over unchanged.
    tr = split.train
    censoring = CensoringModel().fit(X[tr], time_days[tr], known[tr])
    train_w = censoring.weights(X[tr], time_days[tr], known[tr])
    weights = np.zeros(len(y))
    weights[tr] = train_w.weights
    for part in (split.valid, split.test):
        weights[part] = censoring.weights(X[part], time_days[part], known[part],
                                          cap=train_w.truncated_at).weights
    return Prepared(ts, split, weights, X, y, known)
