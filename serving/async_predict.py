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
server.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from concurrent.futures import ThreadPoolExecutor

from audit import WriterBusy
from features.requests import CourseRecord
from serving.pipeline import AuditUnavailable, Caller, Pending, PredictionPipeline, Served

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
        # Small SQLite writes not yet written, oldest first, with their answers.
        self._held: collections.deque[tuple[Pending, asyncio.Future[Served]]] = (
            collections.deque())
        self._retrying: asyncio.Task[None] | None = None
        self._flush_soon = False

    async def predict(self, courses: list[CourseRecord], caller: Caller, endpoint: str) -> Served:
        loop = asyncio.get_running_loop()
        if len(courses) > INLINE_COURSES:  # scored and written in one trip to a thread
            return await loop.run_in_executor(self._threads, self.pipeline.predict, courses,
                                              caller, endpoint)
        pending = self.pipeline.score(courses, caller, endpoint)
        if self.pipeline.audit.dialect == "sqlite":
            return await self._write_on_loop(pending)
        return await loop.run_in_executor(self._threads, self.pipeline.record, pending)

    async def _write_on_loop(self, pending: Pending) -> Served:
        """Queue the write, to be written with whatever else this loop turn queues (one
        transaction for them all), then wait for it. Waiting in a thread instead cost more
        CPU than the write when the service's two workers took turns: its GIL hand-offs
        made ~54 futex calls per request against ~3 on the loop (strace, bench/NOTES.md
        session 8)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Served] = loop.create_future()
        self._held.append((pending, answer))
        if not self._flush_soon and (self._retrying is None or self._retrying.done()):
            self._flush_soon = True
            # A plain callback, not a task: it runs after the requests this turn has ready.
            loop.call_soon(self._flush)
        # A request cancelled meanwhile (client gone) no longer waits; its write still runs.
        return await answer

    def _flush(self) -> None:
        self._flush_soon = False
        if (self._retrying is None or self._retrying.done()) and not self._write_held():
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
        try:
            results = self.pipeline.record_now([pending for pending, _ in self._held])
        except WriterBusy:
            return False
        for result in results:
            if isinstance(result, WriterBusy):
                return False  # this one and those behind it: not written yet
            _, answer = self._held.popleft()
            if answer.done():  # its client went away; the write stands
                continue
            if isinstance(result, AuditUnavailable):
                answer.set_exception(result)
            else:
                answer.set_result(result)
        return True

    def close(self) -> None:
        """Write what still waits (its clients gone) and the writes in flight, then stop the
        threads."""
        if self._retrying is not None:
            self._retrying.cancel()  # called on the loop (an on_shutdown hook): not running
        while self._held:
            pending, _ = self._held.popleft()
            with contextlib.suppress(AuditUnavailable):  # logged by `record`; on to the next
                self.pipeline.record(pending)
        self._threads.shutdown(wait=True)
