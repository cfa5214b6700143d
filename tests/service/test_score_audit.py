"""Every served prediction is audited before the answer; a failed write means no score."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from bentoml.exceptions import ServiceUnavailable

from audit import AuditStore
from config import get_settings
from devtools.example_course import example_request
from serving.auth.principal import Principal
from serving.schemas import ScoreRequest


@pytest.fixture
def service(champion_dir, project_settings, tmp_path, monkeypatch):
    """The service class called directly (first rung of BentoML's testing ladder)."""
    monkeypatch.setenv("MODELS_DIR", str(project_settings.models_dir))
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    from audit import init_if_fresh
    from serving.service import RelapseRiskService

    init_if_fresh(get_settings().audit_url)  # what make serve runs before the service

    svc = RelapseRiskService()
    yield svc
    svc.audit.close()
    gc.unfreeze()  # the worker's start-up freeze would keep this test process's garbage
    get_settings.cache_clear()


def clinician_ctx(sub: str = "dr-direct") -> SimpleNamespace:
    """What the auth middleware leaves on a request: the verified principal in scope state."""
    scope = {"state": {"principal": Principal(sub, "clinician", "jti-1")}}
    return SimpleNamespace(request=SimpleNamespace(scope=scope))


def test_each_prediction_writes_one_verifiable_event(service):
    request = ScoreRequest.model_validate(example_request())
    answer = asyncio.run(service.score(request, ctx=clinician_ctx()))
    (pred,) = answer.predictions
    store: AuditStore = service.audit
    assert store.head()[0] == 1
    (summary,) = store.list_events(limit=10)
    event = store.get_event(summary.event_id)
    assert event.request_id == answer.request_id
    assert (event.caller_sub, event.caller_role) == ("dr-direct", "clinician")
    assert event.probability == pytest.approx(pred.relapse_probability_180d)
    assert event.model_sha256 == answer.model.sha256
    assert event.patient_ref == store.patient_ref("P-DEMO-1") and "P-DEMO-1" not in event.patient_ref
    assert sum(event.shap_values.values()) + event.shap_base == pytest.approx(
        __import__("math").log(pred.relapse_probability_180d / (1 - pred.relapse_probability_180d)))
    assert store.verify().ok


def test_audit_failure_answers_503_and_no_score(service, monkeypatch):
    def broken(*_a, **_k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(service.audit, "_insert", broken)  # the database refuses the rows
    with pytest.raises(ServiceUnavailable):
        asyncio.run(service.score(ScoreRequest.model_validate(example_request()),
                                  ctx=clinician_ctx()))
    assert service.audit.head()[0] == 0


def test_many_courses_are_scored_off_the_loop_and_every_one_audited(service):
    """Above INLINE_COURSES the scoring runs in a thread: same answers, one event each."""
    import copy

    from serving.async_predict import INLINE_COURSES

    one = example_request()["courses"][0]
    courses = []
    for i in range(INLINE_COURSES + 2):
        c = copy.deepcopy(one)
        c["intake"]["course_id"] = f"C-MANY-{i}"
        for s in c["sessions"]:
            s["course_id"] = f"C-MANY-{i}"
        courses.append(c)
    request = ScoreRequest.model_validate({"courses": courses})
    answer = asyncio.run(service.score(request, ctx=clinician_ctx()))
    single = asyncio.run(service.score(ScoreRequest.model_validate(example_request()),
                                       ctx=clinician_ctx()))
    assert [p.course_id for p in answer.predictions] == [c["intake"]["course_id"]
                                                        for c in courses]
    # identical courses, identical numbers, whichever thread scored them
    assert {p.relapse_probability_180d for p in answer.predictions} == {
        single.predictions[0].relapse_probability_180d}
    assert service.audit.head()[0] == len(courses) + 1
    assert service.audit.verify().ok


def test_events_failing_to_build_answer_503_and_no_score(service, monkeypatch):
    """The events are built while scoring (before the write): a refused value still fails
    closed."""
    import serving.pipeline as pipeline

    def refused(*_a, **_k):
        raise ValueError("not serialisable")

    monkeypatch.setattr(pipeline, "prediction_events", refused)
    with pytest.raises(ServiceUnavailable):
        asyncio.run(service.score(ScoreRequest.model_validate(example_request()),
                                  ctx=clinician_ctx()))
    assert service.audit.head()[0] == 0


def test_a_single_course_is_written_on_the_loop_also_when_another_writer_holds_the_store(
        service, monkeypatch):
    """SQLite, store idle: the write runs on the event loop (no hand-off to a thread). Another
    writer holding the writer lock file: the write is refused at once and tried again on the
    loop, never waiting in a thread; the answer comes once that writer is done, its event
    written."""
    calls = []
    real = service.audit.append_rows_now

    def spy(batches):
        calls.append(("now", asyncio_loop_running()))
        return real(batches)

    def waiting(rows):
        calls.append(("waiting", asyncio_loop_running()))
        return real([rows])[0]

    monkeypatch.setattr(service.audit, "append_rows_now", spy)
    monkeypatch.setattr(service.audit, "append_rows", waiting)
    request = ScoreRequest.model_validate(example_request())
    asyncio.run(service.score(request, ctx=clinician_ctx()))
    assert calls == [("now", True)]  # on the loop, not waiting
    calls.clear()
    with other_writer(service.audit.url, release_after=0.3):
        answer = asyncio.run(service.score(request, ctx=clinician_ctx()))
    assert len(calls) >= 2 and set(calls) == {("now", True)}  # refused, then again on the loop
    assert answer.predictions and service.audit.head()[0] == 2 and service.audit.verify().ok


def test_requests_ready_in_one_loop_turn_share_one_transaction(service, monkeypatch):
    """Three requests scored in the same turn of the event loop: one append of their three
    events (one commit), in the order they came, each answered with its own score."""
    calls = []
    real = service.audit.append_rows_now

    def spy(batches):
        calls.append([sub for rows in batches for sub in rows.caller_sub])
        return real(batches)

    monkeypatch.setattr(service.audit, "append_rows_now", spy)  # one call: one transaction
    request = ScoreRequest.model_validate(example_request())

    async def three() -> list[str]:
        answers = await asyncio.gather(*(service.score(request, ctx=clinician_ctx(f"dr-{i}"))
                                         for i in range(3)))
        return [a.request_id for a in answers]

    sent = asyncio.run(three())
    assert calls == [["dr-0", "dr-1", "dr-2"]]
    newest_first = service.audit.list_events(limit=10)
    assert [service.audit.get_event(e.event_id).request_id
            for e in reversed(newest_first)] == sent and service.audit.verify().ok


def _course_request(course_id: str, drinks_per_week: float, audit_total: int = 28,
                    ) -> ScoreRequest:
    body = example_request()
    course = body["courses"][0]
    course["intake"]["course_id"] = course_id
    course["intake"]["drinks_per_week"] = drinks_per_week
    course["intake"]["audit_total"] = audit_total
    for s in course["sessions"]:
        s["course_id"] = course_id
    return ScoreRequest.model_validate(body)


def test_requests_ready_in_one_loop_turn_are_scored_in_one_model_call(service, monkeypatch):
    """Three single-course requests of one loop turn: one call of the scoring code with
    their three courses; each answer is its own course's, as scored alone, with its own
    request id and audit event."""
    import serving.pipeline

    requests = [_course_request(f"C-TURN-{i}", 10.0 + 60 * i, 12 + 12 * i) for i in range(3)]
    alone = [asyncio.run(service.score(r, ctx=clinician_ctx())) for r in requests]
    calls: list[list[str]] = []
    real = serving.pipeline.score_courses

    def spy(model, courses):
        calls.append([c.intake.course_id for c in courses])
        return real(model, courses)

    monkeypatch.setattr(serving.pipeline, "score_courses", spy)

    async def together() -> list:
        return await asyncio.gather(*(service.score(r, ctx=clinician_ctx(f"dr-{i}"))
                                      for i, r in enumerate(requests)))

    answers = asyncio.run(together())
    assert calls == [["C-TURN-0", "C-TURN-1", "C-TURN-2"]]
    assert len({p.relapse_probability_180d for a in alone for p in a.predictions}) == 3
    for answer, single in zip(answers, alone, strict=True):
        (pred,), (ref,) = answer.predictions, single.predictions
        assert pred.model_dump() == ref.model_dump()  # the same numbers as scored alone
    assert len({a.request_id for a in answers}) == 3
    store = service.audit
    events = [store.get_event(e.event_id) for e in store.list_events(limit=3)]
    by_request = {e.request_id: e for e in events}
    for i, answer in enumerate(answers):
        event = by_request[answer.request_id]
        assert event.caller_sub == f"dr-{i}"
        assert event.course_ref == store.course_ref(f"C-TURN-{i}")
        assert event.probability == answer.predictions[0].relapse_probability_180d
    assert store.verify().ok


def test_a_request_that_cannot_be_scored_with_others_fails_alone(service, monkeypatch):
    """The shared call fails on one request's course: that request fails, the others are
    scored one by one, answered and audited."""
    import serving.pipeline

    real = serving.pipeline.score_courses

    def failing_on_bad(model, courses):
        if any(c.intake.course_id == "C-BAD" for c in courses):
            raise RuntimeError("cannot score")
        return real(model, courses)

    monkeypatch.setattr(serving.pipeline, "score_courses", failing_on_bad)
    requests = [_course_request(cid, 40.0) for cid in ("C-OK-1", "C-BAD", "C-OK-2")]

    async def together() -> list:
        return await asyncio.gather(*(service.score(r, ctx=clinician_ctx()) for r in requests),
                                    return_exceptions=True)

    first, bad, last = asyncio.run(together())
    assert isinstance(bad, RuntimeError)
    assert [first.predictions[0].course_id, last.predictions[0].course_id] == ["C-OK-1", "C-OK-2"]
    assert service.audit.head()[0] == 2 and service.audit.verify().ok


def test_requests_that_found_the_store_held_are_written_in_arrival_order(service, monkeypatch):
    """A request arriving while an earlier one waits for the store queues behind it, even
    when the store has just become free: the chain holds them in the order they came."""
    import serving.async_predict

    # The waiting one is next tried 0.5 s on: the second arrives before that, store free.
    monkeypatch.setattr(serving.async_predict, "RETRY_FIRST_S", 0.5)
    monkeypatch.setattr(serving.async_predict, "RETRY_MAX_S", 0.5)
    request = ScoreRequest.model_validate(example_request())

    async def first_waits_then_second_comes(release: Callable[[], None]) -> list[str]:
        first = asyncio.create_task(service.score(request, ctx=clinician_ctx("dr-1")))
        await asyncio.sleep(0.1)  # scored, refused by the store, queued
        release()  # the store is free before the second request arrives
        second = asyncio.create_task(service.score(request, ctx=clinician_ctx("dr-2")))
        return [(await first).request_id, (await second).request_id]

    with other_writer(service.audit.url) as release:
        sent = asyncio.run(first_waits_then_second_comes(release))
    newest_first = service.audit.list_events(limit=10)
    assert [service.audit.get_event(e.event_id).request_id
            for e in reversed(newest_first)] == sent


def test_a_queued_write_that_fails_answers_503_and_the_next_is_still_written(
        service, monkeypatch):
    """Two requests wait for the store; once it frees, the first one's rows are refused by
    the database (so is the transaction they share): that request gets no score, and the one
    behind it is written and answered."""
    real = service.audit._insert
    freed = threading.Event()

    def failing_for_dr_fail(cursor, chain, batches):
        if freed.is_set() and any(w.rows.caller_sub[0] == "dr-fail" for w in batches):
            raise sqlite3.OperationalError("database or disk is full")
        return real(cursor, chain, batches)

    monkeypatch.setattr(service.audit, "_insert", failing_for_dr_fail)
    request = ScoreRequest.model_validate(example_request())

    async def two(release: Callable[[], None]) -> list[object]:
        tasks = [asyncio.create_task(service.score(request, ctx=clinician_ctx(sub)))
                 for sub in ("dr-fail", "dr-ok")]
        await asyncio.sleep(0.1)  # both scored and queued
        freed.set()
        release()
        return await asyncio.gather(*tasks, return_exceptions=True)

    with other_writer(service.audit.url) as release:
        failed, answered = asyncio.run(two(release))
    assert isinstance(failed, ServiceUnavailable)
    assert answered.predictions
    (event,) = service.audit.list_events(limit=10)
    assert event.caller_sub == "dr-ok" and service.audit.verify().ok


def test_requests_a_retry_found_the_store_held_for_stay_queued_in_order(service, monkeypatch):
    """A failed group's one-at-a-time retry wrote the first request and then found the store
    held (WriterBusy for it and those behind): the first is answered, the rest wait and are
    written next, in order."""
    from audit import WriterBusy

    real = service.pipeline.record_now
    calls: list[list[str]] = []

    def first_then_held(pendings):
        calls.append([p.events.caller_sub[0] for p in pendings])
        if len(calls) == 1:
            written = real(pendings[:1])
            return [*written, *(WriterBusy("held") for _ in pendings[1:])]
        return real(pendings)

    monkeypatch.setattr(service.pipeline, "record_now", first_then_held)
    request = ScoreRequest.model_validate(example_request())

    async def three() -> list[str]:
        answers = await asyncio.gather(*(service.score(request, ctx=clinician_ctx(f"dr-{i}"))
                                         for i in range(3)))
        return [a.request_id for a in answers]

    sent = asyncio.run(asyncio.wait_for(three(), 10))  # a request left unanswered fails
    assert calls == [["dr-0", "dr-1", "dr-2"], ["dr-1", "dr-2"]]
    newest_first = service.audit.list_events(limit=10)
    assert [service.audit.get_event(e.event_id).request_id
            for e in reversed(newest_first)] == sent and service.audit.verify().ok


def test_a_request_cancelled_while_it_waits_for_the_store_is_still_written(service):
    """The client went away while its write waited: the score was computed, so the event is
    still recorded (by the loop once the store frees, or by `close` at shutdown)."""
    request = ScoreRequest.model_validate(example_request())

    async def cancelled_then_written() -> int:
        task = asyncio.create_task(service.score(request, ctx=clinician_ctx()))
        await asyncio.sleep(0.1)  # scored, and waiting for the store
        task.cancel()
        for _ in range(200):
            if service.audit.head()[0]:
                break
            await asyncio.sleep(0.05)
        return service.audit.head()[0]

    with other_writer(service.audit.url, release_after=0.3):
        assert asyncio.run(cancelled_then_written()) == 1

    async def cancelled_at_shutdown() -> None:
        task = asyncio.create_task(service.score(request, ctx=clinician_ctx()))
        await asyncio.sleep(0.1)
        task.cancel()
        service.close_audit()  # the shutdown hook, on the loop: waits for the store

    with other_writer(service.audit.url, release_after=0.3):
        asyncio.run(cancelled_at_shutdown())
    with AuditStore(service.audit.url) as reopened:
        assert reopened.head()[0] == 2 and reopened.verify().ok


@contextlib.contextmanager
def other_writer(url: str, release_after: float | None = None,
                 ) -> Iterator[Callable[[], None]]:
    """Another writer holding the store's writer lock file until the block calls what it
    yields (which returns once the lock is free), or `release_after` seconds in."""
    from audit.database import writer_turn

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with writer_turn(url):
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    assert held.wait(10)

    def free() -> None:
        release.set()
        t.join(10)

    timer = threading.Timer(release_after, release.set) if release_after else None
    if timer is not None:
        timer.start()
    try:
        yield free
    finally:
        free()
        if timer is not None:
            timer.cancel()


def asyncio_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
