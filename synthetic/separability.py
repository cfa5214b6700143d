"""How much a model can learn from the synthetic records, measured on the truth.

`python -m synthetic.separability --n 100000 --seed 11 [--effects f.toml] [--scenario ...]`
fits a logistic regression (the training baseline's recipe) and gradient-boosted trees on
the features of 60% of patients, and scores both and the generator's true probabilities on
the other 40% against the TRUE 180-day outcomes (no censoring). It answers "is the truth
non-linear enough that boosting beats logistic regression, and how far below the oracle
does a fitted model stay?" for any effect configuration (docs/data_card.md quotes it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from features.builder import build_features, course_batch_from_frames
from features.records import RawRecords
from features.validation import validate_records
from synthetic.cohort import Cohort, generate
from synthetic.effects import DISPARITY_DEFAULT_GROUP, Effects

BOOST_PARAMS = {"max_depth": 4, "eta": 0.05, "subsample": 0.8, "colsample_bytree": 0.8,
                "min_child_weight": 20, "objective": "binary:logistic", "nthread": 2}


def separability(cohort: Cohort, seed: int = 0) -> dict[str, float]:
    """Oracle, logistic and boosted AUROC on held-out patients' true outcomes."""
    validated = validate_records(RawRecords(cohort.intake, cohort.sessions, cohort.outcomes))
    feats = build_features(course_batch_from_frames(validated.intake, validated.sessions)).frame()
    truth = cohort.oracle.set_index("course_id").loc[feats.index]
    patients = validated.intake.set_index("course_id").loc[feats.index, "patient_id"].to_numpy()
    rng = np.random.default_rng(seed)
    uniq = np.unique(patients)
    test = np.isin(patients, rng.choice(uniq, int(0.4 * len(uniq)), replace=False))
    X, y = feats.to_numpy(np.float64), truth["true_relapsed_180d"].to_numpy(bool)
    lr = make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                     keep_empty_features=True),
                       StandardScaler(), LogisticRegression(max_iter=2000))
    lr.fit(X[~test], y[~test])
    fit = ~test & (rng.random(len(y)) < 0.8)  # the rest of the train part stops early
    stop = ~test & ~fit
    booster = xgb.train(BOOST_PARAMS, xgb.DMatrix(X[fit], y[fit]), 2000,
                        evals=[(xgb.DMatrix(X[stop], y[stop]), "stop")],
                        early_stopping_rounds=50, verbose_eval=False)
    p_boost = booster.predict(xgb.DMatrix(X[test]),
                              iteration_range=(0, booster.best_iteration + 1))
    return {
        "courses_test": int(test.sum()),
        "oracle_auroc": float(roc_auc_score(y[test], truth["true_probability_180d"][test])),
        "logistic_auroc": float(roc_auc_score(y[test], lr.predict_proba(X[test])[:, 1])),
        "boosted_auroc": float(roc_auc_score(y[test], p_boost)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthetic.separability",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--effects", type=Path, default=None)
    parser.add_argument("--scenario", choices=("default", "disparity"), default="default")
    args = parser.parse_args(argv)
    effects = Effects.from_toml(args.effects) if args.effects else Effects()
    if args.scenario == "disparity":
        effects = effects.with_disparity(DISPARITY_DEFAULT_GROUP)
    result = separability(generate(args.n, args.seed, effects), args.seed)
    print(json.dumps({k: round(v, 4) for k, v in result.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
