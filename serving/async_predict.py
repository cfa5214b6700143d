"""The /score and /explain path on the event loop: score there, wait for the audit in a thread.

Why (py-spy on the live workers under wrk, bench/NOTES.md 2026-11-30): a sync BentoML API
hands every request to a thread pool; those threads and the event loop contend for the
GIL, and the thread holding the audit store's write lock waited for the GIL again after
each SQLite call, so requests waited on each other. Here a small request is scored on the
event loop itself (about a millisecond, no hand-off), and only the audit write, which
waits on the disk, goes to a thread; concurrent writes of a worker still share one
transaction (the audit store's group commit). A large request is scored in a thread too,
so the loop keeps answering the others meanwhile.
"""

from __future__ import annotations

import anyio

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
        self._waiters = waiters
        self._limiter: anyio.CapacityLimiter | None = None  # made on the worker's own loop

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._waiters)
        return self._limiter

    async def predict(self, courses: list[CourseRecord], caller: Caller, endpoint: str) -> Served:
        if len(courses) <= INLINE_COURSES:
            pending = self.pipeline.score(courses, caller, endpoint)
        else:
            pending = await anyio.to_thread.run_sync(self.pipeline.score, courses, caller,
                                                     endpoint, limiter=self.limiter)
        return await anyio.to_thread.run_sync(self.pipeline.record, pending,
                                              limiter=self.limiter)
