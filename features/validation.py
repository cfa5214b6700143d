"""Validate raw records; quarantine bad rows with a reason each, never drop silently.

A course is only usable whole: if its intake row or any of its sessions is
bad, the course's rows are all quarantined (features depend on every session,
so a partial course would silently change its course end and its features).
Invariant, per file: rows in == rows accepted + rows quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from features.fields import HORIZON_DAYS, RECORD_FIELDS
from features.parsing import parse_frame
from features.records import RECORDS, RawRecords
from features.schemas import record_schema

CHECK_WORDS = {
    "not_nullable": "required value missing",
    "in_range": "outside the allowed range",
    "isin": "not one of the allowed codes",
    "dtype": "wrong type",
    "field_uniqueness": "duplicate",
}


@dataclass(frozen=True)
class ValidatedRecords:
    """Clean typed frames plus the quarantined raw rows with their reasons."""

    intake: pd.DataFrame
    sessions: pd.DataFrame
    outcomes: pd.DataFrame | None
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict)
    rows_in: dict[str, int] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        rows = []
        for record, n_in in self.rows_in.items():
            accepted = len(getattr(self, record))
            rows.append({"record": record, "rows_in": n_in, "accepted": accepted,
                         "quarantined": len(self.quarantine[record])})
        return pd.DataFrame(rows)

    def reason_counts(self) -> pd.DataFrame:
        """How often each reason occurred (reasons name fields, never values)."""
        parts = []
        for record, frame in self.quarantine.items():
            reasons = frame["quarantine_reason"].str.split("; ").explode().str.strip()
            reasons = reasons[reasons.ne("")]
            counts = reasons.value_counts().rename("rows").reset_index()
            counts.insert(0, "record", record)
            parts.append(counts.rename(columns={"quarantine_reason": "reason"}))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def write_quarantine(self, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for record, frame in self.quarantine.items():
            path = out_dir / f"{record}.csv"
            frame.to_csv(path)
            paths.append(path)
        return paths


def _add(reasons: pd.Series, mask: pd.Series, reason: str) -> pd.Series:
    return reasons.mask(mask.reindex(reasons.index, fill_value=False), reasons + reason + "; ")


def _schema_reasons(typed: pd.DataFrame, record: str, reasons: pd.Series) -> pd.Series:
    try:
        record_schema(record).validate(typed, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.dropna(subset=["index"])
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            word = next((w for k, w in CHECK_WORDS.items() if str(check).startswith(k)), "invalid")
            bad = pd.Series(True, index=pd.Index(group["index"].astype(int).unique()))
            if word == CHECK_WORDS["not_nullable"]:  # an unparseable value is reported once
                bad &= ~reasons.reindex(bad.index).str.contains(f"{column}: unparseable",
                                                                regex=False)
            reasons = _add(reasons, bad, f"{column}: {word}")
    return reasons


def _check_file(raw: pd.DataFrame, record: str) -> tuple[pd.DataFrame, pd.Series]:
    typed, reasons = parse_frame(raw, RECORD_FIELDS[record])
    return typed, _schema_reasons(typed, record, reasons)


def _course_end(sessions: pd.DataFrame) -> pd.Series:
    return sessions.groupby("course_id")["session_date"].max()


def _outcome_reasons(outcomes: pd.DataFrame, reasons: pd.Series, good_courses: pd.Index,
                     course_end: pd.Series) -> pd.Series:
    known = outcomes["course_id"].isin(good_courses)
    reasons = _add(reasons, ~known, "course not found among accepted courses")
    reasons = _add(reasons, outcomes["course_id"].duplicated(keep=False), "course_id: duplicate")
    expected_end = outcomes["course_id"].map(course_end)
    reasons = _add(reasons, known & expected_end.ne(outcomes["course_end_date"]).fillna(True),
                   "course_end_date: differs from the last scheduled session")
    end, follow, relapse = (outcomes[c] for c in ("course_end_date", "followup_end_date",
                                                  "relapse_date"))
    reasons = _add(reasons, (follow < end).fillna(False), "followup_end_date: before course end")
    reasons = _add(reasons, ((relapse <= end) | (relapse > follow)).fillna(False),
                   "relapse_date: outside the follow-up window")
    horizon = end + pd.Timedelta(days=HORIZON_DAYS)
    derived = pd.Series(pd.NA, index=outcomes.index, dtype="boolean")
    derived[(relapse <= horizon).fillna(False)] = True
    derived[relapse.isna() & (follow >= horizon)] = False
    derived[(relapse > horizon).fillna(False)] = False
    given = outcomes["relapsed_180d"]
    mismatch = (given.isna() != derived.isna()) | (given != derived).fillna(False)
    return _add(reasons, mismatch, "relapsed_180d: inconsistent with the dates")


def validate_records(raw: RawRecords) -> ValidatedRecords:
    """Check every row against the contract and the cross-record rules."""
    intake, intake_why = _check_file(raw.intake, "intake")
    sessions, session_why = _check_file(raw.sessions, "sessions")

    intake_why = _add(intake_why, intake["course_id"].duplicated(keep=False), "course_id: duplicate")
    session_why = _add(session_why, ~sessions["course_id"].isin(intake["course_id"]),
                       "course_id: not in intake")
    session_why = _add(session_why, sessions.duplicated(["course_id", "session_number"], keep=False),
                       "session_number: duplicate within course")
    intake_date = sessions["course_id"].map(
        intake.loc[intake_why.eq(""), ["course_id", "intake_date"]].set_index("course_id")["intake_date"])
    session_why = _add(session_why, (sessions["session_date"] < intake_date).fillna(False),
                       "session_date: before intake")

    # A course is usable only whole.
    bad_courses = set(intake.loc[intake_why.ne(""), "course_id"]) | set(
        sessions.loc[session_why.ne(""), "course_id"])
    session_why = _add(session_why, sessions["course_id"].isin(bad_courses) & session_why.eq(""),
                       "course quarantined")
    with_sessions = set(sessions.loc[session_why.eq(""), "course_id"])
    intake_why = _add(intake_why, intake["course_id"].isin(bad_courses) & intake_why.eq(""),
                      "course quarantined (a session is invalid)")
    intake_why = _add(intake_why, ~intake["course_id"].isin(with_sessions) & intake_why.eq(""),
                      "course has no sessions")

    good_intake = intake[intake_why.eq("")]
    good_sessions = sessions[session_why.eq("")]
    frames = {"intake": (good_intake, intake_why), "sessions": (good_sessions, session_why)}

    good_outcomes = None
    if raw.outcomes is not None:
        outcomes, outcome_why = _check_file(raw.outcomes, "outcomes")
        outcome_why = _outcome_reasons(outcomes, outcome_why, pd.Index(good_intake["course_id"]),
                                       _course_end(good_sessions))
        good_outcomes = outcomes[outcome_why.eq("")]
        frames["outcomes"] = (good_outcomes, outcome_why)

    quarantine, rows_in = {}, {}
    for record in RECORDS:
        if record not in frames:
            continue
        source = raw.frame(record)
        why = frames[record][1]
        bad = source[why.ne("")].copy()
        bad["quarantine_reason"] = why[why.ne("")].str.removesuffix("; ")
        quarantine[record] = bad
        rows_in[record] = len(source)
    return ValidatedRecords(good_intake, good_sessions, good_outcomes, quarantine, rows_in)
