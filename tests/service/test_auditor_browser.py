"""The auditor pages in headless Chromium (Debian's package via `make browser-deps`)."""

from __future__ import annotations

import shutil

import pytest

from audit import AuditStore
from devtools.audit_screenshots import take_screenshots
from devtools.browser import CHROMIUM, chromium_page, serve_locally
from riskmodel.predictor import RiskModel
from serving.auditor import create_workspace_app
from serving.auth.principal import Principal
from tests.audit_setup import installed
from tests.service.auditor_fixtures import as_principal, courses, score_into

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                reason="no /usr/bin/chromium: run `make browser-deps`")


@pytest.fixture
def site(tmp_path, monkeypatch, champion_dir):
    with AuditStore(installed(monkeypatch, tmp_path)) as store:
        events = score_into(store, RiskModel.load(champion_dir), courses(40, "W"))
        app = create_workspace_app(lambda: store, champion_dir.parent)
        with serve_locally(as_principal(app, Principal("auditor-b", "auditor"))) as url:
            yield {"url": url + "/audit", "store": store, "events": events}


def test_filter_follow_link_and_find_the_plot(site, tmp_path):
    bands = [e.risk_band for e in site["events"]]
    band = max(set(bands), key=bands.count)
    with chromium_page() as page:
        page.goto(site["url"] + "/events")
        assert "chain verified" in page.locator("#chain-status").inner_text()
        assert page.locator("tr.event-row").count() == 25  # first page of 40
        page.select_option("select[name=risk_band]", band)
        page.click("#apply-filters")
        page.wait_for_url(f"**risk_band={band}**")
        rows = page.locator("tr.event-row")
        assert rows.count() == min(25, bands.count(band))
        assert set(page.locator("td[class^=band-]").all_inner_texts()) == {band}
        rows.first.locator("a.event-link").click()
        page.wait_for_load_state("networkidle")
        plot = page.locator("img#waterfall")
        assert plot.is_visible()
        assert plot.evaluate("img => img.complete && img.naturalWidth") > 300
        assert page.locator("#values tr").count() > 40  # every feature in words
    actions = [a.action for a in site["store"].list_access(limit=100)]
    assert {"list_events", "get_event", "plot_event"} <= set(actions)

    shots = take_screenshots(site["url"], tmp_path / "reports")
    assert [p.name for p in shots] == ["audit-events.png", "audit-event.png", "audit-models.png"]
    assert all(p.stat().st_size > 10_000 for p in shots)
