"""Shared state of the auditor workspace: the store (opened lazily), models, chain status."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException

from audit import AuditError, AuditStore, AuditWriteError
from serving.auditor.replay import ModelCache
from serving.auth.principal import Principal

# Walking the whole chain on every page would be O(events); the banner may be this stale.
CHAIN_STATUS_TTL_S = 30.0


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    summary: str
    checked_at: float
    rows: dict[str, int]
    problems: list[str]


class Workspace:
    def __init__(self, store_factory: Callable[[], AuditStore],
                 models_dir: Path | None = None) -> None:
        self._factory = store_factory
        self._store: AuditStore | None = None
        self._lock = threading.Lock()
        self._models_dir = None if models_dir is None else Path(models_dir)
        self._models: ModelCache | None = None
        self._status: ChainStatus | None = None

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

    def chain_status(self, *, fresh: bool = False) -> ChainStatus:
        status = self._status
        if fresh or status is None or time.monotonic() - status.checked_at > CHAIN_STATUS_TTL_S:
            report = self.store.verify()
            broken = [f"chain {c.chain} broken at seq {c.broken_seq}: {c.reason}"
                      for c in report.chains.values() if not c.ok]
            alarm = self.store.checkpoint_alarm
            problems = broken + report.problems + ([f"ALARM: {alarm}"] if alarm else [])
            rows = {c.chain: c.rows_verified for c in report.chains.values()}
            ok = report.ok and not alarm  # the writer's alarm turns the banner red too
            summary = ("chain verified: " + ", ".join(f"{n} {k} rows" for k, n in rows.items())
                       if ok else f"CHAIN CHECK FAILED: {problems[0]}")
            status = ChainStatus(ok, summary, time.monotonic(), rows, problems)
            self._status = status
        return status

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
