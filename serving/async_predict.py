"""The /score and /explain path on the event loop: score there, and write the audit there too
unless the write would wait for another writer; then wait for it in a thread.

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
SQLite store writes on the loop when no other writer holds the store (no group of this
worker running, nobody holding SQLite's writer lock file): the loop then waits only for
its own commit. Where another writer holds it (a group in flight, another worker, a batch
job's chunk), `append_rows(wait=False)` says so at once, nothing written, and the write
goes to a thread as before, where it can wait and join the next group. PostgreSQL writes
always go to a thread: its lock and commit are round trips to the server.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from audit import WriterBusy
from features.requests import CourseRecord
from serving.pipeline import Caller, PredictionPipeline, Served

INLINE_COURSES = 4  # up to this many courses (~1 ms each) are scored on the event loop
# Threads that may wait on audit commits at once per worker: each waits on I/O, and the more
# requests wait together the more of them share one transaction.
AUDIT_WAITERS = 32


class AsyncPipeline:
    """`await predict(...)`: the same score-then-audit path as `PredictionPipeline.predict`."""

    def __init__(self, pipeline: PredictionPipeline, waiters: int = AUDIT_WAITERS) -> None:
        self.pipeline = pipeline
        # Threads start on first use, so a worker made before the loop exists is fine.
        self._threads = ThreadPoolExecutor(max_workers=waiters, thread_name_prefix="audit-wait")

    async def predict(self, courses: list[CourseRecord], caller: Caller, endpoint: str) -> Served:
        loop = asyncio.get_running_loop()
        if len(courses) <= INLINE_COURSES:
            pending = self.pipeline.score(courses, caller, endpoint)
            if self.pipeline.audit.dialect == "sqlite":
                try:
                    return self.pipeline.record(pending, wait=False)
                except WriterBusy:
                    pass  # another writer holds the store: wait in a thread (below)
        else:
            pending = await loop.run_in_executor(self._threads, self.pipeline.score, courses,
                                                 caller, endpoint)
        return await loop.run_in_executor(self._threads, self.pipeline.record, pending)

    def close(self) -> None:
        """Wait for the writes in flight (their answers wait on them), then stop the threads."""
        self._threads.shutdown(wait=True)
