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
    """``candidate`` with the next rung turned on; None when nothing is left (or the backend uses no GPU).

    The plan's description of the layout (planner/layouts.py: ``offload``, ``weights_dtype``,
    ``vae_dtype``) is changed with it, so the manifest records what the worker ran.
    """
    spec = SPECS.get(backend)
    if spec is None or not spec.needs_gpu:
        return None
    for rung in RUNGS:
        if not candidate.get(rung):
            return {**candidate, rung: True, **_described(rung, candidate)}
    return None


def _described(rung: str, candidate: dict) -> dict:
    """The layout fields that say what ``rung`` turns on, for a candidate that carries them."""
    if rung == "group_offload" and "offload" in candidate:
        return {"offload": "group"}  # group offloading takes the place of the expert swap (backends/diffusion.py)
    if rung == "vae_bf16" and "vae_dtype" in candidate:
        return {"vae_dtype": "bf16"}
    if rung == "fp8_storage" and candidate.get("weights_dtype") == "bf16":
        return {"weights_dtype": "fp8"}  # quantised files keep their format's name
    return {}
