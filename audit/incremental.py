"""Chain checks that cost the new rows only, with a full walk at start and on a schedule.

The auditor's chain endpoint and page banner verified every row of every
chain on each call (the banner every 30 s): O(events) per page view. Here
each chain's last verified head (seq, hash) is remembered; a check re-reads
that head row (gone or changed: truncated or rewritten) and verifies only the
rows after it, with the one verifier (`audit.verify.verify_chain`). An edit
to an older row is invisible to that; the full walk (`AuditStore.verify`,
checkpoints included) finds it, and runs at first use and whenever the last
one is older than `full_every_s`.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from audit.events import GENESIS_HASH, ChainName
from audit.store import AuditStore
from audit.tables import CHAINS
from audit.verify import ChainReport, VerifyReport, verify_chain


@dataclass(frozen=True)
class ChainCheck:
    """One check's outcome: the report, whether it was a full walk, when the last full
    walk ended (wall clock) and how many rows this check read."""

    report: VerifyReport
    full: bool
    last_full_at: float
    rows_read: int = 0
    heads: dict[str, int] = field(default_factory=dict)


class IncrementalVerifier:
    def __init__(self, store: AuditStore, *, full_every_s: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.full_every_s = full_every_s
        self.clock = clock
        self._heads: dict[str, tuple[int, str, str]] = {}  # chain -> (seq, hash, ts)
        self._retired: dict[str, dict[str, int]] = {}  # chain -> key id -> last seq
        self._last_full_at: float | None = None
        self._last_full: VerifyReport | None = None
        self._failed: VerifyReport | None = None
        self._lock = threading.Lock()

    def full_due(self) -> bool:
        return self._last_full_at is None or self.clock() - self._last_full_at >= self.full_every_s

    def full(self) -> ChainCheck:
        """Walk every chain from genesis, checkpoints included; remember the heads."""
        report = self.store.verify()
        # Retired audit keys as of this walk: a row signed with one after its retirement
        # fails the incremental checks too (keys retired later: from the next full walk).
        retired = self.store.read_checkpoints().retired
        with self._lock:
            self._last_full = report
            self._failed = None
            self._last_full_at = self.clock()
            self._retired = {chain: {k: by_chain.get(chain, 0) for k, by_chain in retired.items()}
                             for chain in CHAINS}
            self._heads = {name: (c.head_seq, c.head_hash, c.head_ts)
                           for name, c in report.chains.items() if c.ok} if report.ok else {}
            rows = sum(c.rows_verified for c in report.chains.values())
            return ChainCheck(report, True, self._last_full_at, rows, self._seqs())

    def check(self) -> ChainCheck:
        """The new rows only; a full walk the first time. A failed check is remembered and
        repeated (no re-walk per call) until the next full walk, which the caller schedules
        when `full_due()`."""
        if self._last_full_at is None:
            return self.full()
        with self._lock:
            assert self._last_full_at is not None
            if self._failed is not None:
                return ChainCheck(self._failed, False, self._last_full_at, 0, self._seqs())
            if not self._heads:  # the last full walk failed
                assert self._last_full is not None
                return ChainCheck(self._last_full, False, self._last_full_at, 0, {})
            report = VerifyReport(self.store.store_id)
            rows_read = 0
            for chain in CHAINS:
                seq, head, ts = self._heads.get(chain, (0, GENESIS_HASH, ""))
                chain_report = self._head_row_intact(chain, seq, head)
                if chain_report is None:
                    chain_report, _ = verify_chain(
                        chain, self.store.iter_rows(chain, after=seq), self.store.audit_keys,
                        set(), self._retired.get(chain), start=(seq, head, ts))
                    rows_read += chain_report.rows_verified + (0 if chain_report.ok else 1)
                report.chains[chain] = chain_report
                if chain_report.ok:
                    self._heads[chain] = (chain_report.head_seq, chain_report.head_hash,
                                          chain_report.head_ts)
            report.problems += self.store.schema_problems()  # a dropped trigger: one query
            if not report.ok:
                self._failed = report  # until a full walk says otherwise
            return ChainCheck(report, False, self._last_full_at, rows_read, self._seqs())

    def _head_row_intact(self, chain: ChainName, seq: int, head: str) -> ChainReport | None:
        """None when the remembered head row is still there with its hash, else the break."""
        if seq == 0:
            return None
        rows = list(self.store.iter_rows(chain, after=seq - 1, up_to=seq))
        if rows and hmac.compare_digest(str(rows[0].get("hash")), head):
            return None
        return ChainReport(chain, head_seq=seq - 1, broken_seq=seq,
                           broken_event_id=rows[0].get("event_id") if rows else None,
                           reason=("verified row removed: the chain was truncated" if not rows
                                   else "verified row rewritten since the last check"))

    def _seqs(self) -> dict[str, int]:
        return {chain: seq for chain, (seq, _, _) in self._heads.items()}
