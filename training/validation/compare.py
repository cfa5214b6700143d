"""Score several models on the same rows with paired patient-bootstrap intervals."""

from __future__ import annotations

from typing import Any

import numpy as np

from training.validation.bootstrap import Interval, patient_multiplicities, percentile_interval
from training.validation.metrics import weighted_metrics


def compare_models(y: np.ndarray, w: np.ndarray, groups: np.ndarray,
                   preds: dict[str, np.ndarray], *, reference: str, n_boot: int,
                   seed: int) -> dict:
    """Metrics with 95% intervals per model, and AUROC / Brier differences to `reference`.

    Every model is scored on the same draws of patients, so the intervals of the
    differences are paired (narrower and honest about shared noise).
    """
    point = {name: weighted_metrics(y, p, w) for name, p in preds.items()}
    draws: dict[str, dict[str, list[float]]] = {n: {k: [] for k in point[n]} for n in preds}
    for mult in patient_multiplicities(groups, n_boot, seed):
        for name, p in preds.items():
            try:
                m = weighted_metrics(y, p, w * mult)
            except ValueError:
                m = {}
            for k in point[name]:
                draws[name][k].append(m.get(k, np.nan))
    out: dict = {"models": {}, "vs_reference": {}, "reference": reference, "n_boot": n_boot,
                 "n": int((w > 0).sum())}
    for name in preds:
        out["models"][name] = {k: percentile_interval(point[name][k], np.array(v)).as_dict()
                               for k, v in draws[name].items()}
    for name in preds:
        if name == reference:
            continue
        diffs: dict[str, Any] = {}
        for k in ("auroc", "brier"):
            d = np.array(draws[reference][k]) - np.array(draws[name][k])
            diffs[k] = percentile_interval(point[reference][k] - point[name][k], d).as_dict()
        # Better = higher AUROC; the claim needs the whole interval above zero.
        diffs["reference_better_auroc"] = bool(diffs["auroc"]["low"] > 0)
        out["vs_reference"][name] = diffs
    return out


def interval(d: dict) -> Interval:
    return Interval(d["estimate"], d["low"], d["high"])
