"""CDS Hooks reads of the EHR's FHIR server: allow-list, https, encoding, caps, no redirects."""

from __future__ import annotations

import time

import httpx
import pytest

from serving.cds.fhir_fetch import FetchRefused, FhirReader, allowed_base, fill
from serving.cds.prefetch import PREFETCH, PrefetchMissing, gather

HOSTS = frozenset({"fhir.ehr.example", "fhir2.ehr.example:8443"})


def recording(handler=None):  # noqa: ANN001, ANN201
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if handler is not None:
            return handler(request)
        return httpx.Response(200, json={"resourceType": "Bundle", "entry": []})

    return seen, httpx.MockTransport(respond)


@pytest.mark.parametrize("server", [
    "http://fhir.ehr.example/r4",  # not https
    "https://attacker.example/fhir",  # not allow-listed
    "https://fhir.ehr.example.attacker.example/r4",
    "https://user:pw@fhir.ehr.example/r4",
    "https://fhir.ehr.example:8443/r4",  # allow-listed without that port
    "https://169.254.169.254/latest",
    "https://fhir.ehr.example/r4?x=1",
])
def test_servers_outside_the_allow_list_are_refused_before_any_request(server):
    seen, transport = recording()
    with pytest.raises(PrefetchMissing):
        gather({}, "P-1", server, "ehr-token", HOSTS, transport=transport)
    assert seen == []  # the EHR's token went nowhere


def test_allow_listed_https_servers_are_read_with_the_token():
    assert allowed_base("https://FHIR.ehr.example/r4/", HOSTS) == "https://FHIR.ehr.example/r4"
    assert allowed_base("https://fhir2.ehr.example:8443/", HOSTS)
    seen, transport = recording()
    gather({"patient": {"resourceType": "Patient", "id": "P-1"}}, "P-1",
           "https://fhir.ehr.example/r4", "ehr-token", HOSTS, transport=transport)
    assert len(seen) == len(PREFETCH) - 1
    assert all(r.headers["authorization"] == "Bearer ehr-token" for r in seen)
    assert all(r.url.host == "fhir.ehr.example" for r in seen)


def test_the_patient_id_cannot_inject_path_or_query():
    hostile = "1/../../Practitioner?_count=1000&patient=2#x"
    assert "/" not in fill("Patient/{{context.patientId}}", hostile).removeprefix("Patient/")
    seen, transport = recording()
    gather({}, hostile, "https://fhir.ehr.example/r4", None, HOSTS, transport=transport)
    for r in seen:
        raw = r.url.raw_path.decode()
        path, _, query = raw.partition("?")
        assert path.count("/") == 2 + path.startswith("/r4/Patient/"), raw  # no new segment
        assert "#" not in raw and query.count("=") == query.count("&") + bool(query)
        assert set(dict(r.url.params)) <= {"patient"}
    patient = next(r for r in seen if "/Patient/" in r.url.raw_path.decode())
    assert patient.url.raw_path.decode().endswith("/Patient/" + fill("{{context.patientId}}",
                                                                     hostile))


def test_redirects_are_not_followed():
    seen, transport = recording(lambda r: httpx.Response(
        302, headers={"Location": "https://attacker.example/steal"}))
    with pytest.raises(PrefetchMissing, match="answered 302"):
        gather({}, "P-1", "https://fhir.ehr.example", "tok", HOSTS, transport=transport)
    assert {r.url.host for r in seen} == {"fhir.ehr.example"}


def test_answers_above_the_size_cap_are_refused():
    _, transport = recording(lambda r: httpx.Response(200, content=b"[" + b"0," * 600_000 + b"0]"))
    reader = FhirReader("https://fhir.ehr.example", None, max_bytes=1_000_000,
                        transport=transport)
    with pytest.raises(FetchRefused, match="too large"):
        reader.get("Patient/1")


def test_one_time_budget_covers_every_fetch_of_a_call():
    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.3)
        return httpx.Response(200, json={"resourceType": "Bundle", "entry": []})

    seen, transport = recording(slow)
    reader = FhirReader("https://fhir.ehr.example", None, budget_s=0.5, transport=transport)
    started = time.monotonic()
    with pytest.raises(FetchRefused, match="time budget"):
        for key in PREFETCH:
            reader.get(fill(PREFETCH[key], "P-1"))
    assert len(seen) == 2 and time.monotonic() - started < 1.5
