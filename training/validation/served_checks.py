"""`make evaluate`: does each served number mean what its name says? (issue 12)

- Calibration interval: in deciles of the served probability (training/uncertainty_check.py).
- Risk curve: calibration at 30, 90 and 180 days against IPCW-observed relapse by each day,
  and on synthetic data against the generator's true curve of its relapse-time family.
- Out-of-distribution check: share flagged among held-out courses, and among courses whose
  values are drawn independently from each feature's training distribution.
- Bands: each band's observed rate interval (as served) and, on synthetic data, whether it
  covers the band's mean true risk.
Versions exported without these parts have them fitted here the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from riskmodel.predictor import RiskModel
from training.risk_curve_fit import HorizonWeights, curve_calibration
from training.served_fit import fit_served
from training.uncertainty_check import interval_deciles

OOD_DRAW_SEED = 20240


def relapse_time_family(data_dir: Path) -> str:
    gen = Path(data_dir) / "oracle" / "generator.json"
    return json.loads(gen.read_text()).get("relapse_time", "weibull") if gen.exists() else "weibull"


def independent_draws(X: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Each feature drawn on its own from its training values: every value in range, the
    combination unlike any patient."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.choice(X[:, j], n) for j in range(X.shape[1])])


def served_checks(model: RiskModel, prep, data_dir: Path, true_p: np.ndarray | None, *,
                  seed: int) -> dict:
    """`true_p`: the oracle's 180-day risk for every row of `prep` (None on real data)."""
    s = model.served
    if s.calibration is None or s.curve is None or s.ood is None or s.bands is None:
        fitted = fit_served(model, prep, seed=seed)
        cal, curve, ood, bands = fitted.calibration, fitted.curve, fitted.ood, fitted.bands
        source = "fitted here (the version was exported without them)"
    else:
        cal, curve, ood, bands, source = s.calibration, s.curve, s.ood, s.bands, "exported"
    te, tr = prep.split.test, prep.split.train
    p = model.predict_proba(prep.X)
    y, w = prep.y[te], prep.weights[te]
    tp = None if true_p is None else true_p[te]
    low, high = cal.bounds(p[te])
    family = relapse_time_family(data_dir)
    out: dict = {"source": source, "n_test": int(len(te)),
                 "calibration_interval": interval_deciles(p[te], low, high, y, w, tp),
                 "curve": curve_calibration(curve, p, HorizonWeights.from_prepared(prep),
                                            test=te, true_p180=true_p, family=family)}
    draws = independent_draws(prep.X[tr], len(te), seed + OOD_DRAW_SEED)
    out["ood"] = {"threshold_quantile": 0.995, "held_out_flagged": float(ood.flags(prep.X[te]).mean()),
                  "independent_draws_flagged": float(ood.flags(draws).mean()),
                  "max_held_out": 0.01, "min_independent": 0.90}
    names = np.array(model.band(p[te]))
    band_rows = {}
    for name, f in bands.items():
        row = {"meaning": f.meaning, "observed_rate": f.observed_rate, "low": f.low,
               "high": f.high, "n": f.n_courses, "share_of_relapses": f.share_of_relapses}
        if tp is not None and (names == name).any():
            mean_true = float(tp[names == name].mean())
            row |= {"mean_true": mean_true, "ci_covers_true": bool(f.low <= mean_true <= f.high)}
        band_rows[name] = row
    out["bands"] = band_rows
    return out
