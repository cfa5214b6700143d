"""Group commit: concurrent appends share transactions, each caller returns only once its
events are committed, a bad request fails alone, and the chain stays one verified chain."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit import AuditStore, AuditWriteError, KeyRing, PredictionEvent
from audit.canonical import canonical_json
from audit.database import writer_turn
from audit.events import (
    PREDICTION_CHAIN,
    chain_message,
    chain_message_text,
    content_from_row,
    row_from_event,
)
from audit.group_commit import GroupCommit, WriterBusy, _Job
from tests.audit_setup import installed
from tests.unit.test_audit_chain import make_event

# ------------------------------------------------------------------ GroupCommit itself


def test_callers_arriving_during_a_commit_share_the_next_one() -> None:
    started, release = threading.Event(), threading.Event()
    groups: list[list[int]] = []

    def write(items):  # noqa: ANN001, ANN202
        groups.append(list(items))
        if len(groups) == 1:
            started.set()
            release.wait(10)
        return [i * 10 for i in items]

    gc: GroupCommit[int, int] = GroupCommit(write)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(gc.submit, 0)
        assert started.wait(10)
        rest = [pool.submit(gc.submit, i) for i in range(1, 6)]
        while len(gc._pending) < 5:  # all five queued behind the running commit
            time.sleep(0.001)
        release.set()
        assert first.result() == 0 and [f.result() for f in rest] == [10, 20, 30, 40, 50]
    assert groups == [[0], [1, 2, 3, 4, 5]]
    assert gc.stats.transactions == 2 and gc.stats.largest == 5


def test_a_caller_that_will_not_wait_is_refused_while_a_group_runs() -> None:
    """`submit_now` commits its items as one group of its own when the writer is idle, else
    WriterBusy with nothing queued: the group then running never sees its items."""
    started, release = threading.Event(), threading.Event()
    seen: list[list[int]] = []

    def write(items):  # noqa: ANN001, ANN202
        seen.append(list(items))
        if items == [1]:
            started.set()
            release.wait(10)
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(write)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(group.submit, 1)
        assert started.wait(10)
        with pytest.raises(WriterBusy):
            group.submit_now([(2, 1)])
        release.set()
        assert first.result(10) == 1
    assert group.submit_now([(3, 1), (4, 1)]) == [3, 4]  # idle again: one group of its own
    assert seen == [[1], [3, 4]] and group.stats.transactions == 2


def test_callers_queued_behind_a_group_of_its_own_are_led_after_it() -> None:
    """A thread that submits while `submit_now` commits waits and is written next."""
    started, release = threading.Event(), threading.Event()
    seen: list[list[int]] = []

    def write(items):  # noqa: ANN001, ANN202
        seen.append(list(items))
        if 1 in items:
            started.set()
            release.wait(10)
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(write)
    with ThreadPoolExecutor(2) as pool:
        now = pool.submit(group.submit_now, [(1, 1)])
        assert started.wait(10)
        later = pool.submit(group.submit, 2)
        while not group._pending:  # queued behind the running group
            time.sleep(0.001)
        release.set()
        assert now.result(10) == [1] and later.result(10) == 2
    assert seen == [[1], [2]]


def test_items_of_a_group_of_its_own_that_fails_are_retried_one_at_a_time() -> None:
    """A failed group of `submit_now`: the bad item answers its error, the others commit."""
    seen: list[list[int]] = []

    def write(items):  # noqa: ANN001, ANN202
        seen.append(list(items))
        if 2 in items:
            raise ValueError("refused")
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(write)
    one, two, three = group.submit_now([(1, 1), (2, 1), (3, 1)])
    assert (one, three) == (1, 3) and isinstance(two, ValueError)
    assert seen == [[1, 2, 3], [1], [2], [3]]


def test_a_store_held_by_another_writer_leaves_the_rest_unwritten_in_order() -> None:
    """WriterBusy from the write (another process's turn): a whole group is not retried item
    by item; met during the one-at-a-time retry, it marks that item and every later one."""
    seen: list[list[int]] = []
    busy_from: list[int] = [1]

    def write(items):  # noqa: ANN001, ANN202
        seen.append(list(items))
        if items[0] >= busy_from[0]:
            raise WriterBusy("another writer holds the audit store")
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(write)
    with pytest.raises(WriterBusy):
        group.submit_now([(1, 1), (2, 1)])
    assert seen == [[1, 2]]  # no one-at-a-time retry of a held store
    seen.clear()

    def write_fails_then_busy(items):  # noqa: ANN001, ANN202
        seen.append(list(items))
        if len(items) > 1:
            raise ValueError("refused")  # the group fails: retried one at a time
        if items[0] == 2:
            raise WriterBusy("another writer holds the audit store")
        return list(items)

    group = GroupCommit(write_fails_then_busy)
    one, two, three = group.submit_now([(1, 1), (2, 1), (3, 1)])
    assert one == 1 and isinstance(two, WriterBusy) and isinstance(three, WriterBusy)
    assert seen == [[1, 2, 3], [1], [2]]  # 3 never tried
    assert group.stats.retried_alone == 2


def test_a_failing_group_is_retried_one_job_at_a_time() -> None:
    calls: list[list[str]] = []

    def write(items):  # noqa: ANN001, ANN202
        calls.append(list(items))
        if "bad" in items:
            raise AuditWriteError("duplicate")
        return [f"ok-{i}" for i in items]

    gc: GroupCommit[str, str] = GroupCommit(write)
    jobs = [_Job(x, 1) for x in ("a", "bad", "c")]
    gc._pending.extend(jobs)
    gc._busy = True
    gc._run(gc._take())
    assert calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]
    assert [j.result for j in jobs] == ["ok-a", None, "ok-c"]
    assert isinstance(jobs[1].error, AuditWriteError) and jobs[0].error is None
    assert all(j.done for j in jobs) and not gc._busy


def test_group_size_is_bounded_but_a_large_job_still_runs() -> None:
    groups: list[list[int]] = []

    def write(items):  # noqa: ANN001, ANN202
        groups.append(list(items))
        return list(items)

    gc: GroupCommit[int, int] = GroupCommit(write, max_size=10)
    jobs = [_Job(size, size) for size in (4, 5, 3, 50, 1)]
    gc._pending.extend(jobs)
    gc._busy = True
    batch = gc._take()
    while batch:  # each commit hands the lead (and the next group) to the oldest queued job
        gc._run(batch)
        leader = next((j for j in jobs if j.batch), None)
        batch = None
        if leader is not None:
            batch, leader.batch = leader.batch, None
    assert groups == [[4, 5], [3], [50], [1]]
    assert all(j.done for j in jobs) and not gc._busy


def test_every_caller_gets_its_own_result_under_contention() -> None:
    def write(items):  # noqa: ANN001, ANN202
        time.sleep(0.002)
        return [i * i for i in items]

    gc: GroupCommit[int, int] = GroupCommit(write)
    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(gc.submit, range(200))) == [i * i for i in range(200)]
    assert gc.stats.jobs == 200 and gc.stats.transactions < 200


# ------------------------------------------------------------------ the hashed message


@given(seq=st.integers(1, 10**12), prev=st.text(min_size=0, max_size=70),
       key_id=st.text(min_size=1, max_size=20),
       prob=st.floats(0, 1), shap=st.floats(-1e6, 1e6), feature=st.one_of(
           st.none(), st.floats(-1e9, 1e9), st.integers(-10**6, 10**6), st.booleans(),
           st.text(max_size=10)))
def test_message_from_content_text_is_byte_identical(seq: int, prev: str, key_id: str,
                                                     prob: float, shap: float,
                                                     feature: object) -> None:
    event = make_event(probability=prob, shap_values={"a": shap, "b": -0.0},
                       features={"x": feature, "z": 0.5})
    content = content_from_row(PREDICTION_CHAIN, row_from_event(PREDICTION_CHAIN, event))
    assert chain_message_text(PREDICTION_CHAIN, seq, key_id, prev, canonical_json(content)) \
        == chain_message(PREDICTION_CHAIN, seq, key_id, prev, content)


_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**15, 10**15),
                   st.floats(allow_nan=False, allow_infinity=False), st.just(-0.0),
                   st.text(max_size=12))


@given(features=st.dictionaries(st.text(min_size=1, max_size=8), _scalar, max_size=6),
       shap=st.dictionaries(st.text(min_size=1, max_size=8),
                            st.floats(allow_nan=False, allow_infinity=False), max_size=6),
       prob=st.floats(0, 1), base=st.floats(-50, 50), latency=st.floats(0, 1e6),
       sub=st.text(min_size=1, max_size=30), filters=st.dictionaries(
           st.text(min_size=1, max_size=5), _scalar, max_size=4))
def test_content_text_equals_the_verifiers_canonical_form(features, shap, prob, base, latency,
                                                          sub, filters) -> None:
    from audit.events import ACCESS_CHAIN, AccessEvent, content_text

    event = make_event(features=features, shap_values=shap, probability=prob, shap_base=base,
                       latency_ms=latency, caller_sub=sub)
    row = row_from_event(PREDICTION_CHAIN, event)
    assert content_text(PREDICTION_CHAIN, row) == canonical_json(
        content_from_row(PREDICTION_CHAIN, row))
    access = AccessEvent(caller_sub=sub, caller_role="auditor", action="list",
                         event_ids=["a" * 32], filters=filters)
    row = row_from_event(ACCESS_CHAIN, access)
    assert content_text(ACCESS_CHAIN, row) == canonical_json(content_from_row(ACCESS_CHAIN, row))


# ------------------------------------------------------------------ the store


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuditStore:
    s = AuditStore(installed(monkeypatch, tmp_path), audit_keys=KeyRing.single("k1", b"k" * 32),
                   patient_keys=KeyRing.single("p1", b"p" * 32))
    yield s
    s.close()


def _event(store: AuditStore, i: int, **overrides: object) -> PredictionEvent:
    return make_event(i, patient_ref=store.patient_ref(f"MRN{i}"),
                      course_ref=store.course_ref(f"C{i}"), request_id=f"req-{i}", **overrides)


def test_concurrent_requests_form_one_verified_chain_in_fewer_transactions(store) -> None:
    def request(i: int) -> list[int]:
        return [e.seq for e in store.append_many([_event(store, 10 * i + k) for k in range(3)])]

    with ThreadPoolExecutor(12) as pool:
        seqs = list(pool.map(request, range(120)))
    flat = sorted(s for job in seqs for s in job)
    assert flat == list(range(1, 361))
    assert all(job == list(range(job[0], job[0] + 3)) for job in seqs)  # a request's events
    stats = store._groups[PREDICTION_CHAIN].stats                          # stay together
    assert stats.jobs == 120 and stats.transactions < 120
    report = store.verify()
    assert report.ok, str(report)
    assert report.chains["prediction"].rows_verified == 360


def test_a_bad_request_in_a_group_fails_alone(store, monkeypatch) -> None:
    first = store.append(_event(store, 1))
    good = [_event(store, 100 + i) for i in range(4)]
    duplicate = _event(store, 2, event_id=first.event_id)  # refused by the database
    gate = threading.Event()
    original = store._write_group

    def slow_first(chain, jobs):  # noqa: ANN001, ANN202
        gate.wait(10)  # hold the writer so the others queue into one group
        return original(chain, jobs)

    monkeypatch.setattr(store._groups[PREDICTION_CHAIN], "_write",
                        lambda jobs: slow_first(PREDICTION_CHAIN, jobs))
    with ThreadPoolExecutor(6) as pool:
        blocker = pool.submit(store.append, _event(store, 50))
        time.sleep(0.05)
        futures = [pool.submit(store.append, e) for e in good]
        bad = pool.submit(store.append, duplicate)
        while len(store._groups[PREDICTION_CHAIN]._pending) < 5:
            time.sleep(0.001)
        gate.set()
        blocker.result()
        stored = [f.result() for f in futures]
        with pytest.raises(AuditWriteError) as info:
            bad.result()
    assert "MRN" not in str(info.value) and first.event_id not in str(info.value)
    assert {s.event_id for s in stored} == {e.event_id for e in good}
    assert store.head()[0] == 6
    assert store.verify().ok


def test_unserialisable_event_fails_before_joining_a_group(store) -> None:
    bad = _event(store, 3).model_copy(update={"shap_values": {"a": float("nan")}})
    with pytest.raises(AuditWriteError, match="not serialisable"):
        store.append(bad)
    assert store._groups[PREDICTION_CHAIN].stats.jobs == 0
    assert store.head()[0] == 0


def test_a_write_that_will_not_wait_leaves_a_held_store_untouched(store) -> None:
    """Another writer holding SQLite's writer lock file (another worker, a batch job):
    `append_rows_now` raises WriterBusy at once and writes nothing; once the lock is free it
    writes, and the chain verifies."""
    from audit.prediction_rows import PredictionColumns

    rows = PredictionColumns.from_events([_event(store, 1)])
    # The lock is let go before the pool is joined, so a write that waited fails the test
    # (a timeout) instead of hanging it.
    with ThreadPoolExecutor(1) as pool, writer_turn(store.url):  # held: another writer
        attempt = pool.submit(store.append_rows_now, [rows])
        with pytest.raises(WriterBusy):
            attempt.result(timeout=5)
        assert store.head()[0] == 0
    (written,) = store.append_rows_now([rows])
    assert list(written.seqs()) == [1]
    assert store.head()[0] == 1 and store.verify().ok


def test_batches_written_now_share_one_transaction_and_a_bad_one_fails_alone(
        store, monkeypatch) -> None:
    """`append_rows_now` of three batches: one transaction; one of them the database
    refuses: it alone answers AuditWriteError, the others are written and chained."""
    from audit.prediction_rows import PredictionColumns

    batches = [PredictionColumns.from_events([_event(store, i)]) for i in range(3)]
    real = store._insert

    def refusing_the_second(cursor, chain, written):  # noqa: ANN001, ANN202
        if any(w.rows.event_id[0] == batches[1].event_id[0] for w in written):
            raise sqlite3.IntegrityError("refused")
        return real(cursor, chain, written)

    monkeypatch.setattr(store, "_insert", refusing_the_second)
    first, second, third = store.append_rows_now(batches)
    assert isinstance(second, AuditWriteError)
    assert (list(first.seqs()), list(third.seqs())) == ([1], [2])
    monkeypatch.undo()
    stats = store._groups[PREDICTION_CHAIN].stats
    before = stats.transactions
    assert [list(w.seqs()) for w in store.append_rows_now(
        [PredictionColumns.from_events([_event(store, i)]) for i in (4, 5)])] == [[3], [4]]
    assert stats.transactions == before + 1 and store.verify().ok
