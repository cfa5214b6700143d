"""Chain verification (database or archive) and the retention-archive export.

A chain is valid when its rows run seq 1..n without gaps, each row's
prev_hash is the previous row's hash, and each hash is the HMAC (under the
key named on the row) of the row's canonical content. Signed checkpoints,
read BEFORE the rows so concurrent appends cannot look like truncation,
must all verify and agree with the rows; a checkpoint beyond the head
means the newest events were cut off.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serving.audit.chain import Checkpoint, KeyRing, checkpoint_valid, hmac_hex
from serving.audit.events import (
    ACCESS_CHAIN,
    GENESIS_HASH,
    OUTCOME_CHAIN,
    PREDICTION_CHAIN,
    ChainName,
    chain_message,
    content_from_row,
    format_ts,
)

if TYPE_CHECKING:
    from serving.audit.store import AuditStore

CHAINS: tuple[ChainName, ...] = (PREDICTION_CHAIN, ACCESS_CHAIN, OUTCOME_CHAIN)
ARCHIVE_FORMAT = "relapse-risk-audit-archive/1"


@dataclass
class ChainReport:
    chain: str
    rows_verified: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    broken_seq: int | None = None
    broken_event_id: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass
class VerifyReport:
    store_id: str
    chains: dict[str, ChainReport] = field(default_factory=dict)
    checkpoints_checked: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(c.ok for c in self.chains.values())

    @property
    def first_broken_event_id(self) -> str | None:
        """Event id of the first broken row of the prediction chain, if any."""
        report = self.chains.get(PREDICTION_CHAIN)
        return report.broken_event_id if report else None

    def __str__(self) -> str:
        lines = [f"audit store {self.store_id}: {'OK' if self.ok else 'FAILED'}"]
        for c in self.chains.values():
            line = f"  chain {c.chain}: {c.rows_verified} rows verified, head seq {c.head_seq}"
            if not c.ok:
                line += (f"; BROKEN at seq {c.broken_seq} (event {c.broken_event_id}):"
                         f" {c.reason}")
            lines.append(line)
        lines.append(f"  checkpoints checked: {self.checkpoints_checked}")
        lines += [f"  PROBLEM: {p}" for p in self.problems]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def verify_chain(chain: ChainName, rows: Iterable[Mapping[str, Any]], keys: KeyRing,
                 wanted: set[int]) -> tuple[ChainReport, dict[int, str]]:
    """Walk rows in seq order; stop at the first broken one.

    `wanted` names seqs whose verified hash is returned (checkpoint positions).
    Each row maps seq, event_id, key_id, prev_hash, hash and either the table
    columns or a ready `content` dict (archives).
    """
    report = ChainReport(chain)
    hashes = {0: GENESIS_HASH} if 0 in wanted else {}
    prev = GENESIS_HASH
    iterator: Iterator[Mapping[str, Any]] = iter(rows)
    while True:
        try:
            row = next(iterator)
        except StopIteration:
            break
        except Exception as exc:  # a tampered column the driver cannot even decode
            report.broken_seq, report.reason = report.head_seq + 1, (
                f"row after seq {report.head_seq} unreadable ({type(exc).__name__})")
            break
        seq = row.get("seq")
        report.broken_seq, report.broken_event_id = seq, row.get("event_id")
        if seq != report.head_seq + 1:
            report.reason = f"sequence gap: expected seq {report.head_seq + 1}, found {seq}"
            break
        if row.get("prev_hash") != prev:
            report.reason = "previous-hash link broken (a row before it was removed or replaced)"
            break
        key = keys.get(str(row.get("key_id")))
        if key is None:
            report.reason = "row names an unknown key id"
            break
        try:
            content = row["content"] if "content" in row else content_from_row(chain, row)
            message = chain_message(chain, seq, str(row["key_id"]), prev, content)
        except (ValueError, KeyError, TypeError) as exc:
            report.reason = f"row content unreadable ({type(exc).__name__})"
            break
        if not hmac.compare_digest(hmac_hex(key, message), str(row.get("hash"))):
            report.reason = "hash mismatch: row content or hash was altered"
            break
        prev = str(row["hash"])
        report.head_seq, report.head_hash = seq, prev
        report.rows_verified += 1
        if seq in wanted:
            hashes[seq] = prev
    if report.reason is None:
        report.broken_seq = report.broken_event_id = None
    return report, hashes


def _check_checkpoints(report: VerifyReport, checkpoints: list[tuple[int, Checkpoint | None]],
                       keys: KeyRing, source: str) -> dict[str, list[tuple[int, Checkpoint]]]:
    """Signature and identity checks; returns valid checkpoints per chain."""
    valid: dict[str, list[tuple[int, Checkpoint]]] = {c: [] for c in CHAINS}
    for line, cp in checkpoints:
        report.checkpoints_checked += 1
        if cp is None:
            report.problems.append(f"{source} line {line}: checkpoint unreadable")
        elif cp.store_id != report.store_id:
            report.problems.append(f"{source} line {line}: checkpoint for another store")
        elif not checkpoint_valid(cp, keys):
            report.problems.append(f"{source} line {line}: checkpoint signature invalid")
        elif cp.chain not in valid:
            report.problems.append(f"{source} line {line}: unknown chain {cp.chain!r}")
        else:
            valid[cp.chain].append((line, cp))
    if not any(valid.values()):
        report.problems.append(f"no valid checkpoint in {source}: truncation of the newest "
                               "events cannot be ruled out")
    return valid


def _compare(report: VerifyReport, chain: ChainName, cps: list[tuple[int, Checkpoint]],
             chain_report: ChainReport, hashes: dict[int, str], source: str) -> None:
    for line, cp in cps:
        if cp.seq > chain_report.head_seq:
            if chain_report.ok:  # a broken chain is already reported at its break
                report.problems.append(
                    f"chain {chain} truncated: {source} line {line} records seq {cp.seq} "
                    f"but the chain ends at seq {chain_report.head_seq}")
        elif not hmac.compare_digest(hashes.get(cp.seq, ""), cp.head):
            report.problems.append(f"chain {chain}: row seq {cp.seq} disagrees with "
                                   f"{source} line {line}")


def _verify(store_id: str, checkpoints: list[tuple[int, Checkpoint | None]],
            rows_of: Any, keys: KeyRing, source: str) -> VerifyReport:
    report = VerifyReport(store_id)
    valid = _check_checkpoints(report, checkpoints, keys, source)
    for chain in CHAINS:
        wanted = {cp.seq for _, cp in valid[chain]}
        chain_report, hashes = verify_chain(chain, rows_of(chain), keys, wanted)
        report.chains[chain] = chain_report
        _compare(report, chain, valid[chain], chain_report, hashes, source)
    return report


def verify_store(store: AuditStore) -> VerifyReport:
    """Verify both chains of a store against its checkpoint file."""
    checkpoints = store.checkpoints.read()  # first: rows appended meanwhile stay consistent
    report = _verify(store.store_id, checkpoints, store.iter_rows, store.audit_keys,
                     str(store.checkpoints.path))
    others = sorted(p.name for p in store.checkpoint_dir.glob("*.jsonl")
                    if p != store.checkpoints.path)
    if others:
        report.warnings.append(f"checkpoint files of other store ids in {store.checkpoint_dir}: "
                               f"{', '.join(others)} (a re-created database has a new id)")
    return report


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
    final = {cp.chain: cp.seq for cp in store.checkpoint()}
    # Checkpoints written meanwhile by other writers lie beyond the exported rows.
    checkpoints = [cp for _, cp in store.checkpoints.read()
                   if cp is not None and cp.seq <= final.get(cp.chain, -1)]
    written = 0
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        header = {"type": "header", "format": ARCHIVE_FORMAT, "store_id": store.store_id,
                  "exported_at": format_ts(datetime.now(UTC)), "heads": final}
        fh.write(json.dumps(header, sort_keys=True) + "\n")
        for cp in checkpoints:
            fh.write(json.dumps({"type": "checkpoint", **cp.__dict__}, sort_keys=True) + "\n")
        for chain in CHAINS:
            for row in store.iter_rows(chain, up_to=final[chain]):
                fh.write(json.dumps(_row_json(row, chain), sort_keys=True) + "\n")
                written += 1
        fh.flush()
        os.fsync(fh.fileno())
    return written


def verify_archive(path: Path, keys: KeyRing) -> VerifyReport:
    """Verify an export file with the audit key ring (no database needed)."""
    store_id = ""
    checkpoints: list[tuple[int, Checkpoint | None]] = []
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
                    checkpoints.append((n, Checkpoint.from_dict(item)))
                elif kind == "row":
                    rows[item["chain"]].append(item)
                else:
                    bad_lines.append(n)
            except (ValueError, KeyError, TypeError, AttributeError):
                bad_lines.append(n)
    report = _verify(store_id, checkpoints, lambda c: rows[c], keys, str(path))
    report.problems += [f"{path} line {n}: unreadable" for n in bad_lines]
    return report
