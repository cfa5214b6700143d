"""Batch scoring quarantines a course that has not ended, with the rule's name (issue 12)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from features.course_status import NOT_ENDED_RULE
from features.records import RawRecords
from jobs.batch_scoring import _quarantine_unended


def test_unended_course_rows_are_quarantined_with_the_rule():
    today = dt.datetime.now(dt.UTC).date()
    late = today + dt.timedelta(days=730)
    intake = pd.DataFrame({"course_id": ["A", "B"]}, index=[1, 2])
    sessions = pd.DataFrame({"course_id": ["A", "A", "B"],
                             "session_date": pd.to_datetime([today - dt.timedelta(days=9),
                                                             today, late])}, index=[1, 2, 3])
    raw = RawRecords(intake.astype(str), sessions.astype(str), None)
    kept_i, kept_s, quarantine, reasons = _quarantine_unended(
        raw, intake, sessions, {}, pd.DataFrame(columns=["record", "reason", "rows"]))
    assert kept_i["course_id"].tolist() == ["A"] and kept_s["course_id"].tolist() == ["A", "A"]
    assert quarantine["intake"]["course_id"].tolist() == ["B"]
    assert set(quarantine["sessions"]["quarantine_reason"]) == {NOT_ENDED_RULE}
    assert reasons.set_index("record")["rows"].to_dict() == {"intake": 1, "sessions": 1}
