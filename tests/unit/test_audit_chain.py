"""Pure tests of the audit chain: canonical form, keyed hashes, keys, checkpoints."""

from __future__ import annotations

import json
import math
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from audit.canonical import _canon, canonical_json
from audit.chain import KeyRing, Surrogates, hmac_hex, rotate_key
from audit.checkpoints import Record, make_record
from audit.events import (
    GENESIS_HASH,
    PREDICTION_CHAIN,
    PredictionEvent,
    chain_message,
    content_from_row,
    row_from_event,
)
from audit.signing import Signer, VerifyKeys, create_signing_key
from audit.verify import verify_chain

KEYS = KeyRing.single("k1", b"k" * 32)
PATIENTS = Surrogates(KeyRing.single("p1", b"p" * 32))


def make_event(i: int = 0, **overrides: object) -> PredictionEvent:
    fields: dict[str, object] = dict(
        request_id=f"req-{i}", caller_sub="dr-a", caller_role="clinician", endpoint="/score",
        patient_ref=PATIENTS.patient(f"MRN{i}"), course_ref=PATIENTS.course(f"C{i}"),
        model_name="relapse-risk", model_version="7", model_sha256="ab" * 32,
        features={"age": 41, "audit_score": 23.5, "sex": "F", "prior_tx": None, "smoker": True},
        probability=0.4321, risk_band="high", thresholds={"low": 0.2, "high": 0.4},
        shap_values={"age": 0.1, "audit_score": -0.25}, shap_base=-0.6, latency_ms=3.25,
    )
    fields.update(overrides)
    return PredictionEvent(**fields)  # type: ignore[arg-type]


def link(rows: list[dict], event: PredictionEvent, key: KeyRing = KEYS) -> dict:
    """Append an archive-style row (content + link) to an in-memory chain."""
    seq = len(rows) + 1
    prev = rows[-1]["hash"] if rows else GENESIS_HASH
    content = content_from_row(PREDICTION_CHAIN, row_from_event(PREDICTION_CHAIN, event))
    digest = hmac_hex(key.current, chain_message(PREDICTION_CHAIN, seq, key.current_id, prev,
                                                 content))
    row = {"seq": seq, "event_id": event.event_id, "key_id": key.current_id,
           "prev_hash": prev, "hash": digest, "content": content}
    rows.append(row)
    return row


def test_canonical_json_is_sorted_compact_and_fixed_float() -> None:
    assert canonical_json({"b": 1, "a": [0.1, None, True, "é"]}) == (
        '{"a":[0.1,null,true,"\\u00e9"],"b":1}')
    assert canonical_json(1e-7) == "1e-07"
    assert canonical_json(-0.0) == canonical_json(0.0) == "0.0"
    assert canonical_json(1) != canonical_json(1.0)
    assert canonical_json({"x": [-0.0, "-0.0"], "y": -0.05}) == '{"x":[0.0,"-0.0"],"y":-0.05}'


@pytest.mark.parametrize("bad", [math.nan, math.inf, object(), {"a": [object()]}])
def test_canonical_json_refuses_ambiguous_values(bad: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(bad)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


# Properties, not timings: a first call on a busy shared CPU took 444 ms (deadline 200 ms).
@settings(deadline=None)
@given(json_values)
def test_canonical_json_survives_a_json_round_trip(value: object) -> None:
    text = canonical_json(value)
    assert canonical_json(json.loads(text)) == text


@settings(deadline=None)
@given(json_values)
def test_fast_encoder_matches_the_reference_walker(value: object) -> None:
    out: list[str] = []
    _canon(value, out)
    assert canonical_json(value) == "".join(out)


def test_hash_covers_every_content_field_and_the_link() -> None:
    event = make_event()
    content = content_from_row(PREDICTION_CHAIN, row_from_event(PREDICTION_CHAIN, event))
    base = chain_message(PREDICTION_CHAIN, 5, "k1", GENESIS_HASH, content)
    for name, value in content.items():
        changed = {**content, name: {"x": 1} if isinstance(value, dict) else "other"}
        assert chain_message(PREDICTION_CHAIN, 5, "k1", GENESIS_HASH, changed) != base, name
    assert chain_message(PREDICTION_CHAIN, 6, "k1", GENESIS_HASH, content) != base
    assert chain_message(PREDICTION_CHAIN, 5, "k2", GENESIS_HASH, content) != base
    assert chain_message(PREDICTION_CHAIN, 5, "k1", "1" * 64, content) != base
    assert chain_message("access", 5, "k1", GENESIS_HASH, content) != base


def test_event_refuses_raw_identifiers_without_echoing_them() -> None:
    with pytest.raises(ValidationError) as info:
        make_event(patient_ref="MRN-SECRET-123")
    assert "MRN-SECRET-123" not in str(info.value)
    with pytest.raises(ValidationError):
        make_event(probability=math.nan)


def test_event_accepts_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    event = make_event(probability=np.float64(0.25),
                       features={"age": np.int64(40), "x": np.float32(0.5)})
    assert type(event.features["age"]) is int and event.probability == 0.25


def test_surrogates_are_keyed_domain_separated_and_hide_the_id() -> None:
    ref = PATIENTS.patient("MRN1")
    assert ref == PATIENTS.patient("MRN1") and ref.startswith("p1.")
    assert "MRN1" not in ref
    assert PATIENTS.course("MRN1") != ref
    assert Surrogates(KeyRing.single("p2", b"q" * 32)).patient("MRN1") != ref


def test_key_file_is_generated_private_reused_and_rotated(tmp_path) -> None:
    path = tmp_path / "keys" / "audit.key"
    ring = KeyRing.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(ring.current) == 32
    assert KeyRing.load_or_create(path).current == ring.current
    assert ring.current.hex() not in repr(ring)
    new_id = rotate_key(path)
    rotated = KeyRing.load(path)
    assert rotated.current_id == new_id != ring.current_id
    assert rotated.get(ring.current_id) == ring.current


def test_checkpoint_record_signature_detects_any_change(tmp_path) -> None:
    create_signing_key(tmp_path / "sign.key", tmp_path / "verify.pub")
    signer, public = Signer.load(tmp_path / "sign.key"), VerifyKeys.load(tmp_path / "verify.pub")
    assert stat.S_IMODE((tmp_path / "sign.key").stat().st_mode) == 0o600
    assert (tmp_path / "sign.key").read_text().split()[1] not in repr(signer)
    genesis = make_record(signer, "genesis", None, "store", {"prediction": (0, "0" * 64)})
    cp = make_record(signer, "checkpoint", genesis, "store", {"prediction": (10, "a" * 64)})
    assert cp.prev == genesis.digest and cp.n == 2
    assert cp.signed_by(public) and Record.parse(cp.line()).signed_by(public)
    forged = Record.parse(cp.line().replace('"prediction":[10,', '"prediction":[9,'))
    assert not forged.signed_by(public)
    create_signing_key(tmp_path / "other.key", tmp_path / "other.pub")
    assert not cp.signed_by(VerifyKeys.load(tmp_path / "other.pub"))


def test_verify_chain_accepts_a_good_chain_and_reports_checkpoint_hashes() -> None:
    rows: list[dict] = []
    for i in range(5):
        link(rows, make_event(i))
    report, hashes = verify_chain(PREDICTION_CHAIN, rows, KEYS, {0, 3})
    assert report.ok and report.head_seq == 5
    assert hashes == {0: GENESIS_HASH, 3: rows[2]["hash"]}


def test_verify_chain_names_the_altered_row_even_if_later_hashes_are_recomputed() -> None:
    rows: list[dict] = []
    events = [make_event(i) for i in range(6)]
    for event in events:
        link(rows, event)
    rows[2]["content"]["probability"] = 0.01
    report, _ = verify_chain(PREDICTION_CHAIN, rows, KEYS, set())
    assert (report.broken_seq, report.broken_event_id) == (3, events[2].event_id)
    # An attacker without the key re-chains from the altered row on: still caught there.
    wrong = KeyRing.single("k1", b"w" * 32)
    forged = rows[:2]
    for event in events[2:]:
        link(forged, event, wrong)
    report, _ = verify_chain(PREDICTION_CHAIN, forged, KEYS, set())
    assert report.broken_event_id == events[2].event_id


def test_verify_chain_reports_gaps_and_unknown_keys() -> None:
    rows: list[dict] = []
    for i in range(4):
        link(rows, make_event(i))
    report, _ = verify_chain(PREDICTION_CHAIN, rows[:1] + rows[2:], KEYS, set())
    assert report.broken_seq == 3 and "gap" in (report.reason or "")
    report, _ = verify_chain(PREDICTION_CHAIN, rows, KeyRing.single("other", b"o" * 32), set())
    assert report.broken_seq == 1 and "unknown key" in (report.reason or "")


def test_verify_chain_refuses_a_retired_key_after_its_retirement_and_time_going_back() -> None:
    rows: list[dict] = []
    for i in range(4):
        link(rows, make_event(i))
    report, _ = verify_chain(PREDICTION_CHAIN, rows, KEYS, set(), {"k1": 2})
    assert report.broken_seq == 3 and "after its retirement" in (report.reason or "")
    assert verify_chain(PREDICTION_CHAIN, rows, KEYS, set(), {"k1": 4})[0].ok
    from datetime import UTC, datetime

    late, early = (make_event(i, ts=datetime(2030, 1, 2 - i, tzinfo=UTC)) for i in range(2))
    backwards: list[dict] = []
    link(backwards, late)
    link(backwards, early)
    report, _ = verify_chain(PREDICTION_CHAIN, backwards, KEYS, set())
    assert report.broken_seq == 2 and "time goes backwards" in (report.reason or "")



@pytest.mark.parametrize("value", [
    {"a": [1.0, -0.0], "b": -0.0}, [-0.0], -0.0, {"s": -0.0449, "t": [-0.0449, -0.0]},
    {"x": "-0.0,", "y": -0.01},
])
def test_negative_zero_tokens_fold_wherever_they_stand(value: object) -> None:
    out: list[str] = []
    _canon(value, out)
    assert canonical_json(value) == "".join(out)
    assert "-0.0," not in canonical_json(value).replace('"-0.0,"', "")
