"""The validation fast path (arrow parsing, mask checks, pandera on flagged rows only) agrees
with the reference (pandas parsing, pandera on every row): same typed frames, same bad rows,
same reasons, on generated record sets with bad values of every kind injected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract_checks import (
    contract_failures,
    failing_rows,
    mask_reasons,
    masks_cover_schema,
)
from features.fields import RECORD_FIELDS, FieldDef
from features.parsing import parse_frame
from features.reasons import RowReasons
from features.records import RECORDS, RawRecords, read_records
from features.validation import _schema_reasons, validate_records
from tests.records_factory import frames

COMMON_BAD = ["", "   ", None, "abc", "n/a", "\t"]
NUMBER_BAD = ["-0", "-0.0", "007", "2.5", "0.1", ".5", "5.", "+3", " 5 ", "1e3", "1E-2", "nan",
              "NaN", "inf", "-inf", "1_0", "0x10", "1,5", "12345678901234567",
              "123456789012.345", "99999999999999999999"]
DATE_BAD = ["2021-13-45", "2021-02-29", "2020-02-29", "2021-04-31", "2021-00-10", "31/02/2022",
            "not a date", "2024-1-2", "20240102", "2024-01-02T12:00", "2024-01-02 00:00:00",
            "0000-01-01", "9999-12-31", " 2024-01-02", "2024-01-02 ", "2024", "2024-03",
            "1850-06-30", "2023-12-01"]
BOOL_BAD = ["YES", " true ", "1.0", "0", "T", "n", "maybe", "truee", "2"]


def _values(field: FieldDef) -> st.SearchStrategy:
    """Bad (and borderline good) values for one field, from its definition."""
    own: list[str | None] = list(COMMON_BAD)
    if field.kind in ("int", "float"):
        for bound in (field.ge, field.le):
            if bound is not None:
                own += [f"{bound:g}", f"{bound - 1:g}", f"{bound + 1:g}", f"{bound + 0.5:g}"]
        own += NUMBER_BAD
        plain = st.from_regex(r"-?[0-9]{1,9}(\.[0-9]{1,5})?", fullmatch=True)
        return st.sampled_from(own) | plain | st.text(max_size=6)
    if field.kind == "date":
        return st.sampled_from(own + DATE_BAD) | st.dates().map(str) | st.text(max_size=10)
    if field.kind == "bool":
        return st.sampled_from(own + BOOL_BAD) | st.text(max_size=4)
    if field.codes:
        code = field.codes[0]
        own += [code.upper(), f" {code} ", "unknown", code[:-1]]
    own += ["C1", "C2", "C99", " C1"]  # ids: duplicates, orphans, stripped duplicates
    return st.sampled_from(own) | st.text(max_size=4)


@st.composite
def record_sets(draw: st.DrawFn) -> RawRecords:
    intake, sessions, outcomes = frames(draw(st.integers(1, 3)))
    tables = {"intake": intake, "sessions": sessions, "outcomes": outcomes}
    for _ in range(draw(st.integers(0, 10))):
        record = draw(st.sampled_from(RECORDS))
        table = tables[record]
        field = draw(st.sampled_from(RECORD_FIELDS[record]))
        row = draw(st.integers(0, len(table) - 1))
        table.loc[row, field.name] = draw(_values(field))
    for table in tables.values():  # as features.records reads a CSV: text, 1-based row numbers
        table.index = pd.RangeIndex(1, len(table) + 1, name="source_row")
    if draw(st.booleans()):  # a slice of a frame: arrow arrays with an offset into their buffers
        tables = {name: table.iloc[1:] for name, table in tables.items()}
    return RawRecords(**tables)


def _assert_same(a, b) -> None:
    for record in RECORDS:
        pd.testing.assert_frame_equal(getattr(a, record), getattr(b, record), check_exact=True)
        pd.testing.assert_frame_equal(a.quarantine[record], b.quarantine[record],
                                      check_exact=True)
    assert a.rows_in == b.rows_in


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=record_sets())
def test_fast_path_agrees_with_pandera(raw):
    for record in RECORDS:
        fields = RECORD_FIELDS[record]
        fast, fast_bad = parse_frame(raw.frame(record), fields, fast=True)
        ref, ref_bad = parse_frame(raw.frame(record), fields, fast=False)
        pd.testing.assert_frame_equal(fast, ref, check_exact=True)
        for f in fields:
            np.testing.assert_array_equal(fast_bad[f.name], ref_bad[f.name], err_msg=f.name)
        # The masks find the same rows as pandera on the whole frame, with the same reasons,
        # in the same order.
        masks = [(f.reason, np.flatnonzero(f.rows).tolist()) for f in contract_failures(ref, record)]
        pandera = [(reason, np.flatnonzero(rows).tolist())
                   for rows, reason in _schema_reasons(ref, record, {})]
        assert masks == pandera
        assert failing_rows(ref, record).tolist() == sorted(
            {r for _, rows in pandera for r in rows})
        assert [(reason, rows.tolist()) for rows, reason in mask_reasons(ref, record, ref_bad)] \
            == [(reason, rows.tolist()) for rows, reason in _schema_reasons(ref, record, ref_bad)]
    ref_v = validate_records(raw, fast=False)
    fast_v = validate_records(raw)
    _assert_same(fast_v, ref_v)
    _assert_same(validate_records(raw, confirm=False), ref_v)
    for record, n_in in fast_v.rows_in.items():
        assert n_in == len(getattr(fast_v, record)) + len(fast_v.quarantine[record])


def test_synthetic_cohort_fast_equals_reference(tmp_path: Path):
    from synthetic.__main__ import main as generate

    generate(["--n", "1500", "--seed", "5", "--out", str(tmp_path)])  # injects bad rows
    raw = read_records(tmp_path)
    fast = validate_records(raw)
    assert all(len(q) for q in fast.quarantine.values())
    ref = validate_records(raw, fast=False)
    _assert_same(fast, ref)
    _assert_same(validate_records(raw, confirm=False), ref)


def test_masks_cover_every_pandera_check():
    assert all(masks_cover_schema(record) for record in RECORDS)


def test_unexpected_dtype_sends_every_row_to_pandera():
    intake, _, _ = frames(2)
    typed, _ = parse_frame(intake, RECORD_FIELDS["intake"])
    assert failing_rows(typed, "intake").tolist() == []
    assert failing_rows(typed.astype({"age_years": "float64"}), "intake") is None


def test_row_reasons_keep_rule_order():
    reasons = RowReasons(4)
    reasons.add(np.array([True, False, True, False]), "a: x")
    reasons.add(np.array([2, 3]), "b: y")
    assert reasons.text().tolist() == ["a: x; ", "", "a: x; b: y; ", "b: y; "]
    assert reasons.text(np.array([3, 0])).tolist() == ["b: y; ", "a: x; "]
    with pytest.raises(ValueError, match="does not match"):
        reasons.add(np.array([True]), "c: z")
