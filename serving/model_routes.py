"""GET /model (what is served, its metrics, promotion and card) and POST /model/reload (admin)."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from config import get_settings
from riskmodel.promotion_log import promotion_of
from serving.auth.guard import require_role


async def model_info(request: Request) -> JSONResponse:
    require_role(request, "clinician", "auditor", "admin")
    pipeline = request.app.state.service().pipeline
    artifact = pipeline.model.artifact
    promotion = promotion_of(get_settings().models_dir, artifact.version) or {}
    return JSONResponse({
        "name": artifact.name, "version": artifact.version, "sha256": artifact.sha256,
        "promoted_at": promotion.get("time"), "promoted_by": promotion.get("promoted_by"),
        "promotion_reason": promotion.get("reason"),
        "risk_bands": {"moderate_from": artifact.bands.moderate_from,
                       "high_from": artifact.bands.high_from},
        "metrics": artifact.metrics, "model_card": artifact.model_card,
    })


async def reload_model(request: Request) -> JSONResponse:
    require_role(request, "admin")
    version = await anyio.to_thread.run_sync(request.app.state.service().reload)
    return JSONResponse({"version": version, "note": "reloaded in the worker that answered"})


ROUTES = [Route("/model", model_info, methods=["GET"]),
          Route("/model/reload", reload_model, methods=["POST"])]
