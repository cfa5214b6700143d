"""One BLAS thread per serving worker.

Each worker already serves requests on its own core; OpenBLAS's threads (one per core by
default) only contend with the other worker and the load, and spin while they wait. On the
shared 2 cores the out-of-distribution check of a 100-course request (a 100 x 261 by
261 x 261 product) took 17 ms wall with the default threads and 0.44 ms with one
(bench/NOTES.md, 2026-11-30).
"""

from __future__ import annotations

import numpy  # noqa: F401  (loads OpenBLAS: threadpoolctl limits only loaded libraries)
from threadpoolctl import threadpool_limits


def one_blas_thread() -> None:
    """Limit every BLAS loaded so far to one thread, from now on (not a context: it stays).
    Called once the model (and whatever BLAS it brings) is loaded."""
    threadpool_limits(limits=1, user_api="blas")
