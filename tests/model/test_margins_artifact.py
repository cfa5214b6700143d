"""On the promoted version's real boosters, served intervals and risk curves are unchanged
by the margin kernel: bit-identical to XGBoost's inplace_predict path."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from riskmodel.calibration import sigmoid
from riskmodel.extras import load_extras


@pytest.fixture(scope="module")
def rows(cohort_dir, trained) -> np.ndarray:
    from tests.conftest import COHORT_SEED
    from training.prepare import prepare

    p = prepare(cohort_dir, seed=COHORT_SEED, verbose=False)
    X = p.X[p.split.test][:500].copy()
    X[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan  # missing-value directions too
    return X


def test_real_boosters_run_on_the_kernel_bit_identically(champion_dir, rows):
    extras = load_extras(champion_dir)
    ens, surv = extras.ensemble, extras.survival
    assert ens is not None and surv is not None
    assert ens.evaluator.engine == "kernel" and surv.evaluator.engine == "kernel"
    for X in (rows[:1], rows[:7], rows[: ens.evaluator.max_rows]):
        ref = np.vstack([b.inplace_predict(X, predict_type="margin", missing=np.nan)
                         for b in ens.boosters])
        assert np.array_equal(ens.member_margins(X), ref)
        mu = surv.booster.inplace_predict(X, predict_type="margin", missing=np.nan)
        assert np.array_equal(surv.mu(X), mu.astype(np.float64))


def test_served_interval_and_curve_equal_the_xgboost_path(champion_dir, rows):
    extras = load_extras(champion_dir)
    ens, surv = extras.ensemble, extras.survival
    slow_ens = dataclasses.replace(ens, evaluator=None)
    slow_surv = dataclasses.replace(surv, evaluator=None)
    for i in range(0, 40):
        X = rows[i : i + 1]
        assert all(np.array_equal(a, b) for a, b in zip(ens.interval(X), slow_ens.interval(X),
                                                        strict=True))
        assert surv.risk_curve(X) == slow_surv.risk_curve(X)
    # The calibrated member probabilities as they were computed before the kernel.
    X = rows[:50]
    before = np.vstack([sigmoid(c.log_odds(b.inplace_predict(X, predict_type="margin",
                                                              missing=np.nan)))
                        for b, c in zip(ens.boosters, ens.calibrators, strict=True)])
    assert np.array_equal(ens.member_probabilities(X), before)
    assert all(np.array_equal(a, b) for a, b in zip(ens.interval(rows), slow_ens.interval(rows),
                                                    strict=True))
