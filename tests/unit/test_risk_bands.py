"""One band rule for /score, batch scoring, replay and the band facts: the cut points belong
to the higher band, NaN (never served) falls in the lowest."""

from __future__ import annotations

import numpy as np

from riskmodel.artifact import RiskBands


def test_cut_points_belong_to_the_higher_band() -> None:
    bands = RiskBands(moderate_from=0.25, high_from=0.5)
    p = np.array([0.0, np.nextafter(0.25, 0), 0.25, np.nextafter(0.5, 0), 0.5, 1.0, np.nan])
    assert bands.of(p).tolist() == ["low", "low", "moderate", "moderate", "high", "high", "low"]
