"""Fit, at training time, what gives each served number its meaning (issue 12):
Venn-Abers pairs (validation part), the anchored risk curve (validation part), the
out-of-distribution check (training part) and each band's observed relapse rate (test part).
Returned as file name -> text for `export_artifact(extra_files=...)`: checksummed with the
version."""

from __future__ import annotations

from dataclasses import dataclass

from riskmodel.bands import BAND_MEANING_FILE, BandFacts, save_band_facts
from riskmodel.ood import OOD_FILE, MahalanobisCheck
from riskmodel.predictor import RiskModel
from riskmodel.risk_curve import RISK_CURVE_FILE, RiskCurve
from riskmodel.venn_abers import VENN_ABERS_FILE, VennAbers
from training.bands import HARM_BENEFIT, band_facts, low_band_is_low
from training.risk_curve_fit import HorizonWeights, fit_risk_curve
from training.uncertainty_check import venn_abers_gate


@dataclass(frozen=True)
class ServedFit:
    venn_abers: VennAbers
    curve: RiskCurve
    ood: MahalanobisCheck
    bands: dict[str, BandFacts]
    gates: list[dict]

    def files(self) -> dict[str, str]:
        return {VENN_ABERS_FILE: self.venn_abers.to_json(), RISK_CURVE_FILE: self.curve.to_json(),
                OOD_FILE: self.ood.to_json(),
                BAND_MEANING_FILE: save_band_facts(self.bands, HARM_BENEFIT)}


def fit_served(model: RiskModel, prep, *, seed: int) -> ServedFit:
    """`prep`: training.prepare.Prepared; `model`: the candidate (served predictor)."""
    frame = prep.ts.frame
    split = prep.split
    p = model.predict_proba(prep.X)
    va = prep.rows(split.valid)
    venn = VennAbers.fit(p[va], prep.y[va], prep.weights[va], seed=seed)
    curve = fit_risk_curve(p, HorizonWeights.from_prepared(prep), valid=split.valid)
    ood = MahalanobisCheck.fit(prep.X[split.train], prep.X[split.valid])
    te = split.test
    y, w = prep.y[te], prep.weights[te]
    facts = band_facts(model.bands, p[te], y, w, frame["patient_id"].to_numpy()[te], seed=seed)
    p0, p1 = venn.pairs(p[te])
    low = facts.get("low")
    low_share = 0.0 if low is None else low.share_of_relapses
    gates = [venn_abers_gate(p0, p1, y, w),
             {"name": "low_band_is_low", "passed": low_band_is_low(facts),
              "detail": f"the low band holds {low_share:.1%} of the test part's relapses "
                        "(must be under a third)"}]
    return ServedFit(venn, curve, ood, facts, gates)
