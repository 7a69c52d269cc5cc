"""The memory ladder: what an out-of-memory retry turns on, one rung at a time.

The plan picks the fastest layout that its memory model says fits; a real run can still
run out (fragmentation, another process on the card, a driver that reserves more). Each
rung trades speed, then a little precision, for memory, cheapest first. The keys are the
memory-strategy keys the backends read (see backends/memory.py).
"""

from __future__ import annotations

from render_pipeline.backends.specs import SPECS

RUNGS = (
    "vae_tiling",  # exact; decoding about 1.7x slower, a quarter of its peak
    "group_offload",  # exact; blocks stream from host memory, slower denoising
    "vae_bf16",  # tiny colour differences; half the decoder's peak
    "fp8_storage",  # weights stored in 8 bits: half the weight memory, small quality loss
)


def next_memory_rung(backend: str, candidate: dict) -> dict | None:
    """``candidate`` with the next rung turned on; None when nothing is left (or the backend uses no GPU)."""
    spec = SPECS.get(backend)
    if spec is None or not spec.needs_gpu:
        return None
    for rung in RUNGS:
        if not candidate.get(rung):
            return {**candidate, rung: True}
    return None
