"""Exactness of the table TreeSHAP engine.

References: a float64 brute-force Shapley computation (all feature subsets, path-dependent
value function written independently from the model JSON) and XGBoost's pred_contribs.
"""

from __future__ import annotations

import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskmodel.treeshap import TreeShapExplainer, UnsupportedModelError
from riskmodel.treeshap import explainer as explainer_mod

# ---------------------------------------------------------------- brute-force reference


def _leaf_paths(tree: dict) -> list[tuple[float, list[tuple[int, float, bool, int, float]]]]:
    """[(leaf value, [(feature, threshold, default_left, direction, cover fraction)])]."""
    left, right = tree["left_children"], tree["right_children"]
    cover = tree["sum_hessian"]
    out = []
    stack = [(0, [])]
    while stack:
        n, path = stack.pop()
        if left[n] == -1:
            out.append((float(np.float32(tree["split_conditions"][n])), path))
            continue
        node = (tree["split_indices"][n], np.float32(tree["split_conditions"][n]),
                bool(tree["default_left"][n]))
        for d, child in ((0, left[n]), (1, right[n])):
            stack.append((child, path + [(*node, d, cover[child] / cover[n])]))
    return out


def brute_force(booster: xgb.Booster, X: np.ndarray) -> np.ndarray:
    """Exact Shapley values in float64 by enumerating every subset of features."""
    model = json.loads(booster.save_raw("json"))["learner"]
    n_feat = int(model["learner_model_param"]["num_feature"])
    base = float(model["learner_model_param"]["base_score"].strip("[]"))
    if model["objective"]["name"] == "binary:logistic":
        base = math.log(base / (1 - base))
    leaves = [p for t in model["gradient_booster"]["model"]["trees"] for p in _leaf_paths(t)]
    subsets = [frozenset(c) for k in range(n_feat + 1) for c in combinations(range(n_feat), k)]
    out = np.zeros((X.shape[0], n_feat + 1))
    x32 = X.astype(np.float32)
    for r in range(X.shape[0]):
        v = {}
        for s in subsets:
            total = 0.0
            for value, path in leaves:
                w = value
                for f, thr, dl, d, frac in path:
                    if f in s:
                        x = x32[r, f]
                        goes = (0 if dl else 1) if np.isnan(x) else (0 if x < thr else 1)
                        w *= 1.0 if goes == d else 0.0
                    else:
                        w *= frac
                total += w
            v[s] = total
        for i in range(n_feat):
            phi = 0.0
            for s in subsets:
                if i in s:
                    continue
                k = len(s)
                wgt = math.factorial(k) * math.factorial(n_feat - k - 1) / math.factorial(n_feat)
                phi += wgt * (v[s | {i}] - v[s])
            out[r, i] = phi
        out[r, n_feat] = base + v[frozenset()]
    return out


# ---------------------------------------------------------------- helpers


def _train(
    seed: int,
    n_feat: int,
    depth: int,
    n_trees: int,
    objective: str = "binary:logistic",
    nan_frac: float = 0.1,
    base_score: float | None = None,
    y_scale: float = 1.0,
    n_rows: int = 300,
) -> tuple[xgb.Booster, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_feat))
    X[:, 0] = np.round(X[:, 0], 1)  # ties and repeated thresholds
    X[rng.random(X.shape) < nan_frac] = np.nan
    Z = np.nan_to_num(X, nan=-0.5)
    signal = Z[:, 0] + Z[:, 1 % n_feat] * Z[:, -1] + np.isnan(X[:, 0])
    if objective == "binary:logistic":
        y = (signal + rng.normal(size=n_rows) > 0).astype(float)
    else:
        y = y_scale * (signal + 0.3 * rng.normal(size=n_rows))
    params = {
        "objective": objective,
        "max_depth": depth,
        "eta": 0.3,
        "min_child_weight": 0.1,
        "nthread": 1,
        "seed": seed,
    }
    if base_score is not None:
        params["base_score"] = base_score
    booster = xgb.train(params, xgb.DMatrix(X, label=y), n_trees)
    return booster, X


def _probe(booster: xgb.Booster, X: np.ndarray, seed: int, n: int = 12) -> np.ndarray:
    """Rows at, just above and just below split thresholds, NaNs, plus training rows."""
    rng = np.random.default_rng(seed)
    df = booster.trees_to_dataframe()
    splits = df[df.Feature != "Leaf"]
    rows = X[rng.integers(0, X.shape[0], size=n // 2)].copy()
    probe = rng.normal(size=(n - rows.shape[0], X.shape[1]))
    for f in range(X.shape[1]):
        thr = splits.loc[splits.Feature == f"f{f}", "Split"].to_numpy(np.float32)
        if thr.size:
            pick = rng.choice(thr, size=probe.shape[0])
            probe[:, f] = np.nextafter(pick, pick + rng.integers(-1, 2, size=pick.size))
    probe[rng.random(probe.shape) < 0.2] = np.nan
    return np.vstack([rows, probe])


def _contribs(booster: xgb.Booster, X: np.ndarray) -> np.ndarray:
    return booster.predict(xgb.DMatrix(X), pred_contribs=True).astype(np.float64)


def _assert_close_f32(a: np.ndarray, b: np.ndarray, scale: float) -> None:
    # pred_contribs works in float32: 1e-5 absolute, scaled by the output magnitude.
    tol = 1e-5 * max(1.0, scale)
    assert np.max(np.abs(a - b)) <= tol, np.max(np.abs(a - b))


# ---------------------------------------------------------------- tests


def test_brute_force_small_model_exact() -> None:
    booster, X = _train(seed=3, n_feat=4, depth=4, n_trees=6)
    expl = TreeShapExplainer.from_booster(booster)
    assert expl.engine == "fast"
    Xp = _probe(booster, X, seed=1)
    got = expl.shap_values(Xp)
    ref = brute_force(booster, Xp)
    assert got.shape == (Xp.shape[0], 5) and got.dtype == np.float64
    assert np.max(np.abs(got - ref)) < 1e-9
    _assert_close_f32(got, _contribs(booster, Xp), 1.0)
    margin = booster.predict(xgb.DMatrix(Xp), output_margin=True)
    _assert_close_f32(got.sum(axis=1), margin, 1.0)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    n_feat=st.integers(2, 5),
    depth=st.integers(1, 8),
    n_trees=st.integers(1, 6),
    objective=st.sampled_from(["binary:logistic", "reg:squarederror"]),
    nan_frac=st.sampled_from([0.0, 0.1, 0.4]),
    base_score=st.one_of(st.none(), st.floats(0.05, 0.95)),
    y_scale=st.sampled_from([1.0, 1e3]),
    max_group_bits=st.integers(0, 10),
)
def test_random_models_match_brute_force_and_pred_contribs(
    seed: int,
    n_feat: int,
    depth: int,
    n_trees: int,
    objective: str,
    nan_frac: float,
    base_score: float | None,
    y_scale: float,
    max_group_bits: int,
) -> None:
    booster, X = _train(seed, n_feat, depth, n_trees, objective, nan_frac, base_score, y_scale)
    expl = TreeShapExplainer.from_booster(booster, max_group_bits=max_group_bits)
    assert expl.engine == "fast"
    Xp = _probe(booster, X, seed, n=8)
    got = expl.shap_values(Xp)
    ref = brute_force(booster, Xp)
    scale = float(np.max(np.abs(ref)))
    assert np.max(np.abs(got - ref)) <= 1e-9 * max(1.0, scale)
    contribs = _contribs(booster, Xp)
    _assert_close_f32(got, contribs, scale)
    # Bias column equals XGBoost's; additivity holds against the margin output.
    _assert_close_f32(got[:, -1], contribs[:, -1], scale)
    margin = booster.predict(xgb.DMatrix(Xp), output_margin=True)
    _assert_close_f32(got.sum(axis=1), margin, scale)


def test_deep_wide_model_matches_pred_contribs_serial_and_parallel() -> None:
    booster, X = _train(seed=7, n_feat=12, depth=6, n_trees=40, n_rows=2000)
    expl = TreeShapExplainer.from_booster(booster)
    assert expl.engine == "fast" and expl.table_bytes > 0 and expl.build_seconds > 0
    Xp = np.vstack([X, _probe(booster, X, seed=2, n=200)])
    assert Xp.shape[0] > explainer_mod.PARALLEL_ROW_THRESHOLD
    got = expl.shap_values(Xp)  # parallel kernel
    _assert_close_f32(got, _contribs(booster, Xp), float(np.abs(got).max()))
    single = np.vstack([expl.shap_values(Xp[i : i + 1]) for i in range(0, Xp.shape[0], 97)])
    np.testing.assert_array_equal(single, got[::97])


def test_single_row_and_1d_input() -> None:
    booster, X = _train(seed=5, n_feat=3, depth=3, n_trees=5)
    expl = TreeShapExplainer.from_booster(booster)
    one = expl.shap_values(X[:1])
    assert one.shape == (1, 4)
    np.testing.assert_array_equal(expl.shap_values(X[0]), one)
    with pytest.raises(ValueError, match="columns"):
        expl.shap_values(X[:, :2])


def test_concurrent_calls_are_thread_safe() -> None:
    booster, X = _train(seed=11, n_feat=6, depth=4, n_trees=30, n_rows=3000)
    expl = TreeShapExplainer.from_booster(booster)
    expected = expl.shap_values(X)
    slices = [(i, i + n) for i, n in zip(range(0, 3000, 150), [1, 5, 600, 2, 300] * 4, strict=False)]

    def work(bounds: tuple[int, int]) -> bool:
        lo, hi = bounds
        return bool(np.array_equal(expl.shap_values(X[lo:hi]), expected[lo:hi]))

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(work, slices * 3))


def test_fallback_when_over_budget_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    booster, X = _train(seed=2, n_feat=4, depth=5, n_trees=4)
    with caplog.at_level(logging.WARNING, logger="riskmodel.treeshap"):
        expl = TreeShapExplainer.from_booster(booster, memory_budget_bytes=64)
        got = expl.shap_values(X[:20])
        expl.shap_values(X[:3])
    assert expl.engine == "pred_contribs" and expl.table_bytes == 0
    records = [r for r in caplog.records if "falling back" in r.getMessage()]
    assert len(records) == 1
    np.testing.assert_array_equal(got, _contribs(booster, X[:20]))


def test_budget_shrinks_groups_before_falling_back() -> None:
    booster, X = _train(seed=4, n_feat=5, depth=6, n_trees=5)
    big = TreeShapExplainer.from_booster(booster, max_group_bits=10)
    small = TreeShapExplainer.from_booster(booster, memory_budget_bytes=big.table_bytes // 3)
    assert small.engine == "fast" and small.table_bytes < big.table_bytes
    np.testing.assert_allclose(small.shap_values(X), big.shap_values(X), rtol=0, atol=1e-12)


def test_refuses_categorical_splits() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"c": pd.Categorical(rng.integers(0, 4, 400)), "x": rng.normal(size=400)}
    )
    y = (df["c"].cat.codes.to_numpy() % 2).astype(float)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "max_cat_to_onehot": 1},
        xgb.DMatrix(df, label=y, enable_categorical=True),
        3,
    )
    with pytest.raises(UnsupportedModelError, match="categorical"):
        TreeShapExplainer.from_booster(booster)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"objective": "multi:softprob", "num_class": 3}, "multi-class"),
        ({"booster": "dart"}, "dart"),
        ({"booster": "gblinear"}, "gblinear"),
    ],
)
def test_refuses_unsupported_boosters(params: dict, match: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = rng.integers(0, 3, 200).astype(float)
    if params.get("booster") != "gblinear":
        params = {"max_depth": 2, **params}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), 2)
    with pytest.raises(UnsupportedModelError, match=match):
        TreeShapExplainer.from_booster(booster)


def test_trees_with_more_than_64_internal_nodes() -> None:
    # Such trees take the kernel's per-(node, row) decision path instead of one word per row.
    booster, X = _train(seed=9, n_feat=4, depth=8, n_trees=2, n_rows=3000)
    expl = TreeShapExplainer.from_booster(booster)
    assert expl.engine == "fast" and expl._tables is not None
    assert expl._tables.max_nodes > 64
    Xp = _probe(booster, X, seed=3, n=6)
    got = expl.shap_values(Xp)
    assert np.max(np.abs(got - brute_force(booster, Xp))) < 1e-9
    _assert_close_f32(expl.shap_values(X), _contribs(booster, X), float(np.abs(got).max()))


@pytest.mark.parametrize("objective", ["count:poisson", "binary:logitraw", "reg:absoluteerror"])
def test_other_single_output_objectives(objective: str) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = rng.poisson(np.exp(0.5 * np.nan_to_num(X[:, 0]))).astype(float)
    if objective == "binary:logitraw":
        y = (y > 1).astype(float)
    booster = xgb.train({"objective": objective, "max_depth": 3}, xgb.DMatrix(X, label=y), 8)
    expl = TreeShapExplainer.from_booster(booster)
    assert expl.engine == "fast"
    got = expl.shap_values(X)
    _assert_close_f32(got, _contribs(booster, X), float(np.abs(got).max()))
