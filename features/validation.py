"""Validate raw records; quarantine bad rows with a reason each, never drop silently.

A course is only usable whole: if its intake row or any of its sessions is
bad, the course's rows are all quarantined (features depend on every session,
so a partial course would silently change its course end and its features).
Invariant, per file: rows in == rows accepted + rows quarantined.

Per file, text is parsed with arrow (features/parsing.py) and the contract's
checks run as array masks generated from features/fields.py
(features/contract_checks.py); pandera, the slow part, runs only on the rows
the masks flag and writes their reasons, so they are the reasons it always
wrote. The cross-record rules work on integer course codes, and reasons are
kept as masks until the few bad rows need their text (features/reasons.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from config.files import open_private, private_dir
from features.contract_checks import CHECK_WORDS, failing_rows, mask_reasons
from features.fields import HORIZON_DAYS, RECORD_FIELDS
from features.parsing import parse_frame
from features.reasons import RowReasons
from features.records import RECORDS, RawRecords
from features.schemas import record_schema


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
        private_dir(out_dir)
        paths = []
        for record, frame in self.quarantine.items():
            path = out_dir / f"{record}.csv"
            with open_private(path) as fh:  # raw patient ids: 0600
                frame.to_csv(fh)
            paths.append(path)
        return paths


def _schema_reasons(typed: pd.DataFrame, record: str,
                    unparseable: dict[str, np.ndarray]) -> list[tuple[np.ndarray, str]]:
    """pandera's row failures on `typed` as (row mask, reason), in the order it reports them."""
    try:
        record_schema(record).validate(typed, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.dropna(subset=["index"])  # column-level (dtype) cases name no row
        found = []
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            word = next((w for k, w in CHECK_WORDS.items() if str(check).startswith(k)), "invalid")
            rows = np.zeros(len(typed), dtype=bool)
            rows[typed.index.get_indexer(group["index"].astype(int).unique())] = True
            if word == CHECK_WORDS["not_nullable"] and column in unparseable:
                rows &= ~unparseable[column]  # an unparseable value is reported once
            found.append((rows, f"{column}: {word}"))
        return found
    return []


def _check_file(raw: pd.DataFrame, record: str, *, fast: bool, confirm: bool
                ) -> tuple[pd.DataFrame, RowReasons]:
    fields = RECORD_FIELDS[record]
    typed, unparseable = parse_frame(raw, fields, fast=fast)
    reasons = RowReasons(len(typed))
    for f in fields:
        reasons.add(unparseable[f.name], f"{f.name}: unparseable {f.kind}")
    # pandera writes the reasons, but only for the rows the mask checks flag (the same rows:
    # tests/unit/test_fast_validation.py); without the fast path it checks every row.
    rows = failing_rows(typed, record) if fast else None
    if rows is None:
        rows = np.arange(len(typed))
    elif not confirm:
        if len(rows):
            for mask, reason in mask_reasons(typed, record, unparseable):
                reasons.add(mask, reason)
        return typed, reasons
    if len(rows):
        subset = typed if len(rows) == len(typed) else typed.iloc[rows]
        for mask, reason in _schema_reasons(subset, record,
                                            {k: v[rows] for k, v in unparseable.items()}):
            reasons.add(rows[mask], reason)
    return typed, reasons


def _course_codes(intake_ids: pd.Series, session_ids: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """One integer per course id over both files; a missing id gets a code too (pandas' isin and
    duplicated match a missing id with a missing id, and the rules below keep that)."""
    both = pd.concat([intake_ids, session_ids], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=False)
    return codes[:len(intake_ids)], codes[len(intake_ids):], len(uniques)


def _course_end(sessions: pd.DataFrame) -> pd.Series:
    return sessions.groupby("course_id")["session_date"].max()


def _outcome_reasons(outcomes: pd.DataFrame, reasons: RowReasons, good_courses: pd.Index,
                     course_end: pd.Series) -> None:
    def add(mask: pd.Series, reason: str) -> None:
        reasons.add(mask.to_numpy(dtype=bool), reason)

    known = outcomes["course_id"].isin(good_courses)
    add(~known, "course not found among accepted courses")
    add(outcomes["course_id"].duplicated(keep=False), "course_id: duplicate")
    if len(course_end):
        expected_end = outcomes["course_id"].map(course_end)
    else:  # every course quarantined; pandas cannot map onto an empty datetime Series
        expected_end = pd.Series(pd.NaT, index=outcomes.index, dtype="datetime64[us]")
    add(known & expected_end.ne(outcomes["course_end_date"]).fillna(True),
        "course_end_date: differs from the last scheduled session")
    end, follow, relapse = (outcomes[c] for c in ("course_end_date", "followup_end_date",
                                                  "relapse_date"))
    add((follow < end).fillna(False), "followup_end_date: before course end")
    add(((relapse <= end) | (relapse > follow)).fillna(False),
        "relapse_date: outside the follow-up window")
    horizon = end + pd.Timedelta(days=HORIZON_DAYS)
    derived = pd.Series(pd.NA, index=outcomes.index, dtype="boolean")
    derived[(relapse <= horizon).fillna(False)] = True
    derived[relapse.isna() & (follow >= horizon)] = False
    derived[(relapse > horizon).fillna(False)] = False
    given = outcomes["relapsed_180d"]
    mismatch = (given.isna() != derived.isna()) | (given != derived).fillna(False)
    add(mismatch, "relapsed_180d: inconsistent with the dates")


def validate_records(raw: RawRecords, *, fast: bool = True, confirm: bool = True
                     ) -> ValidatedRecords:
    """Check every row against the contract and the cross-record rules.

    Three ways to the same result: `fast` parses with arrow and finds bad values with array
    masks, and pandera writes the reasons of the flagged rows (`confirm`) or the masks do
    (`confirm=False`, no pandera); `fast=False` parses with pandas and runs pandera on every
    row (the reference the tests compare with).
    """
    intake, intake_why = _check_file(raw.intake, "intake", fast=fast, confirm=confirm)
    sessions, session_why = _check_file(raw.sessions, "sessions", fast=fast, confirm=confirm)

    icode, scode, n_codes = _course_codes(intake["course_id"], sessions["course_id"])
    intake_why.add(np.bincount(icode, minlength=n_codes)[icode] > 1, "course_id: duplicate")
    in_intake = np.zeros(n_codes, dtype=bool)
    in_intake[icode] = True
    session_why.add(~in_intake[scode], "course_id: not in intake")
    pairs = pd.DataFrame({"course": scode, "number": sessions["session_number"].array})
    session_why.add(pairs.duplicated(keep=False).to_numpy(dtype=bool),
                    "session_number: duplicate within course")
    # Intake date per course from intake rows still good (their course ids are unique).
    start = np.full(n_codes, np.datetime64("NaT"), dtype="datetime64[us]")
    good = intake_why.ok
    start[icode[good]] = intake["intake_date"].to_numpy(dtype="datetime64[us]")[good]
    session_date = sessions["session_date"].to_numpy(dtype="datetime64[us]")
    session_why.add(session_date < start[scode], "session_date: before intake")  # NaT: False

    # A course is usable only whole.
    bad_course = np.zeros(n_codes, dtype=bool)
    bad_course[icode[intake_why.bad]] = True
    bad_course[scode[session_why.bad]] = True
    session_why.add(bad_course[scode] & session_why.ok, "course quarantined")
    with_sessions = np.zeros(n_codes, dtype=bool)
    with_sessions[scode[session_why.ok]] = True
    intake_why.add(bad_course[icode] & intake_why.ok, "course quarantined (a session is invalid)")
    intake_why.add(~with_sessions[icode] & intake_why.ok, "course has no sessions")

    good_intake = intake[intake_why.ok]
    good_sessions = sessions[session_why.ok]
    frames = {"intake": (good_intake, intake_why), "sessions": (good_sessions, session_why)}

    good_outcomes = None
    if raw.outcomes is not None:
        outcomes, outcome_why = _check_file(raw.outcomes, "outcomes", fast=fast,
                                            confirm=confirm)
        _outcome_reasons(outcomes, outcome_why, pd.Index(good_intake["course_id"]),
                         _course_end(good_sessions))
        good_outcomes = outcomes[outcome_why.ok]
        frames["outcomes"] = (good_outcomes, outcome_why)

    quarantine, rows_in = {}, {}
    for record in RECORDS:
        if record not in frames:
            continue
        source = raw.frame(record)
        assert source is not None  # `frames` holds only the records that were read
        why = frames[record][1]
        bad = source[why.bad].copy()
        texts = [t.removesuffix("; ") for t in why.text(np.flatnonzero(why.bad))]
        bad["quarantine_reason"] = pd.Series(texts, index=bad.index, dtype="str")
        quarantine[record] = bad
        rows_in[record] = len(source)
    return ValidatedRecords(good_intake, good_sessions, good_outcomes, quarantine, rows_in)
