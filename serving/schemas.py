"""HTTP request and response models for /score (request fields come from features/)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.requests import CourseRecord

MAX_COURSES = 1000


class ScoreRequest(BaseModel):
    """Courses to score. Outcome fields are refused: they must never reach a prediction."""

    # Rejected values never appear in error text, logs included (42 CFR Part 2).
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    courses: list[CourseRecord] = Field(min_length=1, max_length=MAX_COURSES,
                                        description="1 to 1,000 courses, each intake + sessions")

    @model_validator(mode="after")
    def _unique_courses(self) -> ScoreRequest:
        ids = [c.intake.course_id for c in self.courses]
        if len(set(ids)) != len(ids):
            raise ValueError("courses: duplicate course_id")
        return self


class ModelInfo(BaseModel):
    name: str
    version: str
    sha256: str = Field(description="sha256 of the exported artifact's manifest")


class TopFactor(BaseModel):
    feature: str = Field(description="Feature name")
    label: str = Field(description="Human-readable feature name")
    value: float | None = Field(description="The patient's value (unit in the feature list)")
    shap_log_odds: float = Field(description="Contribution to the calibrated log-odds")
    direction: Literal["raises", "lowers"]


class Interval(BaseModel):
    low: float = Field(ge=0, le=1)
    high: float = Field(ge=0, le=1)
    level: float = Field(description="Nominal level of the bootstrap-ensemble interval; its "
                         "measured coverage is in the validation report")


class Prediction(BaseModel):
    course_id: str
    relapse_probability_180d: float = Field(ge=0, le=1, description="Calibrated probability of a "
                                            "first heavy drinking day within 180 days")
    risk_band: Literal["low", "moderate", "high"]
    top_factors: list[TopFactor]
    base_log_odds: float = Field(description="base + sum of all contributions = logit(probability)")
    input_warnings: list[str] = Field(description="Inputs missing or outside the training range")
    interval: Interval | None = Field(None, description="Bootstrap-ensemble interval of the "
                                      "probability (absent for versions without an ensemble)")
    relapse_risk_curve: dict[str, float] | None = Field(
        None, description="Days after course end -> cumulative relapse risk from the survival "
        "model (30, 90, 180 validated; 365 extrapolated); absent for versions without one")


class ScoreResponse(BaseModel):
    request_id: str
    model: ModelInfo
    predictions: list[Prediction]


class ExplainRequest(BaseModel):
    """One course to explain in full."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    course: CourseRecord


class Contribution(BaseModel):
    feature: str
    label: str
    value: float | None = Field(description="The patient's value (None: missing)")
    shap_log_odds: float = Field(description="Contribution to the calibrated log-odds")


class ExplainResponse(BaseModel):
    request_id: str
    model: ModelInfo
    course_id: str
    relapse_probability_180d: float = Field(ge=0, le=1)
    risk_band: Literal["low", "moderate", "high"]
    base_log_odds: float = Field(description="base + sum of contributions = logit(probability)")
    contributions: list[Contribution] = Field(description="Every feature, largest |SHAP| first")
    input_warnings: list[str]
