"""Pydantic models for one course sent over HTTP, generated from `features.fields`.

pandera checks bulk files; a single request is validated here instead (a
1-row DataFrame through pandera costs ~14 ms). Both are derived from the same
field definitions, so ranges and codes agree by construction. Messages name
fields and rules, never the rejected values.
"""

from __future__ import annotations

import datetime as dt
import operator
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from features.builder import CourseBatch
from features.fields import INTAKE_FIELDS, SESSION_FIELDS, FieldDef
from features.spec import INTAKE_FLAGS, INTAKE_NUMERIC

MAX_SESSIONS_PER_COURSE = 200
EXAMPLES: dict[str, Any] = {
    "course_id": "C000123", "patient_id": "P004567", "site": "S1", "intake_date": "2024-03-04",
    "age_years": 44, "sex": "male", "employment": "employed", "therapy_type": "mbrp",
    "audit_total": 27, "phq9_total": 12, "session_number": 1, "session_date": "2024-03-11",
    "session_type": "infusion", "attended": True, "ketamine_dose_mg_per_kg": 0.8,
}


def _annotation(field: FieldDef) -> Any:
    if field.kind == "category":
        base: Any = Literal[field.codes]
    elif field.kind == "str":
        base = Annotated[str, Field(min_length=1, max_length=64)]
    elif field.kind == "date":
        base = dt.date
    elif field.kind == "bool":
        base = bool
    elif field.kind == "int":
        # No allow_inf_nan here: pydantic's int validator already refuses NaN and infinity
        # ("finite_number"), and on an int the option is a Python check per value (~2,000
        # calls in a 100-course request) that can never fire.
        base = Annotated[int, Field(ge=field.ge, le=field.le)]
    else:
        base = Annotated[float, Field(ge=field.ge, le=field.le, allow_inf_nan=False)]
    return base if field.required else base | None


def _model(name: str, fields: tuple[FieldDef, ...], doc: str) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    for f in fields:
        info = Field(... if f.required else None, description=f.doc,
                     examples=[EXAMPLES[f.name]] if f.name in EXAMPLES else None)
        definitions[f.name] = (_annotation(f), info)
    model = create_model(name, __config__=ConfigDict(extra="forbid", frozen=True), **definitions)
    model.__doc__ = doc
    return model


if TYPE_CHECKING:  # built at run time from the field contract: opaque to a type checker
    IntakeRecord: TypeAlias = Any
    SessionRecord: TypeAlias = Any
else:
    IntakeRecord = _model("IntakeRecord", INTAKE_FIELDS, "Intake assessment of one course.")
    SessionRecord = _model("SessionRecord", SESSION_FIELDS, "One scheduled session of the course.")


class CourseRecord(BaseModel):
    """One course: its intake and every scheduled session (outcomes are never accepted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    intake: IntakeRecord
    sessions: list[SessionRecord] = Field(
        min_length=1, max_length=MAX_SESSIONS_PER_COURSE,
        description="Every scheduled session; the latest session date is the course end")

    @model_validator(mode="after")
    def _consistent(self) -> CourseRecord:
        intake = self.intake
        numbers = set()
        for s in self.sessions:
            if s.course_id != intake.course_id:
                raise ValueError("sessions: a session belongs to another course")
            if s.session_date < intake.intake_date:
                raise ValueError("sessions: a session is dated before intake")
            if s.session_number in numbers:
                raise ValueError("sessions: duplicate session_number")
            numbers.add(s.session_number)
        return self


_INTAKE_NUMBERS = tuple(f.name for f in INTAKE_NUMERIC + INTAKE_FLAGS)
_INTAKE_CODES = ("sex", "employment", "therapy_type")
_SESSION_NUMBERS = ("session_number", "attended", "adverse_event", "ketamine_dose_mg_per_kg",
                    "infusion_minutes", "cadss_total", "meq30_mean", "peak_systolic_bp_mmhg",
                    "craving_vas", "drinking_days_since_last_session")


def _table(records: list[Any], names: tuple[str, ...]) -> np.ndarray:
    """(rows, names) float64 of validated records, in one numpy conversion: None becomes NaN,
    booleans 1.0 / 0.0 (numpy's float conversion), so no Python call per value."""
    get = operator.attrgetter(*names)
    return np.array([get(r) for r in records], dtype=np.float64).reshape(len(records), len(names))


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _days(dates: list[dt.date]) -> np.ndarray:
    """Days since 1970-01-01 (numpy's own date conversion costs ~1 us per date)."""
    return np.array([d.toordinal() for d in dates], dtype=np.int64) - _EPOCH_ORDINAL


def course_batch_from_requests(courses: list[CourseRecord]) -> CourseBatch:
    """Validated request courses -> a CourseBatch (request path, no pandas), column-wise:
    all courses of a request in one batch, every column converted once."""
    intakes = [c.intake for c in courses]
    numbers = _table(intakes, _INTAKE_NUMBERS)
    it = {name: numbers[:, j] for j, name in enumerate(_INTAKE_NUMBERS)}
    codes = operator.attrgetter(*_INTAKE_CODES)
    coded = np.array([codes(i) for i in intakes], dtype=object).reshape(len(intakes),
                                                                      len(_INTAKE_CODES))
    for j, name in enumerate(_INTAKE_CODES):
        it[name] = coded[:, j]
    it["intake_day"] = _days([i.intake_date for i in intakes])
    sessions = [s for c in courses for s in c.sessions]
    values = _table(sessions, _SESSION_NUMBERS)
    ss: dict[str, np.ndarray] = {
        "course_index": np.repeat(np.arange(len(courses), dtype=np.int64),
                                  [len(c.sessions) for c in courses]),
        "session_day": _days([s.session_date for s in sessions]),
        "is_infusion": np.array([s.session_type == "infusion" for s in sessions],
                                dtype=np.float64),
    }
    for j, name in enumerate(_SESSION_NUMBERS):
        ss[name] = values[:, j]
    return CourseBatch([i.course_id for i in intakes], it, ss)
