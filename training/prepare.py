"""Shared by train and evaluate: training set, patient split and IPCW weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.spec import FEATURE_NAMES
from training.censoring import (
    CensoringModel,
    RiskScore,
    censoring_frame,
    fit_risk_score,
    select_censoring_model,
)
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
    censoring: CensoringModel  # fitted on the train part; reused by the curve and the study
    censoring_Z: pd.DataFrame  # its covariates for every row
    risk_score: RiskScore  # the censoring model's score covariate, to weight new cohorts
    ipcw_cap: float  # the train part's truncation cap, carried to every other part

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


def censoring_covariates(ts: TrainingSet) -> pd.DataFrame:
    return censoring_frame(ts.X, FEATURE_NAMES, site=ts.frame["site"].to_numpy(),
                           course_end=ts.frame["course_end_date"].to_numpy("datetime64[D]"))


def fit_censoring(Z: pd.DataFrame, time_days: np.ndarray, known: np.ndarray, mature: np.ndarray,
                  fit_rows: np.ndarray, valid_rows: np.ndarray) -> CensoringModel:
    """The censoring model on mature courses of `fit_rows` (terms chosen on `valid_rows`).
    Z must already hold the risk score (`with_risk_score`)."""
    f, v = fit_rows[mature[fit_rows]], valid_rows[mature[valid_rows]]
    return select_censoring_model(Z.iloc[f], time_days[f], known[f],
                                  Z.iloc[v], time_days[v], known[v])


def with_risk_score(Z: pd.DataFrame, X: np.ndarray, y: np.ndarray, known: np.ndarray,
                    mature: np.ndarray, fit_rows: np.ndarray, seed: int) -> pd.DataFrame:
    _, score = fit_risk_score(X, y, known & mature, fit_rows, seed)
    return Z.assign(risk_score=score)


MIN_LABELLED_PER_PART = 20  # and both outcomes in each part: below it nothing can be fitted


class TrainingDataError(ValueError):
    """The records cannot support a training run; the message says why, with counts."""


def _check_trainable(ts: TrainingSet, split: Split | None) -> None:
    known, y = ts.labelled, ts.y
    problem = None
    if len(ts.frame) == 0:
        problem = "validation accepted no course with intake, sessions and outcome"
    elif split is None:
        problem = f"{len(ts.frame)} course(s) are too few to split by patient"
    else:
        for name, rows in (("train", split.train), ("validation", split.valid),
                           ("test", split.test)):
            lab = rows[known[rows]]
            if lab.size < MIN_LABELLED_PER_PART or y[lab].all() or not y[lab].any():
                problem = (f"the {name} part has {lab.size} labelled course(s) "
                           f"({int(y[lab].sum())} relapsed); at least {MIN_LABELLED_PER_PART} "
                           "with both outcomes are needed")
                break
    if problem:
        raise TrainingDataError(
            f"cannot train: {problem}. {len(ts.frame)} courses, {int(known.sum())} labelled."
            f"\n{ts.validation_note}")


def prepare_from_set(ts: TrainingSet, *, seed: int) -> Prepared:
    """Patient split and IPCW weights for an already built training set (any engine)."""
    X, y, known = ts.X, ts.y, ts.labelled
    time_days = ts.frame["time_days"].to_numpy(dtype=float)
    if len(ts.frame) < 10:  # a patient split of fewer rows raises inside scikit-learn
        _check_trainable(ts, None)
    split = patient_split(ts.frame["patient_id"].to_numpy(), seed=seed)
    _check_trainable(ts, split)
    # The censoring model sees only the training part (its terms chosen on the validation
    # part); its cap carries over unchanged.
    mature = ts.frame["mature"].to_numpy(bool)
    risk_score, score = fit_risk_score(X, y, known & mature, split.train, seed)
    Z = censoring_covariates(ts).assign(risk_score=score)
    censoring = fit_censoring(Z, time_days, known, mature, split.train, split.valid)
    tr = split.train
    train_w = censoring.weights(Z.iloc[tr], time_days[tr], known[tr])
    weights = np.zeros(len(y))
    weights[tr] = train_w.weights
    for part in (split.valid, split.test):
        weights[part] = censoring.weights(Z.iloc[part], time_days[part], known[part],
                                          cap=train_w.truncated_at).weights
    return Prepared(ts, split, weights, X, y, known, censoring, Z, risk_score,
                    train_w.truncated_at)
