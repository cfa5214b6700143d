"""Reading the checkpoint chain as a verifier: what it proves about the database.

Checks the chain itself (every line parses, numbers run 1..n, each names the
digest of the one before, every signature verifies with the public keys, one
store id, latest.json agrees with the file) and derives what the rows must
satisfy: the heads each chain must still reach, the audit keys retired from
which seq on, and the losses a signed restore record acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.checkpoints import NO_RECORD, CheckpointLog, Record
from audit.signing import VerifyKeys


@dataclass(frozen=True)
class Binding:
    """Record `n` states that `chain` had `seq` rows ending in `head`."""

    n: int
    seq: int
    head: str


@dataclass
class CheckpointFindings:
    pinned_store_id: str | None = None
    records: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    # audit key id -> chain -> last seq it may sign (rows after it were written after retirement)
    retired: dict[str, dict[str, int]] = field(default_factory=dict)


def _chain_problems(where: object, pairs: list[tuple[int, Record | None]],
                    keys: VerifyKeys) -> tuple[list[Record], list[str]]:
    """Records in order, stopping at the first one that breaks the chain."""
    good: list[Record] = []
    prev = NO_RECORD
    for line, rec in pairs:
        if rec is None:
            return good, [f"checkpoint file {where} line {line} unreadable (truncated or edited)"]
        if rec.n != line or rec.prev != prev:
            return good, [f"checkpoint file {where} line {line} does not follow line {line - 1} "
                          "(a record was removed, reordered or replaced)"]
        if not rec.signed_by(keys):
            return good, [f"checkpoint file {where} line {line}: signature invalid"]
        if good and rec.store_id != good[0].store_id:
            return good, [f"checkpoint file {where} line {line} names another store id"]
        if (line == 1) != (rec.kind == "genesis"):
            return good, [f"checkpoint file {where} line {line}: genesis record out of place"]
        good.append(rec)
        prev = rec.digest
    return good, []


def _latest_problems(log: CheckpointLog, records: list[Record], keys: VerifyKeys) -> list[str]:
    latest = log.latest()
    if not log.latest_path.exists():
        return [f"{log.latest_path} missing (the newest checkpoint record was deleted)"]
    if latest is None or not latest.signed_by(keys):
        return [f"{log.latest_path} unreadable or its signature is invalid"]
    if latest.n > len(records):
        return [f"checkpoint file {log.chain_path} truncated: {log.latest_path.name} names record "
                f"{latest.n} but the chain holds {len(records)}"]
    if records[latest.n - 1].digest != latest.digest:
        return [f"{log.latest_path.name} disagrees with record {latest.n} of {log.chain_path}"]
    return []


def read_checkpoints(log: CheckpointLog, keys: VerifyKeys) -> CheckpointFindings:
    found = CheckpointFindings()
    if not log.chain_path.exists():
        found.problems.append(
            f"no checkpoint chain at {log.chain_path}: deleted, or this is not an initialised "
            "installation (make audit-init makes one only where nothing exists yet)")
        return found
    found, records = findings_from_records(log.read(), keys, log.chain_path)
    if records:
        found.problems += _latest_problems(log, records, keys)
    return found


def findings_from_records(pairs: list[tuple[int, Record | None]], keys: VerifyKeys,
                          where: object) -> tuple[CheckpointFindings, list[Record]]:
    """What a sequence of checkpoint records (a file's or an archive's) establishes."""
    found = CheckpointFindings()
    records, problems = _chain_problems(where, pairs, keys)
    found.problems += problems
    if not records:
        found.problems.append(f"checkpoint records in {where}: none valid")
        return found, records
    found.pinned_store_id = records[0].store_id
    found.records = len(records)
    _derive(found, records)
    return found, records


def _derive(found: CheckpointFindings, records: list[Record]) -> None:
    """Bindings (heads rows must match), retirements, and restores forgiving lost heads."""
    for rec in records:
        if rec.kind == "restore":
            for chain, (seq, _head) in rec.heads.items():
                kept = [b for b in found.bindings.get(chain, []) if b.seq <= seq]
                lost = len(found.bindings.get(chain, [])) - len(kept)
                found.bindings[chain] = kept
                if lost:
                    found.notes.append(
                        f"chain {chain}: restore acknowledged in record {rec.n} "
                        f"({rec.ts}, by {rec.detail.get('by', '?')}): events after seq {seq} "
                        "were lost")
        if rec.kind == "key-retired":
            key_id = str(rec.detail.get("audit_key_id"))
            found.retired[key_id] = {c: s for c, (s, _h) in rec.heads.items()}
            found.notes.append(f"audit key {key_id} retired in record {rec.n} ({rec.ts})")
        for chain, (seq, head) in rec.heads.items():
            found.bindings.setdefault(chain, []).append(Binding(rec.n, seq, head))
