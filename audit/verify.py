"""The one chain verifier: every chain of a store (or of an archive) and its checkpoints.

A chain is valid when its rows run seq 1..n without gaps, each row's
prev_hash is the previous row's hash, and each hash is the HMAC (under the
key named on the row) of the row's canonical content. Signed checkpoints,
read BEFORE the rows so concurrent appends cannot look like truncation,
must all verify and agree with the rows; a checkpoint beyond the head
means the newest events were cut off.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from audit.chain import Checkpoint, CheckpointLog, KeyRing, checkpoint_valid, hmac_hex
from audit.events import GENESIS_HASH, PREDICTION_CHAIN, ChainName, chain_message, content_from_row
from audit.tables import CHAINS

RowsOf = Callable[[ChainName], Iterable[Mapping[str, Any]]]


class ChainSource(Protocol):
    """What the verifier reads from a store (the AuditStore provides it)."""

    store_id: str
    audit_keys: KeyRing
    checkpoints: CheckpointLog
    checkpoint_dir: Path

    def iter_rows(self, chain: ChainName) -> Iterator[dict[str, Any]]: ...


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
                 wanted: set[int], start: tuple[int, str] = (0, GENESIS_HASH),
                 ) -> tuple[ChainReport, dict[int, str]]:
    """Walk rows in seq order; stop at the first broken one.

    `wanted` names seqs whose verified hash is returned (checkpoint positions).
    Each row maps seq, event_id, key_id, prev_hash, hash and either the table
    columns or a ready `content` dict (archives). `start`: the (seq, hash) of an
    already verified head to continue from (audit/incremental.py); rows_verified
    then counts the new rows only.
    """
    report = ChainReport(chain, head_seq=start[0], head_hash=start[1])
    hashes = {0: GENESIS_HASH} if 0 in wanted else {}
    prev = start[1]
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


def verify_rows(store_id: str, checkpoints: list[tuple[int, Checkpoint | None]],
                rows_of: RowsOf, keys: KeyRing, source: str) -> VerifyReport:
    """Every chain's rows (from `rows_of`) against the checkpoints of `source`."""
    report = VerifyReport(store_id)
    valid = _check_checkpoints(report, checkpoints, keys, source)
    for chain in CHAINS:
        wanted = {cp.seq for _, cp in valid[chain]}
        chain_report, hashes = verify_chain(chain, rows_of(chain), keys, wanted)
        report.chains[chain] = chain_report
        _compare(report, chain, valid[chain], chain_report, hashes, source)
    return report


def verify_store(store: ChainSource) -> VerifyReport:
    """Verify every chain of a store against its checkpoint file."""
    checkpoints = store.checkpoints.read()  # first: rows appended meanwhile stay consistent
    report = verify_rows(store.store_id, checkpoints, store.iter_rows, store.audit_keys,
                     str(store.checkpoints.path))
    others = sorted(p.name for p in store.checkpoint_dir.glob("*.jsonl")
                    if p != store.checkpoints.path)
    if others:
        report.warnings.append(f"checkpoint files of other store ids in {store.checkpoint_dir}: "
                               f"{', '.join(others)} (a re-created database has a new id)")
    return report
