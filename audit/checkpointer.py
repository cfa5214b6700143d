"""The background checkpoint writer: signs the heads within a second of a commit.

A commit only pokes it (setting an event costs no I/O), so signing and the
fsync of the checkpoint location never sit on the request path. It waits a
short moment to gather the commits of a burst into one record, writes only
when a head moved (the write function checks), and writes once more when
the store closes (service shutdown, end of a batch job).
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

# A burst of commits shares one record; the record lands at most about this long (plus the
# signing and fsync, a few milliseconds) after the first commit of the burst: within 1 s.
GATHER_S = 0.2


class Checkpointer:
    def __init__(self, write: Callable[[], object], *, gather_s: float = GATHER_S,
                 what: str = "audit checkpoint") -> None:
        self._write = write
        self._gather_s = gather_s
        self._what = what
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=what.replace(" ", "-"),
                                        daemon=True)
        self._thread.start()
        # A process that exits without closing its store still signs its last commits.
        atexit.register(self.close)

    def poke(self) -> None:
        self._dirty.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.wait(self._gather_s):
                return  # close() writes the final record itself
            self._dirty.clear()
            self._write_logged()

    def _write_logged(self) -> None:
        try:
            self._write()
        except Exception as exc:  # noqa: BLE001 - the events are committed; keep running
            log.error("%s not written (%s); retried after the next commit", self._what,
                      type(exc).__name__)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._stop.set()
        self._dirty.set()
        self._thread.join(timeout=10)
        self._write_logged()
