"""Do the served intervals cover what they claim at their level? Over replicate cohorts.

`python -m training.validation.interval_coverage --replicates 20` fits one healthy model as
the gate study does (20,000 courses, seed 901), scores a large fresh cohort (50,000 courses,
seed 4000) whose true risks give the true calibration curve in deciles of the served
probability, then for each replicate fits the interval, as `make train` does, on a fresh
calibration cohort the size of a validation part (4,000 courses, seeds 4001-...) and counts
the deciles whose mean true risk lies within [mean low, mean high]. The interval's sampling
error comes from the calibration part, so only an average over many calibration parts
measures its coverage. The same cohort, scored as a test part, gives each band's served
`band_observed` interval (IPCW rate, patient bootstrap), checked against the band's mean true
risk there. Targets (fixed before the first run, 2026-11-30): pooled coverage >= level - 0.02
for each. Writes reports/interval_coverage.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from riskmodel.calibration_interval import LEVEL, CalibrationInterval
from synthetic.__main__ import write_cohort
from synthetic.cohort import generate
from training.bands import RISK_BANDS, band_facts
from training.gates.study import (
    CALIBRATION_N,
    TRAIN_N,
    clopper_pearson,
    fit_healthy,
    scored_cohort,
)
from training.uncertainty_check import interval_deciles

MODEL_SEED, TRUTH_SEED, TRUTH_N, SEED0 = 901, 4000, 50_000, 4001
MIN_COVERAGE = LEVEL - 0.02


def coverage(replicates: int, seed0: int = SEED0) -> dict:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        write_cohort(generate(TRAIN_N, MODEL_SEED), tmp / "train")
        fit = fit_healthy(tmp / "train", MODEL_SEED)
        write_cohort(generate(TRUTH_N, TRUTH_SEED), tmp / "truth")
        c = scored_cohort(tmp / "truth", fit)
        p = fit.predict(c.X)
        rows = []
        for seed in tqdm(range(seed0, seed0 + replicates), desc="calibration parts",
                         unit="cohort"):
            write_cohort(generate(CALIBRATION_N, seed), tmp / "cal")
            cc = scored_cohort(tmp / "cal", fit)
            ci = CalibrationInterval.fit(fit.predict(cc.X), cc.y, cc.w, cc.patients, seed=seed)
            low, high = ci.bounds(p)
            check = interval_deciles(p, low, high, c.y, c.w, c.true_p)
            pc = fit.predict(cc.X)
            facts = band_facts(RISK_BANDS, pc, cc.y, cc.w, cc.patients, seed=seed)
            names = RISK_BANDS.of(pc)
            covers = {b: bool(f.low <= cc.true_p[names == b].mean() <= f.high)
                      for b, f in facts.items()}
            rows.append({"seed": seed, "true_inside": check["true_inside"],
                         "n_deciles": check["n_deciles"], "mean_width": check["mean_width"],
                         "inside_by_decile": [d["true_inside"] for d in check["deciles"]],
                         "band_covers_true": covers})
    k = sum(r["true_inside"] for r in rows)
    n = sum(r["n_deciles"] for r in rows)
    lo, hi = clopper_pearson(k, n)
    bk = sum(sum(r["band_covers_true"].values()) for r in rows)
    bn = sum(len(r["band_covers_true"]) for r in rows)
    bands = {"covered": bk, "checks": bn, "coverage": bk / bn,
             "coverage_ci95": list(clopper_pearson(bk, bn)), "met": bk / bn >= MIN_COVERAGE,
             "by_band": {b: float(np.mean([r["band_covers_true"][b] for r in rows
                                           if b in r["band_covers_true"]]))
                         for b in ("low", "moderate", "high")}}
    return {"replicates": rows, "bands": bands, "covered": k, "checks": n, "coverage": k / n,
            "coverage_ci95": [lo, hi], "level": LEVEL, "target": MIN_COVERAGE,
            "interval_met": k / n >= MIN_COVERAGE, "met": k / n >= MIN_COVERAGE and bands["met"],
            "by_decile": np.mean([r["inside_by_decile"] for r in rows], axis=0).tolist(),
            "mean_width": float(np.mean([r["mean_width"] for r in rows]))}


def render(r: dict) -> str:
    lo, hi = r["coverage_ci95"]
    b = r["bands"]
    lines = ["# Calibration interval coverage (training/validation/interval_coverage.py)", "",
             f"{len(r['replicates'])} calibration parts of {CALIBRATION_N:,} courses (seeds "
             f"{r['replicates'][0]['seed']}-{r['replicates'][-1]['seed']}); truth from "
             f"{TRUTH_N:,} courses (seed {TRUTH_SEED}); model seed {MODEL_SEED}.", "",
             f"Deciles whose mean true risk lies in the mean {r['level']:.0%} interval: "
             f"**{r['covered']} of {r['checks']} = {r['coverage']:.1%}** (95% CI {lo:.1%} to "
             f"{hi:.1%}); target >= {r['target']:.0%}: **{'met' if r['interval_met'] else 'NOT met'}**. "
             f"Mean width {r['mean_width']:.3f}.", "",
             "By decile of the served probability: "
             + ", ".join(f"{v:.0%}" for v in r["by_decile"]), "",
             f"Served band intervals (`band_observed`, 95%) covering the band's mean true risk "
             f"on the same cohorts: **{b['covered']} of {b['checks']} = {b['coverage']:.1%}** "
             f"(95% CI {b['coverage_ci95'][0]:.1%} to {b['coverage_ci95'][1]:.1%}); target >= "
             f"{r['target']:.0%}: **{'met' if b['met'] else 'NOT met'}**. By band: "
             + ", ".join(f"{k} {v:.0%}" for k, v in b["by_band"].items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--seed0", type=int, default=SEED0)
    ap.add_argument("--out", type=Path, default=Path("reports"))
    args = ap.parse_args(argv)
    r = coverage(args.replicates, args.seed0)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "interval_coverage.json").write_text(json.dumps(r, indent=2))
    (args.out / "interval_coverage.md").write_text(render(r))
    print(render(r))
    return 0 if r["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
