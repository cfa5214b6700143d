"""The worker's start-up freeze (serving/heap.py): frozen objects are skipped by collections,
and a thawed block lets cyclic garbage from before the freeze go (a reloaded model's)."""

from __future__ import annotations

import gc
import weakref

from serving.heap import freeze_startup_heap, thawed


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_a_thawed_block_frees_cyclic_garbage_the_freeze_kept() -> None:
    try:
        node = _Node()
        ref = weakref.ref(node)
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
        del node
        gc.collect()
        assert ref() is not None  # frozen: the collector does not look at it
        with thawed():
            pass  # what reload does around the model swap
        assert ref() is None
        assert gc.get_freeze_count() > 0  # frozen again afterwards
    finally:
        gc.unfreeze()
