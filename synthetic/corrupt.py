"""Inject a small, listed share of bad rows, as real exports have.

Two steps. `plan_rows` decides which rows are inserted (a second intake row
for some courses, sessions of courses absent from intake) as index arrays,
so the frames are built once with those rows already in place (cheap at 10M
rows). `corrupt_values` then writes bad values into chosen rows and returns
the list of every injected error: file, course_id, 1-based data row (as
features.records numbers rows), kind, column, bad value. Each error touches
a different course.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic.frames import STR_DTYPE

# Share of the rows of each file that are bad, by kind.
INTAKE_RATES = {"impossible_value": 0.003, "unparseable_date": 0.002, "invalid_code": 0.0025,
                "duplicate_course_id": 0.0025}
SESSION_RATES = {"impossible_value": 0.0015, "unparseable_date": 0.001,
                 "session_before_intake": 0.001, "unknown_course": 0.001}
OUTCOME_RATES = {"course_end_mismatch": 0.006, "unparseable_date": 0.004}

BAD_DATES = ("2021-13-45", "not a date", "31/02/2022")
BAD_INTAKE_VALUES = (("age_years", 150), ("phq9_total", 35), ("audit_total", 52))
BAD_SESSION_VALUES = (("ketamine_dose_mg_per_kg", -0.8), ("cadss_total", 120.0),
                      ("craving_vas", 14.0))
BAD_CODES = (("sex", "unknown"), ("sex", "unknown"), ("employment", "jobless"))


def _count(rate: float, rows: int) -> int:
    return max(1, round(rate * rows)) if rows >= 200 else 0


def _cycle(options: tuple, k: int) -> list:
    return [options[i % len(options)] for i in range(k)]


def _columns_and_values(pairs: list) -> tuple[list[str], list]:
    """[(column, value), ...] -> ([columns], [values])."""
    return [c for c, _ in pairs], [v for _, v in pairs]


@dataclass(frozen=True)
class RowPlan:
    """Which source row each output row comes from."""

    intake_course: np.ndarray  # course index of each intake row
    intake_duplicate: np.ndarray  # True on the inserted second row of a course
    session_source: np.ndarray  # source session row of each session row
    session_unknown: np.ndarray  # course number of an unknown course, else 0


def _with_inserts(n_rows: int, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Output order of n_rows rows plus len(slots) inserted rows (inserted j before slots[j]).

    Returns (source index per output row, with -1 - j for inserted row j; is-inserted mask).
    """
    key = np.r_[np.arange(n_rows) * 2, np.asarray(slots) * 2 - 1]
    order = np.argsort(key, kind="stable")
    source = np.r_[np.arange(n_rows), -1 - np.arange(len(slots))][order]
    return source, source < 0


def plan_rows(n: int, session_course: np.ndarray, next_number: int,
              rng: np.random.Generator) -> RowPlan:
    """Duplicate intake rows and unknown-course session blocks at random places."""
    dup = rng.choice(n, _count(INTAKE_RATES["duplicate_course_id"], n), replace=False)
    source, inserted = _with_inserts(n, rng.integers(0, n + 1, len(dup)))
    intake_course = np.where(inserted, dup[np.maximum(-1 - source, 0)], source)

    m = len(session_course)
    counts = np.bincount(session_course, minlength=n)
    first = np.cumsum(counts) - counts
    want = _count(SESSION_RATES["unknown_course"], m)
    copied = rng.integers(0, n, max(want, 1))  # real courses whose sessions are copied
    copied = copied[: int(np.searchsorted(np.cumsum(counts[copied]), want)) + 1] if want else copied[:0]
    sizes = counts[copied]
    block = np.repeat(np.arange(len(copied)), sizes)
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    extra_rows = first[copied][block] + within
    slots = np.repeat(first[rng.integers(0, n, len(copied))], sizes)  # between two courses
    s_source, s_inserted = _with_inserts(m, slots)
    extra = np.maximum(-1 - s_source, 0)
    return RowPlan(
        intake_course=intake_course,
        intake_duplicate=inserted,
        session_source=np.where(s_inserted, extra_rows[extra] if len(extra_rows) else 0,
                                s_source),
        session_unknown=np.where(s_inserted, next_number + block[extra] if len(block) else 0, 0),
    )


class _Picker:
    """Draws courses without replacement across all error kinds."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        self.order = rng.permutation(n)
        self.used = np.zeros(n, dtype=bool)

    def pick(self, k: int, eligible: np.ndarray | None = None) -> np.ndarray:
        ok = ~self.used if eligible is None else ~self.used & eligible
        chosen = self.order[ok[self.order]][:k]
        self.used[chosen] = True
        return chosen


def _write(df: pd.DataFrame, rows: np.ndarray, columns: list[str], values: list) -> None:
    """Write bad values, one vectorised assignment per column."""
    cols = np.array(columns, dtype=object)
    for col in dict.fromkeys(columns):
        sel = cols == col
        df.loc[rows[sel], col] = pd.array([v for v, s in zip(values, sel, strict=True) if s],
                                          dtype=df[col].dtype)


def corrupt_values(intake: pd.DataFrame, sessions: pd.DataFrame, outcomes: pd.DataFrame,
                   plan: RowPlan, session_course: np.ndarray,
                   rng: np.random.Generator) -> pd.DataFrame:
    """Write bad values into the frames (modified in place); return the injected errors.

    Frames already hold the planned rows; outcome row i is course i;
    `session_course` is the course of each source session row.
    """
    n = len(outcomes)
    log: list[pd.DataFrame] = []

    def record(file: str, kind: str, course_id, row: np.ndarray, column, value) -> None:
        log.append(pd.DataFrame({"file": file, "course_id": np.asarray(course_id, dtype=object),
                                 "row": np.asarray(row) + 1, "kind": kind, "column": column,
                                 "value": [str(v) for v in value]}))

    ids = outcomes["course_id"].to_numpy()
    picker = _Picker(n, rng)
    picker.used[plan.intake_course[plan.intake_duplicate]] = True
    intake_row = np.flatnonzero(~plan.intake_duplicate)  # row of course c's first intake row
    intake_day = pd.to_datetime(intake["intake_date"].to_numpy()[intake_row]).to_numpy()

    # intake: the second rows of a course re-key one value (double data entry).
    dup_rows = np.flatnonzero(plan.intake_duplicate)
    intake.loc[dup_rows, "pacs_total"] = (intake.loc[dup_rows, "pacs_total"] + 1).clip(upper=30)
    record("intake", "duplicate_course_id", ids[plan.intake_course[dup_rows]], dup_rows,
           "course_id", ids[plan.intake_course[dup_rows]])
    for kind, options in (("impossible_value", BAD_INTAKE_VALUES),
                          ("unparseable_date", tuple(("intake_date", d) for d in BAD_DATES)),
                          ("invalid_code", BAD_CODES)):
        c = picker.pick(_count(INTAKE_RATES[kind], n))
        cols, bad = _columns_and_values(_cycle(options, len(c)))
        _write(intake, intake_row[c], cols, bad)
        record("intake", kind, ids[c], intake_row[c], cols, bad)

    # outcomes
    c = picker.pick(_count(OUTCOME_RATES["course_end_mismatch"], n))
    end = pd.to_datetime(outcomes["course_end_date"].to_numpy()[c]).to_numpy()
    shift = (rng.choice([-1, 1], len(c)) * rng.integers(1, 11, len(c))).astype("timedelta64[D]")
    vals = (end.astype("datetime64[D]") + shift).astype(str).tolist()
    _write(outcomes, c, ["course_end_date"] * len(c), vals)
    record("outcomes", "course_end_mismatch", ids[c], c, "course_end_date", vals)
    c = picker.pick(_count(OUTCOME_RATES["unparseable_date"], n))
    vals = _cycle(BAD_DATES, len(c))
    _write(outcomes, c, ["followup_end_date"] * len(c), vals)
    record("outcomes", "unparseable_date", ids[c], c, "followup_end_date", vals)

    # sessions (rows of a real course stay contiguous and in order)
    real = np.flatnonzero(plan.session_unknown == 0)
    counts = np.bincount(session_course, minlength=n)
    first = real[np.cumsum(counts) - counts]
    attended_inf = (sessions["session_type"].eq("infusion")
                    & sessions["attended"].fillna(False)).to_numpy()
    out_course = np.full(len(sessions), -1)
    out_course[real] = session_course[plan.session_source[real]]
    first_inf = np.full(n, len(sessions))
    hit = attended_inf & (out_course >= 0)
    np.minimum.at(first_inf, out_course[hit], np.flatnonzero(hit))
    m = len(real)

    c = picker.pick(_count(SESSION_RATES["impossible_value"], m), first_inf < len(sessions))
    cols, bad = _columns_and_values(_cycle(BAD_SESSION_VALUES, len(c)))
    _write(sessions, first_inf[c], cols, bad)
    record("sessions", "impossible_value", ids[c], first_inf[c], cols, bad)
    several = counts >= 2
    c = picker.pick(_count(SESSION_RATES["unparseable_date"], m), several)
    rows = first[c] + (rng.random(len(c)) * (counts[c] - 1)).astype(int)  # never the last row
    vals = _cycle(BAD_DATES, len(c))
    _write(sessions, rows, ["session_date"] * len(c), vals)
    record("sessions", "unparseable_date", ids[c], rows, "session_date", vals)
    c = picker.pick(_count(SESSION_RATES["session_before_intake"], m), several)
    days = rng.integers(1, 31, len(c)).astype("timedelta64[D]")
    vals = (intake_day[c].astype("datetime64[D]") - days).astype(str).tolist()
    _write(sessions, first[c], ["session_date"] * len(c), vals)
    record("sessions", "session_before_intake", ids[c], first[c], "session_date", vals)
    unknown = np.flatnonzero(plan.session_unknown > 0)
    unknown_ids = sessions["course_id"].to_numpy()[unknown]
    record("sessions", "unknown_course", unknown_ids, unknown, "course_id", unknown_ids)

    errors = pd.concat(log, ignore_index=True).astype(
        {"file": STR_DTYPE, "course_id": STR_DTYPE, "row": "int64", "kind": STR_DTYPE,
         "column": STR_DTYPE, "value": STR_DTYPE})
    return errors.sort_values(["file", "row"], ignore_index=True)
