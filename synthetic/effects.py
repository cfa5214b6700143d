"""Effect sizes of the synthetic truth: one documented configuration.

Every coefficient is on the relapse log-odds scale (exp(coefficient) is the
odds ratio of one unit, or of the step), so a reader can hold it against a
published odds ratio. Defaults are anchored to the literature where a source
exists and say "assumption" where none does; docs/data_card.md lists both.
Any subset can be overridden from a TOML file (`python -m synthetic --effects
file.toml`), for example to test a model against a stronger or null
treatment effect.

The optional disparity scenario gives one race/ethnicity group an outcome
difference that no recorded field explains (an unmeasured barrier, such as
less access to aftercare after the course). A model trained on the records
is then miscalibrated for that group by construction, which the subgroup
audit and the promotion gates must find.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

# Full KARE course: 3 infusions at 0.8 mg/kg.
FULL_COURSE_MG_PER_KG = 2.4


@dataclass(frozen=True)
class Effects:
    """Log-odds coefficients of P(relapse to heavy drinking within 180 days)."""

    intercept: float = -0.30  # tuned: true relapse rate about 0.56 (assumption)
    # KARE (Grabski et al. 2022, n=96): ketamine vs saline, both with therapy, relapse at
    # 6 months OR 0.80 (95% CI 0.31-2.10). Spread over the mg/kg of a full course, and
    # only when most therapy was attended (ketamine was studied with therapy).
    ketamine_full_course_log_or: float = math.log(0.80)
    # Mystical-type experience (MEQ-30) is reported as a mediator in psychedelic studies;
    # no AUD ketamine trial estimates it: a small effect, per point above 2.5 (assumption).
    mystical_per_point: float = -0.10
    # Therapy attendance: engagement is associated with better outcomes in alcohol
    # treatment cohorts (observational; assumption for size). Education counts half.
    therapy_full_attendance: float = -0.45
    # AUDIT: higher scores predict relapse (assumption for size): OR ~1.1 per 5 points,
    # plus a step at >= 32 (the top of the "possible dependence" range, Babor/WHO 2001).
    audit_per_point: float = 0.02
    audit_very_high: float = 0.60
    depression_step: float = 0.40  # PHQ-9 >= 15 (moderately severe; Kroenke 2001 cut)
    depression_alone: float = 1.00  # interaction: depressed and living alone (assumption)
    craving_intake_per_point: float = 0.02  # PACS - 14, doubled when depressed
    craving_last_per_point: float = 0.40  # end-of-course craving VAS above 4 (hinge)
    young_step: float = 0.80  # age < 30
    age_per_year: float = -0.007
    older_step: float = 0.90  # age >= 60, lives alone: late-life isolation (assumption)
    withdrawal_step: float = 0.60  # CIWA-Ar >= 10
    prior_treatment_log1p: float = 0.20
    lives_alone: float = 0.0
    unemployed: float = 0.0
    alone_and_unemployed: float = 1.00
    heavy_days_60_step: float = 0.70  # >= 60 of 90 days heavy
    heavy_days_squared: float = 0.0  # (days / 90) ** 2
    # Drinking in the last interval of the course predicts early relapse (assumption),
    # more so when end-of-course craving is high.
    drinking_late_step: float = 0.50
    drinking_late_with_craving: float = 0.70
    # Social terms are pure interactions on purpose (no main effects): a linear model can
    # not represent them, which is what makes boosting worth its complexity here.
    # Disparity scenario: off unless a group is named. OR 1.8 is illustrative; treatment
    # completion differs by race and ethnicity in US alcohol treatment (Saloner and Le Cook
    # 2013, Health Affairs), a plausible unrecorded path to different outcomes.
    disparity_group: str = ""
    disparity_log_or: float = 0.60

    @property
    def ketamine_per_mg_per_kg(self) -> float:
        return self.ketamine_full_course_log_or / FULL_COURSE_MG_PER_KG

    def with_disparity(self, group: str, log_or: float | None = None) -> Effects:
        return replace(self, disparity_group=group,
                       disparity_log_or=self.disparity_log_or if log_or is None else log_or)

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)

    @classmethod
    def from_toml(cls, path: Path) -> Effects:
        """Defaults overridden by the keys of a TOML file; an unknown key is an error."""
        data = tomllib.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown effect(s) {unknown}; known: {sorted(known)}")
        return replace(cls(), **data)


DEFAULT_EFFECTS = Effects()
# The group named by `--scenario disparity`; 14% of courses, so gates can judge it at 20k.
DISPARITY_DEFAULT_GROUP = "Black or African American"
