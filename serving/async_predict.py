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
SQLite store writes on the loop: `append_rows(wait=False)` writes at once when no other
writer holds the store, and else says so (WriterBusy), nothing written. Session 8: such a
request then waits on the loop too, queued in arrival order, and one task tries the queue
again after short pauses; sent to a thread instead, as in session 7, the two workers'
turns on the store cost ~0.35 ms of server CPU per request at 8 and 32 clients in GIL
hand-offs. PostgreSQL writes always go to a thread: its lock and commit are round trips
to the server.
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
        # Small SQLite writes that found the store held, oldest first, with their answers.
        self._held: collections.deque[tuple[Pending, asyncio.Future[Served]]] = (
            collections.deque())
        self._retrying: asyncio.Task[None] | None = None

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
        """Write now when nobody holds the store and nobody of this worker waits before us;
        else queue, and one task retries the queue in order after short pauses. Waiting in
        a thread instead cost more CPU than the write when the service's two workers took
        turns: its GIL hand-offs made ~54 futex calls per request against ~3 on the loop
        (strace, bench/NOTES.md session 8)."""
        if not self._held:
            try:
                return self.pipeline.record(pending, wait=False)
            except WriterBusy:
                pass
        answer: asyncio.Future[Served] = asyncio.get_running_loop().create_future()
        self._held.append((pending, answer))
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.create_task(self._retry_held())
        # A request cancelled meanwhile (client gone) no longer waits; its write still runs.
        return await answer

    async def _retry_held(self) -> None:
        pause = RETRY_FIRST_S
        while self._held:
            pending, answer = self._held[0]
            try:
                served = self.pipeline.record(pending, wait=False)
            except WriterBusy:
                await asyncio.sleep(pause)
                pause = min(2 * pause, RETRY_MAX_S)
                continue
            except Exception as exc:  # noqa: BLE001 - this request's failure, handed to it
                self._held.popleft()
                if not answer.done():
                    answer.set_exception(exc)
                continue
            self._held.popleft()
            pause = RETRY_FIRST_S
            if not answer.done():
                answer.set_result(served)

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
