"""Given small record folders with known faults, validation quarantines exactly those."""

from __future__ import annotations

import pandas as pd
import pytest

from features.records import RecordFileError, read_records
from features.validation import validate_records
from tests.records_factory import frames, write_folder


def _validate(tmp_path, intake, sessions, outcomes):
    return validate_records(read_records(write_folder(tmp_path, intake, sessions, outcomes)))


def test_clean_folder_accepts_everything(tmp_path):
    v = _validate(tmp_path, *frames(3))
    s = v.summary().set_index("record")
    assert (s["quarantined"] == 0).all()
    assert s.loc["sessions", "accepted"] == 18


@pytest.mark.parametrize(("record", "column", "value", "reason"), [
    ("intake", "age_years", "150", "age_years: outside the allowed range"),
    ("intake", "phq9_total", "35", "phq9_total: outside the allowed range"),
    ("intake", "sex", "unknown", "sex: not one of the allowed codes"),
    ("intake", "intake_date", "2021-13-45", "intake_date: unparseable date"),
    ("intake", "therapy_type", "", "therapy_type: required value missing"),
    ("sessions", "ketamine_dose_mg_per_kg", "-0.5", "ketamine_dose_mg_per_kg: outside"),
    ("sessions", "session_date", "not a date", "session_date: unparseable date"),
    ("sessions", "session_date", "2023-12-01", "session_date: before intake"),
    # a UTC offset names no single day; it used to fail the whole file
    ("intake", "intake_date", "2024-01-02T10:00:00+01:00", "intake_date: unparseable date"),
    ("sessions", "session_date", "2024-01-09T23:30:00Z", "session_date: unparseable date"),
])
def test_bad_value_quarantines_the_whole_course_with_a_reason(tmp_path, record, column, value,
                                                              reason):
    intake, sessions, outcomes = frames(3)
    target = {"intake": intake, "sessions": sessions}[record]
    target.loc[0, column] = value  # row 0 belongs to course C1
    v = _validate(tmp_path, intake, sessions, outcomes)
    q = v.quarantine[record]
    assert q["quarantine_reason"].str.contains(reason, regex=False).any()
    assert "C1" not in set(v.intake["course_id"])
    assert "C1" not in set(v.sessions["course_id"])
    assert set(v.intake["course_id"]) == {"C2", "C3"}
    for rec, n_in in v.rows_in.items():  # nothing lost
        assert n_in == len(getattr(v, rec)) + len(v.quarantine[rec])
    if value:  # reasons never echo values
        assert value not in " ".join(v.reason_counts()["reason"])


def test_duplicates_and_orphans(tmp_path):
    intake, sessions, outcomes = frames(3)
    intake = pd.concat([intake, intake.iloc[[1]]], ignore_index=True)
    orphan = sessions.iloc[[0]].assign(course_id="C99")
    sessions = pd.concat([sessions, orphan], ignore_index=True)
    v = _validate(tmp_path, intake, sessions, outcomes)
    assert set(v.intake["course_id"]) == {"C1", "C3"}
    reasons = " ".join(v.quarantine["sessions"]["quarantine_reason"])
    assert "course_id: not in intake" in reasons
    assert "course_id: duplicate" in " ".join(v.quarantine["intake"]["quarantine_reason"])


def test_outcome_with_wrong_course_end_is_quarantined(tmp_path):
    intake, sessions, outcomes = frames(2)
    outcomes.loc[1, "course_end_date"] = "2024-02-15"
    outcomes.loc[0, "relapsed_180d"] = "false"  # contradicts a relapse 33 days after course end
    v = _validate(tmp_path, intake, sessions, outcomes)
    assert len(v.outcomes) == 0
    reasons = " ".join(v.quarantine["outcomes"]["quarantine_reason"])
    assert "course_end_date: differs" in reasons and "relapsed_180d: inconsistent" in reasons


def test_missing_column_is_a_clear_file_error(tmp_path):
    intake, sessions, outcomes = frames(1)
    with pytest.raises(RecordFileError, match="intake: intake.csv lacks columns audit_total"):
        _validate(tmp_path, intake.drop(columns=["audit_total"]), sessions, outcomes)


def test_parquet_reads_like_csv(tmp_path):
    intake, sessions, outcomes = frames(2)
    write_folder(tmp_path / "csv", intake, sessions, outcomes)
    pq = tmp_path / "pq"
    pq.mkdir()
    for name, f in (("intake", intake), ("sessions", sessions), ("outcomes", outcomes)):
        f.to_parquet(pq / f"{name}.parquet")
    a = validate_records(read_records(tmp_path / "csv"))
    b = validate_records(read_records(pq))
    pd.testing.assert_frame_equal(a.sessions, b.sessions)
