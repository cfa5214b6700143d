"""`make audit-report`: screenshot each auditor page under reports/ (headless Chromium).

Serves the workspace on a loopback port for the length of the job, as a
local auditor (`cli:<user>`); every page it opens is recorded in the access
chain like any other auditor read.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from config import get_settings
from devtools.browser import chromium_page, serve_locally
from serving.auditor.app import create_auditor_app
from serving.auth.principal import Principal, set_principal


def _as_local_auditor(app, principal: Principal):  # noqa: ANN001, ANN202 - ASGI callables
    async def wrapped(scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] == "http":
            set_principal(scope, principal)
        await app(scope, receive, send)
    return wrapped


def take_screenshots(base_url: str, out_dir: Path) -> list[Path]:
    """List, one event (the newest) and models; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with chromium_page() as page:
        page.goto(f"{base_url}/events")
        written.append(out_dir / "audit-events.png")
        page.screenshot(path=str(written[-1]), full_page=True)
        links = page.locator("a.event-link")
        if links.count():
            links.first.click()
            page.wait_for_load_state("networkidle")
            written.append(out_dir / "audit-event.png")
            page.screenshot(path=str(written[-1]), full_page=True)
        page.goto(f"{base_url}/models")
        written.append(out_dir / "audit-models.png")
        page.screenshot(path=str(written[-1]), full_page=True)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.audit_screenshots",
                                     description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="default: reports/")
    args = parser.parse_args(argv)
    out = args.out or get_settings().reports_dir
    app = _as_local_auditor(create_auditor_app(), Principal(f"cli:{getpass.getuser()}",
                                                            "auditor"))
    with serve_locally(app) as url:
        for path in take_screenshots(url, out):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
