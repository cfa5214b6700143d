"""Shared state of the auditor workspace: the store (opened lazily), models, chain status."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException

from audit import AuditError, AuditStore, AuditWriteError
from audit.incremental import ChainCheck, IncrementalVerifier
from serving.auditor.replay import ModelCache
from serving.auth.principal import Principal

# The banner's check (new rows only, audit/incremental.py) may be this stale.
CHAIN_STATUS_TTL_S = 30.0
FULL_WALK_EVERY_S = 3600.0  # every row of every chain, checkpoints included


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    summary: str
    checked_at: float
    rows: dict[str, int]  # head seq of each chain verified so far
    problems: list[str]
    last_full_walk: str = ""  # when the last full walk ended (UTC, ISO 8601)
    rows_read: int = 0  # rows this check read


class Workspace:
    def __init__(self, store_factory: Callable[[], AuditStore],
                 models_dir: Path | None = None) -> None:
        self._factory = store_factory
        self._store: AuditStore | None = None
        self._lock = threading.Lock()
        self._models_dir = None if models_dir is None else Path(models_dir)
        self._models: ModelCache | None = None
        self._status: ChainStatus | None = None
        self._verifier: IncrementalVerifier | None = None
        self._rewalk: threading.Thread | None = None

    @property
    def models_dir(self) -> Path:
        """MODELS_DIR from the settings at first use (the app is built at import time)."""
        if self._models_dir is None:
            from config import get_settings

            self._models_dir = get_settings().models_dir
        return self._models_dir

    @property
    def models(self) -> ModelCache:
        if self._models is None:
            self._models = ModelCache(self.models_dir)
        return self._models

    @property
    def store(self) -> AuditStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    try:
                        self._store = self._factory()
                    except AuditError:
                        raise HTTPException(503, "audit store unavailable") from None
        return self._store

    def record(self, who: Principal, action: str, *, event_ids: list[str] | None = None,
               filters: Mapping[str, Any] | None = None) -> None:
        """Audit an auditor read before answering it; no record, no answer (503)."""
        try:
            self.store.record_access(who.sub, who.role, action, event_ids=event_ids or [],
                                     filters={k: v for k, v in (filters or {}).items()
                                              if v is not None})
        except AuditWriteError:
            raise HTTPException(503, "access record could not be written; nothing shown") from None

    @property
    def verifier(self) -> IncrementalVerifier:
        if self._verifier is None:
            store = self.store  # outside the lock: opening the store takes it too
            with self._lock:
                if self._verifier is None:
                    self._verifier = IncrementalVerifier(store, full_every_s=FULL_WALK_EVERY_S)
        return self._verifier

    def _schedule_full_walk(self) -> None:
        """A due full walk runs in the background; pages keep the incremental answer."""
        if self._rewalk is not None and self._rewalk.is_alive():
            return
        self._rewalk = threading.Thread(target=self.verifier.full, name="audit-full-walk",
                                        daemon=True)
        self._rewalk.start()

    def chain_status(self, *, fresh: bool = False) -> ChainStatus:
        status = self._status
        if fresh or status is None or time.monotonic() - status.checked_at > CHAIN_STATUS_TTL_S:
            verifier = self.verifier
            if verifier.full_due() and status is not None:
                self._schedule_full_walk()  # the first check (at start) is the full walk itself
            status = _status_of(verifier.check(), self.store.checkpoint_alarm)
            self._status = status
        return status

    def close(self) -> None:
        if self._rewalk is not None:
            self._rewalk.join(timeout=60)
        if self._store is not None:
            self._store.close()


def _status_of(check: ChainCheck, alarm: str | None) -> ChainStatus:
    report = check.report
    broken = [f"chain {c.chain} broken at seq {c.broken_seq}: {c.reason}"
              for c in report.chains.values() if not c.ok]
    problems = broken + report.problems + ([f"ALARM: {alarm}"] if alarm else [])
    ok = report.ok and not alarm  # the checkpoint writer's alarm turns the banner red too
    rows = {c.chain: c.head_seq for c in report.chains.values()}
    full_at = dt.datetime.fromtimestamp(check.last_full_at, dt.UTC).isoformat(timespec="seconds")
    summary = ("chain verified: " + ", ".join(f"{n} {k} rows" for k, n in rows.items())
               + f"; last full walk {full_at}" if ok
               else f"CHAIN CHECK FAILED: {problems[0]}")
    return ChainStatus(ok, summary, time.monotonic(), rows, problems, full_at, check.rows_read)
