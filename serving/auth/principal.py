"""Who is calling: the contract between the auth middleware and every route.

The middleware verifies the bearer token and stores a `Principal` in the ASGI
scope's state (`request.state.principal` in Starlette, `ctx.request.state`
in a BentoML api). Routes read it with `principal_of` and check roles with
`has_role`; they never parse tokens themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["clinician", "auditor", "admin", "outcome_recorder", "metrics"]
# Roles a bearer JWT may carry; "metrics" is only ever the scrape token's (serving/auth/scrape.py).
# outcome_recorder: a follow-up team or EHR interface that records outcomes of any course.
ROLES: tuple[Role, ...] = ("clinician", "auditor", "admin", "outcome_recorder")
STATE_KEY = "principal"


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    token_id: str | None = None  # jti, for the audit trail


def set_principal(scope: dict[str, Any], principal: Principal) -> None:
    scope.setdefault("state", {})[STATE_KEY] = principal


def principal_of(scope_or_request: Any) -> Principal | None:
    """The verified caller of a request (Starlette Request or raw ASGI scope), or None."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    state = scope.get("state") or {}
    return state.get(STATE_KEY)


def has_role(principal: Principal | None, *roles: Role) -> bool:
    return principal is not None and principal.role in roles
