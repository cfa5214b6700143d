"""Point-in-time features as of course end: the one feature code path.

`build_features` takes a course batch as plain arrays and returns the feature
matrix in `spec.FEATURE_NAMES` order. Training builds its sets through
`course_batch_from_frames`, the service through
`features.requests.course_batch_from_requests`; both end here, and a test
proves the two give identical rows.

Course end is the date of the course's last scheduled session (attended or
not). Every input a feature uses is dated on or before it: intake precedes
the sessions, and sessions are the course. Outcome fields are not accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features import segments as seg
from features.spec import FEATURE_NAMES, INTAKE_FLAGS, INTAKE_NUMERIC

THERAPY_FEATURES = {"therapy_mbrp": "mbrp", "therapy_met": "met", "therapy_cbt": "cbt",
                    "therapy_education": "education"}


@dataclass(frozen=True)
class CourseBatch:
    """Courses as columns.

    intake: one entry per course; numbers and flags float64 (NaN = unknown),
    codes as object arrays (None = unknown), `intake_day` as int64 days since
    1970-01-01. sessions: one entry per session, `course_index` pointing into
    the intake arrays, `session_day` int64, type/attended/adverse as floats.
    """

    course_ids: list[str]
    intake: dict[str, np.ndarray]
    sessions: dict[str, np.ndarray]


@dataclass(frozen=True)
class FeatureBatch:
    course_ids: list[str]
    matrix: np.ndarray  # (n_courses, n_features) float64
    course_end_day: np.ndarray  # int64 days since epoch

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.matrix, columns=list(FEATURE_NAMES),
                            index=pd.Index(self.course_ids, name="course_id"))


def _is(codes: np.ndarray, value: str) -> np.ndarray:
    """1.0 / 0.0 where the code is (not) `value`, NaN where it is missing (None)."""
    out = (codes == value).astype(np.float64)
    if codes.dtype == object:
        out[codes == None] = np.nan  # noqa: E711 (elementwise on an object array)
    return out


def build_features(batch: CourseBatch) -> FeatureBatch:
    """The feature matrix of a course batch, columns in FEATURE_NAMES order."""
    n = len(batch.course_ids)
    it, ss = batch.intake, batch.sessions
    order = np.lexsort((ss["session_number"], ss["session_day"], ss["course_index"]))
    s = {k: v[order] for k, v in ss.items()}
    course = s["course_index"].astype(np.int64)
    infusion = s["is_infusion"] == 1.0
    therapy = ~infusion
    attended = s["attended"] == 1.0
    inf_att = infusion & attended
    everything = np.ones(len(course), dtype=bool)

    course_end = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(course_end, course, s["session_day"])
    last_attended = seg.maximum(course, s["session_day"].astype(np.float64), attended, n)

    cols: dict[str, np.ndarray] = {}
    for f in INTAKE_NUMERIC + INTAKE_FLAGS:
        cols[f.name] = it[f.name]
    cols["sex_female"] = _is(it["sex"], "female")
    cols["sex_other"] = _is(it["sex"], "other")
    cols["employed"] = _is(it["employment"], "employed")
    for name, code in THERAPY_FEATURES.items():
        cols[name] = _is(it["therapy_type"], code)

    cols["infusions_scheduled"] = seg.count(course, infusion, n)
    cols["infusions_attended"] = seg.count(course, inf_att, n)
    cols["infusion_attendance"] = seg.ratio(cols["infusions_attended"], cols["infusions_scheduled"])
    # No infusion received means no ketamine; a received one with no dose recorded is unknown.
    cols["ketamine_total_mg_per_kg"] = np.where(
        cols["infusions_attended"] == 0, 0.0,
        seg.total(course, s["ketamine_dose_mg_per_kg"], inf_att, n))
    cols["infusion_minutes_mean"] = seg.mean(course, s["infusion_minutes"], inf_att, n)
    cols["cadss_mean"] = seg.mean(course, s["cadss_total"], inf_att, n)
    cols["meq30_mean"] = seg.mean(course, s["meq30_mean"], inf_att, n)
    cols["meq30_max"] = seg.maximum(course, s["meq30_mean"], inf_att, n)
    cols["peak_systolic_bp_max"] = seg.maximum(course, s["peak_systolic_bp_mmhg"], inf_att, n)
    cols["therapy_sessions_scheduled"] = seg.count(course, therapy, n)
    cols["therapy_sessions_attended"] = seg.count(course, therapy & attended, n)
    cols["therapy_attendance"] = seg.ratio(cols["therapy_sessions_attended"],
                                           cols["therapy_sessions_scheduled"])
    cols["adverse_events"] = seg.count(course, s["adverse_event"] == 1.0, n)
    craving = s["craving_vas"]
    cols["craving_vas_last"] = seg.edge(course, craving, everything, n, last=True)
    cols["craving_vas_change"] = cols["craving_vas_last"] - seg.edge(course, craving, everything,
                                                                     n, last=False)
    drinking = s["drinking_days_since_last_session"]
    cols["drinking_days_during_course"] = seg.total(course, drinking, everything, n)
    cols["drinking_days_last_interval"] = seg.edge(course, drinking, everything, n, last=True)
    cols["course_length_days"] = (course_end - it["intake_day"]).astype(np.float64)
    cols["days_since_last_attended"] = course_end - last_attended

    matrix = np.empty((n, len(FEATURE_NAMES)))  # filled column by column: column_stack's
    for j, name in enumerate(FEATURE_NAMES):  # checks cost more than the copy for one course
        matrix[:, j] = cols[name]
    return FeatureBatch(list(batch.course_ids), matrix, course_end)


def _days(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype="datetime64[D]").astype(np.int64)


def _floats(values: pd.Series) -> np.ndarray:
    return values.astype("float64").to_numpy(na_value=np.nan, dtype=np.float64)


def _codes(values: pd.Series) -> np.ndarray:
    return np.array(values.astype(object).where(values.notna(), None).to_numpy(), dtype=object)


def _arrow_text(values: pd.Series) -> pa.Array:
    arr = pa.array(values.astype("str").array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _positions(keys: pd.Series, ids: pd.Series) -> np.ndarray:
    """Position of each key among the unique `ids` (-1 if absent), hashed in arrow: a pandas
    Index of Python strings cost more than the features."""
    ids_arrow = _arrow_text(ids)
    if len(pc.unique(ids_arrow)) != len(ids_arrow):
        raise ValueError("intake course ids are not unique")
    found = pc.index_in(_arrow_text(keys), value_set=ids_arrow)
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def course_batch_from_frames(intake: pd.DataFrame, sessions: pd.DataFrame) -> CourseBatch:
    """Validated intake and session frames -> a CourseBatch (bulk path)."""
    course_ids = intake["course_id"].astype(str).tolist()
    it = {f.name: _floats(intake[f.name]) for f in INTAKE_NUMERIC + INTAKE_FLAGS}
    for name in ("sex", "employment", "therapy_type"):
        it[name] = _codes(intake[name])
    it["intake_day"] = _days(intake["intake_date"])
    index = _positions(sessions["course_id"], intake["course_id"])
    if (index < 0).any():
        raise ValueError("sessions reference courses missing from intake")
    ss = {
        "course_index": index.astype(np.int64),
        "session_number": _floats(sessions["session_number"]),
        "session_day": _days(sessions["session_date"]),
        "is_infusion": (sessions["session_type"] == "infusion").to_numpy(dtype=np.float64),
        "attended": _floats(sessions["attended"]),
        "adverse_event": _floats(sessions["adverse_event"]),
    }
    for name in ("ketamine_dose_mg_per_kg", "infusion_minutes", "cadss_total", "meq30_mean",
                 "peak_systolic_bp_mmhg", "craving_vas", "drinking_days_since_last_session"):
        ss[name] = _floats(sessions[name])
    return CourseBatch(course_ids, it, ss)
