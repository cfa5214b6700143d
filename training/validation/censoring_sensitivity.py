"""Censoring sensitivity analysis: IPCW vs complete case vs missing-as-relapse.

For each variant the same procedure is refitted on the same training rows with that
variant's labels and weights, and two biases are measured against the synthetic truth
of the test rows (every course, censored ones included):

- model bias: mean predicted risk minus the true relapse rate, and AUROC on true outcomes;
- estimation bias: the test relapse rate and the XGBoost AUROC as the variant would
  *measure* them from the observed labels, minus their values on the true outcomes.
"""

from __future__ import annotations

import numpy as np

from training.fit import FitParams
from training.validation.metrics import auroc_auprc
from training.validation.refit import VARIANTS, Data, refit, variant_labels


def censoring_sensitivity(data: Data, train_rows: np.ndarray, test_rows: np.ndarray, *,
                          seed: int, params: FitParams | None = None) -> dict:
    if data.true_y is None or data.true_p is None:
        return {"available": False, "reason": "no oracle: true outcomes unknown (real data)"}
    true_y, true_p = data.true_y[test_rows], data.true_p
    true_rate = float(true_y.mean())
    ones = np.ones(len(test_rows))
    out: dict = {"available": True, "true_rate": true_rate, "n_test": int(len(test_rows)),
                 "censored_share_test": float(1 - data.known[test_rows].mean()), "variants": {}}
    reference_p = None
    ipcw_test = None
    for variant in VARIANTS:
        models = refit(data, train_rows, seed=seed, params=params, variant=variant,
                       baselines=False)
        p = models.xgb.predict_proba(data.X[test_rows])
        if variant == "ipcw":
            reference_p, ipcw_test = p, models.ipcw(data, test_rows)
        auroc_true = auroc_auprc(true_y, p, ones)[0]
        out["variants"][variant] = {
            "auroc": auroc_true,  # trained under the variant, judged on the true outcomes
            "bias": float(p.mean() - true_rate),  # mean predicted risk minus true rate
            "mean_abs_error_vs_true_probability": float(
                np.mean(np.abs(p - true_p[test_rows]))),
        }
    # How each variant *measures* the test part from observed labels (IPCW model's scores).
    assert reference_p is not None and ipcw_test is not None  # VARIANTS holds "ipcw"
    auroc_truth = auroc_auprc(true_y, reference_p, ones)[0]
    for variant in VARIANTS:
        rows, y, w = variant_labels(data, test_rows, ipcw_test, variant)
        local = np.searchsorted(test_rows, rows)
        rate = float(np.average(y, weights=w))
        measured = auroc_auprc(y, reference_p[local], w)[0]
        out["variants"][variant].update({
            "estimated_rate": rate, "rate_bias": rate - true_rate,
            "measured_auroc": measured, "measured_auroc_bias": measured - auroc_truth})
    out["auroc_true_outcomes_ipcw_model"] = auroc_truth
    return out
