"""The numbers in the monitoring report: drift per feature, predictions over time, outcomes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features.spec import FEATURE_LABELS, FEATURE_NAMES
from monitoring.psi import psi
from monitoring.served import Served

MIN_FOR_AUROC = 20  # fewer labelled predictions (or one class only): no AUROC shown


@dataclass(frozen=True)
class Calibration:
    table: pd.DataFrame  # bin, n, mean predicted, observed rate
    n_labelled: int
    auroc: float | None
    observed_rate: float | None
    mean_predicted: float | None


def drift_table(reference: np.ndarray, served: Served) -> pd.DataFrame:
    """PSI per feature, worst first."""
    rows = []
    for j, name in enumerate(FEATURE_NAMES):
        r = psi(reference[:, j], served.X[:, j])
        rows.append({"feature": name, "label": FEATURE_LABELS[name], "psi": r.psi, "band": r.band,
                     "missing_reference": float(np.isnan(reference[:, j]).mean()),
                     "missing_served": float(np.isnan(served.X[:, j]).mean())
                     if served.X.shape[0] else float("nan")})
    return pd.DataFrame(rows).sort_values("psi", ascending=False, ignore_index=True)


def predictions_over_time(served: Served, freq: str = "D") -> pd.DataFrame:
    """Per period: count, mean and quartiles of the probability, share per risk band."""
    f = served.frame
    if f.empty:
        return pd.DataFrame(columns=["period", "n", "mean", "p25", "p50", "p75"])
    g = f.groupby(f["ts"].dt.tz_convert("UTC").dt.floor(freq))
    out = g["probability"].agg(n="size", mean="mean", p25=lambda s: s.quantile(0.25),
                               p50="median", p75=lambda s: s.quantile(0.75))
    bands = pd.crosstab(f["ts"].dt.floor(freq), f["risk_band"], normalize="index")
    return out.join(bands.add_prefix("share_")).reset_index(names="period")


def calibration(served: Served, bins: int = 10) -> Calibration:
    """Observed vs predicted on predictions whose course has a known 180-day outcome."""
    f = served.frame.join(served.outcomes["outcome"], on="course_ref")
    known = f[f["outcome"].isin(["relapsed", "no_relapse"])]
    if known.empty:
        return Calibration(pd.DataFrame(), 0, None, None, None)
    y = (known["outcome"] == "relapsed").to_numpy()
    p = known["probability"].to_numpy()
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table = (pd.DataFrame({"bin": which, "p": p, "y": y}).groupby("bin")
             .agg(n=("p", "size"), predicted=("p", "mean"), observed=("y", "mean")).reset_index())
    table["range"] = [f"{edges[b]:.1f}-{edges[b + 1]:.1f}" for b in table["bin"]]
    auroc = (float(roc_auc_score(y, p)) if len(y) >= MIN_FOR_AUROC and 0 < y.sum() < len(y)
             else None)
    return Calibration(table, int(len(y)), auroc, float(y.mean()), float(p.mean()))
