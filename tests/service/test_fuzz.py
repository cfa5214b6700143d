"""Hostile input: schemathesis against the service's own OpenAPI document (BentoML's APIs plus
the mounted FHIR, CDS Hooks, model, outcome and auditor routes), plus random JSON at the body
routes and random parameters at the auditor JSON API, each with a token of the role that
reaches past authentication (a fresh EHR token per CDS Hooks example). Zero 5xx allowed.

FUZZ_EXAMPLES (default 25 per operation and mode) sets the budget; the request count is
printed (run with -s to see it).
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))  # both fuzz tests within 60 s
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
JSON = st.recursive(st.none() | st.booleans() | st.integers()
                    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=30)


def headers_for(path: str, server, ehr_key, token) -> dict[str, str]:  # noqa: ANN001
    """A token of the role that gets past authentication on `path`."""
    from tests.service.test_cds import ehr_jwt

    if path.startswith("/cds-services/"):
        return {"Authorization": f"Bearer {ehr_jwt(server, ehr_key)}"}  # one-time jti
    if path.startswith("/audit/"):
        return {"Authorization": f"Bearer {token('auditor', 'fuzz-auditor')}"}
    return server["auth"]


def test_openapi_fuzz_finds_no_server_error(server, ehr_key, token):
    schema = schemathesis.openapi.from_url(server["url"] + "/docs.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    paths = {op.path for op in operations}
    assert {"/score", "/explain", "/fhir/RiskAssessment/$score", "/cds-services/relapse-risk",
            "/outcomes", "/model", "/audit/api/events/{event_id}"} <= paths
    sent, failures, combos = [], [], 0

    def runner(where: tuple[str, str]):  # noqa: ANN202 - a hypothesis test body
        def run(case) -> None:  # noqa: ANN001
            response = case.call(base_url=server["url"], timeout=60,
                                 headers=headers_for(case.path, server, ehr_key, token))
            sent.append(response.status_code)
            if response.status_code >= 500:
                failures.append((*where, response.status_code))
        return run

    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = runner((op.path, mode.value))
            try:
                FUZZ_SETTINGS(given(case=op.as_strategy(generation_mode=mode))(run))()
                combos += 1
            except Unsatisfiable:  # e.g. no negative body exists for a schema-less operation
                continue
    print(f"\nschemathesis: {len(sent)} requests to {sorted(paths)}, {len(failures)} 5xx")
    assert combos >= 2 and len(sent) >= EXAMPLES and not failures, failures[:5]


BODY_ROUTES = ["/fhir/RiskAssessment/$score", "/cds-services/relapse-risk",
               "/cds-services/relapse-risk/feedback", "/outcomes", "/explain"]
# Raw bodies too: what json= cannot send (duplicate keys, NaN, deep nesting, bad UTF-8).
RAW = st.sampled_from([b'{"a": 1, "a": 2}', b"[NaN]", b"[1e999]", b"[" * 3000, b"\xff\xfe",
                       b'{"course": ' * 70 + b"1" + b"}" * 70, b"[" + b"9" * 5000 + b"]"])


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_random_json_at_body_routes_finds_no_server_error(server, ehr_key, token, path):
    statuses: list[int] = []

    @FUZZ_SETTINGS
    @given(body=JSON | st.fixed_dictionaries({"resourceType": st.just("Bundle"), "entry": JSON})
           | st.fixed_dictionaries({"course": JSON}) | RAW)
    def run(body) -> None:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {**headers_for(path, server, ehr_key, token),
                   "Content-Type": "application/json"}
        r = httpx.post(server["url"] + path, content=content, headers=headers, timeout=60)
        statuses.append(r.status_code)
        assert r.status_code < 500, r.text

    run()
    print(f"\n{path}: {len(statuses)} requests, statuses {sorted(set(statuses))}")


AUDIT_GETS = ["/audit/api/events", "/audit/api/events/{id}", "/audit/api/events/{id}/replay",
              "/audit/api/chain", "/audit/api/models"]


def test_random_parameters_at_the_auditor_api_find_no_server_error(server, ehr_key, token):
    statuses: list[int] = []
    text = st.text(max_size=40)

    @FUZZ_SETTINGS
    @given(path=st.sampled_from(AUDIT_GETS), event_id=text | st.from_regex("^[0-9a-f]{32}$"),
           params=st.dictionaries(st.sampled_from(["since", "until", "limit", "offset",
                                                   "risk_band", "caller_sub",
                                                   "model_version", "x"]), text, max_size=4))
    def run(path, event_id, params) -> None:  # noqa: ANN001
        url = server["url"] + path.replace("{id}", quote(event_id, safe=""))
        r = httpx.get(url, params=params, headers=headers_for(path, server, ehr_key, token),
                      timeout=60)
        statuses.append(r.status_code)
        assert r.status_code < 500, r.text

    run()
    print(f"\nauditor API: {len(statuses)} requests, statuses {sorted(set(statuses))}")
