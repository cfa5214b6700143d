"""Routes BentoML's @api cannot express (GET, FHIR and CDS Hooks bodies), as one Starlette app.

Mounted at "/": BentoML's mount only claims the paths these routes match.
The service instance (model, audit store) is looked up per request, so the
app can be built at import time, before BentoML creates the instance.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from serving.cds.routes import ROUTES as CDS_ROUTES
from serving.errors import http_error
from serving.fhir.routes import ROUTES as FHIR_ROUTES
from serving.metrics import ROUTES as METRICS_ROUTES
from serving.model_routes import ROUTES as MODEL_ROUTES


def current_service() -> Any:
    import bentoml

    return bentoml.get_current_service()


def create_clinician_app(service: Any = None) -> Starlette:
    """`service` (tests) or the running BentoML instance provides `.pipeline` and `.reload()`."""
    app = Starlette(routes=[*MODEL_ROUTES, *FHIR_ROUTES, *CDS_ROUTES, *METRICS_ROUTES],
                    exception_handlers={HTTPException: http_error})
    app.state.service = (lambda: service) if service is not None else current_service
    return app
