"""A worker's start-up objects, kept out of the cyclic garbage collector's walks.

A started worker holds ~300k container objects (the frameworks, the model) that stay alive
for its whole life; every full collection walked all of them, mid-request. `gc.freeze()`
(CPython's own API for this) moves them to a permanent generation that collections skip.
Same-run A/B, two servers alternating under wrk, 4 rounds: CPU per single-course /score
3.56 -> 3.25 ms at 1 client and 4.18 -> 3.68 ms at 8 (medians; bench/NOTES.md).

Frozen objects are never collected as cyclic garbage, so a model reload thaws the heap
first (`thawed`): the old model can then go like any other garbage.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_startup_heap() -> None:
    """Collect what start-up left behind, then freeze every object that is still alive."""
    gc.collect()
    gc.freeze()


@contextmanager
def thawed() -> Iterator[None]:
    """Unfreeze for the block (objects it drops become collectable), then freeze again."""
    gc.unfreeze()
    try:
        yield
    finally:
        freeze_startup_heap()
