"""The SQLite writer lock file queues write transactions across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from audit.database import writer_turn


def test_a_second_thread_waits_for_the_first_writer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    inside = threading.Event()
    order: list[str] = []

    def second() -> None:
        inside.wait()
        with writer_turn(url):
            order.append("second")

    t = threading.Thread(target=second)
    t.start()
    with writer_turn(url):
        inside.set()
        time.sleep(0.3)  # the second thread is blocked in flock meanwhile
        order.append("first")
    t.join(timeout=10)
    assert order == ["first", "second"]


def test_another_process_waits_for_our_turn(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    code = ("import sys, time\nfrom audit.database import writer_turn\n"
            "print('ready', flush=True)\nt0 = time.perf_counter()\n"
            "with writer_turn(sys.argv[1]):\n    print(time.perf_counter() - t0)\n")
    with writer_turn(url):
        proc = subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE,
                                text=True, cwd=Path(__file__).parents[2])
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # the child is blocked in flock meanwhile
    out, _ = proc.communicate(timeout=60)
    assert float(out) >= 0.4


def test_no_lock_file_for_postgresql_or_memory(tmp_path: Path) -> None:
    for url in ("postgresql+psycopg://u@127.0.0.1/test", "sqlite://", "sqlite:///:memory:"):
        with writer_turn(url):
            pass
    assert not list(tmp_path.iterdir())
