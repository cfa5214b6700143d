"""Metric labels are route templates from the service's own routes: a bounded set."""

from __future__ import annotations

import uuid

from serving.metrics import UNMATCHED, RouteLabels, service_templates


def test_every_path_maps_to_a_template_or_to_one_unmatched_label():
    import serving.service as service

    templates = service_templates([service.WORKSPACE_APP, service.CLINICIAN_APP],
                                  service.JSON_API_PATHS)
    label = RouteLabels(templates)
    assert {"/score", "/explain", "/metrics", "/outcomes", "/cds-services/relapse-risk",
            "/fhir/RiskAssessment/$score", "/audit/api/chain"} <= set(templates)
    event = uuid.uuid4().hex
    assert label(f"/audit/events/{event}") == "/audit/events/{event_id}"
    assert label(f"/audit/api/events/{event}/replay") == "/audit/api/events/{event_id}/replay"
    assert label("/score") == "/score"
    labels = {label(f"/{uuid.uuid4().hex}/{n}") for n in range(200)}
    labels |= {label(p) for p in ("/audit/events/a/b/c", "/scorex", "//score", "/%2e%2e/etc")}
    assert labels == {UNMATCHED}
    assert all(event not in t for t in templates)
