"""Role checks for Starlette routes (the middleware has already verified the token)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from serving.auth.principal import Principal, Role, has_role, principal_of


def require_role(request: Request, *roles: Role) -> Principal:
    """The verified caller if it holds one of `roles`; 401 / 403 otherwise."""
    principal = principal_of(request)
    if principal is None:
        raise HTTPException(401, "bearer token required", headers={"WWW-Authenticate": "Bearer"})
    if not has_role(principal, *roles):
        raise HTTPException(403, f"role {principal.role} may not use this resource")
    return principal
