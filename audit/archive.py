"""The retention archive: a self-verifying JSON-lines export of every chain, and its check.

An export is itself an audited read; `verify_archive` needs only the audit
key ring, no database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.chain import KeyRing
from audit.checkpoint_check import findings_from_records
from audit.checkpoints import Record
from audit.events import ChainName, content_from_row, format_ts
from audit.signing import VerifyKeys
from audit.store import AuditStore
from audit.tables import CHAINS
from audit.verify import VerifyReport, verify_rows

ARCHIVE_FORMAT = "relapse-risk-audit-archive/2"


def _row_json(row: Mapping[str, Any], chain: ChainName) -> dict[str, Any]:
    return {"type": "row", "chain": chain, "seq": row["seq"], "event_id": row["event_id"],
            "key_id": row["key_id"], "prev_hash": row["prev_hash"], "hash": row["hash"],
            "content": content_from_row(chain, row)}


def export_archive(store: AuditStore, out: Path, *, sub: str, role: str = "auditor") -> int:
    """Write a self-verifying JSON-lines archive; returns the number of rows written.

    The export is itself an audited read. It signs a fresh checkpoint first and
    exports every row up to it plus all checkpoints, so a truncated or edited
    archive fails `verify_archive`. The file holds pseudonymised clinical data:
    it is created with mode 0600.
    """
    store.record_access(sub, role, "export", filters={"out": Path(out).name})
    store.checkpoint()
    with store.checkpoints.locked():  # records written meanwhile lie beyond the exported rows
        records = [r for _, r in store.checkpoints.read() if r is not None]
    final = {chain: seq for chain, (seq, _head) in records[-1].heads.items()}
    written = 0
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        header = {"type": "header", "format": ARCHIVE_FORMAT, "store_id": store.store_id,
                  "exported_at": format_ts(datetime.now(UTC)), "heads": final}
        fh.write(json.dumps(header, sort_keys=True) + "\n")
        for record in records:
            fh.write(json.dumps({"type": "checkpoint", "record": record.line()}) + "\n")
        for chain in CHAINS:
            for row in store.iter_rows(chain, up_to=final[chain]):
                fh.write(json.dumps(_row_json(row, chain), sort_keys=True) + "\n")
                written += 1
        fh.flush()
        os.fsync(fh.fileno())
    return written


def verify_archive(path: Path, keys: KeyRing, verify_keys: VerifyKeys) -> VerifyReport:
    """Verify an export file with the audit key ring and the checkpoints' public keys (no
    database needed)."""
    store_id = ""
    checkpoints: list[tuple[int, Record | None]] = []
    rows: dict[str, list[dict[str, Any]]] = {c: [] for c in CHAINS}
    bad_lines: list[int] = []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            try:
                item = json.loads(line)
                kind = item.pop("type")
                if kind == "header":
                    store_id = str(item["store_id"])
                elif kind == "checkpoint":
                    checkpoints.append((len(checkpoints) + 1, Record.parse(item["record"])))
                elif kind == "row":
                    rows[item["chain"]].append(item)
                else:
                    bad_lines.append(n)
            except (ValueError, KeyError, TypeError, AttributeError):
                bad_lines.append(n)
    found, _ = findings_from_records(checkpoints, verify_keys, path)
    report = verify_rows(store_id, found, lambda c: rows[c], keys)
    report.problems += [f"{path} line {n}: unreadable" for n in bad_lines]
    return report
