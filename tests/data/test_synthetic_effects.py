"""The generator's effect sizes are a configuration, and the truth is what it says."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthetic.cohort import generate
from synthetic.effects import DISPARITY_DEFAULT_GROUP, Effects
from synthetic.risk import risk_terms
from synthetic.separability import separability


def _course(**overrides: float) -> dict[str, np.ndarray]:
    x = {"phq9_total": 5.0, "pacs_total": 14.0, "age_years": 44.0, "audit_total": 26.0,
         "therapy_attendance": 1.0, "therapy_type": 0, "dose_mean_mg_per_kg": 0.8,
         "lives_alone": False, "employment": 0, "craving_vas_last": 2.0,
         "drinking_days_last": 0.0, "heavy_drinking_days_90d": 30.0, "ciwa_ar_total": 3.0,
         "dose_total_mg_per_kg": 2.4, "meq30_max": 2.0, "prior_treatment_episodes": 0.0}
    x.update(overrides)
    return {k: np.atleast_1d(np.asarray(v)) for k, v in x.items()}


def test_default_ketamine_effect_is_the_kare_odds_ratio():
    # Given a full KARE course (3 x 0.8 mg/kg) with therapy attended, when the terms are
    # computed, then the ketamine term is the trial's OR 0.80, and none without therapy.
    terms = risk_terms(_course())
    assert math.exp(terms["ketamine"][0]) == pytest.approx(0.80)
    assert risk_terms(_course(therapy_attendance=0.3))["ketamine"][0] == 0.0
    # The mystical-experience term stays small: OR >= 0.75 at the scale's top.
    assert math.exp(risk_terms(_course(meq30_max=5.0))["mystical"][0]) >= 0.75


def test_audit_has_a_direct_effect():
    low, high = (sum(risk_terms(_course(audit_total=a)).values())[0] for a in (20.0, 35.0))
    assert high - low > 0.5


def test_effects_from_toml_overrides_and_refuses_unknown_keys(tmp_path):
    good = tmp_path / "e.toml"
    good.write_text("ketamine_full_course_log_or = 0.0\nintercept = -1.0\n")
    e = Effects.from_toml(good)
    assert e.ketamine_full_course_log_or == 0.0 and e.intercept == -1.0
    assert e.audit_per_point == Effects().audit_per_point
    bad = tmp_path / "bad.toml"
    bad.write_text("ketamine_effect = 0.5\n")
    with pytest.raises(ValueError, match="unknown effect"):
        Effects.from_toml(bad)


def test_disparity_scenario_shifts_only_the_named_group_by_its_log_odds():
    # Same seed, same random streams: only the group's true log-odds move, by exactly the shift.
    plain = generate(5000, 3).oracle
    shifted = generate(5000, 3, Effects().with_disparity(DISPARITY_DEFAULT_GROUP)).oracle
    logit = lambda p: np.log(p) - np.log1p(-p)  # noqa: E731
    diff = logit(shifted["true_probability_180d"]) - logit(plain["true_probability_180d"])
    group = shifted["disparity_group"].to_numpy()
    assert 0.08 < group.mean() < 0.20
    assert np.allclose(diff[group], Effects().disparity_log_or, atol=1e-3)  # p rounded to 1e-6
    assert np.allclose(diff[~group], 0.0, atol=1e-3)
    assert not plain["disparity_group"].any()


@pytest.mark.parametrize("family", ["weibull", "loglogistic"])
def test_relapse_time_family_keeps_the_180_day_risk(family):
    o = generate(20000, 5, relapse_time=family).oracle
    se = np.sqrt((o["true_probability_180d"] * (1 - o["true_probability_180d"])).sum()) / len(o)
    gap = o["true_relapsed_180d"].mean() - o["true_probability_180d"].mean()
    assert abs(gap) < 4 * se


def test_families_differ_in_shape_not_in_the_180_day_risk():
    w = generate(20000, 5).oracle["true_relapse_day"]
    ll = generate(20000, 5, relapse_time="loglogistic").oracle["true_relapse_day"]
    # Weibull with shape 0.8 front-loads relapses; the log-logistic less so in the first month.
    assert (w <= 30).mean() - (ll <= 30).mean() > 0.03


def test_truth_is_nonlinear_enough_that_boosting_beats_logistic_regression():
    # Threshold fixed before measuring: boosting >= logistic + 0.01 and the oracle >= logistic
    # + 0.02 on 40,000 courses (true outcomes of held-out patients).
    r = separability(generate(40000, 5), seed=5)
    assert r["boosted_auroc"] - r["logistic_auroc"] >= 0.01, r
    assert r["oracle_auroc"] - r["logistic_auroc"] >= 0.02, r
