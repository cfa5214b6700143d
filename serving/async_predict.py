"""The /score and /explain path on the event loop: a small request is scored there and, on
a SQLite store, audited there too; a large request, or a PostgreSQL store's write, waits in
a thread.

Why (py-spy on the live workers under wrk, bench/NOTES.md 2026-11-30): a sync BentoML API
hands every request to a thread pool; those threads and the event loop contend for the
GIL, and the thread holding the audit store's write lock waited for the GIL again after
each SQLite call, so requests waited on each other. Here a small request is scored on the
event loop itself (about a millisecond, no hand-off), and only the audit write, which
waits on the disk, goes to a thread; concurrent writes of a worker still share one
transaction (the audit store's group commit). A large request is scored in a thread too,
so the loop keeps answering the others meanwhile.

The threads are a `ThreadPoolExecutor`'s, reached with `loop.run_in_executor`: its work
queue is the C `SimpleQueue`, and a hand-off cost 20-40 us of CPU against 40-60 us through
`anyio.to_thread.run_sync` (whose `queue.Queue` put, capacity limiter and cancel scope are
Python; py-spy on the live workers put that hand-off at ~6 % of the loop's GIL time with
one client; bench/NOTES.md 2026-12-01). A request cancelled meanwhile (client gone) no
longer waits for its write: the write still completes in its thread, and nothing is
answered without it.

Session 7 (bench/NOTES.md): with the write itself cheaper (the driver's cursor, a warm
connection), the hand-off to that thread and back cost more than a small request's write
on the loop: ~0.3 ms of server CPU per single-course /score. So a small request on a
SQLite store writes on the loop: `append_rows_now` writes at once when no other
writer holds the store, and else says so (WriterBusy), nothing written. Session 8: the
writes of the requests one turn of the loop has ready share one transaction (a callback
queued behind them writes the queue), and where the store is held they wait on the loop
too, in arrival order, tried again after short pauses. Sent to a thread instead, as in
session 7, the two workers' turns on the store cost ~0.35 ms of server CPU per request at
8 and 32 clients in GIL hand-offs; the shared transaction saved another ~0.25 ms there.
PostgreSQL writes always go to a thread: its lock and commit are round trips to the
server. Session 9: the small requests one turn has ready are scored together too, in one
model call (`PredictionPipeline.score_together`), by the same callback that then writes
them: a call's fixed cost was most of a single course's scoring.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from audit import WriterBusy
from features.requests import CourseRecord
from serving.pipeline import Ask, AuditUnavailable, Caller, Pending, PredictionPipeline, Served

INLINE_COURSES = 4  # up to this many courses (~1 ms each) are scored on the event loop
# Threads that may wait on audit commits at once per worker: each waits on I/O, and the more
# requests wait together the more of them share one transaction.
AUDIT_WAITERS = 32
# A small write that found the store held tries again after these pauses (doubling): a
# request's transaction holds it ~0.3-0.5 ms, a batch job's chunk up to seconds.
RETRY_FIRST_S, RETRY_MAX_S = 0.0002, 0.005


class AsyncPipeline:
    """`await predict(...)`: the same score-then-audit path as `PredictionPipeline.predict`."""

    def __init__(self, pipeline: PredictionPipeline, waiters: int = AUDIT_WAITERS) -> None:
        self.pipeline = pipeline
        # Threads start on first use, so a worker made before the loop exists is fine.
        self._threads = ThreadPoolExecutor(max_workers=waiters, thread_name_prefix="audit-wait")
        # Small requests of this loop turn, not yet scored, with their answers.
        self._asked: list[tuple[Ask, asyncio.Future[Served]]] = []
        self._turn_soon = False
        # Small SQLite writes not yet written, oldest first, with their answers.
        self._held: collections.deque[tuple[Pending, asyncio.Future[Served]]] = (
            collections.deque())
        self._retrying: asyncio.Task[None] | None = None

    async def predict(self, courses: list[CourseRecord], caller: Caller, endpoint: str) -> Served:
        loop = asyncio.get_running_loop()
        if len(courses) > INLINE_COURSES:  # scored and written in one trip to a thread
            return await loop.run_in_executor(self._threads, self.pipeline.predict, courses,
                                              caller, endpoint)
        answer: asyncio.Future[Served] = loop.create_future()
        self._asked.append((Ask(courses, caller, endpoint), answer))
        if not self._turn_soon:
            self._turn_soon = True
            # A plain callback, not a task: it runs after the requests this turn has ready.
            loop.call_soon(self._turn)
        # A request cancelled meanwhile (client gone) no longer waits; it is still scored
        # and written.
        return await answer

    def _turn(self) -> None:
        """Score the small requests this loop turn has ready in one model call; then write
        their events: SQLite now, on the loop, in one transaction (behind any still waiting
        for the store), PostgreSQL each in a thread.

        Why the write waits on the loop and not in a thread: when the service's two workers
        took turns on the store, a thread's GIL hand-offs made ~54 futex calls per request
        against ~3 on the loop (strace, bench/NOTES.md session 8)."""
        self._turn_soon = False
        asked, self._asked = self._asked, []
        results: list[Pending | Exception]
        try:
            results = self.pipeline.score_together([ask for ask, _ in asked])
        except Exception as exc:  # noqa: BLE001 - a bug: answered, so no request waits forever
            results = [exc] * len(asked)
        on_loop = self.pipeline.audit.dialect == "sqlite"
        for (_, answer), result in zip(asked, results, strict=True):
            if isinstance(result, Exception):
                if not answer.done():
                    answer.set_exception(result)
            elif on_loop:
                self._held.append((result, answer))
            else:
                written = asyncio.get_running_loop().run_in_executor(
                    self._threads, self.pipeline.record, result)
                written.add_done_callback(partial(_settle, answer))
        if self._held and (self._retrying is None or self._retrying.done()) and (
                not self._write_held()):
            self._retrying = asyncio.create_task(self._retry_held())

    async def _retry_held(self) -> None:
        """Another writer holds the store: try again after short pauses, in arrival order."""
        pause = RETRY_FIRST_S
        while not self._write_held():
            await asyncio.sleep(pause)
            pause = min(2 * pause, RETRY_MAX_S)

    def _write_held(self) -> bool:
        """Write the queue, oldest first, in one transaction (the store retries a failed
        group one request at a time, so a bad request fails alone); False, with the rest
        still queued in order, when another writer holds the store."""
        if not self._held:
            return True
        results: Sequence[Served | Exception]
        try:
            results = self.pipeline.record_now([pending for pending, _ in self._held])
        except WriterBusy:
            return False
        except Exception as exc:  # noqa: BLE001 - a bug: answered, so no request waits forever
            results = [exc] * len(self._held)
        for result in results:
            if isinstance(result, WriterBusy):
                return False  # this one and those behind it: not written yet
            _, answer = self._held.popleft()
            if answer.done():  # its client went away; the write stands
                continue
            if isinstance(result, Exception):
                answer.set_exception(result)
            else:
                answer.set_result(result)
        return True

    def close(self) -> None:
        """Score and write what still waits (its clients gone) and the writes in flight,
        then stop the threads."""
        if self._asked:
            self._turn()
        if self._retrying is not None:
            self._retrying.cancel()  # called on the loop (an on_shutdown hook): not running
        while self._held:
            pending, _ = self._held.popleft()
            with contextlib.suppress(AuditUnavailable):  # logged by `record`; on to the next
                self.pipeline.record(pending)
        self._threads.shutdown(wait=True)


def _settle(answer: asyncio.Future[Served], written: asyncio.Future[Served]) -> None:
    """Hand a thread's write result to the request waiting for it, if it still waits."""
    if written.cancelled():
        return
    error = written.exception()  # retrieved even when nobody waits any more
    if answer.done():
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(written.result())
