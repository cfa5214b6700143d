"""Prediction rows built column-wise are byte for byte what one PredictionEvent per course gave.

The reference is the event path the store used before (and the verifier still uses):
`PredictionEvent` -> `row_from_event` -> `content_text` -> `chain_message_text` -> HMAC,
with `canonical_json`'s pure-Python walker as the reference for every number.
"""

from __future__ import annotations

import hmac
import math
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from audit.canonical import _canon, canonical_json, fill_rows, float_texts
from audit.chain import KeyRing, Surrogates, hmac_hex
from audit.events import (
    PREDICTION_CHAIN,
    PredictionEvent,
    chain_message,
    chain_message_text,
    content_from_row,
    content_text,
    new_event_ids,
    row_from_event,
)
from audit.prediction_rows import PredictionColumns
from audit.rows import chain_hashes, in_order, prepare

KEYS = KeyRing.single("k1", b"k" * 32)
REFS = Surrogates(KeyRing.single("p1", b"p" * 32))
SHARED = dict(request_id="req-é-1", caller_sub="dr \"a\" ünïcode", caller_role="clinician",
              endpoint="/score", model_name="relapse-risk", model_version="7",
              model_sha256="ab" * 32)
THRESHOLDS = {"moderate_from": 0.2, "high_from": 0.4}


def _reference(value: float) -> str:
    out: list[str] = []
    _canon(value, out)
    return "".join(out)


# Every class of float orjson and repr might write differently: tiny, huge, subnormal,
# integral, negative zero, the edges of repr's switch to exponents.
EDGES = [0.0, -0.0, 1.0, -1.0, 1e-4, -1e-4, 9.999999999999999e-05, 1e-05, 1.5e-07, 1e-10,
         5e-324, 2.2250738585072014e-308, 1e15, 9999999999999998.0, 1e16, 1.2345e20, 1e22,
         1.7976931348623157e308, -1.7976931348623157e308, 0.1, 0.30000000000000004,
         123456789.123, 2**53, 2**53 + 2.0, -3.2e-05, 4.440892098500626e-16]


def test_float_texts_match_the_reference_at_every_edge_and_exponent() -> None:
    rng = np.random.default_rng(16)
    sweep = [m * 10.0 ** e for e in range(-323, 308) for m in rng.uniform(1, 10, 4)]
    values = np.array(EDGES + sweep + [-v for v in sweep])
    values = values[np.isfinite(values)]
    assert float_texts(values) == [_reference(v) for v in values.tolist()]
    # small arrays first look for orjson's marks in the text: the same sweep, row-sized
    for row in np.array_split(values, len(values) // 45):
        assert float_texts(row) == [_reference(v) for v in row.tolist()]
    bits = rng.integers(0, 2**64 - 1, 20_000, dtype=np.uint64).view(np.float64)
    bits = bits[np.isfinite(bits)]
    assert float_texts(bits) == [_reference(v) for v in bits.tolist()]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=50))
def test_float_texts_match_the_reference(values: list[float]) -> None:
    assert float_texts(np.array(values, dtype=np.float64)) == [canonical_json(v)
                                                                for v in values]


def test_filled_rows_are_each_rows_float_texts() -> None:
    rng = np.random.default_rng(3)
    m = rng.normal(size=(40, 7)) * 10.0 ** rng.integers(-8, 8, size=(40, 7))
    m[rng.random(m.shape) < 0.1] = -0.0
    m[rng.random(m.shape) < 0.1] = math.nan
    template = "[" + ",".join(["%s"] * 7) + "]"
    assert fill_rows(m, template, nan_as_null=True) == [
        "[" + ",".join("null" if v != v else _reference(v) for v in r.tolist()) + "]"
        for r in m]
    assert fill_rows(np.zeros((0, 3)), "%s%s%s") == []
    assert fill_rows(np.zeros((2, 0)), "{}") == ["{}", "{}"]
    assert float_texts(np.zeros(0)) == []


def test_float_texts_refuse_what_cannot_be_audited() -> None:
    assert float_texts(np.array([math.nan, -0.0]), nan_as_null=True) == ["null", "0.0"]
    for bad in ([math.nan], [math.inf], [1.0, -math.inf]):
        with pytest.raises(ValueError):
            float_texts(np.array(bad))
    with pytest.raises(ValueError):
        float_texts(np.array([math.inf]), nan_as_null=True)


def _old_events(cols: PredictionColumns, names: list[str], features: np.ndarray,
                contributions: np.ndarray, probability: np.ndarray, base: np.ndarray,
                bands: list[str], latency_ms: float) -> list[PredictionEvent]:
    """What jobs/batch_audit.py and serving/recording.py built before: one event a course
    (with the event id and time the column builder drew, so the two can be compared)."""
    out = []
    for i in range(len(cols)):
        out.append(PredictionEvent(
            event_id=cols.event_id[i], ts=cols.ts[i], **SHARED,
            patient_ref=cols.patient_ref[i], course_ref=cols.course_ref[i],
            features={n: None if math.isnan(v) else v
                      for n, v in zip(names, features[i].tolist(), strict=True)},
            probability=probability[i].item(), risk_band=bands[i], thresholds=THRESHOLDS,
            shap_values=dict(zip(names, contributions[i].tolist(), strict=True)),
            shap_base=base[i].item(), latency_ms=latency_ms))
    return out


def _assert_same_rows_and_messages(cols: PredictionColumns,
                                   events: list[PredictionEvent]) -> None:
    new_contents = cols.contents()
    new_columns = cols.columns()
    prepared = prepare(cols, KEYS.current_id, KEYS.current)
    prev = "f" * 64
    new_hashes = chain_hashes(prepared.states, prev, 41)
    for i, event in enumerate(events):
        row = row_from_event(PREDICTION_CHAIN, event)
        assert {name: new_columns[name][i] for name in row} == row
        assert [type(new_columns[name][i]) for name in row] == [type(v) for v in row.values()]
        text = content_text(PREDICTION_CHAIN, row)
        assert new_contents[i] == text
        # and what the verifier derives from the stored row (parse, walk, serialise)
        message = chain_message(PREDICTION_CHAIN, 42 + i, KEYS.current_id, prev,
                                content_from_row(PREDICTION_CHAIN, row))
        assert message == chain_message_text(PREDICTION_CHAIN, 42 + i, KEYS.current_id, prev,
                                             text)
        assert new_hashes[i] == hmac_hex(KEYS.current, message)
        prev = new_hashes[i]


NAMES = ["age_years", "zeta %s", 'quote"d', "ünïcode_ß", "back\\slash", "a", "Z", "é%%"]
FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(EDGES)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    hnp.arrays(np.float64, (n, len(NAMES)), elements=FLOATS | st.just(math.nan)),
    hnp.arrays(np.float64, (n, len(NAMES)), elements=FLOATS),
    hnp.arrays(np.float64, n, elements=st.floats(0, 1) | st.sampled_from([0.0, -0.0, 1.0])),
    hnp.arrays(np.float64, n, elements=FLOATS),
    st.lists(st.sampled_from(["low", "moderate", "high", "hïgh \"x\""]), min_size=n,
             max_size=n),
    st.floats(0, 1e6) | st.sampled_from([0.0, 1e-05, 1e20]))))
def test_rows_from_scores_are_the_event_rows_byte_for_byte(case: tuple) -> None:
    features, contributions, probability, base, bands, latency_ms = case
    n = len(bands)
    cols = PredictionColumns.from_scores(
        feature_names=NAMES, features=features, contributions=contributions,
        probability=probability, shap_base=base, risk_band=bands,
        patient_refs=REFS.patients([f"MRN{i}" for i in range(n)]),
        course_refs=REFS.courses([f"C-é{i}" for i in range(n)]), thresholds=THRESHOLDS,
        latency_ms=latency_ms, ts=datetime(2026, 11, 30, 23, 59, 59, 999999,
                                           tzinfo=UTC) + timedelta(hours=3), **SHARED)
    _assert_same_rows_and_messages(cols, _old_events(cols, NAMES, features, contributions,
                                                     probability, base, bands, latency_ms))


def test_rows_from_events_of_any_feature_type_are_the_event_rows() -> None:
    events = [PredictionEvent(
        **SHARED, patient_ref=REFS.patient(f"M{i}"), course_ref=REFS.course(f"C{i}"),
        features={"age": 41 + i, "sex": "F é", "smoker": bool(i), "prior": None,
                  "audit": -0.0, "tiny": 1e-7 * i},
        probability=0.4321, risk_band="high", thresholds={"low": 1, "high": 0.4},
        shap_values={"age": 0.1, "audit": -0.25, "tiny": 3e-05}, shap_base=-0.6,
        latency_ms=3) for i in range(3)]
    _assert_same_rows_and_messages(PredictionColumns.from_events(events), events)


def test_surrogates_in_bulk_are_the_single_ones() -> None:
    ids = ["MRN1", "é", "x" * 300]
    assert REFS.patients(ids) == [REFS.patient(i) for i in ids]
    assert REFS.courses(ids) == [REFS.course(i) for i in ids]
    assert REFS.patient("MRN1") == "p1." + hmac_hex(b"p" * 32, b"patient\x00MRN1")
    with pytest.raises(ValueError):
        REFS.patients(["ok", ""])


def test_event_ids_are_time_ordered_uuid7() -> None:
    before = int(time.time() * 1000)
    ids = new_event_ids(500)
    after = int(time.time() * 1000)
    assert len(set(ids)) == 500
    for text in ids:
        u = uuid.UUID(hex=text)
        assert (u.hex, u.version, u.variant) == (text, 7, uuid.RFC_4122)
        assert before <= int(text[:12], 16) <= after  # the first 48 bits: Unix ms
    # Made later, sorted later: the index on event_id grows at its end.
    assert sorted(ids) == ids
    assert new_event_ids(1)[0] > ids[-1]


def test_event_times_never_go_backwards_along_a_chain() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    later, earlier = t0 + timedelta(seconds=1), t0 - timedelta(seconds=1)
    assert in_order([t0, t0, later], earlier) is None
    assert in_order([t0, earlier, earlier, later], None) == [t0, t0, t0, later]
    assert in_order([earlier, earlier], t0) == [t0, t0]


def _columns(**overrides: object) -> PredictionColumns:
    args: dict = dict(feature_names=["a", "b"], features=np.array([[1.0, math.nan]]),
                      contributions=np.array([[0.5, -0.25]]), probability=np.array([0.3]),
                      shap_base=np.array([-1.0]), risk_band=["low"],
                      patient_refs=REFS.patients(["P"]), course_refs=REFS.courses(["C"]),
                      thresholds=THRESHOLDS, latency_ms=1.0, **SHARED)
    args.update(overrides)
    return PredictionColumns.from_scores(**args)


@pytest.mark.parametrize("bad", [
    {"contributions": np.array([[math.nan, 0.0]])},
    {"features": np.array([[math.inf, 0.0]])},
    {"probability": np.array([1.5])},
    {"probability": np.array([math.nan])},
    {"shap_base": np.array([math.inf])},
    {"latency_ms": -1.0},
    {"risk_band": [""]},
    {"risk_band": ["x" * 201]},
    {"patient_refs": ["MRN-raw"]},
    {"course_refs": ["p1." + "A" * 64]},
    {"model_sha256": "xyz"},
    {"caller_sub": ""},
    {"thresholds": {"a": math.nan}},
    {"features": np.array([[1.0, 2.0, 3.0]])},
])
def test_what_an_event_refuses_the_columns_refuse(bad: dict) -> None:
    _columns()  # the rest is valid
    with pytest.raises(ValueError) as info:
        _columns(**bad)
    assert "MRN-raw" not in str(info.value)


def test_stored_rows_parse_back_to_the_event_values() -> None:
    cols = _columns()
    (stored,) = cols.stored([7], "k1", ["0" * 64], ["1" * 64])
    assert stored.features == {"a": 1.0, "b": None} and stored.seq == 7
    assert stored.shap_values == orjson.loads(cols.shap_values[0])
    assert hmac.compare_digest(stored.hash, "1" * 64)
