"""`make gate-study`: do the gates promote healthy models and refuse bad ones? By simulation.

Models are fitted once, as `make train` fits them, on 20,000-course training
cohorts (seeds 901-903); each replicate then draws a FRESH test cohort
(5,000 courses, the size of a 25,000-course cohort's test part) from a seed
never used to design the thresholds (evaluation seeds start at 3001: 1001-1060
ran before every gate judged the healthy fits; the design run used 201-206 and
`--design` reruns from 201), weights it with the training cohort's censoring
model, and runs the gates on each scenario:

- healthy: the fitted model (champion and reference: a second healthy fit),
  and the generator's true probabilities (champion and reference: the fit),
  each facing every gate make train applies, the calibration interval fitted
  on a fresh calibration cohort per replicate;
- degraded, each relative to the healthy fit on the same rows (noise added to
  its log-odds until its AUROC on these rows is exactly 0.03 / 0.05 lower,
  then recalibrated on them so only discrimination is lost): AUROC 0.03 and
  0.05 lower after an earlier version had lost 0.015 / 0.02 (the reference
  catches accumulated losses), 0.03 worse than the champion, 0.03 below
  logistic regression (a first promotion: no champion), the probabilities of
  one group (sex female, ~1,350 labelled) shifted by +0.10, a broken
  calibrator (log-odds x 0.5);
- disparity: a model fitted on `--scenario disparity` data, scored on such
  cohorts of 15,000 courses (the group then has ~1,400 labelled courses, above
  the assessable size; the subgroup gate must name it);
- group shifts: a random group of n labelled courses shifted by +0.10, for the
  power curve (detection = the subgroup gate refuses naming it).

Rates carry Clopper-Pearson 95 % intervals. Writes reports/gate_study.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from tqdm import tqdm

from riskmodel.calibration import logit, sigmoid
from riskmodel.calibration_interval import CalibrationInterval
from synthetic.__main__ import write_cohort
from synthetic.cohort import generate
from synthetic.effects import DISPARITY_DEFAULT_GROUP, Effects
from training.bands import RISK_BANDS, band_facts
from training.baselines import LogisticBaseline
from training.censoring import CensoringModel, RiskScore
from training.dataset import TrainingSet, load_oracle, load_training_set
from training.fit import FitParams, fit_model
from training.gates import Comparator, evaluate, spec
from training.gates import draws as d
from training.prepare import censoring_covariates, prepare_from_set
from training.served_fit import served_gates, with_served_gates
from training.validation.subgroups import subgroup_columns

TRAIN_N, TEST_N, DISPARITY_TEST_N = 20_000, 5_000, 15_000
# The validation part of a TRAIN_N cohort: what make train fits the calibration interval on.
CALIBRATION_N = 4_000
# 1001-1060 judged the gates before the served-number gates joined every healthy scenario;
# with them the study runs on fresh seeds 3001-3060 (calibration cohorts: seed + 100000).
EVALUATION_SEED0, DESIGN_SEED0, DISPARITY_SEED0 = 3001, 201, 2001
CALIBRATION_SEED_OFFSET = 100_000
GROUP_SIZES = (200, 400, 600, 800, 1000, 1400)
SHIFT = 0.10
TARGETS = {"healthy": ("promoted", 0.90), "degraded": ("refused", 0.95)}


@dataclass(frozen=True)
class Fitted:
    """A healthy model with what scoring a fresh cohort needs (as `make train` has them)."""

    predict: Callable[[np.ndarray], np.ndarray]
    logistic: LogisticBaseline
    censoring: CensoringModel
    score: RiskScore
    cap: float


def fit_healthy(data_dir: Path, seed: int) -> Fitted:
    ts = load_training_set(data_dir, verbose=False)
    prep = prepare_from_set(ts, seed=seed)
    tr, va = prep.rows(prep.split.train), prep.rows(prep.split.valid)
    fitted = fit_model(prep.X[tr], prep.y[tr], prep.weights[tr], prep.X[va], prep.y[va],
                       prep.weights[va], params=FitParams(), seed=seed)
    rows = np.concatenate([tr, va])
    lr = LogisticBaseline().fit(prep.X[rows], prep.y[rows], prep.weights[rows])
    def predict(X: np.ndarray) -> np.ndarray:
        margin = fitted.booster.inplace_predict(X, predict_type="margin", missing=np.nan)
        return sigmoid(fitted.calibrator.log_odds(margin))

    # The censoring model, its score and cap are the ones prepare fitted for these weights.
    return Fitted(predict, lr, prep.censoring, prep.risk_score, prep.ipcw_cap)


@dataclass(frozen=True)
class TestCohort:
    X: np.ndarray
    y: np.ndarray
    w: np.ndarray
    patients: np.ndarray
    attributes: pd.DataFrame
    true_p: np.ndarray
    disparity: np.ndarray


def scored_cohort(data_dir: Path, fitted: Fitted) -> TestCohort:
    ts: TrainingSet = load_training_set(data_dir, verbose=False)
    oracle = load_oracle(data_dir)
    assert oracle is not None
    truth = oracle.reindex(ts.frame.index)
    known = ts.labelled & ts.frame["mature"].to_numpy(bool)
    Z = censoring_covariates(ts).assign(risk_score=fitted.score.log_odds(ts.X))
    w = fitted.censoring.weights(Z, ts.frame["time_days"].to_numpy(float), known,
                                 cap=fitted.cap).weights
    return TestCohort(ts.X, ts.y.astype(float), w, ts.frame["patient_id"].to_numpy(),
                      subgroup_columns(ts.frame), truth["true_probability_180d"].to_numpy(),
                      truth["disparity_group"].to_numpy(bool))


def _auroc(c: TestCohort, p: np.ndarray) -> float:
    return float(d.auroc(c.w, c.y, p)[0])


def _recalibrated(c: TestCohort, margin: np.ndarray) -> np.ndarray:
    b = d.slope(c.w, c.y, sigmoid(margin))[0]
    p = sigmoid(b * margin)
    shift = logit(np.clip(np.average(c.y, weights=c.w), 1e-6, 1 - 1e-6))
    # One intercept step so the mean matches the observed (IPCW) rate on these rows.
    a = shift - logit(np.clip(np.average(p, weights=c.w), 1e-6, 1 - 1e-6))
    return sigmoid(b * margin + a)


def degrade(c: TestCohort, p: np.ndarray, target_auroc: float, seed: int) -> np.ndarray:
    """p with noise on its log-odds so that its AUROC here is `target_auroc`, recalibrated."""
    z = np.random.default_rng(seed).standard_normal(len(p))
    base = logit(np.clip(p, 1e-6, 1 - 1e-6))
    lo, hi = 0.0, 8.0
    for _ in range(30):  # AUROC falls as the noise grows; bisection on its scale
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _auroc(c, sigmoid(base + mid * z)) > target_auroc else (lo, mid)
    return _recalibrated(c, base + hi * z)


def _outcome(report, group: str | None = None) -> dict:
    named = None
    if group is not None:
        named = any(g.group == group and g.status == "refuse" for g in report.subgroups)
    return {"decision": report.decision, "named": named,
            "failed": [r.name for r in report.results if not r.passed]}


def _disparity(seed: int, fits: dict[str, Fitted], tmp: Path,
               min_assessable: int | None) -> dict:
    effects = Effects().with_disparity(DISPARITY_DEFAULT_GROUP)
    write_cohort(generate(DISPARITY_TEST_N, seed, effects), tmp / "disparity")
    cd = scored_cohort(tmp / "disparity", fits["disparity"])
    pdisp = fits["disparity"].predict(cd.X)
    rd = evaluate(cd.y, cd.w, cd.patients, pdisp, cd.attributes,
                  [Comparator("logistic", "logistic regression",
                              fits["disparity"].logistic.predict_proba(cd.X))], seed=seed,
                  min_assessable=min_assessable)
    return _outcome(rd, DISPARITY_DEFAULT_GROUP)


def _calibration_intervals(seed: int, fit: Fitted, tmp: Path) -> dict[str, CalibrationInterval]:
    """The served calibration interval of the fit and of the truth, each fitted on a fresh
    cohort the size of make train's validation part: its sampling error is part of what the
    gate must tolerate, so every replicate draws its own."""
    cal_seed = seed + CALIBRATION_SEED_OFFSET
    write_cohort(generate(CALIBRATION_N, cal_seed), tmp / "calibration")
    cc = scored_cohort(tmp / "calibration", fit)
    return {name: CalibrationInterval.fit(p, cc.y, cc.w, cc.patients, seed=cal_seed)
            for name, p in (("fit", fit.predict(cc.X)), ("truth", cc.true_p))}


def _healthy(seed: int, fits: dict[str, Fitted], c: TestCohort, tmp: Path) -> dict:
    """The healthy fit and the truth, judged by every gate make train applies."""
    pa, pb = fits["a"].predict(c.X), fits["b"].predict(c.X)
    lr = Comparator("logistic", "logistic regression", fits["a"].logistic.predict_proba(c.X))
    intervals = _calibration_intervals(seed, fits["a"], tmp)
    out = {}
    for name, p, other in (("healthy_fit", pa, pb), ("healthy_truth", c.true_p, pa)):
        report = evaluate(c.y, c.w, c.patients, p, c.attributes,
                          [lr, Comparator("champion", "champion", other),
                           Comparator("reference", "reference", other)], seed=seed)
        interval = intervals[name.removeprefix("healthy_")]
        facts = band_facts(RISK_BANDS, p, c.y, c.w, c.patients, seed=seed)
        out[name] = _outcome(with_served_gates(report,
                                               served_gates(interval, facts, p, c.y, c.w)))
    return out


def run_replicate(seed: int, fits: dict[str, Fitted], tmp: Path, *,
                  power_only: bool = False, min_assessable: int | None = None,
                  disparity_only: bool = False, healthy_only: bool = False) -> dict:
    if disparity_only:
        return {"disparity": _disparity(seed, fits, tmp, min_assessable)}
    write_cohort(generate(TEST_N, seed), tmp / "plain")
    c = scored_cohort(tmp / "plain", fits["a"])
    if healthy_only:
        return _healthy(seed, fits, c, tmp)
    out: dict[str, dict] = {}
    pa = fits["a"].predict(c.X)
    p_lr = fits["a"].logistic.predict_proba(c.X)
    gate = lambda p, comps, attrs=None: evaluate(  # noqa: E731
        c.y, c.w, c.patients, p, c.attributes if attrs is None else attrs, comps, seed=seed,
        min_assessable=min_assessable)
    lr = Comparator("logistic", "logistic regression", p_lr)
    champ = lambda q, label="champion": Comparator("champion", label, q)  # noqa: E731
    ref = lambda q: Comparator("reference", "reference", q)  # noqa: E731

    rng = np.random.default_rng(seed)
    for size in GROUP_SIZES:  # a random group of `size` labelled courses, shifted
        labelled = np.flatnonzero(c.w > 0)
        inside = np.zeros(len(c.y), bool)
        inside[rng.choice(labelled, size, replace=False)] = True
        inside |= np.isin(c.patients, c.patients[inside]) & (c.w == 0)  # their censored rows
        attrs = c.attributes.assign(study_group=np.where(inside, "shifted", "other"))
        shifted = np.where(inside, np.clip(pa + SHIFT, 0.001, 0.999), pa)
        # The power curve judges every size (no minimum): it is what sets the minimum.
        r = evaluate(c.y, c.w, c.patients, shifted, attrs, [], seed=seed,
                     attributes_gated=(*spec.GATED_ATTRIBUTES, "study_group"),
                     min_assessable=0)
        out[f"group_shift_{size}"] = _outcome(r, "shifted")
    if power_only:
        return out

    out |= _healthy(seed, fits, c, tmp)
    base = _auroc(c, pa)
    out["auroc_minus_0.03"] = _outcome(gate(degrade(c, pa, base - 0.03, seed),
                                            [lr, champ(degrade(c, pa, base - 0.015, seed + 1)),
                                             ref(pa)]))
    out["auroc_minus_0.05"] = _outcome(gate(degrade(c, pa, base - 0.05, seed),
                                            [lr, champ(degrade(c, pa, base - 0.03, seed + 1)),
                                             ref(pa)]))
    out["worse_than_champion_0.03"] = _outcome(gate(degrade(c, pa, base - 0.03, seed + 2),
                                                    [lr, champ(pa), ref(pa)]))
    out["below_logistic_0.03"] = _outcome(gate(degrade(c, pa, _auroc(c, p_lr) - 0.03, seed + 3),
                                               [lr]))
    female = c.attributes["sex"].to_numpy() == "female"
    out["female_shift_0.10"] = _outcome(gate(np.where(female, np.clip(pa + SHIFT, 0.001, 0.999),
                                                      pa), [lr, champ(pa), ref(pa)]), "female")
    out["broken_calibrator"] = _outcome(gate(sigmoid(0.5 * logit(np.clip(pa, 1e-6, 1 - 1e-6))),
                                             [lr, champ(pa), ref(pa)]))
    out["disparity"] = _disparity(seed, fits, tmp, min_assessable)
    return out


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return float(ci.low), float(ci.high)


def summarise(replicates: list[dict]) -> dict:
    rows = {}
    for name in replicates[0]:
        outcomes = [r[name] for r in replicates]
        n = len(outcomes)
        promoted = sum(o["decision"] == "promote" for o in outcomes)
        refused = sum(o["decision"] == "refuse" for o in outcomes)
        named = sum(bool(o["named"]) for o in outcomes)
        kind = "healthy" if name.startswith("healthy") else "power" if name.startswith(
            "group_shift") else "degraded"
        if kind == "healthy":
            rate, k, target = promoted / n, promoted, TARGETS["healthy"][1]
        elif kind == "power":
            rate, k, target = named / n, named, None
        else:
            rate, k, target = refused / n, refused, TARGETS["degraded"][1]
        low, high = clopper_pearson(k, n)
        failed: dict[str, int] = {}
        for o in outcomes:
            for g in o["failed"]:
                failed[g] = failed.get(g, 0) + 1
        rows[name] = {"kind": kind, "n": n, "promoted": promoted, "refused": refused,
                      "escalated": n - promoted - refused, "named": named, "rate": rate,
                      "ci": [low, high], "target": target,
                      "met": None if target is None else rate >= target, "gates_failed": failed}
    return rows


def power_threshold(rows: dict, level: float = 0.80) -> int | None:
    """Smallest group size from which every larger size was detected >= `level`."""
    sizes = sorted(int(k.rsplit("_", 1)[1]) for k in rows if k.startswith("group_shift"))
    ok = [s for s in sizes if all(rows[f"group_shift_{t}"]["rate"] >= level
                                  for t in sizes if t >= s)]
    return ok[0] if ok else None


def render(result: dict) -> str:
    rows = result["rows"]
    lines = [f"# Gate study ({result['replicates']} replicates, seeds "
             f"{result['seeds'][0]}-{result['seeds'][-1]}, {result['seconds']:.0f} s)", "",
             "| scenario | promoted | escalated | refused | rate (95% CI) | target | met | gates "
             "that failed |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in rows.items():
        what = {"healthy": "promoted", "degraded": "refused", "power": "detected"}[r["kind"]]
        target = "" if r["target"] is None else f">= {r['target']:.0%} {what}"
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        failed = ", ".join(f"{k} {v}" for k, v in sorted(r["gates_failed"].items()))
        if r["kind"] == "degraded" and r["named"]:
            failed += f" (the group named in {r['named']})"
        lines.append(f"| {name} | {r['promoted']} | {r['escalated']} | {r['refused']} | "
                     f"{what} {r['rate']:.1%} ({r['ci'][0]:.1%}-{r['ci'][1]:.1%}) | {target} | "
                     f"{met} | {failed} |")
    if result["power_from"] is not None:
        lines += ["", f"Power: a +{SHIFT} calibration shift is detected with >= 80 % power "
                  f"from {result['power_from']} labelled test courses "
                  f"(MIN_ASSESSABLE_LABELLED = {spec.MIN_ASSESSABLE_LABELLED})."]
    return "\n".join(lines) + "\n"


def plot_power(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes, rates, lows, highs = [], [], [], []
    for k, r in result["rows"].items():
        if k.startswith("group_shift"):
            sizes.append(int(k.rsplit("_", 1)[1]))
            rates.append(r["rate"])
            lows.append(r["rate"] - r["ci"][0])
            highs.append(r["ci"][1] - r["rate"])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(sizes, rates, yerr=[lows, highs], marker="o", capsize=3)
    ax.axhline(0.8, color="grey", ls="--", label="80 % power")
    ax.axvline(spec.MIN_ASSESSABLE_LABELLED, color="tab:red", ls=":",
               label="minimum assessable size")
    ax.set(xlabel="labelled test courses in the group", ylabel="detected (refused, group named)",
           title=f"Subgroup gate: power to find a +{SHIFT} calibration shift", ylim=(0, 1.02))
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def study(replicates: int, seed0: int, *, power_only: bool = False,
          min_assessable: int | None = None, disparity_only: bool = False,
          healthy_only: bool = False) -> dict:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        fits = {}
        for name, seed, effects in (("a", 901, Effects()), ("b", 902, Effects()),
                                    ("disparity", 903,
                                     Effects().with_disparity(DISPARITY_DEFAULT_GROUP))):
            if ((power_only and name != "a") or (disparity_only and name != "disparity")
                    or (healthy_only and name == "disparity")):
                continue
            write_cohort(generate(TRAIN_N, seed, effects), tmp / f"train_{name}")
            fits[name] = fit_healthy(tmp / f"train_{name}", seed)
        seeds = list(range(seed0, seed0 + replicates))
        results = [run_replicate(s, fits, tmp, power_only=power_only,
                                 min_assessable=min_assessable, disparity_only=disparity_only,
                                 healthy_only=healthy_only)
                   for s in tqdm(seeds, desc="replicates", unit="cohort")]
    rows = summarise(results)
    return {"replicates": replicates, "seeds": seeds, "rows": rows,
            "power_from": None if disparity_only or healthy_only else power_threshold(rows),
            "seconds": time.perf_counter() - t0,
            "min_assessable_labelled": spec.MIN_ASSESSABLE_LABELLED}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, default=60)
    ap.add_argument("--design", action="store_true",
                    help=f"design seeds from {DESIGN_SEED0}; the power curve with no minimum "
                         "group size (to choose MIN_ASSESSABLE_LABELLED)")
    ap.add_argument("--out", type=Path, default=Path("reports"))
    ap.add_argument("--disparity-only", action="store_true",
                    help="only the disparity scenario (seeds from 2001)")
    ap.add_argument("--healthy-every-gate", action="store_true",
                    help="only the healthy scenarios (every scenario runs them with every gate)")
    args = ap.parse_args(argv)
    seed0 = (DESIGN_SEED0 if args.design else DISPARITY_SEED0 if args.disparity_only
             else EVALUATION_SEED0)
    result = study(args.replicates, seed0, min_assessable=0 if args.design else None,
                   disparity_only=args.disparity_only, healthy_only=args.healthy_every_gate)
    stem = ("gate_study_design" if args.design else "gate_study_disparity"
            if args.disparity_only else "gate_study_healthy_every_gate"
            if args.healthy_every_gate else "gate_study")
    one_scenario = args.disparity_only or args.healthy_every_gate
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    (args.out / f"{stem}.md").write_text(render(result))
    if not one_scenario:
        plot_power(result, args.out / f"{stem}_power.png")
    print(render(result))
    targets = [r["met"] for r in result["rows"].values() if r["met"] is not None]
    return 0 if all(targets) else 1


if __name__ == "__main__":
    sys.exit(main())

