"""Strict JSON for the routes that parse their own bodies (FHIR, CDS Hooks, /outcomes).

One parse, with the checks hooked into it: the stdlib parser accepts things a
hostile client can use to confuse us or to crash a route: duplicate keys
(two readers of one body may disagree on its value), the NaN / Infinity
literals and overflowing floats (not JSON at all), digit strings long enough
to make int() quadratic, invalid UTF-8, and nesting deep enough to exhaust the
interpreter's recursion limit (5,000 `[` answered 500). Each becomes a
`BodyError` the route answers with a 400 that names the rule, never the value.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64  # a FHIR Bundle nests about 10 deep; nothing legitimate comes near this
MAX_NUMBER_CHARS = 40  # longer digit strings are not a measurement


class BodyError(ValueError):
    """Why a body was refused: a rule name, safe to return (no input echoed)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise BodyError("duplicate key in a JSON object")
    return out


def _no_constant(name: str) -> Any:
    raise BodyError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise BodyError("number too long")
    value = float(text)
    if not math.isfinite(value):
        raise BodyError("number out of range")
    return value


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise BodyError("number too long")
    return int(text)


def depth_of(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of parsed JSON, walked without recursion; stops once past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children
                         if isinstance(child, dict | list))
    return deepest


def parse_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed body, or BodyError naming the broken rule."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("body is not UTF-8") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                           parse_float=_float, parse_int=_int)
    except BodyError:
        raise
    except RecursionError:  # deeper than the C parser's own limit
        raise BodyError(f"JSON nested deeper than {max_depth}") from None
    except ValueError:
        raise BodyError("body is not JSON") from None
    if depth_of(value, max_depth) > max_depth:
        raise BodyError(f"JSON nested deeper than {max_depth}")
    return value
