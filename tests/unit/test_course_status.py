"""The one course-ended rule (features/course_status.py): UTC dates, planned sessions."""

from __future__ import annotations

import datetime as dt

import numpy as np

from features.course_status import EPOCH, course_has_ended, ended_mask, utc_today


def test_a_course_ends_on_its_last_scheduled_session():
    day = dt.date(2026, 3, 1)
    dates = [day - dt.timedelta(days=10), day]
    assert course_has_ended(dates, as_of=day)
    assert not course_has_ended(dates, as_of=day - dt.timedelta(days=1))
    assert not course_has_ended(dates, as_of=day, any_planned=True)
    assert not course_has_ended([], as_of=day)


def test_default_date_is_utc_and_the_batch_form_agrees():
    today = utc_today()
    assert today == dt.datetime.now(dt.UTC).date()
    future = today + dt.timedelta(days=730)
    assert not course_has_ended([future])
    days = np.array([(today - EPOCH).days, (future - EPOCH).days])
    assert ended_mask(days).tolist() == [True, False]
