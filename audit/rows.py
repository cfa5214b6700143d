"""Rows on their way into a chain: their hashed content, hashed ahead of the chain's lock.

Every chain message is `before + content + after + tail` (audit.events.message_parts):
only the tail (previous hash, seq) depends on the row's place, which is known only under
the chain's lock. So the keyed hash of everything before the tail is computed first
(`prepare`, outside the lock), and the chain loop under the lock finishes each copy with
its ~80-byte tail (`chain_hashes`). The HMAC is the same as over the whole message at
once: HMAC-SHA256 is a stream over the message's bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, Self

from audit.events import ChainName, content_text, message_parts, message_tail, normalise_ts


class ChainRows(Protocol):
    """Rows of one chain, their content as the store writes and hashes it."""

    @property
    def chain(self) -> ChainName: ...
    @property
    def ts(self) -> Sequence[datetime]: ...
    def __len__(self) -> int: ...
    def contents(self) -> list[str]:
        """Each row's hashed content, canonical JSON (audit.events.content_text's form)."""
    def with_ts(self, ts: Sequence[datetime]) -> Self:
        """The same rows stamped with other event times."""
    def columns(self) -> dict[str, Sequence[Any]]:
        """Column values of the rows' content (event_id, ts, ...) in the table's order."""


@dataclass(frozen=True)
class EventRows:
    """Rows made one by one from their `audit.events.row_from_event` dicts (the chains
    written one event at a time: access, outcome, batch job)."""

    chain: ChainName
    rows: list[dict[str, Any]]

    @property
    def ts(self) -> list[datetime]:
        return [r["ts"] for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def contents(self) -> list[str]:
        return [content_text(self.chain, r) for r in self.rows]

    def with_ts(self, ts: Sequence[datetime]) -> EventRows:
        return replace(self, rows=[{**r, "ts": t} for r, t in zip(self.rows, ts, strict=True)])

    def columns(self) -> dict[str, Sequence[Any]]:
        return {name: [r[name] for r in self.rows] for name in self.rows[0]} if self.rows else {}


@dataclass(frozen=True)
class Prepared:
    """Rows with the keyed hash state of each row's message up to its tail."""

    rows: ChainRows
    key_id: str
    states: list[Any]  # hmac.HMAC, one per row


def prepare(rows: ChainRows, key_id: str, key: bytes) -> Prepared:
    before, after = message_parts(rows.chain, key_id)
    # The key's and the constant head's part of every message hashed once, copied per row.
    base = hmac.new(key, before.encode("ascii"), hashlib.sha256)
    tail = after.encode("ascii")
    states = []
    for content in rows.contents():
        state = base.copy()
        state.update(content.encode("ascii"))
        state.update(tail)
        states.append(state)
    return Prepared(rows, key_id, states)


def chain_hashes(states: Sequence[Any], prev_hash: str, seq: int) -> list[str]:
    """The hash of each row placed after (seq, prev_hash), in order: each is the next one's
    previous hash."""
    out = []
    for state in states:
        seq += 1
        h = state.copy()  # the prepared state stays reusable (a failed group is retried)
        h.update(message_tail(prev_hash, seq).encode("ascii"))
        prev_hash = h.hexdigest()
        out.append(prev_hash)
    return out


def in_order(ts: Sequence[datetime], prev_ts: datetime | None) -> list[datetime] | None:
    """Event times never go backwards along a chain: each row stamped before the chain's
    newest (a slower thread of the same instant) takes that newest time instead. None
    when no row moves."""
    out: list[datetime] = []
    moved = False
    newest = prev_ts
    last_in: datetime | None = None
    for t in ts:
        if t is last_in and out:  # a batch's rows share one time: compared once
            out.append(out[-1])
            continue
        last_in = t
        t = normalise_ts(t)
        if newest is not None and t < newest:
            t, moved = newest, True
        newest = t
        out.append(t)
    return out if moved else None


@dataclass(frozen=True)
class Written:
    """Rows as committed: their place in the chain and their links."""

    rows: ChainRows  # with the event times they were written with
    first_seq: int
    key_id: str
    prev_hashes: list[str]
    hashes: list[str]

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.hashes) - 1

    def seqs(self) -> range:
        return range(self.first_seq, self.first_seq + len(self.hashes))

    def link(self, i: int) -> dict[str, Any]:
        """Row i's chain link, and its event time as written."""
        return {"seq": self.first_seq + i, "ts": self.rows.ts[i], "key_id": self.key_id,
                "prev_hash": self.prev_hashes[i], "hash": self.hashes[i]}
