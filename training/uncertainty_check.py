"""The check that fits the served Venn-Abers pair: calibration in groups, not coverage.

The pair promises that among courses given similar pairs the relapse rate lies between p0
and p1. So: in deciles of (p0 + p1) / 2 on held-out courses, the IPCW-weighted relapse rate
(observable on any data) and, on synthetic data, the mean true risk must lie within
[mean p0, mean p1] up to sampling error (1.96 standard errors of the decile's IPCW rate,
Kish effective size). Thresholds fixed before any measurement (issue 12): at least
MIN_DECILES_INSIDE of the 10 deciles inside, for the observed rate and for the truth.
The observed part is a promotion gate (`venn_abers_gate`, wired in training/train.py).
"""

from __future__ import annotations

import numpy as np

DECILES = 10
Z95 = 1.96
MIN_DECILES_INSIDE = 9


def venn_abers_deciles(p0: np.ndarray, p1: np.ndarray, y: np.ndarray, w: np.ndarray,
                       true_p: np.ndarray | None = None) -> dict:
    """`y`, `w`: IPCW labels and weights (w = 0 for censored); `true_p`: the oracle's."""
    mid = (p0 + p1) / 2
    edges = np.quantile(mid, np.linspace(0, 1, DECILES + 1))
    b = np.clip(np.searchsorted(edges, mid, side="right") - 1, 0, DECILES - 1)
    rows = []
    for k in range(DECILES):
        m = b == k
        wk = w[m]
        if wk.sum() <= 0:
            continue
        rate = float(np.average(y[m], weights=wk))
        n_eff = wk.sum() ** 2 / np.sum(wk ** 2)
        se = float(np.sqrt(max(rate * (1 - rate), 1e-6) / n_eff))
        lo, hi = float(p0[m].mean()), float(p1[m].mean())
        row = {"n": int(m.sum()), "mean_p0": lo, "mean_p1": hi, "observed_ipcw": rate,
               "se": se, "observed_inside": bool(lo - Z95 * se <= rate <= hi + Z95 * se)}
        if true_p is not None:
            t = float(true_p[m].mean())
            row |= {"mean_true": t, "true_inside": bool(lo - Z95 * se <= t <= hi + Z95 * se)}
        rows.append(row)
    out: dict = {"deciles": rows, "mean_width": float(np.mean(p1 - p0)),
                 "observed_inside": sum(r["observed_inside"] for r in rows),
                 "n_deciles": len(rows), "min_inside": MIN_DECILES_INSIDE}
    out["observed_passed"] = out["observed_inside"] >= MIN_DECILES_INSIDE
    if true_p is not None:
        out["true_inside"] = sum(r["true_inside"] for r in rows)
        out["true_passed"] = out["true_inside"] >= MIN_DECILES_INSIDE
    return out


def venn_abers_gate(p0: np.ndarray, p1: np.ndarray, y: np.ndarray, w: np.ndarray) -> dict:
    """A promotion gate on the observable part only (no truth on real data)."""
    check = venn_abers_deciles(p0, p1, y, w)
    return {"name": "venn_abers_calibration", "passed": check["observed_passed"],
            "detail": f"{check['observed_inside']} of {check['n_deciles']} deciles of the "
                      f"Venn-Abers midpoint have their IPCW relapse rate between mean p0 and mean "
                      f"p1 (+- 1.96 SE) (needs >= {MIN_DECILES_INSIDE}); mean width "
                      f"{check['mean_width']:.3f}"}
