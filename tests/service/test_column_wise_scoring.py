"""The column-wise request path gives exactly what the per-course path gave.

/score builds one feature batch per request, picks every course's top factors and input
warnings at once and builds the answer's objects in one validation. The per-row reference
implementations below are the code it replaced, kept here as the oracle: every served
prediction must be byte-for-byte what that code served, for one course and for many.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.builder import CourseBatch, build_features
from features.fields import INTAKE_FIELDS, SESSION_FIELDS
from features.records import read_records
from features.requests import CourseRecord, course_batch_from_requests
from features.spec import (
    COURSE_EXPOSURES,
    FEATURE_LABELS,
    FEATURE_NAMES,
    INTAKE_FLAGS,
    INTAKE_NUMERIC,
)
from features.validation import validate_records
from jobs.batch_scoring import top_factor_column
from riskmodel.factors import TOP_FACTORS, top_factors_of
from riskmodel.predictor import RiskModel
from serving.schemas import (
    BandObserved,
    CalibrationInterval,
    InputWarning,
    Prediction,
    ScoreRequest,
    TopFactor,
)
from serving.scoring import score_courses

N_COURSES = 300


# --- the per-row code the column-wise path replaced (the oracle) ---------------------------

def _per_row_top_factors(values: np.ndarray, contributions: np.ndarray,
                         k: int = TOP_FACTORS) -> list[dict[str, Any]]:
    order = np.argsort(-np.abs(contributions), kind="stable")[:k]
    return [{"feature": FEATURE_NAMES[j], "label": FEATURE_LABELS[FEATURE_NAMES[j]],
             "value": None if np.isnan(values[j]) else float(values[j]),
             "shap_log_odds": float(contributions[j]),
             "direction": "raises" if contributions[j] > 0 else "lowers",
             "course_exposure": FEATURE_NAMES[j] in COURSE_EXPOSURES}
            for j in order if contributions[j] != 0]


def _per_row_warnings(model: RiskModel, row: np.ndarray, unlike: bool) -> list[dict[str, Any]]:
    out = [{"kind": "missing", "feature": FEATURE_NAMES[j], "message": "not recorded: the "
            "model used what a missing value meant in training"}
           for j in np.flatnonzero(np.isnan(row))]
    with np.errstate(invalid="ignore"):
        outside = (row < model._lo) | (row > model._hi)
    out += [{"kind": "outside_training_range", "feature": FEATURE_NAMES[j],
             "message": "outside the range seen in training: the model is guessing"}
            for j in np.flatnonzero(outside)]
    if unlike:
        out.append({"kind": "unlike_training_courses", "feature": None, "message":
                    "this combination of values is unlike the training courses (Mahalanobis "
                    "distance beyond the training part's 99.5th percentile): the estimate "
                    "may not apply"})
    return out


def _num(value: Any) -> float:
    return np.nan if value is None else float(value)


def _per_course_batch(courses: list[CourseRecord]) -> CourseBatch:
    intakes = [c.intake for c in courses]
    it = {f.name: np.array([_num(getattr(i, f.name)) for i in intakes], dtype=np.float64)
          for f in INTAKE_NUMERIC + INTAKE_FLAGS}
    for name in ("sex", "employment", "therapy_type"):
        it[name] = np.array([getattr(i, name) for i in intakes], dtype=object)
    epoch = dt.date(1970, 1, 1)
    it["intake_day"] = np.array([(i.intake_date - epoch).days for i in intakes], dtype=np.int64)
    rows = [(k, s) for k, c in enumerate(courses) for s in c.sessions]
    ss = {
        "course_index": np.array([k for k, _ in rows], dtype=np.int64),
        "session_day": np.array([(s.session_date - epoch).days for _, s in rows], dtype=np.int64),
        "is_infusion": np.array([s.session_type == "infusion" for _, s in rows], dtype=np.float64),
    }
    for name in ("session_number", "attended", "adverse_event", "ketamine_dose_mg_per_kg",
                 "infusion_minutes", "cadss_total", "meq30_mean", "peak_systolic_bp_mmhg",
                 "craving_vas", "drinking_days_since_last_session"):
        ss[name] = np.array([_num(getattr(s, name)) for _, s in rows], dtype=np.float64)
    return CourseBatch([i.course_id for i in intakes], it, ss)


def _per_course_predictions(model: RiskModel, courses: list[CourseRecord]) -> list[Prediction]:
    """What /score served before: one constructor call per object, a loop per course."""
    features = build_features(_per_course_batch(courses))
    explained = model.explain(features.matrix)
    bands = model.band(explained.probability)
    served, p = model.served, explained.probability
    curves = served.curve.curves(p) if served.curve is not None else None
    cal = served.calibration
    intervals = None
    if cal is not None:
        low, high = cal.bounds(p)
        intervals = [CalibrationInterval(low=float(lo), high=float(hi), level=cal.level,
                                         n_courses=cal.n_courses)
                     for lo, hi in zip(low, high, strict=True)]
    unlike = model.unlike_training(features.matrix)
    band_observed = {name: BandObserved(meaning=f.meaning, observed_relapse_rate=f.observed_rate,
                                        low=f.low, high=f.high, n_courses=f.n_courses)
                     for name, f in (served.bands or {}).items()}
    out = []
    for i, course_id in enumerate(features.course_ids):
        row = features.matrix[i]
        out.append(Prediction(
            course_id=course_id, relapse_probability_180d=float(p[i]), risk_band=bands[i],
            top_factors=[TopFactor(**f) for f in _per_row_top_factors(
                row, explained.contributions[i])],
            base_log_odds=float(explained.base_log_odds[i]),
            input_warnings=[InputWarning(**w) for w in _per_row_warnings(model, row,
                                                                         bool(unlike[i]))],
            calibration_interval=None if intervals is None else intervals[i],
            band_observed=band_observed.get(bands[i]),
            relapse_risk_curve=None if curves is None else curves[i]))
    return out


# --- fixtures ---------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value.item() if hasattr(value, "item") else value


@pytest.fixture(scope="module")
def model(champion_dir) -> RiskModel:
    return RiskModel.load(champion_dir)


@pytest.fixture(scope="module")
def courses(cohort_dir) -> list[CourseRecord]:
    """Cohort courses as a /score request, made unusual enough that every warning kind,
    missing values and ties occur: some inputs blanked, some pushed past the training range."""
    v = validate_records(read_records(cohort_dir))
    intake = v.intake.iloc[:N_COURSES]
    by_course = {cid: g for cid, g in v.sessions.groupby("course_id", sort=False)}
    rng = np.random.default_rng(5)
    body = []
    for _, row in intake.iterrows():
        it = {f.name: _plain(row[f.name]) for f in INTAKE_FIELDS}
        if rng.random() < 0.2:
            it["ggt_u_per_l"] = 2900.0  # in the contract, beyond anything trained on
        if rng.random() < 0.2:
            it["employment"] = None
        sessions = [{f.name: _plain(r[f.name]) for f in SESSION_FIELDS}
                    for _, r in by_course[row["course_id"]].iterrows()]
        if rng.random() < 0.1:  # attended none of many: a combination unlike training
            for s in sessions:
                s["attended"] = False
        body.append({"intake": it, "sessions": sessions})
    return list(ScoreRequest.model_validate({"courses": body}).courses)


# --- the tests ----------------------------------------------------------------------------

def test_top_factors_equal_the_per_row_rule():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(200, len(FEATURE_NAMES)))
    values[rng.random(values.shape) < 0.1] = np.nan
    contributions = np.round(rng.normal(size=values.shape), 1)  # many ties in |value|
    contributions[rng.random(values.shape) < 0.3] = 0.0
    contributions[7] = 0.0  # a row with nothing to list
    contributions[8, 3:] = 0.0  # a row with fewer than k factors
    top = top_factors_of(values, contributions)
    column = top_factor_column(values, contributions).to_pylist()
    for i in range(len(values)):
        expected = _per_row_top_factors(values[i], contributions[i])
        a, b = top.offsets[i], top.offsets[i + 1]
        assert [FEATURE_NAMES[j] for j in top.columns[a:b]] == [f["feature"] for f in expected]
        assert top.shap[a:b].tolist() == [f["shap_log_odds"] for f in expected]
        assert [vars(f) for f in RiskModel.top_factors(values[i], contributions[i])] == expected
        assert column[i] == [{k: f[k] for k in ("feature", "value", "shap_log_odds",
                                                "direction")} for f in expected]
    assert column[7] == [] and len(column[8]) == 3


def test_input_warnings_equal_the_per_row_rule(model, courses):
    matrix = build_features(course_batch_from_requests(courses)).matrix
    unlike = model.unlike_training(matrix)
    unlike[::7] = True  # the whole-course warning alongside the per-input ones
    got = model.input_warnings_of(matrix, unlike)
    kinds = set()
    for i, row in enumerate(matrix):
        expected = _per_row_warnings(model, row, bool(unlike[i]))
        assert [vars(w) for w in model.input_warnings(row, bool(unlike[i]))] == expected
        assert got.offsets[i + 1] - got.offsets[i] == len(expected)
        kinds |= {w["kind"] for w in expected}
    assert kinds == {"missing", "outside_training_range", "unlike_training_courses"}


def test_request_batch_equals_the_per_course_batch(courses):
    got, expected = course_batch_from_requests(courses), _per_course_batch(courses)
    assert got.course_ids == expected.course_ids
    for part in ("intake", "sessions"):
        a, b = getattr(got, part), getattr(expected, part)
        assert a.keys() == b.keys()
        for name in a:
            assert a[name].dtype == b[name].dtype, name
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_served_predictions_equal_the_per_course_path(model, courses):
    """Byte-for-byte the JSON the per-course code served, for 300 courses in one request
    and for each course alone."""
    got = score_courses(model, courses).predictions
    expected = _per_course_predictions(model, courses)
    assert [p.model_dump_json() for p in got] == [p.model_dump_json() for p in expected]
    for course, prediction in zip(courses[:25], got, strict=False):
        (alone,) = score_courses(model, [course]).predictions
        assert alone.model_dump_json() == prediction.model_dump_json()
    kinds = {w.kind for p in got for w in p.input_warnings}
    assert {"missing", "outside_training_range"} <= kinds
    assert any(f.value is None for p in got for f in p.top_factors)
