"""The memory ladder: what an out-of-memory retry turns on, one rung at a time.

The plan picks the fastest layout that its memory model says fits; a real run can still
run out (fragmentation, another process on the card, a driver that reserves more). Each
rung trades speed, then a little precision, for memory, cheapest first. A rung changes the
layout's own fields (shot_layout.py), so the switches the backends read, and the manifest,
say what the worker ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from render_pipeline.backends.specs import SPECS
from render_pipeline.shot_layout import MemoryStrategy, Offload, ShotLayout, VaeDtype, WeightsDtype

RUNGS: tuple[Callable[[MemoryStrategy], MemoryStrategy], ...] = (
    # exact; decoding about 1.7x slower, a quarter of its peak
    lambda memory: replace(memory, vae_tiling=True),
    # exact; blocks stream from host memory, slower denoising; takes the place of the expert swap
    lambda memory: replace(memory, offload=Offload.GROUP),
    # tiny colour differences; half the decoder's peak
    lambda memory: replace(memory, vae_dtype=VaeDtype.BF16),
    # weights stored in 8 bits: half the weight memory, small quality loss. Only bf16 weights: quantised
    # files hold theirs in about 8 bits or fewer already, and the planner never offers them fp8 storage.
    lambda memory: replace(memory, weights_dtype=WeightsDtype.FP8) if memory.weights_dtype == WeightsDtype.BF16
    else memory,
)


def next_memory_rung(backend: str, layout: ShotLayout) -> ShotLayout | None:
    """``layout`` with the next rung turned on; None when nothing is left (or the backend uses no GPU)."""
    spec = SPECS.get(backend)
    if spec is None or not spec.needs_gpu:
        return None
    for rung in RUNGS:
        lighter = rung(layout.memory)
        if lighter != layout.memory:
            return replace(layout, memory=lighter)
    return None
