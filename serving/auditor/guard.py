"""Role checks for the workspace routes: 401 without a verified caller, 403 for a wrong role."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from serving.auth.principal import Principal, Role, has_role, principal_of


def require_role(request: Request, *roles: Role) -> Principal:
    """The caller, if it holds one of `roles`; raises 401 / 403 otherwise."""
    principal = principal_of(request)
    if principal is None:
        raise HTTPException(401, "authentication required",
                            headers={"WWW-Authenticate": "Bearer"})
    if not has_role(principal, *roles):
        raise HTTPException(403, f"role {principal.role!r} may not use this resource")
    return principal
