"""The one rule that decides whether a course has ended, for every entry point.

A course ends on its last scheduled session (DESIGN.md "Course end"); it has ended once that
date is on or before the request date in UTC (never the server's local date, which differs
around midnight by time zone) and no session is still planned. /score, /explain, FHIR
$score, CDS Hooks and batch scoring all call `course_has_ended`; a course that has not ended
gets no final score.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np

NOT_ENDED_RULE = "course_not_ended"
NOT_ENDED_MESSAGE = ("the course has not ended: its last scheduled session is after the "
                     "request date (UTC) or a session is still planned; no final score")
EPOCH = dt.date(1970, 1, 1)


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def course_has_ended(session_dates: Iterable[dt.date], *, any_planned: bool = False,
                     as_of: dt.date | None = None) -> bool:
    dates = list(session_dates)
    if not dates:
        return False
    return max(dates) <= (as_of or utc_today()) and not any_planned


def ended_mask(course_end_day: np.ndarray, *, as_of: dt.date | None = None) -> np.ndarray:
    """Vectorised form for batches: course end as int64 days since 1970-01-01 (UTC)."""
    today = ((as_of or utc_today()) - EPOCH).days
    return np.asarray(course_end_day) <= today
