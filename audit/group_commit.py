"""Group commit: concurrent appends of one process share one transaction (and one fsync).

Each request's events must be committed before its answer leaves. Committed one
transaction per request, SQLite (`synchronous=FULL`) pays one fsync per request while
holding the database's single write lock, which caps the whole service at roughly one
request per fsync. Here the first caller to find the writer idle commits alone at once;
callers arriving while a commit runs queue, and when it ends the oldest of them leads the
next transaction with all of them (no added wait). Every caller returns only after the
transaction holding its events has committed, or raises.

Each caller waits on its own event and is woken once (done, or asked to lead): a shared
condition with notify_all would wake every queued thread after every commit.

A failed group is retried one job at a time, so a request whose events cannot be written
(a duplicate event id, say) fails alone and the others still commit.

`submit_now` is the same group commit for a caller that must not block (the event loop):
it commits several items of its own as one group on its own thread, or answers WriterBusy
at once, nothing written, where a group is already running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar


class WriterBusy(RuntimeError):
    """The write would have waited for another writer; nothing was written."""


T = TypeVar("T")  # one caller's input
R = TypeVar("R")  # one caller's result


@dataclass
class _Job(Generic[T, R]):
    item: T
    size: int
    result: R | None = None
    error: BaseException | None = None
    done: bool = False
    batch: list[_Job[T, R]] | None = None  # set when this job's caller is to lead
    wake: threading.Event = field(default_factory=threading.Event)


@dataclass
class GroupStats:
    transactions: int = 0
    jobs: int = 0
    largest: int = 0
    retried_alone: int = 0


class GroupCommit(Generic[T, R]):
    """`submit(item)` runs `write([items...])` for itself and whoever queued meanwhile.

    `write` gets the queued items in arrival order and returns one result per item,
    committing them atomically (all or none). `max_size` bounds one group by the sum of
    `size` of its items (a single larger item still runs, alone).
    """

    def __init__(self, write: Callable[[Sequence[T]], list[R]], *,
                 max_size: int = 10_000) -> None:
        self._write = write
        self._max_size = max_size
        self._lock = threading.Lock()
        self._pending: list[_Job[T, R]] = []
        self._busy = False
        self.stats = GroupStats()

    def submit(self, item: T, size: int = 1) -> R:
        job: _Job[T, R] = _Job(item, size)
        with self._lock:
            self._pending.append(job)
            if not self._busy:  # the writer is idle: lead at once (the queue was empty)
                self._busy = True
                job.batch = self._take()
        if job.batch is None:
            job.wake.wait()  # until done, or handed the lead of the next group
        if not job.done:
            batch, job.batch = job.batch, None
            assert batch is not None and batch[0] is job
            self._run(batch)
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def submit_now(self, items: Sequence[tuple[T, int]]) -> list[R | BaseException]:
        """Commit `items` (item, size) as one group on this thread, now: each one's result,
        or the error that kept it out (a failed group is retried one item at a time).

        WriterBusy, nothing written, where a group of this process is running or `write`
        raises it (another process holds the store). Raised by `write` during a failed
        group's one-at-a-time retry, it is the result of that item and of every one after
        it, unwritten, so the caller can try them again in the same order."""
        jobs: list[_Job[T, R]] = [_Job(item, size) for item, size in items]
        with self._lock:
            if self._busy:
                raise WriterBusy("a write of this process is in progress")
            self._busy = True
        self._run(jobs)
        if jobs and isinstance(jobs[0].error, WriterBusy):
            raise jobs[0].error  # none written
        return [job.result if job.error is None else job.error  # type: ignore[misc]
                for job in jobs]

    def _take(self) -> list[_Job[T, R]]:
        batch: list[_Job[T, R]] = []
        size = 0
        while self._pending and (not batch or size + self._pending[0].size <= self._max_size):
            job = self._pending.pop(0)
            batch.append(job)
            size += job.size
        return batch

    def _run(self, batch: list[_Job[T, R]]) -> None:
        """Commit `batch` (led by batch[0]'s caller), then wake its callers and hand the
        lead to the oldest queued job, if any."""
        nxt: _Job[T, R] | None = None
        try:
            self._commit(batch)
            failed = next((j.error for j in batch if j.error is not None), None)
            if len(batch) > 1 and failed is not None and not isinstance(failed, WriterBusy):
                for i, job in enumerate(batch):  # the group failed: nothing was committed
                    job.error = None
                    self._commit([job])
                    self.stats.retried_alone += 1
                    if isinstance(job.error, WriterBusy):  # the rest stay unwritten, in order
                        for later in batch[i + 1:]:
                            later.error = job.error
                        break
        finally:
            with self._lock:
                for job in batch:
                    job.done = True
                self.stats.transactions += 1
                self.stats.jobs += len(batch)
                self.stats.largest = max(self.stats.largest, len(batch))
                if self._pending:
                    nxt = self._pending[0]
                    nxt.batch = self._take()
                else:
                    self._busy = False
            for job in batch[1:]:
                job.wake.set()
            if nxt is not None:
                nxt.wake.set()

    def _commit(self, batch: list[_Job[T, R]]) -> None:
        try:
            results = self._write([j.item for j in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to each waiting caller
            for job in batch:
                job.error = exc
            return
        for job, result in zip(batch, results, strict=True):
            job.result = result
