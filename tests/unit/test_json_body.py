"""Strict JSON for the self-parsing routes: each hostile shape is a BodyError, never a crash."""

from __future__ import annotations

import pytest

from serving.json_body import MAX_DEPTH, BodyError, depth_of, parse_json


@pytest.mark.parametrize(("body", "rule"), [
    (b'{"a": 1, "a": 2}', "duplicate key"),
    (b'{"a": NaN}', "NaN is not a JSON number"),
    (b'[Infinity]', "Infinity is not a JSON number"),
    (b'[-Infinity]', "-Infinity is not a JSON number"),
    (b'[1e999]', "out of range"),
    (b"[" + b"1" * 5000 + b"]", "too long"),
    (b'["\xff"]', "not UTF-8"),
    (b"[" * 5000, "nested deeper"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested deeper"),
    (b"{'a': 1}", "not JSON"),
])
def test_hostile_json_is_refused_with_its_rule(body, rule):
    with pytest.raises(BodyError, match=rule):
        parse_json(body)


def test_ordinary_json_parses_and_the_depth_limit_is_inclusive():
    assert parse_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}
    deep = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert depth_of(parse_json(deep)) == MAX_DEPTH


def test_errors_never_echo_the_value():
    with pytest.raises(BodyError) as caught:
        parse_json(b'{"patient": "P-SECRET-1", "patient": "P-SECRET-2"}')
    assert "SECRET" not in str(caught.value)
