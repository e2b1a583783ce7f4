"""`tune_gc`: what `luthien serve` does to the garbage collector once started."""

from __future__ import annotations

import gc

from luthien.gateway.serving import GC_GEN0_THRESHOLD, tune_gc


def test_tune_gc_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_GEN0_THRESHOLD, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
