"""The promotion decision: every gate's status and the verdict (promote, escalate, refuse).

The candidate is scored with its comparators (logistic regression on the same
training rows, the current champion, the reference version) on the same test
rows and the same patient-bootstrap draws, so every comparison is paired. A
comparator that could not be loaded or scored refuses the candidate with the
reason: comparing with nothing would let losses pass unseen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from training.gates import draws as d
from training.gates import spec
from training.gates.subgroups import GroupGap, subgroup_gaps


@dataclass(frozen=True)
class GateResult:
    name: str
    status: str  # pass | escalate | refuse
    detail: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"


@dataclass(frozen=True)
class Comparator:
    """Another model's probabilities on the candidate's test rows, or why there are none."""

    kind: str  # logistic | champion | reference
    label: str  # e.g. "champion v3"
    p: np.ndarray | None = None
    problem: str | None = None


@dataclass(frozen=True)
class GateReport:
    results: list[GateResult]
    metrics: dict[str, dict[str, float]]  # the candidate's intervals
    comparisons: dict[str, dict[str, dict[str, float]]]  # label -> metric -> diff interval
    subgroups: list[GroupGap] = field(default_factory=list)
    critical_value: float = float("nan")

    @property
    def decision(self) -> str:
        statuses = {r.status for r in self.results}
        return "refuse" if "refuse" in statuses else "escalate" if "escalate" in statuses \
            else "promote"

    @property
    def not_assessable(self) -> list[str]:
        return sorted({f"{g.attribute} {g.group} ({g.n_labelled} labelled)"
                       for g in self.subgroups if g.status == "not_assessable"})

    def table(self) -> list[dict]:
        return [{**asdict(r), "passed": r.passed} for r in self.results]

    def as_dict(self) -> dict:
        return {"decision": self.decision, "gates": self.table(), "metrics": self.metrics,
                "comparisons": self.comparisons, "critical_value": self.critical_value,
                "not_assessable": self.not_assessable,
                "subgroups": [asdict(g) for g in self.subgroups]}


def _fmt(i: dict[str, float]) -> str:
    return f"{i['estimate']:.3f} (95% CI {i['low']:.3f} to {i['high']:.3f})"


def _candidate_gates(m: dict[str, dict[str, float]]) -> list[GateResult]:
    auroc, ece, slope = m["auroc"], m["ece"], m["calibration_slope"]
    lo, hi = spec.SLOPE_RANGE
    return [
        GateResult("auroc_floor", "pass" if auroc["low"] >= spec.MIN_AUROC_LOW else "refuse",
                   f"AUROC {_fmt(auroc)}: lower bound >= {spec.MIN_AUROC_LOW}"),
        GateResult("calibration_error", "pass" if ece["high"] <= spec.MAX_ECE_HIGH else "refuse",
                   f"ECE {_fmt(ece)}: upper bound <= {spec.MAX_ECE_HIGH}"),
        GateResult("calibration_slope",
                   "pass" if lo <= slope["low"] and slope["high"] <= hi else "refuse",
                   f"slope {_fmt(slope)}: interval inside [{lo}, {hi}]"),
    ]


def _paired(W: np.ndarray, w: np.ndarray, y: np.ndarray, p: np.ndarray,
            q: np.ndarray) -> dict[str, dict[str, float]]:
    """Candidate minus comparator, same rows and draws: AUROC, ECE and |CITL|."""
    out = {}
    for metric, fn in (("auroc", d.auroc), ("ece", d.ece)):
        out[metric] = d.interval(float(fn(w, y, p)[0] - fn(w, y, q)[0]),
                                 fn(W, y, p) - fn(W, y, q))
    abs_citl = lambda V, r: np.abs(d.citl(V, y, r))  # noqa: E731
    out["abs_citl"] = d.interval(float(abs_citl(w, p)[0] - abs_citl(w, q)[0]),
                                 abs_citl(W, p) - abs_citl(W, q))
    return out


def _comparator_gate(c: Comparator, diffs: dict[str, dict[str, float]] | None) -> GateResult:
    name = f"vs_{c.kind}"
    if diffs is None:
        fix = " (`make rebaseline` records a new reference)" if c.kind == "reference" else ""
        return GateResult(name, "refuse", f"{c.label} could not be compared: {c.problem}{fix}")
    a = diffs["auroc"]
    if c.kind == "logistic":
        ok = a["low"] >= -spec.AUROC_MARGIN_VS_LOGISTIC
        return GateResult(name, "pass" if ok else "refuse",
                          f"AUROC minus {c.label}'s {_fmt(a)}: lower bound >= "
                          f"-{spec.AUROC_MARGIN_VS_LOGISTIC}")
    refusals, escalations = [], []
    if a["low"] < -spec.AUROC_MARGIN:
        refusals.append(f"AUROC lower bound {a['low']:.3f} < -{spec.AUROC_MARGIN}")
    if diffs["ece"]["high"] > spec.ECE_MARGIN:
        escalations.append(f"ECE upper bound {diffs['ece']['high']:+.3f} > {spec.ECE_MARGIN}")
    if diffs["abs_citl"]["high"] > spec.CITL_MARGIN:
        escalations.append(f"|CITL| upper bound {diffs['abs_citl']['high']:+.3f} > "
                           f"{spec.CITL_MARGIN}")
    detail = (f"minus {c.label} on the same rows: AUROC {_fmt(a)}, ECE {_fmt(diffs['ece'])}, "
              f"|CITL| {_fmt(diffs['abs_citl'])}")
    status = "refuse" if refusals else "escalate" if escalations else "pass"
    found = refusals + escalations
    return GateResult(name, status, ("; ".join(found) + " | " if found else "") + detail)


def _subgroup_gate(gaps: list[GroupGap]) -> GateResult:
    judged = [g for g in gaps if g.status != "not_assessable"]
    bad = [g for g in judged if g.status == "refuse"]
    status = "refuse" if bad else "pass"
    n_groups = len({(g.attribute, g.group) for g in judged})
    detail = "; ".join(f"[{g.status}] {g.describe()}" for g in bad) if bad else (
        f"{n_groups} assessable groups of {', '.join(spec.GATED_ATTRIBUTES)}: no gap vs the "
        "rest established beyond its margin")
    n_na = len({(g.attribute, g.group) for g in gaps if g.status == "not_assessable"})
    if n_na:
        detail += f"; {n_na} group(s) not assessable at this size (listed, not gated)"
    return GateResult("subgroups", status, detail)


def evaluate(y: np.ndarray, w: np.ndarray, groups: np.ndarray, p: np.ndarray,
             attributes: pd.DataFrame, comparators: list[Comparator], *, seed: int,
             n_boot: int = spec.GATE_BOOTSTRAP,
             attributes_gated: tuple[str, ...] = spec.GATED_ATTRIBUTES,
             min_assessable: int | None = None) -> GateReport:
    """Every gate on the test part. `w`: IPCW weights (0 = censored); `groups`: patients."""
    y = y.astype(np.float64)
    W = d.draw_weights(groups, w, n_boot, seed)
    metrics = {k: d.interval(float(fn(w, y, p)[0]), fn(W, y, p)) for k, fn in d.METRICS.items()}
    results = _candidate_gates(metrics)
    comparisons = {}
    for c in comparators:
        diffs = _paired(W, w, y, p, c.p) if c.p is not None else None
        if diffs is not None:
            comparisons[c.label] = diffs
        results.append(_comparator_gate(c, diffs))
    gated = [a for a in attributes_gated if a in attributes]
    gaps, c_value = subgroup_gaps(y, p, w, W, attributes[gated], min_assessable=min_assessable)
    results.append(_subgroup_gate(gaps))
    return GateReport(results, metrics, comparisons, gaps, c_value)
