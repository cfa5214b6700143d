"""Risk-band cut points from stated harm:benefit ratios, and what each band observed.

A cut point t is where acting is worth it: with benefit B of acting for a patient who would
relapse and harm H of acting for one who would not, acting pays when p * B > (1 - p) * H,
i.e. p > H / (H + B). Stated ratios (clinical assumptions to be reviewed with the service):
- high from 1 in 2: an extra relapse-prevention contact (a call or visit in the first weeks
  after the course) costs staff time and patient burden about equal to the benefit of
  reaching one patient who would relapse (H:B = 1:1);
- moderate from 1 in 4: a scheduled check-in at the usual aftercare visit is cheap, worth it
  even if only one in four reached would relapse (H:B = 1:3).
The validation report's decision curve shows the net benefit at each cut.
"""

from __future__ import annotations

import numpy as np

from riskmodel.artifact import RiskBands
from riskmodel.bands import BandFacts
from training.validation.bootstrap import patient_multiplicities, percentile_interval

HARM_BENEFIT = {"high": "1:1", "moderate": "1:3"}
MEANING = {
    "high": "risk at or above 1 in 2: an extra relapse-prevention contact is worth offering",
    "moderate": "risk from 1 in 4 to below 1 in 2: a check-in at the usual aftercare visit "
                "is worth it",
    "low": "risk below 1 in 4: usual aftercare",
}
BAND_BOOTSTRAP = 200
# A band holding this share of all relapses is not "low" (issue 12 section 5).
MAX_LOW_SHARE_OF_RELAPSES = 1 / 3


def threshold(ratio: str) -> float:
    harm, benefit = (float(x) for x in ratio.split(":"))
    return harm / (harm + benefit)


RISK_BANDS = RiskBands(moderate_from=threshold(HARM_BENEFIT["moderate"]),
                       high_from=threshold(HARM_BENEFIT["high"]))


def band_facts(bands: RiskBands, p: np.ndarray, y: np.ndarray, w: np.ndarray,
               groups: np.ndarray, *, seed: int) -> dict[str, BandFacts]:
    """Per band, on the test part: IPCW relapse rate with a 95 % patient-bootstrap interval."""
    names = bands.of(p)
    relapses = float(np.sum(w * y))
    draws = list(patient_multiplicities(groups, BAND_BOOTSTRAP, seed))
    out = {}
    for name in ("low", "moderate", "high"):
        m = names == name
        if not (w[m] > 0).any():
            continue
        rate = float(np.average(y[m], weights=w[m]))
        boot = [np.average(y[m], weights=(w * d)[m]) for d in draws if (w * d)[m].sum() > 0]
        ci = percentile_interval(rate, np.array(boot))
        out[name] = BandFacts(MEANING[name], rate, ci.low, ci.high, int(m.sum()),
                              float(np.sum((w * y)[m]) / relapses))
    return out


def low_band_is_low(facts: dict[str, BandFacts]) -> bool:
    low = facts.get("low")
    return low is None or low.share_of_relapses < MAX_LOW_SHARE_OF_RELAPSES
