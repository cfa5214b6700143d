"""The margin kernel equals XGBoost's inplace_predict bit for bit, or steps aside."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import xgboost as xgb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskmodel import margins as margins_mod
from riskmodel.margins import MarginEvaluator


def _train(seed: int, n_feat: int, depth: int, n_trees: int, objective: str,
           nan_frac: float, base_score: float | None, n_rows: int = 300) -> tuple[xgb.Booster,
                                                                                 np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_feat))
    X[:, 0] = np.round(X[:, 0], 1)  # ties and repeated thresholds
    X[rng.random(X.shape) < nan_frac] = np.nan
    Z = np.nan_to_num(X, nan=-0.5)
    signal = Z[:, 0] + Z[:, 1 % n_feat] * Z[:, -1] + np.isnan(X[:, 0])
    dm = xgb.DMatrix(X)
    params: dict = {"objective": objective, "max_depth": depth, "eta": 0.3,
                    "min_child_weight": 0.1, "nthread": 1, "seed": seed}
    if objective == "binary:logistic":
        dm.set_label((signal + rng.normal(size=n_rows) > 0).astype(float))
    elif objective == "survival:aft":
        t = np.exp(1.0 + 0.5 * signal + 0.3 * rng.normal(size=n_rows))
        censored = rng.random(n_rows) < 0.3
        dm.set_float_info("label_lower_bound", t)
        dm.set_float_info("label_upper_bound", np.where(censored, np.inf, t))
        params.update(aft_loss_distribution="extreme", aft_loss_distribution_scale=1.2)
    else:
        dm.set_label(signal + 0.3 * rng.normal(size=n_rows))
    if base_score is not None:
        params["base_score"] = base_score
    return xgb.train(params, dm, n_trees), X


def _probe(boosters: list[xgb.Booster], X: np.ndarray, seed: int, n: int = 40) -> np.ndarray:
    """Training rows, rows on and one float32 step either side of thresholds, NaNs."""
    rng = np.random.default_rng(seed)
    rows = X[rng.integers(0, X.shape[0], size=n // 2)].copy()
    probe = rng.normal(size=(n - rows.shape[0], X.shape[1]))
    splits = [df[df.Feature != "Leaf"] for df in (b.trees_to_dataframe() for b in boosters)]
    for f in range(X.shape[1]):
        thr = np.concatenate([s.loc[s.Feature == f"f{f}", "Split"].to_numpy(np.float32)
                              for s in splits])
        if thr.size:
            pick = rng.choice(thr, size=probe.shape[0])
            probe[:, f] = np.nextafter(pick, pick + rng.integers(-1, 2, size=pick.size))
    probe[rng.random(probe.shape) < 0.2] = np.nan
    return np.vstack([rows, probe])


def _xgb(boosters: list[xgb.Booster], X: np.ndarray) -> np.ndarray:
    return np.column_stack([b.inplace_predict(X, predict_type="margin", missing=np.nan)
                            for b in boosters])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_feat=st.integers(2, 6),
    depth=st.integers(1, 8),
    n_trees=st.integers(1, 30),
    objectives=st.lists(st.sampled_from(["binary:logistic", "reg:squarederror",
                                         "survival:aft"]), min_size=1, max_size=3),
    nan_frac=st.sampled_from([0.0, 0.1, 0.4]),
    base_score=st.one_of(st.none(), st.floats(0.05, 0.95)),
)
def test_random_models_bit_identical_to_inplace_predict(
    seed: int, n_feat: int, depth: int, n_trees: int, objectives: list[str], nan_frac: float,
    base_score: float | None,
) -> None:
    trained = [_train(seed + i, n_feat, depth, n_trees, obj, nan_frac, base_score)
               for i, obj in enumerate(objectives)]
    boosters = [b for b, _ in trained]
    ev = MarginEvaluator(boosters, max_rows=10_000)
    assert ev.engine == "kernel", ev.fallback_reason
    X = _probe(boosters, trained[0][1], seed)
    got = ev.margins(X)
    assert got.dtype == np.float32 and got.shape == (X.shape[0], len(boosters))
    assert np.array_equal(got, _xgb(boosters, X))
    assert np.array_equal(ev.margins(X[:1]), _xgb(boosters, X[:1]))


def test_large_batches_go_to_xgboost_with_the_same_numbers() -> None:
    booster, X = _train(1, 4, 3, 20, "binary:logistic", 0.1, None)
    ev = MarginEvaluator([booster], max_rows=8)
    calls = []
    original = booster.inplace_predict

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(args[0].shape[0])
        return original(*args, **kwargs)

    booster.inplace_predict = counted  # type: ignore[method-assign]
    assert np.array_equal(ev.margins(X[:8]), _xgb([booster], X[:8]))
    assert calls == [8]  # only the reference above: the kernel served 8 rows
    assert np.array_equal(ev.margins(X[:9]), original(X[:9], predict_type="margin")[:, None])
    assert calls[-1] == 9


def test_unsupported_models_fall_back_to_xgboost(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    dm = xgb.DMatrix(X, label=(X[:, 0] > 0).astype(float))
    dart = xgb.train({"booster": "dart", "objective": "binary:logistic", "max_depth": 3,
                      "rate_drop": 0.3, "nthread": 1}, dm, 5)
    with caplog.at_level(logging.WARNING, logger="riskmodel.margins"):
        ev = MarginEvaluator([dart])
    assert ev.engine == "xgboost" and "dart" in (ev.fallback_reason or "")
    assert "margin kernel unavailable" in caplog.text
    assert np.array_equal(ev.margins(X[:3]), _xgb([dart], X[:3]))


def test_categorical_splits_fall_back() -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=300),
                       "c": pd.Categorical(rng.choice(["x", "y", "z"], size=300))})
    y = (df.a + (df.c == "y") > 0).astype(float)
    b = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                  xgb.DMatrix(df, label=y, enable_categorical=True), 5)
    assert MarginEvaluator([b]).engine == "xgboost"


def test_failed_self_check_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    booster, X = _train(2, 3, 3, 10, "binary:logistic", 0.1, None)
    monkeypatch.setattr(margins_mod, "_link", lambda model: 0.5)  # a wrong base margin
    ev = MarginEvaluator([booster])
    assert ev.engine == "xgboost"
    assert "self-check" in (ev.fallback_reason or "")
    assert np.array_equal(ev.margins(X[:2]), _xgb([booster], X[:2]))


def test_early_stopped_booster_uses_every_tree_like_inplace_predict() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + rng.normal(size=400) > 0).astype(float)
    b = xgb.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.5, "nthread": 1},
                  xgb.DMatrix(X[:300], label=y[:300]), 200,
                  evals=[(xgb.DMatrix(X[300:], label=y[300:]), "v")],
                  early_stopping_rounds=5, verbose_eval=False)
    ev = MarginEvaluator([b])
    assert ev.engine == "kernel"
    assert np.array_equal(ev.margins(X[:20]), _xgb([b], X[:20]))


def test_concurrent_calls_agree() -> None:
    boosters = [_train(s, 5, 4, 25, "binary:logistic", 0.2, None)[0] for s in range(3)]
    X = np.random.default_rng(9).normal(size=(64, 5))
    ev = MarginEvaluator(boosters)
    want = _xgb(boosters, X)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: ev.margins(X[i : i + 1]), range(64)))
    assert np.array_equal(np.vstack(got), want)


def test_wrong_shape_is_refused() -> None:
    booster, _ = _train(3, 4, 2, 3, "binary:logistic", 0.0, None)
    with pytest.raises(ValueError, match="4 columns"):
        MarginEvaluator([booster]).margins(np.zeros((1, 3)))
