"""The one chain verifier: every chain of a store (or of an archive) against the checkpoints.

A chain is valid when its rows run seq 1..n without gaps, each row's
prev_hash is the previous row's hash, each hash is the HMAC (under the key
named on the row) of the row's canonical content, event times never go
backwards, and no row after a key's retirement is signed with that key.
The signed checkpoint chain (audit.checkpoint_check), read BEFORE the rows
so concurrent appends cannot look like truncation, pins the store id and the
heads every chain must still reach: deleting any suffix, even the newest
event, replacing or re-creating the store all fail here.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from audit.canonical import format_ts
from audit.chain import KeyRing, hmac_hex
from audit.checkpoint_check import Binding, CheckpointFindings
from audit.events import GENESIS_HASH, PREDICTION_CHAIN, ChainName, chain_message, content_from_row
from audit.tables import CHAINS

RowsOf = Callable[[ChainName], Iterable[Mapping[str, Any]]]


class ChainSource(Protocol):
    """What the verifier reads from a store (the AuditStore provides it)."""

    store_id: str

    @property
    def audit_keys(self) -> KeyRing: ...
    def iter_rows(self, chain: ChainName) -> Iterator[dict[str, Any]]: ...
    def read_checkpoints(self) -> CheckpointFindings: ...
    def schema_problems(self) -> list[str]: ...
    def lookup_problems(self) -> list[str]: ...
    def lookup_notes(self) -> list[str]: ...


@dataclass
class ChainReport:
    chain: str
    rows_verified: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    head_ts: str = ""  # the head row's event time (incremental checks continue from it)
    covered_seq: int = 0  # the newest seq a checkpoint vouches for
    broken_seq: int | None = None
    broken_event_id: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def uncovered(self) -> int:
        """Newest events no checkpoint covers yet (the background writer's lag)."""
        return max(0, self.head_seq - self.covered_seq)


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
            line = (f"  chain {c.chain}: {c.rows_verified} rows verified, head seq {c.head_seq}, "
                    f"{c.uncovered} newest not yet covered by a checkpoint")
            if not c.ok:
                line += (f"; BROKEN at seq {c.broken_seq} (event {c.broken_event_id}):"
                         f" {c.reason}")
            lines.append(line)
        lines.append(f"  checkpoint records checked: {self.checkpoints_checked}")
        lines += [f"  PROBLEM: {p}" for p in self.problems]
        lines += [f"  note: {w}" for w in self.warnings]
        return "\n".join(lines)


def _ts_text(row: Mapping[str, Any]) -> str:
    ts = row["content"]["ts"] if "content" in row else row["ts"]
    return ts if isinstance(ts, str) else format_ts(ts)


def verify_chain(chain: ChainName, rows: Iterable[Mapping[str, Any]], keys: KeyRing,
                 wanted: set[int], retired: Mapping[str, int] | None = None,
                 start: tuple[int, str, str] = (0, GENESIS_HASH, ""),
                 ) -> tuple[ChainReport, dict[int, str]]:
    """Walk rows in seq order; stop at the first broken one.

    `wanted` names seqs whose verified hash is returned (checkpoint positions);
    `retired` maps an audit key id to the last seq it may sign. Each row maps
    seq, event_id, key_id, prev_hash, hash and either the table columns or a
    ready `content` dict (archives). `start`: the (seq, hash, ts) of an already
    verified head to continue from (audit/incremental.py); rows_verified then
    counts the new rows only.
    """
    report = ChainReport(chain, head_seq=start[0], head_hash=start[1], head_ts=start[2])
    retired = retired or {}
    hashes = {0: GENESIS_HASH} if 0 in wanted else {}
    prev, prev_ts = start[1], start[2]
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
        report.reason = _row_problem(chain, row, report.head_seq, prev, prev_ts, keys, retired)
        if report.reason is not None:
            break
        prev, prev_ts = str(row["hash"]), _ts_text(row)
        report.head_seq, report.head_hash, report.head_ts = int(row["seq"]), prev, prev_ts
        report.rows_verified += 1
        if report.head_seq in wanted:
            hashes[report.head_seq] = prev
    if report.reason is None:
        report.broken_seq = report.broken_event_id = None
    return report, hashes


def _row_problem(chain: ChainName, row: Mapping[str, Any], head_seq: int, prev: str,
                 prev_ts: str, keys: KeyRing, retired: Mapping[str, int]) -> str | None:
    """Why this row breaks the chain, or None."""
    seq = row.get("seq")
    if seq != head_seq + 1:
        return f"sequence gap: expected seq {head_seq + 1}, found {seq}"
    if row.get("prev_hash") != prev:
        return "previous-hash link broken (a row before it was removed or replaced)"
    key_id = str(row.get("key_id"))
    key = keys.get(key_id)
    if key is None:
        return "row names an unknown key id"
    if key_id in retired and seq > retired[key_id]:
        return (f"row signed with audit key {key_id} after its retirement "
                f"(retired at seq {retired[key_id]})")
    try:
        content = row["content"] if "content" in row else content_from_row(chain, row)
        message = chain_message(chain, seq, key_id, prev, content)
        ts = _ts_text(row)
    except (ValueError, KeyError, TypeError) as exc:
        return f"row content unreadable ({type(exc).__name__})"
    if not hmac.compare_digest(hmac_hex(key, message), str(row.get("hash"))):
        return "hash mismatch: row content or hash was altered"
    if ts < prev_ts:  # fixed-width UTC text: string order is time order
        return "event time goes backwards along the chain"
    return None


def _compare(report: VerifyReport, chain: ChainName, bindings: list[Binding],
             chain_report: ChainReport, hashes: dict[int, str]) -> None:
    for b in bindings:
        if b.seq > chain_report.head_seq:
            if chain_report.ok:  # a broken chain is already reported at its break
                report.problems.append(
                    f"chain {chain} truncated: checkpoint record {b.n} vouches for seq {b.seq} "
                    f"but the chain ends at seq {chain_report.head_seq} (newest events deleted)")
                return
        elif not hmac.compare_digest(hashes.get(b.seq, ""), b.head):
            report.problems.append(f"chain {chain}: row seq {b.seq} disagrees with checkpoint "
                                   f"record {b.n} (store replaced or rewritten)")
            return
        else:
            chain_report.covered_seq = max(chain_report.covered_seq, b.seq)


def verify_rows(store_id: str, found: CheckpointFindings, rows_of: RowsOf,
                keys: KeyRing) -> VerifyReport:
    """Every chain's rows (from `rows_of`) against what the checkpoint chain established."""
    report = VerifyReport(store_id, checkpoints_checked=found.records)
    report.problems += found.problems
    report.warnings += found.notes
    if found.pinned_store_id is not None and found.pinned_store_id != store_id:
        report.problems.append(
            f"store replaced or re-created: the database's store id {store_id} is not the id "
            f"{found.pinned_store_id} pinned in the checkpoint chain")
    for chain in CHAINS:
        bindings = found.bindings.get(chain, [])
        retired = {k: by_chain.get(chain, 0) for k, by_chain in found.retired.items()}
        chain_report, hashes = verify_chain(chain, rows_of(chain), keys,
                                            {b.seq for b in bindings}, retired)
        report.chains[chain] = chain_report
        if found.pinned_store_id == store_id:  # another store's heads say nothing about these
            _compare(report, chain, bindings, chain_report, hashes)
    return report


def verify_store(store: ChainSource) -> VerifyReport:
    """Verify every chain of a store against the checkpoint chain and its own schema."""
    found = store.read_checkpoints()  # first: rows appended meanwhile stay consistent
    report = verify_rows(store.store_id, found, store.iter_rows, store.audit_keys)
    report.problems += store.schema_problems() + store.lookup_problems()
    report.warnings += store.lookup_notes()
    return report
