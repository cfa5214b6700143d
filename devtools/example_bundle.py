"""The demo course (devtools/example_course.py) as a FHIR R4B Bundle (docs, tests, `make serve`)."""

from __future__ import annotations

from typing import Any

from devtools.example_course import EXAMPLE_COURSE
from serving.fhir.codes import (
    INTAKE_OBSERVATIONS,
    KETAMINE_RXNORM,
    LOCAL,
    RXNORM,
    SESSION_OBSERVATIONS,
    THERAPY_SESSION,
    THERAPY_TYPE,
    UCUM,
)


def _coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _observation(oid: str, system: str, code: str, value: Any, *, patient: str,
                 **links: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        val: dict[str, Any] = {"valueBoolean": value}
    elif isinstance(value, str):
        val = {"valueCodeableConcept": _coding(LOCAL, value)}
    else:
        val = {"valueQuantity": {"value": value}}
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": _coding(system, code), "subject": {"reference": patient}, **val, **links}


def example_bundle(birth_date: str = "1980-06-15") -> dict[str, Any]:
    intake, sessions = EXAMPLE_COURSE["intake"], EXAMPLE_COURSE["sessions"]
    patient = f"Patient/{intake['patient_id']}"
    episode = f"EpisodeOfCare/{intake['course_id']}"
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": intake["patient_id"], "gender": intake["sex"],
         "birthDate": birth_date},
        {"resourceType": "EpisodeOfCare", "id": intake["course_id"], "status": "finished",
         "patient": {"reference": patient}, "period": {"start": intake["intake_date"]},
         "managingOrganization": {"reference": f"Organization/{intake['site']}"},
         "type": [_coding(THERAPY_TYPE, intake["therapy_type"])]},
    ]
    for name, (system, code) in INTAKE_OBSERVATIONS.items():
        if intake.get(name) is not None:
            resources.append(_observation(f"obs-{name}".replace("_", "-"), system, code, intake[name],
                                          patient=patient,
                                          effectiveDateTime=intake["intake_date"]))
    for s in sessions:
        sid = f"session-{s['session_number']}"
        if s["session_type"] == "infusion":
            r: dict[str, Any] = {
                "resourceType": "MedicationAdministration", "id": sid,
                "status": "completed" if s["attended"] else "not-done",
                "medicationCodeableConcept": _coding(RXNORM, KETAMINE_RXNORM),
                "subject": {"reference": patient}, "context": {"reference": episode},
                "effectiveDateTime": s["session_date"]}
            if s.get("infusion_minutes"):
                r.pop("effectiveDateTime")
                r["effectivePeriod"] = {"start": f"{s['session_date']}T09:00:00+00:00",
                                        "end": f"{s['session_date']}T09:{int(s['infusion_minutes']):02d}:00+00:00"}
            if s.get("ketamine_dose_mg_per_kg") is not None:
                r["dosage"] = {"dose": {"value": s["ketamine_dose_mg_per_kg"], "unit": "mg/kg",
                                        "system": UCUM, "code": "mg/kg"}}
            link = {"partOf": [{"reference": f"MedicationAdministration/{sid}"}]}
        else:
            r = {"resourceType": "Encounter", "id": sid,
                 "status": "finished" if s["attended"] else "cancelled",
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                           "code": "AMB"},
                 "type": [_coding(LOCAL, THERAPY_SESSION)], "subject": {"reference": patient},
                 "episodeOfCare": [{"reference": episode}],
                 "period": {"start": s["session_date"]}}
            link = {"encounter": {"reference": f"Encounter/{sid}"}}
        resources.append(r)
        for name, (system, code) in SESSION_OBSERVATIONS.items():
            if s.get(name) is not None:
                resources.append(_observation(f"obs-{sid}-{name}".replace("_", "-"), system, code, s[name],
                                              patient=patient, **link))
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"urn:example:{r['resourceType']}/{r['id']}", "resource": r}
                      for r in resources]}
