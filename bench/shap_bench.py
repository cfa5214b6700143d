"""Benchmark the table TreeSHAP engine against XGBoost's pred_contribs, in the same run.

Usage: python bench/shap_bench.py [--rows 200000] [--single-calls 2000] [--out PATH]

Models: a champion-like model (362 trees, depth 3, 30 numeric features with NaNs,
binary:logistic) and a 500-tree depth-6 model. For each engine: batch rows/s on ``--rows``
rows (best of ``--repeats`` / ``--ref-repeats`` timed calls after a warm-up on 1000 rows;
pred_contribs on the deep model uses the first ``--deep-ref-rows`` rows) and single-row latency (median
of ``--single-calls`` calls on distinct rows). Both engines use the same thread count
(``--threads``: xgboost ``nthread`` and numba's thread pool).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def _make_data(n: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    X[:, ::5] = rng.integers(0, 5, size=(n, len(range(0, n_features, 5))))  # ordinal-like
    X[rng.random(X.shape) < 0.08] = np.nan
    Z = np.nan_to_num(X)
    logit = Z[:, 0] - 0.8 * Z[:, 1] + 0.5 * Z[:, 2] * Z[:, 3] + 0.3 * np.sin(3 * Z[:, 4])
    y = (logit + rng.normal(size=n) > 0).astype(np.float64)
    return X, y


def _best_time(fn, X: np.ndarray, repeats: int) -> tuple[float, np.ndarray]:
    fn(X[:1000])  # warm-up on a slice
    best = float("inf")
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(X)
        best = min(best, time.perf_counter() - t0)
    return best, out


def _median_single(fn, X: np.ndarray, calls: int) -> float:
    for i in range(20):
        fn(X[i : i + 1])
    times = []
    for i in range(calls):
        row = X[i % X.shape[0] : i % X.shape[0] + 1]
        t0 = time.perf_counter()
        fn(row)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _served_champion(args: argparse.Namespace) -> tuple:
    """The real champion artifact on real feature rows (repeated to --rows)."""
    from pathlib import Path

    from riskmodel.artifact import load_artifact
    from training.dataset import load_training_set

    artifact = load_artifact(Path(args.champion))
    X = load_training_set(Path(args.data), verbose=False).X
    X = np.resize(X, (args.rows, X.shape[1])).astype(np.float32)
    booster = artifact.booster
    booster.set_param({"nthread": args.threads})
    depth = int(json.loads(booster.save_config())["learner"]["gradient_booster"]["tree_train_param"]
                ["max_depth"])
    return (f"served_champion_v{artifact.version}", booster, X, args.rows,
            booster.num_boosted_rounds(), depth)


def run(args: argparse.Namespace) -> dict:
    import xgboost as xgb

    from riskmodel.treeshap import TreeShapExplainer

    n_features = 30
    X_train, y_train = _make_data(20_000, n_features, seed=1)
    X_test, _ = _make_data(args.rows, n_features, seed=2)
    dtrain = xgb.DMatrix(X_train, label=y_train)
    # (name, trees, depth, rows for pred_contribs): the deep model's pred_contribs runs at
    # ~200 rows/s here, so its rate is measured on a prefix to keep the run short.
    specs = [
        ("champion_362x_d3", 362, 3, args.rows),
        ("deep_500x_d6", 500, 6, min(args.rows, args.deep_ref_rows)),
    ]
    if args.quick:
        specs = specs[:1]
    models = []
    for name, n_trees, depth, ref_rows in specs:
        params = {
            "objective": "binary:logistic",
            "max_depth": depth,
            "eta": 0.05,
            "subsample": 0.8,
            "nthread": args.threads,
            "tree_method": "hist",
        }
        models.append((name, xgb.train(params, dtrain, n_trees), X_test, ref_rows, n_trees, depth))
    if args.champion:
        models.insert(0, _served_champion(args))
    results = []
    for name, booster, X_test, ref_rows, n_trees, depth in models:
        expl = TreeShapExplainer.from_booster(booster)

        def ref(x: np.ndarray, booster=booster) -> np.ndarray:
            return booster.predict(xgb.DMatrix(x, feature_names=booster.feature_names),
                                   pred_contribs=True)

        fast = expl.shap_values
        t_fast, out_fast = _best_time(fast, X_test, args.repeats)
        t_ref, out_ref = _best_time(ref, X_test[:ref_rows], args.ref_repeats)
        s_fast = _median_single(fast, X_test, args.single_calls)
        s_ref = _median_single(ref, X_test, args.single_calls)
        diff = np.abs(out_fast[:ref_rows] - out_ref)
        margin = booster.predict(xgb.DMatrix(X_test, feature_names=booster.feature_names),
                                 output_margin=True)
        additivity = np.abs(out_fast.sum(axis=1) - margin)
        results.append(
            {
                "model": name,
                "n_trees": n_trees,
                "max_depth": depth,
                "engine": expl.engine,
                "group_bits": expl.group_bits,
                "build_seconds": expl.build_seconds,
                "table_bytes": expl.table_bytes,
                "fast_rows_per_s": args.rows / t_fast,
                "pred_contribs_rows_per_s": ref_rows / t_ref,
                "pred_contribs_rows_measured": ref_rows,
                "batch_speedup": (args.rows / t_fast) / (ref_rows / t_ref),
                "fast_single_ms": s_fast * 1e3,
                "pred_contribs_single_ms": s_ref * 1e3,
                "single_speedup": s_ref / s_fast,
                "max_abs_diff_vs_pred_contribs": float(diff.max()),
                "max_abs_diff_rows": ref_rows,
                "max_abs_additivity_err_vs_margin": float(additivity.max()),
            }
        )
    return {
        "method": {
            "threads": args.threads,
            "batch_rows": args.rows,
            "deep_model_pred_contribs_rows": min(args.rows, args.deep_ref_rows),
            "batch_timing": (
                f"best of {args.repeats} (fast) / {args.ref_repeats} (pred_contribs) calls "
                "after a 1000-row warm-up"
            ),
            "single_row_timing": f"median of {args.single_calls} calls, one row each",
            "data": f"synthetic, {n_features} numeric features, 8% NaN, 20k training rows",
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "results": results,
    }


def _print_table(report: dict) -> None:
    m = report["method"]
    print(
        f"threads={m['threads']} rows={m['batch_rows']} batch: {m['batch_timing']}; "
        f"single: {m['single_row_timing']}"
    )
    hdr = (
        f"{'model':<18}{'fast rows/s':>13}{'xgb rows/s':>12}{'x':>7}"
        f"{'fast 1-row ms':>15}{'xgb 1-row ms':>14}{'x':>7}{'max|diff|':>11}"
        f"{'build s':>9}{'tables MiB':>12}"
    )
    print(hdr)
    for r in report["results"]:
        print(
            f"{r['model']:<18}{r['fast_rows_per_s']:>13,.0f}{r['pred_contribs_rows_per_s']:>12,.0f}"
            f"{r['batch_speedup']:>7.1f}{r['fast_single_ms']:>15.4f}"
            f"{r['pred_contribs_single_ms']:>14.4f}{r['single_speedup']:>7.1f}"
            f"{r['max_abs_diff_vs_pred_contribs']:>11.2e}{r['build_seconds']:>9.2f}"
            f"{r['table_bytes'] / 2**20:>12.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ref-repeats", type=int, default=1)
    parser.add_argument("--deep-ref-rows", type=int, default=20_000)
    parser.add_argument("--single-calls", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="champion model only")
    parser.add_argument("--out", default="reports/bench_shap.json")
    parser.add_argument("--champion", help="also measure this exported model dir (models/<v>)")
    parser.add_argument("--data", default="data/raw", help="records for --champion's rows")
    args = parser.parse_args(argv)
    # numba reads its thread count at import, so set it before importing the engine.
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    report = run(args)
    _print_table(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
