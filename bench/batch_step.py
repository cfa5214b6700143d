"""One batch-scoring measurement in its own process (peak memory is the step's own).

modes:
  floor    XGBoost alone on an already built matrix: inplace_predict and
           predict(pred_contribs=True); and the served RiskModel on the same matrix
           (predict_proba; explain + top factors): the baselines and their ratios
  path     the full path: read, validate, build features, predict, SHAP top factors
           (jobs.score_batch.run_batch without the audit store)
  noshap   the same path with predict_proba instead of explanations
  job      `make score-batch` itself: full path + Parquet + audit store, timed from
           opening the store to closing it
  profile  pyinstrument over `path` and over one chunk's audit write
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.common import emit


def _built_matrix(data: Path) -> np.ndarray:
    from features.builder import build_features, course_batch_from_frames
    from features.records import RawRecords, read_records
    from features.validation import validate_records

    raw = read_records(data, require_outcomes=False)
    v = validate_records(RawRecords(raw.intake, raw.sessions, None))
    return build_features(course_batch_from_frames(v.intake, v.sessions)).matrix


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def floor(model, data: Path, repeats: int) -> dict:
    import xgboost as xgb

    from jobs.batch_scoring import top_factor_column

    X = _built_matrix(data)
    n = len(X)
    b = model.booster
    b.inplace_predict(X[:100], predict_type="margin", missing=np.nan)  # warm-up
    t_pred = _best(lambda: b.inplace_predict(X, predict_type="margin", missing=np.nan), repeats)
    names = b.feature_names
    t_contribs = _best(lambda: b.predict(xgb.DMatrix(X, missing=np.nan, feature_names=names),
                                         pred_contribs=True), 1)
    t_proba = _best(lambda: model.predict_proba(X), repeats)

    def explain_top():
        e = model.explain(X)
        top_factor_column(X, e.contributions)

    t_explain = _best(explain_top, 1)
    return {"rows": n, "xgb_inplace_predict_rows_s": n / t_pred,
            "xgb_pred_contribs_rows_s": n / t_contribs,
            "model_predict_proba_rows_s": n / t_proba,
            "model_explain_top_rows_s": n / t_explain,
            "explainer_engine": getattr(model.explainer, "engine", "?"),
            "n_trees": b.num_boosted_rounds()}


def path(model, data: Path, chunk: int) -> dict:
    from jobs.score_batch import run_batch

    out = data.parent / f"{data.name}-scores.parquet"
    r = run_batch(model, data, out, store=None, chunk_courses=chunk, progress=False)
    return {"input_courses": r.input_rows["intake"], "courses_scored": r.courses_scored,
            "seconds": r.seconds, "rows_s": r.courses_scored / r.seconds["total"]}


def noshap(model, data: Path, chunk: int) -> dict:
    from features.builder import build_features, course_batch_from_frames
    from features.validation import validate_records
    from jobs.batch_reader import ChunkedRecords

    t0 = time.perf_counter()
    records = ChunkedRecords(data, chunk)
    n = 0
    for raw in records:
        v = validate_records(raw, confirm=False)  # as jobs.batch_scoring.score_chunk
        fb = build_features(course_batch_from_frames(v.intake, v.sessions))
        if len(fb.course_ids):
            model.predict_proba(fb.matrix)
        n += len(fb.course_ids)
    seconds = time.perf_counter() - t0
    return {"courses_scored": n, "seconds": seconds, "rows_s": n / seconds}


def job(model, data: Path, chunk: int, var: Path) -> dict:
    from audit import AuditStore, init_if_fresh
    from audit.paths import AuditPaths
    from jobs.score_batch import run_batch

    var.mkdir(parents=True, exist_ok=True)
    paths = AuditPaths.under(var)
    init_if_fresh(f"sqlite:///{var / 'audit.db'}", paths)
    # Timed from opening the store to closing it: the close signs the job's checkpoint and
    # indexes the lookup keys its rows left in the tail (audit.store), work the job caused
    # that `run_batch`'s own total does not include.
    t0 = time.perf_counter()
    with AuditStore(f"sqlite:///{var / 'audit.db'}", paths=paths) as st:
        r = run_batch(model, data, var / "scores.parquet", store=st, chunk_courses=chunk,
                      progress=False)
    seconds = {**r.seconds, "store_open_to_closed": time.perf_counter() - t0}
    return {"courses_scored": r.courses_scored, "events_written": r.events_written,
            "seconds": seconds, "rows_s": r.courses_scored / seconds["store_open_to_closed"],
            "rows_s_run_batch_total": r.courses_scored / r.seconds["total"]}


def profile(model, data: Path, chunk: int, var: Path, out: Path) -> dict:
    from pyinstrument import Profiler

    from audit import AuditStore
    from jobs.batch_audit import audit_chunk
    from jobs.batch_reader import ChunkedRecords
    from jobs.batch_scoring import score_chunk

    prof = Profiler(interval=0.002)
    prof.start()
    path(model, data, chunk)
    prof.stop()
    text = prof.output_text(unicode=False, color=False, show_all=False)
    var.mkdir(parents=True, exist_ok=True)
    scored = score_chunk(model, ChunkedRecords(data, 2000).chunk(0))
    from audit import init_if_fresh
    from audit.paths import AuditPaths

    paths = AuditPaths.under(var / "profile")
    init_if_fresh(f"sqlite:///{var / 'profile-audit.db'}", paths)
    with AuditStore(f"sqlite:///{var / 'profile-audit.db'}", paths=paths) as store:
        prof = Profiler(interval=0.001)
        prof.start()
        audit_chunk(store, model, scored, job_id="0" * 32, caller_sub="bench",
                    caller_role="batch", latency_ms=0.0)
        prof.stop()
    audit_text = prof.output_text(unicode=False, color=False, show_all=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# full path (no audit)\n" + text + "\n# audit write, 2,000 events\n"
                   + audit_text)
    return {"profile": str(out), "audit_events_profiled": len(scored)}


def main(argv: list[str] | None = None) -> None:
    from riskmodel.predictor import RiskModel

    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("floor", "path", "noshap", "job", "profile"))
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--chunk", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--var", type=Path, default=Path("var/bench/job"))
    ap.add_argument("--out", type=Path, default=Path("reports/bench_profile.txt"))
    args = ap.parse_args(argv)
    model = RiskModel.load(args.model)
    if args.mode == "floor":
        result = floor(model, args.data, args.repeats)
    elif args.mode == "path":
        result = path(model, args.data, args.chunk)
    elif args.mode == "noshap":
        result = noshap(model, args.data, args.chunk)
    elif args.mode == "job":
        result = job(model, args.data, args.chunk, args.var)
    else:
        result = profile(model, args.data, args.chunk, args.var, args.out)
    emit(result)


if __name__ == "__main__":
    main()
