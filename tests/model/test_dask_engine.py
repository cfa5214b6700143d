"""ENGINE=dask builds the same training set in partitions and trains an equally good model."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import classification_metrics


@pytest.fixture(scope="module")
def dask_client(monkeypatch_module):
    from compute import dask_client as dask_cluster

    monkeypatch_module.delenv("DASK_SCHEDULER", raising=False)
    dask_cluster.close_client()
    # threads, not processes: quick to start inside a test worker; the code path is the same
    client = dask_cluster.get_client(processes=False)
    yield client
    dask_cluster.close_client()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _test_auroc(prep, fitted) -> float:
    import xgboost as xgb

    from features.spec import FEATURE_NAMES

    t = prep.rows(prep.split.test)
    margin = fitted.booster.predict(xgb.DMatrix(prep.X[t], missing=np.nan,
                                                feature_names=list(FEATURE_NAMES)),
                                    output_margin=True)
    p = 1 / (1 + np.exp(-fitted.calibrator.log_odds(margin)))
    return classification_metrics(prep.y[t], p, prep.weights[t])["auroc"]


def test_dask_engine_matches_pandas(cohort_dir, dask_client):
    from training.dask_train import fit_model_dask, prepare_dask
    from training.fit import FitParams, fit_model
    from training.prepare import prepare

    pandas_prep = prepare(cohort_dir, seed=11, verbose=False)
    dask_prep = prepare_dask(cohort_dir, seed=11, verbose=False)

    # the same courses, the same features (partitioning changes only the row order)
    a = pandas_prep.ts.frame.sort_index()
    b = dask_prep.ts.frame.sort_index()
    assert a.index.equals(b.index)
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_allclose(pandas_prep.ts.X[np.argsort(pandas_prep.ts.frame.index)],
                               dask_prep.ts.X[np.argsort(dask_prep.ts.frame.index)])
    assert len(pandas_prep.split.test) == len(dask_prep.split.test) >= 3000

    params = FitParams()
    fits = {}
    for name, prep, fit in (("pandas", pandas_prep, fit_model), ("dask", dask_prep,
                                                                 fit_model_dask)):
        tr, va = prep.rows(prep.split.train), prep.rows(prep.split.valid)
        fits[name] = _test_auroc(prep, fit(prep.X[tr], prep.y[tr], prep.weights[tr],
                                           prep.X[va], prep.y[va], prep.weights[va],
                                           params=params, seed=11))
    assert fits["pandas"] > 0.65
    assert abs(fits["dask"] - fits["pandas"]) <= 0.01, fits


def test_dask_ensemble_members_equal_the_in_process_ones(cohort_dir, dask_client):
    """ENGINE=dask fits the bootstrap members as parallel tasks: same resamples, same seeds,
    so the same intervals as fitting them one after another here."""
    from training.intervals import fit_ensemble
    from training.prepare import prepare

    prep = prepare(cohort_dir, seed=11, verbose=False)
    tr, va = prep.rows(prep.split.train)[:4000], prep.rows(prep.split.valid)[:2000]
    args = (prep.X[tr], prep.y[tr], prep.weights[tr], prep.ts.frame["patient_id"].to_numpy()[tr],
            prep.X[va], prep.y[va], prep.weights[va])
    local = fit_ensemble(*args, rounds=30, members=3, seed=5)
    remote = fit_ensemble(*args, rounds=30, members=3, seed=5, client=dask_client)
    X = prep.X[prep.split.test][:500]
    np.testing.assert_allclose(remote.member_probabilities(X), local.member_probabilities(X),
                               atol=1e-6)
    assert len(remote.boosters) == 3
