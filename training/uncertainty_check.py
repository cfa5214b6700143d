"""The check that fits the served calibration interval: a group's rate, not one patient's risk.

The interval promises, at its level, that among courses given this probability the relapse
rate lies between low and high. So: in deciles of the served probability on held-out
courses, the IPCW-weighted relapse rate (observable on any data) must lie within
[mean low, mean high] up to the test part's own sampling error (z standard errors of the
decile's IPCW rate, Kish effective size), and on synthetic data so must the mean true risk
(up to the standard error of that mean over the decile's courses).

Thresholds fixed before any measurement of this interval (2026-11-30): at least
MIN_DECILES_INSIDE of the 10 deciles inside at 1.96 SE, for the observed rate and for the
truth (with a 95 % interval each decile is inside with probability >= 0.95, so 8 of 10 fails
a correct interval about 1 % of the time). The observed part is also a promotion gate
(`calibration_interval_gate`, wired in training/served_fit.py) with a family-wise 5 % error
on the test part's noise: every decile inside +- Z_GATE SE (Bonferroni over 10 deciles).
"""

from __future__ import annotations

import numpy as np

DECILES = 10
Z95 = 1.96
MIN_DECILES_INSIDE = 8
Z_GATE = 2.807  # normal quantile at 1 - 0.05 / (2 * DECILES)


def interval_deciles(p: np.ndarray, low: np.ndarray, high: np.ndarray, y: np.ndarray,
                     w: np.ndarray, true_p: np.ndarray | None = None, z: float = Z95) -> dict:
    """`p`: served probabilities; `low`, `high`: their intervals; `y`, `w`: IPCW labels and
    weights (w = 0 for censored); `true_p`: the oracle's risk (synthetic data only)."""
    edges = np.quantile(p, np.linspace(0, 1, DECILES + 1))
    b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, DECILES - 1)
    rows = []
    for k in range(DECILES):
        m = b == k
        wk = w[m]
        if wk.sum() <= 0:
            continue
        rate = float(np.average(y[m], weights=wk))
        n_eff = wk.sum() ** 2 / np.sum(wk ** 2)
        se = float(np.sqrt(max(rate * (1 - rate), 1e-6) / n_eff))
        lo, hi = float(low[m].mean()), float(high[m].mean())
        row = {"n": int(m.sum()), "mean_p": float(p[m].mean()), "mean_low": lo,
               "mean_high": hi, "observed_ipcw": rate, "se": se,
               "observed_inside": bool(lo - z * se <= rate <= hi + z * se)}
        if true_p is not None:
            t = float(true_p[m].mean())
            se_t = float(true_p[m].std() / np.sqrt(m.sum()))
            row |= {"mean_true": t, "true_inside": bool(lo - z * se_t <= t <= hi + z * se_t)}
        rows.append(row)
    out: dict = {"deciles": rows, "mean_width": float(np.mean(high - low)),
                 "observed_inside": sum(r["observed_inside"] for r in rows),
                 "n_deciles": len(rows), "min_inside": MIN_DECILES_INSIDE}
    out["observed_passed"] = out["observed_inside"] >= MIN_DECILES_INSIDE
    if true_p is not None:
        out["true_inside"] = sum(r["true_inside"] for r in rows)
        out["true_passed"] = out["true_inside"] >= MIN_DECILES_INSIDE
    return out


def calibration_interval_gate(p: np.ndarray, low: np.ndarray, high: np.ndarray, y: np.ndarray,
                              w: np.ndarray) -> dict:
    """A promotion gate on the observable part only (no truth on real data)."""
    check = interval_deciles(p, low, high, y, w, z=Z_GATE)
    n = check["n_deciles"]
    return {"name": "calibration_interval", "passed": check["observed_inside"] == n,
            "detail": f"{check['observed_inside']} of {n} deciles of the served probability "
                      f"have their IPCW relapse rate within the mean calibration interval "
                      f"(+- {Z_GATE} SE, family-wise 5 %; needs all); mean width "
                      f"{check['mean_width']:.3f}"}
