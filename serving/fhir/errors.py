"""OperationOutcome answers for Bundles that cannot be scored (never echoing input values)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# pydantic error types whose message names only the rule, never the rejected value
SAFE_TYPES = frozenset({
    "missing", "extra_forbidden", "int_type", "int_parsing", "int_from_float", "float_type",
    "float_parsing", "bool_type", "bool_parsing", "string_type", "list_type", "dict_type",
    "model_type", "date_type", "date_parsing", "date_from_datetime_inexact", "literal_error",
    "greater_than_equal", "less_than_equal", "too_short", "too_long", "string_too_short",
    "string_too_long", "finite_number", "date_from_datetime_parsing", "string_pattern_mismatch",
})


@dataclass(frozen=True)
class Issue:
    code: str  # FHIR issue-type: invalid, required, structure, not-supported, ...
    diagnostics: str
    expression: str | None = None


class BundleError(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(i.diagnostics for i in issues))
        self.issues = issues


def safe_message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", "invalid"))
    if kind in SAFE_TYPES:
        return str(error.get("msg", kind))
    if kind == "value_error" and str(error.get("msg", "")).startswith("Value error, sessions:"):
        return str(error["msg"]).removeprefix("Value error, ")  # our own rule texts
    return f"invalid value ({kind})"


def pydantic_issues(errors: Sequence[Mapping[str, Any]], expression_of: Any = None,
                    ) -> list[Issue]:
    issues = []
    for e in errors[:50]:
        loc = [str(p) for p in e.get("loc", ())]
        where = expression_of(loc) if expression_of else "Bundle." + ".".join(loc)
        code = "required" if e.get("type") == "missing" else "invalid"
        issues.append(Issue(code, f"{'.'.join(loc) or 'Bundle'}: {safe_message(e)}", where))
    return issues


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": i.code, "diagnostics": i.diagnostics,
         **({"expression": [i.expression]} if i.expression else {})} for i in issues]}
