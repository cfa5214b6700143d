"""Concurrent requests share one model call ("natural" batching, no added wait).

The first request to arrive while the model is idle runs alone at once; those
arriving while a call is running queue up and the next leader explains all of
them in one call. A model call has a large fixed cost (about 3-20 ms for 1 row,
little more for 32), so many clinicians scoring single courses share it.
The pipeline uses it only with the `pred_contribs` engine: the fast TreeSHAP engine's
call costs ~10 us, less than handing work between threads.
BentoML's adaptive batching was not used: it merges inputs from different
callers into one function call, losing who asked, which the audit event needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskmodel.predictor import Explained


@dataclass
class _Job:
    matrix: np.ndarray
    result: Explained | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class CoalescingStats:
    calls: int = 0
    rows: int = 0
    requests: int = 0
    largest: int = field(default=0)


class CoalescingExplainer:
    """Thread-safe wrapper of `explain(matrix) -> Explained` that merges concurrent calls."""

    def __init__(self, explain: Callable[[np.ndarray], Explained], max_rows: int = 2048) -> None:
        self._explain = explain
        self._max_rows = max_rows
        self._cond = threading.Condition()
        self._pending: list[_Job] = []
        self._busy = False
        self.stats = CoalescingStats()

    def explain(self, matrix: np.ndarray) -> Explained:
        job = _Job(matrix)
        with self._cond:
            self._pending.append(job)
        while True:
            with self._cond:
                while self._busy and not job.done:
                    self._cond.wait()
                if job.done:
                    break
                self._busy = True
                batch = self._take()
            self._run(batch)
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _take(self) -> list[_Job]:
        batch: list[_Job] = []
        rows = 0
        while self._pending and (not batch or rows + len(self._pending[0].matrix) <= self._max_rows):
            job = self._pending.pop(0)
            batch.append(job)
            rows += len(job.matrix)
        return batch

    def _run(self, batch: list[_Job]) -> None:
        try:
            stacked = batch[0].matrix if len(batch) == 1 else np.vstack([j.matrix for j in batch])
            out = self._explain(stacked)
            start = 0
            for job in batch:
                end = start + len(job.matrix)
                job.result = Explained(out.probability[start:end], out.log_odds[start:end],
                                       out.contributions[start:end], out.base_log_odds[start:end])
                start = end
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting request
            for job in batch:
                job.error = exc
        finally:
            with self._cond:
                for job in batch:
                    job.done = True
                self.stats.calls += 1
                self.stats.requests += len(batch)
                self.stats.rows += sum(len(j.matrix) for j in batch)
                self.stats.largest = max(self.stats.largest, len(batch))
                self._busy = False
                self._cond.notify_all()


class CoalescedModel:
    """A RiskModel whose `explain` is shared by concurrent requests; the rest delegates."""

    def __init__(self, model: Any, max_rows: int = 2048) -> None:
        self._model = model
        self.coalescer = CoalescingExplainer(model.explain, max_rows)

    def explain(self, matrix: np.ndarray) -> Explained:
        return self.coalescer.explain(matrix)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)
