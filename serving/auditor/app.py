"""The auditor workspace as one Starlette app: pages and JSON under /audit, POST /outcomes.

Mounted into the BentoML service at "/" (BentoML's mount only claims paths
its routes match, so /score and the health routes are untouched). Roles come
from the auth middleware through `serving.auth.principal`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from audit import AuditStore
from serving.auditor import api, outcomes, pages
from serving.auditor.workspace import Workspace
from serving.errors import http_error


def _default_store() -> AuditStore:
    from config import get_settings

    settings = get_settings()
    return AuditStore(settings.audit_url)


def create_auditor_app(store_factory: Callable[[], AuditStore] | None = None,
                       models_dir: Path | None = None) -> Starlette:
    """Pages and JSON for auditors (routes relative to where it is mounted)."""
    app = Starlette(routes=[*pages.ROUTES, *api.ROUTES],
                    exception_handlers={HTTPException: http_error})
    app.state.workspace = Workspace(store_factory or _default_store, models_dir)
    return app


def create_workspace_app(store_factory: Callable[[], AuditStore] | None = None,
                         models_dir: Path | None = None) -> Starlette:
    """/audit/* (auditor) and POST /outcomes (clinician, admin), sharing one store."""
    auditor = create_auditor_app(store_factory, models_dir)
    app = Starlette(routes=[Mount("/audit", auditor), *outcomes.ROUTES],
                    exception_handlers={HTTPException: http_error})
    app.state.workspace = auditor.state.workspace
    return app
