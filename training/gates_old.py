"""Promotion gates: the one place that decides whether a candidate becomes champion.

Every gate reads a 95% patient-bootstrap interval, never a point estimate: a
candidate is promoted only when the evidence on its test part is strong enough
(the lower bound of AUROC clears the floor, the upper bound of ECE stays under
the ceiling, ...). The champion is scored on the same rows and the same draws,
so the comparison with it is paired.

Thresholds and why:
- AUROC lower bound >= 0.65: below it the score ranks patients too weakly to
  allocate follow-up (the clinical rule baseline sits near 0.52).
- ECE upper bound <= 0.06: IPCW-observed outcomes carry sampling noise, so even
  the true probabilities score ECE ~0.03 (upper bound ~0.05) on a 20,000-course
  cohort's test part (measured on the synthetic oracle; docs/validation.md).
- Calibration slope interval inside [0.7, 1.4] (about symmetric around 1 in log scale): an
  equivalence margin wide enough for the interval itself (half-width ~0.12 on a 20,000-course
  cohort). [0.8, 1.25] refused seed 23, whose calibration against the true risk is excellent
  (ECE vs truth 0.006; slope 1.12, CI 1.01 to 1.25) on label noise alone.
- Versus the champion: the lower bound of (candidate - champion) AUROC >= -0.02,
  a non-inferiority margin; retraining on the same data gives exactly 0.
- Subgroups (sex, age band, race and ethnicity, site; groups with >= 100
  labelled courses): refused when the whole interval of a group's gap lies
  beyond its tolerance (training/validation/subgroups.py TOLERANCE). The AUDIT
  severity band is reported but not gated: severity is a legitimate risk
  factor, so lower-severity patients are meant to fall below the high-risk cut
  more often and their false-negative rate at that cut differs by design.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from training.validation.compare import compare_models
from training.validation.subgroups import MIN_LABELLED, TOLERANCE, beyond_tolerance, subgroup_report

GATE_BOOTSTRAP = 200
MIN_AUROC_LOW = 0.65
MAX_ECE_HIGH = 0.06
SLOPE_RANGE = (0.7, 1.4)
NONINFERIORITY_MARGIN = 0.02
GATED_ATTRIBUTES = ("sex", "age_band", "race_ethnicity", "site")


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateEvidence:
    """What the gates read: intervals as {estimate, low, high} dicts."""

    metrics: dict[str, dict[str, float]]  # candidate: auroc, ece, calibration_slope, ...
    vs_champion: dict[str, float] | None  # candidate minus champion AUROC, paired
    subgroups: dict  # training.validation.subgroups.subgroup_report of the candidate


def collect_evidence(y: np.ndarray, w: np.ndarray, groups: np.ndarray, p: np.ndarray,
                     attributes: pd.DataFrame, *, high_cut: float, seed: int,
                     p_champion: np.ndarray | None = None,
                     n_boot: int = GATE_BOOTSTRAP) -> GateEvidence:
    """Bootstrap the test part (resampling patients `groups`) for every gate."""
    preds = {"candidate": p} if p_champion is None else {"candidate": p, "champion": p_champion}
    compared = compare_models(y, w, groups, preds, reference="candidate", n_boot=n_boot, seed=seed)
    vs = compared["vs_reference"].get("champion")
    gated = [a for a in GATED_ATTRIBUTES if a in attributes]
    sub = subgroup_report(y, p, w, groups, attributes[gated], high_cut=high_cut, n_boot=n_boot,
                          seed=seed)
    return GateEvidence(compared["models"]["candidate"], None if vs is None else vs["auroc"], sub)


def _fmt(i: dict[str, float]) -> str:
    return f"{i['estimate']:.3f} (95% CI {i['low']:.3f} to {i['high']:.3f})"


def subgroup_failures(subgroups: dict) -> list[str]:
    """'attribute group: metric gap (CI), tolerance' for each group beyond its tolerance."""
    out = []
    for attribute in GATED_ATTRIBUTES:
        for group, entry in subgroups["attributes"].get(attribute, {}).get("groups", {}).items():
            if entry["n_labelled"] < MIN_LABELLED:
                continue
            for metric, gap in entry["gap"].items():
                if beyond_tolerance(metric, gap):
                    out.append(f"{attribute} {group}: {metric} gap {_fmt(gap)} beyond "
                               f"{TOLERANCE[metric]}")
    return out


def evaluate_gates(ev: GateEvidence) -> list[GateResult]:
    auroc, ece, slope = (ev.metrics[k] for k in ("auroc", "ece", "calibration_slope"))
    results = [
        GateResult("auroc_floor", auroc["low"] >= MIN_AUROC_LOW,
                   f"AUROC {_fmt(auroc)}: lower bound >= {MIN_AUROC_LOW}"),
        GateResult("calibration_error", ece["high"] <= MAX_ECE_HIGH,
                   f"ECE {_fmt(ece)}: upper bound <= {MAX_ECE_HIGH}"),
        GateResult("calibration_slope",
                   SLOPE_RANGE[0] <= slope["low"] and slope["high"] <= SLOPE_RANGE[1],
                   f"slope {_fmt(slope)}: interval inside {list(SLOPE_RANGE)}"),
    ]
    if ev.vs_champion is None:
        results.append(GateResult("vs_champion", True, "no champion yet"))
    else:
        results.append(GateResult(
            "vs_champion", ev.vs_champion["low"] >= -NONINFERIORITY_MARGIN,
            f"AUROC minus champion's on the same rows {_fmt(ev.vs_champion)}: "
            f"lower bound >= -{NONINFERIORITY_MARGIN}"))
    failures = subgroup_failures(ev.subgroups)
    judged = sum(1 for a in GATED_ATTRIBUTES
                 for e in ev.subgroups["attributes"].get(a, {}).get("groups", {}).values()
                 if e["n_labelled"] >= MIN_LABELLED)
    results.append(GateResult(
        "subgroup_tolerance", not failures,
        "; ".join(failures) if failures else
        f"{judged} groups of {', '.join(GATED_ATTRIBUTES)} with >= {MIN_LABELLED} labelled "
        f"courses: no gap interval wholly beyond tolerance {TOLERANCE}"))
    return results


def gates_table(results: list[GateResult]) -> list[dict]:
    return [asdict(r) for r in results]
