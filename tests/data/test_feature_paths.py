"""One feature code path: bulk (training) and single-request (serving) rows are identical."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.builder import build_features, course_batch_from_frames
from features.fields import INTAKE_FIELDS, SESSION_FIELDS
from features.records import read_records
from features.requests import CourseRecord, course_batch_from_requests
from features.validation import validate_records


def _plain(value):
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _as_requests(intake: pd.DataFrame, sessions: pd.DataFrame) -> list[CourseRecord]:
    by_course = {cid: g for cid, g in sessions.groupby("course_id", sort=False)}
    courses = []
    for _, row in intake.iterrows():
        s = by_course[row["course_id"]]
        courses.append(CourseRecord.model_validate({
            "intake": {f.name: _plain(row[f.name]) for f in INTAKE_FIELDS},
            "sessions": [{f.name: _plain(r[f.name]) for f in SESSION_FIELDS}
                         for _, r in s.iterrows()],
        }))
    return courses


def test_bulk_and_request_paths_give_identical_rows(cohort_dir):
    v = validate_records(read_records(cohort_dir))
    intake = v.intake.iloc[:400]
    sessions = v.sessions[v.sessions["course_id"].isin(intake["course_id"])]
    bulk = build_features(course_batch_from_frames(intake, sessions))
    one_by_one = np.vstack([
        build_features(course_batch_from_requests([c])).matrix
        for c in _as_requests(intake, sessions)])
    assert bulk.matrix.shape == one_by_one.shape
    np.testing.assert_array_equal(bulk.matrix, one_by_one)  # NaN positions included


def test_outcome_fields_can_never_reach_a_prediction(cohort_dir):
    import pytest
    from pydantic import ValidationError

    v = validate_records(read_records(cohort_dir))
    course = _as_requests(v.intake.iloc[:1], v.sessions)[0].model_dump(mode="json")
    for leak in ("relapse_date", "relapsed_180d", "followup_end_date"):
        bad = {**course, "intake": {**course["intake"], leak: None}}
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            CourseRecord.model_validate(bad)


# Audit hooks cannot be removed once added, so one hook per process records only while a
# test holds the list (sys.addaudithook: "open" is raised by every Python-level file open,
# which is how pandas reads CSV; directory listings raise os.listdir / os.scandir).
_OPENED: list[str] | None = None
_HOOKED = False


def _record_opens(event: str, args: tuple) -> None:
    if _OPENED is not None and event in ("open", "os.listdir", "os.scandir") and args:
        _OPENED.append(str(args[0]))


def test_feature_code_never_reads_the_oracle(cohort_dir):
    """Reading, validating and building features from a data folder never opens or lists
    anything under its `oracle/` (the generator's true risks and outcomes)."""
    global _OPENED, _HOOKED
    import sys

    assert (cohort_dir / "oracle").is_dir()  # the oracle is there to be read, if code tried
    if not _HOOKED:
        sys.addaudithook(_record_opens)
        _HOOKED = True
    _OPENED = []
    try:
        v = validate_records(read_records(cohort_dir))
        build_features(course_batch_from_frames(v.intake, v.sessions))
        opened = list(_OPENED)
    finally:
        _OPENED = None
    assert any(p.endswith("intake.csv") for p in opened), opened  # the hook does see reads
    assert not [p for p in opened if "oracle" in p.split("/")], opened
