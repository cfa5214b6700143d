"""What the audit store's connection may do to the audit tables (production start check).

The append-only triggers stop an honest service, not a role that may disable
them: the service must connect as a role granted INSERT and SELECT only, never
the tables' owner or a superuser. SQLite has no roles; it is refused in
production anyway.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from audit.database import describe, safe_url
from audit.tables import TABLES

# Per table: owner (may disable triggers, drop), or a privilege beyond INSERT and SELECT.
_EXCESS = text("""
SELECT t.name,
       pg_has_role(current_user, c.relowner, 'USAGE') AS owns,
       has_table_privilege(current_user, c.oid, 'UPDATE') AS can_update,
       has_table_privilege(current_user, c.oid, 'DELETE') AS can_delete,
       has_table_privilege(current_user, c.oid, 'TRUNCATE') AS can_truncate,
       has_table_privilege(current_user, c.oid, 'TRIGGER') AS can_trigger
FROM unnest(CAST(:names AS text[])) AS t(name)
JOIN pg_class c ON c.oid = to_regclass(t.name)
""")
_SUPER = text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")


def excess_privileges(url: str) -> list[str]:
    """Why the role behind `url` is more than INSERT/SELECT on the audit tables ([] if not)."""
    if not url.startswith("postgresql"):
        return [f"{safe_url(url)} is not PostgreSQL: no INSERT/SELECT-only role is possible"]
    engine = create_engine(url, hide_parameters=True)
    try:
        with engine.connect() as conn:
            if conn.execute(_SUPER).scalar():
                return ["the audit connection's role is a superuser"]
            rows = conn.execute(_EXCESS, {"names": [t.name for t in TABLES.values()]}).all()
    except SQLAlchemyError as exc:
        return [f"cannot check the audit role's privileges ({describe(exc)})"]
    finally:
        engine.dispose()
    found = []
    for name, owns, *granted in rows:
        if owns:
            found.append(f"the audit connection's role owns {name}")
        extra = [p for p, ok in zip(("UPDATE", "DELETE", "TRUNCATE", "TRIGGER"), granted,
                                    strict=True) if ok]
        if extra:
            found.append(f"the audit connection's role may {', '.join(extra)} {name}")
    if not rows:
        found.append("no audit tables visible to the audit connection (run make audit-init)")
    return found
