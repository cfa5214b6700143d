"""`make bench`: every figure as a ratio to a baseline measured in the same run.

Writes reports/bench.json and reports/bench.md (+ plots). Sizes: 10k and 100k
courses (FULL=1 adds 1M). Each measurement runs in its own process; the JSON
holds the exact command of each. Bench state lives under var/bench/ (its own
models, MLflow store and audit db), never touching the project's champion.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench.common import PY, ROOT, run_measured, step_json

WORK = ROOT / "var" / "bench"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"  # the PostgreSQL


def _data(n: int, seed: int) -> Path:
    out = WORK / "data" / f"n{n}"
    if not (out / "sessions.csv").exists():
        m = run_measured([PY, "-m", "synthetic", "--n", str(n), "--seed", str(seed), "--out",
                          str(out)])
        if m.returncode:
            raise RuntimeError(m.output[-2000:])
    return out


def _step(argv: list[str], env: dict[str, str] | None = None) -> dict:
    m = run_measured(argv, env=env)
    return {**step_json(m), "command": m.command, "wall_seconds": m.seconds}


def training(sizes: list[int], seed: int, engine: str) -> dict:
    out = {}
    for n in sizes:
        tag = f"n{n}-{engine}"
        env = {"MODELS_DIR": str(WORK / "models" / tag), "VAR_DIR": str(WORK / "var" / tag),
               "ENGINE": engine}
        print(f"[bench] training {engine} on {n:,} courses", flush=True)
        out[str(n)] = _step([PY, "-m", "bench.train_step", "--data", str(_data(n, seed)),
                             "--seed", str(seed), "--engine", engine], env)
    return out


def batch(sizes: list[int], seed: int, model: Path, job_sizes: list[int]) -> dict:
    out = {}
    for n in sizes:
        data = _data(n, seed)
        row: dict = {}
        for mode in ("floor", "path", "noshap"):
            print(f"[bench] batch {mode} on {n:,} courses", flush=True)
            row[mode] = _step([PY, "-m", "bench.batch_step", mode, "--data", str(data),
                               "--model", str(model)])
        if n in job_sizes:
            print(f"[bench] score-batch job (audited) on {n:,} courses", flush=True)
            row["job"] = _step([PY, "-m", "bench.batch_step", "job", "--data", str(data),
                                "--model", str(model), "--var", str(WORK / "job" / f"n{n}")])
        f, p, q = row["floor"], row["path"], row["noshap"]
        row["ratios"] = {
            # < 1 means slower than the baseline; targets are stated as slowdown factors
            "path_vs_pred_contribs_slowdown": f["xgb_pred_contribs_rows_s"] / p["rows_s"],
            "noshap_path_vs_inplace_predict_slowdown": f["xgb_inplace_predict_rows_s"]
            / q["rows_s"],
            "model_predict_vs_inplace_predict_slowdown": f["xgb_inplace_predict_rows_s"]
            / f["model_predict_proba_rows_s"],
            "model_explain_top_vs_pred_contribs_slowdown": f["xgb_pred_contribs_rows_s"]
            / f["model_explain_top_rows_s"],
        }
        if "job" in row:
            row["ratios"]["job_vs_pred_contribs_slowdown"] = (f["xgb_pred_contribs_rows_s"]
                                                              / row["job"]["rows_s"])
        out[str(n)] = row
    return out


def audit_cost(pg_url: str, rounds: int, model_dir: Path, data_dir: Path) -> dict:
    """Per-event audit cost from `bench.audit_store.measure(pg_url, rounds, ...)` (SQLite and
    PostgreSQL, microseconds: median, min, max), in its own process; a 'skipped' reason
    when that function is missing or fails."""
    code = ("import json, sys\n"
            "from pathlib import Path\n"
            "try:\n    from bench.audit_store import measure\n"
            "except ImportError as exc:\n"
            "    print('BENCH ' + json.dumps({'skipped': 'bench.audit_store.measure is not "
            "there yet (' + str(exc)[:100] + ')'})); sys.exit(0)\n"
            "print('BENCH ' + json.dumps(measure(sys.argv[1], int(sys.argv[2]), "
            "model_dir=Path(sys.argv[3]), data_dir=Path(sys.argv[4]))))\n")
    m = run_measured([PY, "-c", code, pg_url, str(rounds), str(model_dir), str(data_dir)],
                     timeout=600)
    try:
        return {**step_json(m), "command": m.command}
    except (RuntimeError, ValueError):
        return {"skipped": f"bench.audit_store.measure failed (exit {m.returncode}): "
                           f"{m.output[-300:]}", "command": m.command}


def shap_engine(model_dir: Path, data_dir: Path) -> dict:
    """Both engines on the bench's champion (real feature rows) and on the synthetic
    362-tree depth-3 and 500-tree depth-6 models, same run."""
    out = WORK / "bench_shap.json"
    # 20k rows (was 50k): the serving rounds and the audit figure need the 15-minute budget
    m = run_measured([PY, "bench/shap_bench.py", "--rows", "20000", "--single-calls", "500",
                      "--deep-ref-rows", "2000", "--champion", str(model_dir),
                      "--data", str(data_dir), "--out", str(out)], timeout=900)
    if m.returncode or not out.exists():
        return {"skipped": f"bench/shap_bench.py failed (exit {m.returncode})",
                "command": m.command, "tail": m.output[-800:]}
    return {"command": m.command, "report": json.loads(out.read_text())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="add the 1M-course runs")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--serve-seconds", type=int, default=5, help="wrk seconds per run")
    ap.add_argument("--rounds", type=int, default=4, help="rounds behind each median (>= 4)")
    ap.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", PG_URL),
                    help="PostgreSQL for the audit figure ('skip' to leave it out)")
    ap.add_argument("--skip", nargs="*", default=[], choices=("train", "batch", "serve", "shap",
                                                             "profile", "audit"))
    ap.add_argument("--out", type=Path, default=ROOT / "reports")
    args = ap.parse_args(argv)
    sizes = [10_000, 100_000] + ([1_000_000] if args.full else [])
    args.out.mkdir(parents=True, exist_ok=True)  # reports/ is not in a fresh clone
    t0 = time.perf_counter()
    report: dict = {"command": "make bench" + (" FULL=1" if args.full else ""),
                    "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                                "platform": platform.platform()},
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if "train" not in args.skip:
        report["training"] = training(sizes, args.seed, "pandas")
    # Without training now: the largest size already trained (or 10k, trained now).
    tags = [f"n{n}-pandas" for n in sizes[::-1]]
    model_tag = tags[0] if "train" not in args.skip else next(
        (t for t in tags if (WORK / "models" / t / "CHAMPION").exists()
         or _candidate(WORK / "var" / t)), "n10000-pandas")
    model_dir = _champion(WORK / "models" / model_tag, args.seed)
    report["model"] = {"path": str(model_dir.relative_to(ROOT)), "trained_on": model_tag,
                       "promoted": model_dir.parent.name != "candidates"}
    if "batch" not in args.skip:
        report["batch"] = batch(sizes, args.seed, model_dir, job_sizes=[10_000])
    if "profile" not in args.skip:
        prof = args.out / "bench_profile.txt"
        report["profile"] = _step([PY, "-m", "bench.batch_step", "profile", "--data",
                                   str(_data(10_000, args.seed)), "--model", str(model_dir),
                                   "--var", str(WORK / "profile"), "--out", str(prof)])
    if "shap" not in args.skip:
        print("[bench] fast TreeSHAP engine (bench/shap_bench.py)", flush=True)
        report["shap_engine"] = shap_engine(model_dir, _data(10_000, args.seed))
    if "audit" not in args.skip:
        print("[bench] audit cost per event (bench.audit_store.measure)", flush=True)
        report["audit_store"] = audit_cost(args.pg_url, args.rounds, model_dir,
                                           _data(10_000, args.seed))
    if "serve" not in args.skip:
        from bench.serving_load import run as serving_run

        print("[bench] serving load (wrk) with the audited batch job between rounds", flush=True)
        data10k = _data(10_000, args.seed)

        def job_round() -> dict:
            return {"job": _step([PY, "-m", "bench.batch_step", "job", "--data", str(data10k),
                                  "--model", str(model_dir), "--var",
                                  str(WORK / "job" / "serving-rounds")])}

        try:
            report["serving"] = serving_run(model_dir, WORK / "serve", args.serve_seconds,
                                            args.rounds, between_rounds=job_round)
        except (RuntimeError, OSError) as exc:  # the other figures still get reported
            report["serving"] = {"skipped": f"serving load failed: {exc}"[:500]}
        if "skipped" in report["serving"]:
            print(f"[bench] {report['serving']['skipped']}", flush=True)
    report["seconds"] = time.perf_counter() - t0
    from bench.report import write_report

    md = write_report(report, args.out)
    print(md.read_text())
    return 0


def _champion(models_dir: Path, seed: int) -> Path:
    """The bench's model: the one trained on the largest size, trained now if missing.

    The bench measures cost, not quality: when the promotion gates refused that model
    (a healthy fit is refused a few times in a hundred, docs/validation.md, "Gate study"), its
    exported candidate is measured instead, and the report says so.
    """
    from riskmodel.artifact import champion_path

    var = WORK / "var" / models_dir.name
    path = champion_path(models_dir) or _candidate(var)
    if path is None:
        n = int(models_dir.name.split("-")[0][1:])
        env = {"MODELS_DIR": str(models_dir), "VAR_DIR": str(var)}
        _step([PY, "-m", "bench.train_step", "--data", str(_data(n, seed)), "--seed",
               str(seed)], env)
        path = champion_path(models_dir) or _candidate(var)
    if path is None:
        raise RuntimeError(f"no champion under {models_dir} and no candidate under {var}")
    return path


def _candidate(var: Path) -> Path | None:
    """The newest exported candidate (escalated or refused) under a bench VAR_DIR."""
    found = [p for p in (var / "candidates").glob("*") if (p / "manifest.json").exists()]
    return max(found, key=lambda p: int(p.name) if p.name.isdigit() else -1, default=None)


if __name__ == "__main__":
    sys.exit(main())
