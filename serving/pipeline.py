"""One prediction path for every endpoint: score, audit (fail closed), answer.

/score, /explain, FHIR and CDS Hooks all call `PredictionPipeline.predict`,
so every prediction is written to the audit chain before it is returned.
Each request makes its own model call: BentoML's adaptive batching would merge
different callers into one call and lose who asked, which the audit event needs.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from audit import AuditStore, AuditWriteError, PredictionColumns, WriterBusy
from features.requests import CourseRecord
from riskmodel.predictor import RiskModel
from serving.recording import prediction_events
from serving.schemas import ModelInfo
from serving.scoring import Scored, score_courses

log = logging.getLogger("relapse_risk.pipeline")
MAX_CALLER_CHARS = 200  # the audit event's limit


class AuditUnavailable(RuntimeError):
    """The audit event could not be written: the prediction must not be returned."""


@dataclass(frozen=True)
class Caller:
    sub: str
    role: str


@dataclass(frozen=True)
class Ask:
    """One request to score: its courses, who asked, and where."""

    courses: list[CourseRecord]
    caller: Caller
    endpoint: str


@dataclass(frozen=True)
class Served:
    request_id: str
    model: ModelInfo
    scored: Scored
    warning: str | None  # not for patient care while the model was not trained on records


@dataclass(frozen=True)
class Pending:
    """Scored, with its audit events built, not yet written: never an answer by itself."""

    served: Served
    events: PredictionColumns


class PredictionPipeline:
    def __init__(self, model: RiskModel, audit: AuditStore) -> None:
        self.audit = audit
        self._lock = threading.Lock()
        self.use_model(model)

    def use_model(self, model: RiskModel) -> None:
        """Swap the served model (admin reload); requests in flight finish on the old one."""
        a = model.artifact
        with self._lock:
            self.model = model
            self.model_info = ModelInfo(name=a.name, version=a.version, sha256=a.sha256,
                                        training_data=model.served.training_data)

    def predict(self, courses: list[CourseRecord], caller: Caller, endpoint: str) -> Served:
        """Score and audit (fail closed): the one path of the synchronous routes."""
        return self.record(self.score(courses, caller, endpoint))

    def score(self, courses: list[CourseRecord], caller: Caller, endpoint: str) -> Pending:
        """The CPU part: features, model, explanations and the audit events."""
        (pending,) = self.score_together([Ask(courses, caller, endpoint)])
        if isinstance(pending, Exception):
            raise pending
        return pending

    def score_together(self, asks: Sequence[Ask]) -> list[Pending | Exception]:
        """`score` of several requests in one model call: each request's own answer and audit
        events (its own request id), or why it has none.

        Why together: a call's fixed cost (numpy's per-call work in the features, the
        explanation, the checks) is most of a single course's scoring; four single-course
        requests scored at once cost ~1.2x one (bench/NOTES.md, session 9). Each event's
        latency_ms is the time of the call its course was scored in. A call that fails is
        made again one request at a time, so a request that cannot be scored fails alone.
        """
        with self._lock:
            model, info = self.model, self.model_info
        started = time.perf_counter()
        try:
            scored = score_courses(model, [c for ask in asks for c in ask.courses])
        except Exception as exc:  # noqa: BLE001 - the request's failure, handed to it
            if len(asks) == 1:
                return [exc]
            return [out for ask in asks for out in self.score_together([ask])]
        latency_ms = (time.perf_counter() - started) * 1000
        out: list[Pending | Exception] = []
        start = 0
        for ask in asks:
            stop = start + len(ask.courses)
            part = scored if len(asks) == 1 else scored.part(start, stop)
            start = stop
            request_id = uuid.uuid4().hex
            try:
                events = prediction_events(self.audit, model, ask.courses, part,
                                           request_id=request_id,
                                           caller_sub=ask.caller.sub[:MAX_CALLER_CHARS],
                                           caller_role=ask.caller.role, endpoint=ask.endpoint,
                                           latency_ms=latency_ms)
            except ValueError as exc:
                log.error("audit event refused (%s): no score returned", type(exc).__name__)
                out.append(AuditUnavailable("audit record could not be written; no score "
                                            "returned"))
                continue
            out.append(Pending(Served(request_id, info, part, model.served.care_warning),
                               events))
        return out

    def record(self, pending: Pending) -> Served:
        """The waiting part: the events durable before the answer leaves (fail closed)."""
        try:
            # append_rows, not append_many: the stored rows handed back as objects would
            # cost a 100-course request ~3 ms to build, and nothing here reads them.
            self.audit.append_rows(pending.events)
        except (AuditWriteError, ValueError) as exc:
            raise _unavailable(exc) from None
        return pending.served

    def record_now(self, pendings: Sequence[Pending],
                   ) -> list[Served | AuditUnavailable | WriterBusy]:
        """`record` of several requests in one transaction without waiting for another
        writer (`AuditStore.append_rows_now`): each one's answer, AuditUnavailable (its
        events could not be written), or WriterBusy (not written yet: try it again).
        Raises WriterBusy, nothing written, where another writer holds the store."""
        written = self.audit.append_rows_now([p.events for p in pendings])
        return [_unavailable(result) if isinstance(result, AuditWriteError) else
                result if isinstance(result, WriterBusy) else pending.served
                for pending, result in zip(pendings, written, strict=True)]


def _unavailable(exc: Exception) -> AuditUnavailable:
    log.error("audit write failed (%s): no score returned", type(exc).__name__)
    return AuditUnavailable("audit record could not be written; no score returned")
