"""A FHIR R4B Bundle -> one course in the raw record contract (the mapping in codes.py).

The Bundle is validated with fhir.resources (R4B); the course built from it
then goes through the same pydantic request model as /score, so FHIR callers
get the same ranges, codes and consistency rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from features.course_status import course_has_ended, utc_today
from features.requests import CourseRecord
from serving.fhir.codes import (
    INTAKE_OBSERVATIONS,
    KETAMINE_RXNORM,
    LOCAL,
    PSYCHOTHERAPY_SNOMED,
    RXNORM,
    SESSION_OBSERVATIONS,
    SNOMED,
    THERAPY_SESSION,
    THERAPY_TYPE,
)
from serving.fhir.errors import BundleError, Issue, pydantic_issues

INTAKE_BY_CODE = {code: name for name, code in INTAKE_OBSERVATIONS.items()}
SESSION_BY_CODE = {code: name for name, code in SESSION_OBSERVATIONS.items()}
SKIPPED_STATUS = {"entered-in-error", "cancelled"}
GENDER = {"male": "male", "female": "female", "other": "other"}
ATTENDED = {"MedicationAdministration": {"completed", "in-progress", "stopped"},
            "Encounter": {"finished", "arrived", "in-progress", "triaged", "onleave"},
            "Procedure": {"completed", "in-progress", "stopped"}}
PLANNED = {"planned", "preparation"}


@dataclass
class Entry:
    index: int
    resource: Any
    keys: frozenset[str]

    @property
    def expression(self) -> str:
        return f"Bundle.entry[{self.index}].resource"

    @property
    def ref(self) -> str:
        return sorted(self.keys, key=lambda k: k.startswith("urn:"))[0]


@dataclass
class CourseFromBundle:
    record: CourseRecord
    patient_ref: str
    basis: list[str]
    course_end: dt.date
    ended: bool  # every session dated on or before today and none still planned
    sources: dict[str, str] = field(default_factory=dict)


def parse_bundle(data: Any) -> Bundle:
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise BundleError([Issue("structure", "the body must be a FHIR R4B Bundle resource")])
    try:
        return Bundle.model_validate(data)
    except ValidationError as exc:
        raise BundleError(pydantic_issues(exc.errors(include_input=False, include_url=False),
                                          lambda loc: "Bundle." + ".".join(loc))) from None
    except (KeyError, ValueError, TypeError, AttributeError):  # e.g. an unknown resourceType
        raise BundleError([Issue("structure", "a resource in the Bundle is not valid FHIR R4B")]
                          ) from None


def _entries(bundle: Bundle) -> list[Entry]:
    out = []
    for i, e in enumerate(bundle.entry or []):
        r = e.resource
        if r is None:
            continue
        keys = {e.fullUrl} if e.fullUrl else set()
        if getattr(r, "id", None):
            keys.add(f"{r.get_resource_type()}/{r.id}")
        keys = keys or {f"#entry{i}"}
        out.append(Entry(i, r, frozenset(str(k) for k in keys)))
    return out


def _ref(reference: Any) -> str | None:
    return getattr(reference, "reference", None) if reference is not None else None


def _day(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def _codes(concept: Any) -> set[tuple[str, str]]:
    return {(str(c.system), str(c.code)) for c in (getattr(concept, "coding", None) or [])
            if c.system and c.code}


def _value(obs: Any) -> Any:
    for name in ("valueBoolean", "valueInteger", "valueString"):
        v = getattr(obs, name, None)
        if v is not None:
            return v
    if obs.valueQuantity is not None and obs.valueQuantity.value is not None:
        v = obs.valueQuantity.value
        return int(v) if isinstance(v, Decimal) and v == v.to_integral_value() else float(v)
    if obs.valueCodeableConcept is not None:
        codes = [c.code for c in obs.valueCodeableConcept.coding or [] if c.code]
        return codes[0] if codes else obs.valueCodeableConcept.text
    return None


def _obs_day(obs: Any) -> dt.date | None:
    if obs.effectiveDateTime is not None:
        return _day(obs.effectiveDateTime)
    if obs.effectivePeriod is not None:
        return _day(obs.effectivePeriod.start)
    return None


class _Builder:
    def __init__(self, entries: list[Entry], latest_episode: bool, today: dt.date) -> None:
        self.entries = entries
        self.by_key = {k: e for e in entries for k in e.keys}
        self.today = today
        self.sources: dict[str, str] = {}
        self.basis: list[str] = []
        self.patient = self._one("Patient", "a Patient")
        self.episode = self._episode(latest_episode)

    def of_type(self, kind: str) -> list[Entry]:
        return [e for e in self.entries if e.resource.get_resource_type() == kind]

    def _one(self, kind: str, what: str) -> Entry:
        found = self.of_type(kind)
        if len(found) != 1:
            raise BundleError([Issue("required" if not found else "invalid",
                                     f"the Bundle must hold exactly one {kind} ({what})")])
        return found[0]

    def _episode(self, latest: bool) -> Entry:
        episodes = self.of_type("EpisodeOfCare")
        if len(episodes) > 1 and latest:
            return max(episodes, key=lambda e: _day(e.resource.period.start if e.resource.period
                                                     else None) or dt.date.min)
        return self._one("EpisodeOfCare", "the treatment course")

    def check_patient(self, entry: Entry, reference: Any) -> None:
        ref = _ref(reference)
        if ref is not None and ref not in self.patient.keys:
            raise BundleError([Issue("invalid", "a resource refers to another patient",
                                     entry.expression)])

    def link(self, entry: Entry, references: list[Any],
             seen: frozenset[int] = frozenset()) -> str:
        """this | other | unlinked: how a session refers to the course's EpisodeOfCare.

        `seen` holds the entries already followed: a Bundle may make an Encounter its own
        (or another's) episodeOfCare, and following that loop blindly recursed until the
        interpreter gave up (a 500). A cycle is a broken Bundle: 422.
        """
        if entry.index in seen:
            raise BundleError([Issue("invalid", "references form a cycle", entry.expression)])
        for reference in references:
            ref = _ref(reference)
            if ref is None:
                continue
            if ref in self.episode.keys:
                return "this"
            target = self.by_key.get(ref)
            if target is not None and target.resource.get_resource_type() == "Encounter":
                return self.link(target, list(target.resource.episodeOfCare or []),
                                 seen | {entry.index})
            if target is not None and target.resource.get_resource_type() == "EpisodeOfCare":
                return "other"
            if ref.startswith("EpisodeOfCare/"):
                raise BundleError([Issue("invalid", "sessions: a session belongs to another "
                                                    "course", entry.expression)])
        return "unlinked"

    def in_course(self, entry: Entry, references: list[Any], day: dt.date | None) -> bool:
        state = self.link(entry, references)
        if state != "unlinked":
            return state == "this"
        period = self.episode.resource.period
        start = _day(period.start) if period else None
        end = _day(period.end) if period else None
        return day is not None and (start is None or day >= start) and (end is None or day <= end)


def _sessions(b: _Builder) -> list[tuple[Entry, dict[str, Any], bool]]:
    """(entry, session fields, planned) of every infusion and therapy session of the course."""
    out = []
    for e in b.of_type("MedicationAdministration"):
        r = e.resource
        codes = _codes(r.medicationCodeableConcept)
        if r.status in SKIPPED_STATUS or (RXNORM, KETAMINE_RXNORM) not in codes and (
                LOCAL, "ketamine") not in codes:
            continue
        start = r.effectivePeriod.start if r.effectivePeriod else r.effectiveDateTime
        day = _day(start)
        if not b.in_course(e, [r.context], day):
            continue
        b.check_patient(e, r.subject)
        s: dict[str, Any] = {"session_type": "infusion", "session_date": day,
                             "attended": r.status in ATTENDED["MedicationAdministration"]}
        if r.effectivePeriod and r.effectivePeriod.start and r.effectivePeriod.end:
            s["infusion_minutes"] = round(
                (r.effectivePeriod.end - r.effectivePeriod.start).total_seconds() / 60, 1)
        dose = r.dosage.dose if r.dosage else None
        if dose is not None and dose.value is not None and (dose.code or dose.unit) == "mg/kg":
            s["ketamine_dose_mg_per_kg"] = float(dose.value)
        out.append((e, s, False))
    therapy = {(SNOMED, PSYCHOTHERAPY_SNOMED), (LOCAL, THERAPY_SESSION)}
    for e in b.of_type("Encounter"):
        r = e.resource
        if r.status in {"entered-in-error"} or not any(_codes(t) & therapy for t in r.type or []):
            continue
        day = _day(r.period.start) if r.period else None
        if not b.in_course(e, list(r.episodeOfCare or []), day):
            continue
        b.check_patient(e, r.subject)
        out.append((e, {"session_type": "therapy", "session_date": day,
                        "attended": r.status in ATTENDED["Encounter"]}, r.status in PLANNED))
    for e in b.of_type("Procedure"):
        r = e.resource
        if r.status in {"entered-in-error"} or not (_codes(r.code) & therapy):
            continue
        day = _day(r.performedPeriod.start if r.performedPeriod else r.performedDateTime)
        if not b.in_course(e, [r.encounter], day):
            continue
        b.check_patient(e, r.subject)
        out.append((e, {"session_type": "therapy", "session_date": day,
                        "attended": r.status in ATTENDED["Procedure"]}, r.status in PLANNED))
    return out


def course_from_bundle(bundle: Bundle, *, latest_episode: bool = False,
                       today: dt.date | None = None) -> CourseFromBundle:
    """The course in the Bundle, validated like a /score course; BundleError if it cannot be."""
    b = _Builder(_entries(bundle), latest_episode, today or utc_today())
    patient, episode = b.patient.resource, b.episode.resource
    b.check_patient(b.episode, episode.patient)
    course_id = episode.id or b.episode.ref
    intake_date = _day(episode.period.start) if episode.period else None
    intake: dict[str, Any] = {
        "course_id": course_id, "patient_id": patient.id or b.patient.ref,
        "site": (_ref(episode.managingOrganization) or "unknown").rsplit("/", 1)[-1][:64],
        "intake_date": intake_date, "sex": GENDER.get(str(patient.gender)),
    }
    b.sources.update({"intake.course_id": b.episode.expression,
                      "intake.intake_date": b.episode.expression + ".period.start",
                      "intake.sex": b.patient.expression + ".gender",
                      "intake.age_years": b.patient.expression + ".birthDate"})
    birth = _day(patient.birthDate)
    if birth is not None and intake_date is not None:
        intake["age_years"] = intake_date.year - birth.year - (
            (intake_date.month, intake_date.day) < (birth.month, birth.day))
    for t in episode.type or []:
        for system, code in _codes(t):
            if system == THERAPY_TYPE:
                intake["therapy_type"] = code
                b.sources["intake.therapy_type"] = b.episode.expression + ".type"

    sessions = sorted(_sessions(b), key=lambda x: (x[1]["session_date"] or dt.date.min,
                                                    x[0].index))
    session_keys = {k: n for n, (e, _, _) in enumerate(sessions) for k in e.keys}
    first_day = min((s["session_date"] for _, s, _ in sessions if s["session_date"]), default=None)

    chosen: dict[str, tuple[dt.date, Entry]] = {}
    used_obs: list[Entry] = []
    for e in b.of_type("Observation"):
        r = e.resource
        if r.status in SKIPPED_STATUS:
            continue
        links = [_ref(p) for p in r.partOf or []] + [_ref(r.encounter)]
        owner = next((session_keys[x] for x in links if x in session_keys), None)
        codes = _codes(r.code)
        if owner is not None:
            name = next((SESSION_BY_CODE[c] for c in codes if c in SESSION_BY_CODE), None)
            if name is not None:
                b.check_patient(e, r.subject)
                sessions[owner][1][name] = _value(r)
                b.sources[f"sessions.{owner}.{name}"] = e.expression
                used_obs.append(e)
            continue
        name = next((INTAKE_BY_CODE[c] for c in codes if c in INTAKE_BY_CODE), None)
        day = _obs_day(r) or dt.date.min
        if name is None or (first_day is not None and day > first_day):
            continue  # not an intake instrument, or measured after treatment began
        b.check_patient(e, r.subject)
        if name not in chosen or day >= chosen[name][0]:
            chosen[name] = (day, e)
    for name, (_, e) in chosen.items():
        intake[name] = _value(e.resource)
        b.sources[f"intake.{name}"] = e.expression
        used_obs.append(e)

    session_rows = []
    for n, (e, s, _) in enumerate(sessions, 1):
        b.sources[f"sessions.{n - 1}"] = e.expression
        session_rows.append({"course_id": course_id, "session_number": n, **s})
    try:
        record = CourseRecord.model_validate({"intake": intake, "sessions": session_rows})
    except ValidationError as exc:
        def where(loc: list[str]) -> str:
            key = ".".join(loc[:3])
            return b.sources.get(key) or b.sources.get(".".join(loc[:2])) or "Bundle"

        raise BundleError(pydantic_issues(exc.errors(include_input=False, include_url=False),
                                          where)) from None
    course_end = max(s.session_date for s in record.sessions)
    ended = course_has_ended((s.session_date for s in record.sessions), as_of=b.today,
                             any_planned=any(planned for _, _, planned in sessions))
    basis = [b.patient.ref, b.episode.ref, *(e.ref for e, _, _ in sessions),
             *(e.ref for e in used_obs)]
    return CourseFromBundle(record, b.patient.ref, basis, course_end, ended, b.sources)
