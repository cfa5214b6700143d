"""The served numbers' checks on several seeds, each through the real `make train` job.

`python -m training.validation.served_seeds --seeds 21 22 23 24 --relapse-time weibull`
generates a 20,000-course cohort per seed, trains through `training.train.train` (MLflow,
gates, export) in a scratch project, and runs `make evaluate`'s served-number checks
(training/validation/served_checks.py) on the version it produced, promoted or not.
Writes reports/served_seeds_<family>.{json,md}: the decision and failed gates, the
calibration interval in deciles (observed and true), the risk curve's gaps to the truth,
the out-of-distribution rates and the band intervals against the band's true risk.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from config import Settings
from riskmodel.predictor import RiskModel
from synthetic.__main__ import main as generate
from training.dataset import load_oracle
from training.evaluate import version_path
from training.fit import FitParams
from training.prepare import prepare
from training.train import train
from training.validation.served_checks import served_checks

COHORT_N = 20_000


def one_seed(seed: int, family: str, root: Path) -> dict:
    data = root / f"data{seed}"
    generate(["--n", str(COHORT_N), "--seed", str(seed), "--out", str(data),
              "--relapse-time", family])
    settings = Settings(models_dir=root / f"models{seed}", var_dir=root / f"var{seed}",
                        reports_dir=root / f"reports{seed}", data_dir=data)
    settings.models_dir.mkdir(parents=True)
    result = train(data, settings, seed=seed, params=FitParams())
    model = RiskModel.load(version_path(settings, result["version"]))
    prep = prepare(data, seed=seed, verbose=False)
    oracle = load_oracle(data)
    assert oracle is not None, "generated cohorts carry the oracle"
    truth = oracle.reindex(prep.ts.frame.index)["true_probability_180d"].to_numpy()
    checks = served_checks(model, prep, data, truth, seed=seed)
    ci, curve, ood = checks["calibration_interval"], checks["curve"], checks["ood"]
    return {"seed": seed, "decision": result["decision"],
            "failed_gates": [g["name"] for g in result["gates"] if not g["passed"]],
            "interval_observed_inside": ci["observed_inside"],
            "interval_true_inside": ci["true_inside"], "interval_width": ci["mean_width"],
            "curve_max_decile_gap_true": {d: curve[d]["decile_max_abs_gap_true"]
                                          for d in ("30", "90", "180")},
            "ood_held_out": ood["held_out_flagged"],
            "ood_independent": ood["independent_draws_flagged"],
            "bands_covering_true": sum(b.get("ci_covers_true", False)
                                       for b in checks["bands"].values()),
            "bands": len(checks["bands"])}


def render(family: str, rows: list[dict]) -> str:
    lines = [f"# Served numbers on {len(rows)} seeds ({family} relapse times, {COHORT_N:,} "
             "courses each)", "",
             "| seed | decision | failed gates | interval: observed / true inside (of 10) | "
             "width | curve max decile gap to truth 30/90/180 | OOD held-out / independent | "
             "band CIs covering truth |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        g = r["curve_max_decile_gap_true"]
        lines.append(
            f"| {r['seed']} | {r['decision']} | {', '.join(r['failed_gates']) or '-'} | "
            f"{r['interval_observed_inside']} / {r['interval_true_inside']} | "
            f"{r['interval_width']:.3f} | {g['30']:.3f} / {g['90']:.3f} / {g['180']:.3f} | "
            f"{r['ood_held_out']:.2%} / {r['ood_independent']:.1%} | "
            f"{r['bands_covering_true']} of {r['bands']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[21, 22, 23, 24])
    ap.add_argument("--relapse-time", choices=("weibull", "loglogistic"), default="weibull")
    ap.add_argument("--out", type=Path, default=Path("reports"))
    args = ap.parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [one_seed(s, args.relapse_time, Path(tmp)) for s in args.seeds]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"served_seeds_{args.relapse_time}"
    (args.out / f"{stem}.json").write_text(json.dumps(rows, indent=2))
    md = render(args.relapse_time, rows)
    (args.out / f"{stem}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
