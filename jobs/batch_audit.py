"""Audit rows of a scored chunk: the prediction rows `/score` writes, built for all its courses
at once (riskmodel.audit_rows)."""

from __future__ import annotations

import queue
import threading
from functools import partial

from audit import AuditStore, PredictionColumns
from audit.rows import Written
from jobs.batch_scoring import ScoredChunk
from riskmodel.audit_rows import prediction_rows
from riskmodel.predictor import RiskModel

BATCH_ENDPOINT = "score-batch"


def chunk_rows(store: AuditStore, model: RiskModel, chunk: ScoredChunk, *, job_id: str,
               caller_sub: str, caller_role: str, latency_ms: float) -> PredictionColumns:
    """One prediction row per course; identifiers only as keyed surrogates."""
    return prediction_rows(
        store, model, chunk.features.matrix, chunk.explained, chunk.bands.tolist(),
        patient_ids=chunk.patient_ids, course_ids=chunk.features.course_ids,
        request_id=job_id, caller_sub=caller_sub, caller_role=caller_role,
        endpoint=BATCH_ENDPOINT, latency_ms=latency_ms)


def audit_chunk(store: AuditStore, model: RiskModel, chunk: ScoredChunk, *, job_id: str,
                caller_sub: str, caller_role: str, latency_ms: float) -> Written:
    """Build, chain and commit the audit rows of one scored chunk (what the job does per
    chunk, and what bench.audit_store.measure times)."""
    return store.append_rows(chunk_rows(store, model, chunk, job_id=job_id,
                                        caller_sub=caller_sub, caller_role=caller_role,
                                        latency_ms=latency_ms))


class ChunkAuditor:
    """Writes each chunk's audit rows on its own thread, in chunk order, while the job scores
    the next chunk (the write waits on fsync and the database, the rows' build on the GIL
    only part of the time scoring does).

    At most one scored chunk waits for the writer, so memory stays at about two chunks.
    After a failed chunk nothing more is written; `close` raises its error on the job's
    thread. `join` only waits (a job failing for another reason still records how far its
    audit got).
    """

    def __init__(self, store: AuditStore, model: RiskModel, *, job_id: str, caller_sub: str,
                 caller_role: str) -> None:
        self._audit = partial(audit_chunk, store, model, job_id=job_id, caller_sub=caller_sub,
                              caller_role=caller_role)
        self._queue: queue.Queue[tuple[ScoredChunk, float] | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.events_written = 0
        self._thread = threading.Thread(target=self._run, name="audit-chunks", daemon=True)
        self._thread.start()

    def submit(self, chunk: ScoredChunk, latency_ms: float) -> None:
        """Queue a chunk (waits while the previous one is still queued)."""
        self._raise_failed()
        self._queue.put((chunk, latency_ms))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drained, never written: the job fails at close
            try:
                written = self._audit(item[0], latency_ms=item[1])
            except BaseException as exc:  # noqa: BLE001 - raised on the job's thread
                self._error = exc
                continue
            if not written.hashes:
                continue  # a chunk of quarantined rows only: no place in the chain
            if self.first_seq is None:
                self.first_seq = written.first_seq
            self.last_seq = written.last_seq
            self.events_written += len(written.hashes)

    def join(self) -> None:
        """Wait until every queued chunk is written (or refused)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def close(self) -> None:
        """Wait for every queued chunk; raise the first audit error, if any."""
        self.join()
        self._raise_failed()

    def _raise_failed(self) -> None:
        if self._error is not None:
            raise self._error
