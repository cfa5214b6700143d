"""The promotion log's one format: written by training at promotion, read by the auditor pages
and `GET /model`.

`models/promotion_log.jsonl`, append-only JSON lines: who promoted which
version, when, why, and the gate results. `event` says what an entry records:
"promotion", "escalation" (a candidate awaiting `make promote`) or "rebaseline"
(a new reference version for the non-inferiority gates).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FILE_NAME = "promotion_log.jsonl"


def promotion_log_path(models_dir: Path) -> Path:
    return models_dir / FILE_NAME


def append_promotion(models_dir: Path, entry: dict[str, Any]) -> Path:
    """Append one entry (stamped with the UTC time) and fsync it; returns the log's path."""
    path = promotion_log_path(models_dir)
    record = {"time": datetime.now(UTC).isoformat(), **entry}
    with path.open("a") as fh:
        fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return path


def read_promotions(models_dir: Path) -> list[dict[str, Any]]:
    """Entries oldest first; a line that does not parse is shown as such, not dropped."""
    path = promotion_log_path(models_dir)
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:
            entries.append({"version": "?", "reason": f"line {n} unreadable"})
    return entries


def promotion_of(models_dir: Path, version: str) -> dict[str, Any] | None:
    """The newest entry promoting `version`, or None (escalations and rebaselines are logged
    too, under `event`; entries written before events existed are promotions)."""
    entries = [e for e in read_promotions(models_dir) if str(e.get("version")) == version
               and e.get("event", "promotion") == "promotion"]
    return entries[-1] if entries else None
