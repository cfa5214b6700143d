"""Fit, at training time, what gives each served number its meaning (issue 12):
the calibration interval (validation part), the anchored risk curve (validation part), the
out-of-distribution check (training part) and each band's observed relapse rate (test part).
Returned as file name -> text for `export_artifact(extra_files=...)`: checksummed with the
version."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from riskmodel.bands import BAND_MEANING_FILE, BandFacts, save_band_facts
from riskmodel.calibration_interval import CALIBRATION_INTERVAL_FILE, CalibrationInterval
from riskmodel.ood import OOD_FILE, MahalanobisCheck
from riskmodel.predictor import RiskModel
from riskmodel.risk_curve import RISK_CURVE_FILE, RiskCurve
from training.bands import HARM_BENEFIT, band_facts, low_band_is_low
from training.gates import GateReport, GateResult
from training.risk_curve_fit import HorizonWeights, fit_risk_curve
from training.uncertainty_check import calibration_interval_gate


@dataclass(frozen=True)
class ServedFit:
    calibration: CalibrationInterval
    curve: RiskCurve
    ood: MahalanobisCheck
    bands: dict[str, BandFacts]
    gates: list[dict]

    def files(self) -> dict[str, str]:
        return {CALIBRATION_INTERVAL_FILE: self.calibration.to_json(),
                RISK_CURVE_FILE: self.curve.to_json(), OOD_FILE: self.ood.to_json(),
                BAND_MEANING_FILE: save_band_facts(self.bands, HARM_BENEFIT)}


def fit_served(model: RiskModel, prep, *, seed: int) -> ServedFit:
    """`prep`: training.prepare.Prepared; `model`: the candidate (served predictor)."""
    frame = prep.ts.frame
    split = prep.split
    p = model.predict_proba(prep.X)
    va = prep.rows(split.valid)
    patients = frame["patient_id"].to_numpy()
    interval = CalibrationInterval.fit(p[va], prep.y[va], prep.weights[va], patients[va],
                                       seed=seed)
    curve = fit_risk_curve(p, HorizonWeights.from_prepared(prep), valid=split.valid)
    ood = MahalanobisCheck.fit(prep.X[split.train], prep.X[split.valid])
    te = split.test
    y, w = prep.y[te], prep.weights[te]
    facts = band_facts(model.bands, p[te], y, w, patients[te], seed=seed)
    return ServedFit(interval, curve, ood, facts, served_gates(interval, facts, p[te], y, w))


def served_gates(interval: CalibrationInterval, facts: dict[str, BandFacts], p: np.ndarray,
                 y: np.ndarray, w: np.ndarray) -> list[dict]:
    """The served numbers' own gates on the test part (`p`, `y`, `w`; `facts` from it)."""
    low, high = interval.bounds(p)
    low_band = facts.get("low")
    low_share = 0.0 if low_band is None else low_band.share_of_relapses
    return [calibration_interval_gate(p, low, high, y, w),
            {"name": "low_band_is_low", "passed": low_band_is_low(facts),
             "detail": f"the low band holds {low_share:.1%} of the test part's relapses "
                       "(must be under a third)"}]


def with_served_gates(report: GateReport, gates: list[dict]) -> GateReport:
    """`report` with the served gates appended: a failed one refuses."""
    extra = [GateResult(g["name"], "pass" if g["passed"] else "refuse", g["detail"])
             for g in gates]
    return replace(report, results=[*report.results, *extra])
