"""Subgroup performance with fairlearn's MetricFrame and patient-bootstrap intervals.

Per group: AUROC, calibration-in-the-large (mean predicted minus observed IPCW
rate) and the false-negative rate at the high-risk cut (relapses left below it).
A group is flagged when its gap to the whole test part exceeds the tolerance
below; groups with fewer than MIN_LABELLED labelled courses are reported but not
judged (their intervals are too wide to say anything).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from training.validation.bootstrap import (
    Interval,
    patient_multiplicities,
    percentile_interval,
)
from training.validation.metrics import auroc_auprc

TOLERANCE = {"auroc": 0.05, "calibration_in_the_large": 0.05, "fnr_high": 0.10}
MIN_LABELLED = 100
AGE_BANDS = ((18, 30, "18-29"), (30, 45, "30-44"), (45, 60, "45-59"), (60, 200, "60+"))
# WHO AUDIT zones (Babor et al. 2001): 16-19 harmful, 20+ possible dependence.
AUDIT_BANDS = ((0, 16, "0-15"), (16, 20, "16-19"), (20, 41, "20-40"))


def _band(values: pd.Series, bands) -> pd.Series:
    out = pd.Series("unknown", index=values.index, dtype=object)
    v = pd.to_numeric(values, errors="coerce")
    for lo, hi, label in bands:
        out[(v >= lo) & (v < hi)] = label
    return out


def subgroup_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The audited attributes, one column each; missing values form the group `unknown`."""
    return pd.DataFrame({
        "sex": frame["sex"].astype(object).fillna("unknown"),
        "age_band": _band(frame["age_years"], AGE_BANDS),
        "race_ethnicity": frame["race_ethnicity"].astype(object).fillna("unknown"),
        "site": frame["site"].astype(object),
        "audit_band": _band(frame["audit_total_raw"].astype("Float64").astype(float),
                            AUDIT_BANDS),
    }, index=frame.index)


def _metric_fns(high_cut: float):
    def auroc(y, p, sample_weight):
        keep = sample_weight > 0
        if not keep.any() or y[keep].min() == y[keep].max():
            return float("nan")  # a small group with one outcome only: AUROC undefined
        return auroc_auprc(y[keep], p[keep], sample_weight[keep])[0]

    def citl(y, p, sample_weight):
        return float(np.average(p, weights=sample_weight) - np.average(y, weights=sample_weight))

    def fnr_high(y, p, sample_weight):
        pos = y.astype(bool)
        if sample_weight[pos].sum() == 0:
            return float("nan")  # no relapses in the group: FNR undefined
        return float(sample_weight[pos & (p < high_cut)].sum() / sample_weight[pos].sum())

    return {"auroc": auroc, "calibration_in_the_large": citl, "fnr_high": fnr_high}


def _frame(y, p, w, attr: pd.Series, fns) -> MetricFrame:
    keep = w > 0
    return MetricFrame(metrics=fns, y_true=y[keep], y_pred=p[keep],
                       sensitive_features=attr.to_numpy()[keep],
                       sample_params={k: {"sample_weight": w[keep]} for k in fns})


def subgroup_report(y: np.ndarray, p: np.ndarray, w: np.ndarray, groups: np.ndarray,
                    attributes: pd.DataFrame, *, high_cut: float, n_boot: int,
                    seed: int, true_p: np.ndarray | None = None) -> dict:
    """`true_p` (synthetic only): adds each group's mean predicted minus mean true risk over
    all its courses, which separates model bias from the noise of IPCW-observed rates."""
    fns = _metric_fns(high_cut)
    out: dict = {"tolerance": TOLERANCE, "min_labelled": MIN_LABELLED, "high_cut": high_cut,
                 "n_boot": n_boot, "attributes": {}, "flags": []}
    points = {a: _frame(y, p, w, attributes[a], fns) for a in attributes}
    # MetricFrame gives the point estimates; the bootstrap reuses the same metric functions
    # on each group's rows directly (a MetricFrame per draw is ~40x slower).
    members = {a: {g: np.flatnonzero(attributes[a].to_numpy() == g) for g in points[a].by_group.index}
               for a in attributes}
    draws: dict[tuple, list[float]] = {}
    for mult in patient_multiplicities(groups, n_boot, seed):
        wb = w * mult
        for metric, fn in fns.items():  # the whole part in the same draw: paired gaps
            draws.setdefault(("*", "*", metric), []).append(_value(fn, y, p, wb))
        for a, by in members.items():
            for g, idx in by.items():
                for metric, fn in fns.items():
                    draws.setdefault((a, g, metric), []).append(
                        _value(fn, y[idx], p[idx], wb[idx]))
    for a, mf in points.items():
        overall = mf.overall
        groups_out = {}
        for g, row in mf.by_group.iterrows():
            labelled = int((w[members[a][g]] > 0).sum())
            entry: dict = {"n": int(len(members[a][g])), "n_labelled": labelled}
            entry["gap"] = {}
            for metric in fns:
                d = np.array(draws.get((a, g, metric), []), dtype=float)
                entry[metric] = percentile_interval(float(row[metric]), d).as_dict()
                worse = _worse(metric, float(row[metric]), float(overall[metric]), d,
                               np.array(draws[("*", "*", metric)], dtype=float))
                entry["gap"][metric] = worse.as_dict()
            if true_p is not None:
                idx = members[a][g]
                entry["bias_vs_true_probability"] = float(p[idx].mean() - true_p[idx].mean())
            entry["flags"] = _flags(entry, overall)
            for f in entry["flags"]:
                out["flags"].append({"attribute": a, "group": str(g), **f})
            groups_out[str(g)] = entry
        out["attributes"][a] = {"overall": {k: float(v) for k, v in overall.items()},
                                "groups": groups_out}
    return out


def _value(fn, y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    # A draw can leave a small group without one of the classes; that draw says nothing.
    try:
        return float(fn(y, p, w))
    except (ValueError, ZeroDivisionError, FloatingPointError):
        return np.nan


def _worse(metric: str, group: float, overall: float, group_draws: np.ndarray,
           overall_draws: np.ndarray) -> Interval:
    """The group's gap in the direction that harms it, with a paired interval.

    AUROC: overall minus group; FNR: group minus overall; calibration-in-the-large: the
    group's own value (signed; its tolerance is a band around 0).
    """
    if metric == "calibration_in_the_large":
        return percentile_interval(group, group_draws)
    sign = -1.0 if metric == "auroc" else 1.0
    return percentile_interval(sign * (group - overall), sign * (group_draws - overall_draws))


def beyond_tolerance(metric: str, gap: dict) -> bool:
    """True when the whole 95% interval of the gap lies beyond the tolerance."""
    tol = TOLERANCE[metric]
    if metric == "calibration_in_the_large":
        return gap["low"] > tol or gap["high"] < -tol
    return gap["low"] > tol


def _flags(entry: dict, overall: pd.Series) -> list[dict]:
    if entry["n_labelled"] < MIN_LABELLED:
        return []
    flags = []
    gaps = {"auroc": overall["auroc"] - entry["auroc"]["estimate"],  # worse = lower
            "calibration_in_the_large": abs(entry["calibration_in_the_large"]["estimate"]),
            "fnr_high": entry["fnr_high"]["estimate"] - overall["fnr_high"]}  # worse = higher
    for metric, gap in gaps.items():
        if gap > TOLERANCE[metric]:
            flags.append({"metric": metric, "gap": float(gap), "tolerance": TOLERANCE[metric]})
    return flags


CARD_ATTRIBUTES = ("sex", "age_band", "race_ethnicity", "site")


def subgroup_points(y: np.ndarray, p: np.ndarray, w: np.ndarray, attributes: pd.DataFrame,
                    *, high_cut: float) -> dict:
    """Point estimates only (no MetricFrame, no bootstrap), cheap enough for every training run.

    Same metric functions as `subgroup_report`; a metric that cannot be computed for a group
    (one class only, no relapses, no labelled course) is None.
    """
    fns = _metric_fns(high_cut)
    labelled = w > 0
    out: dict = {}
    for a in attributes:
        values = attributes[a].to_numpy()
        groups_out = {}
        for g in sorted(pd.unique(values), key=str):
            member = values == g
            idx = np.flatnonzero(member & labelled)
            entry: dict = {"n": int(member.sum()), "n_labelled": int(idx.size)}
            for metric, fn in fns.items():
                try:
                    entry[metric] = float(fn(y[idx], p[idx], w[idx])) if idx.size else None
                except (ValueError, ZeroDivisionError, FloatingPointError):
                    entry[metric] = None
            groups_out[str(g)] = entry
        out[a] = groups_out
    return out
