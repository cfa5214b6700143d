"""Hostile input: schemathesis against the service's own OpenAPI document, plus random JSON
at the FHIR and CDS Hooks routes (not in /docs.json). A bounded run; zero 5xx allowed.

FUZZ_EXAMPLES (default 40 per operation and mode) sets the budget; the request count is
printed (run with -s to see it).
"""

from __future__ import annotations

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
JSON = st.recursive(st.none() | st.booleans() | st.integers()
                    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=30)


def test_openapi_fuzz_finds_no_server_error(server):
    schema = schemathesis.openapi.from_url(server["url"] + "/docs.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    paths = {op.path for op in operations}
    assert {"/score", "/explain"} <= paths
    sent, failures, combos = [], [], 0

    def runner(where: tuple[str, str]):  # noqa: ANN202 - a hypothesis test body
        def run(case) -> None:  # noqa: ANN001
            response = case.call(base_url=server["url"], headers=server["auth"], timeout=60)
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


@pytest.mark.parametrize("path", ["/fhir/RiskAssessment/$score", "/cds-services/relapse-risk"])
def test_random_json_at_fhir_and_cds_routes_finds_no_server_error(server, ehr_key, path):
    from tests.service.test_cds import ehr_jwt

    statuses: list[int] = []

    @FUZZ_SETTINGS
    @given(body=JSON | st.fixed_dictionaries({"resourceType": st.just("Bundle"), "entry": JSON}))
    def run(body) -> None:
        token = ehr_jwt(server, ehr_key) if path.startswith("/cds") else None
        headers = {"Authorization": f"Bearer {token}"} if token else server["auth"]
        r = httpx.post(server["url"] + path, json=body, headers=headers, timeout=60)
        statuses.append(r.status_code)
        assert r.status_code < 500, r.text

    run()
    print(f"\n{path}: {len(statuses)} requests, statuses {sorted(set(statuses))}")
