"""Exact-path speed-ups for the diffusion transformers (issue 10).

"Exact" means the same arithmetic as diffusers as it ships, up to bf16 rounding: no
step skipping, no lower precision. Each lever here was measured on a full-size model
(docs/benchmarks.md, scripts/bench_speed.py) and is kept only where it paid.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpeedOptions:
    # Regional compilation: compile one transformer block and reuse it for all of them
    # (diffusers' compile_repeated_blocks). Fuses the fp32 norm/modulation/RoPE
    # element-wise work around the matmuls; compiles in about a minute, once per process.
    # Fusing q/k/v into one matmul was measured too: no gain over compile alone on an H100
    # and 7-10 GB more memory (diffusers keeps the unfused weights), so it is not offered.
    compile_blocks: bool = True


def apply_speedups(transformer, options: SpeedOptions) -> None:
    """Apply the chosen exact-path levers to a diffusers transformer, in place."""
    if options.compile_blocks:
        if getattr(transformer, "_repeated_blocks", None):
            transformer.compile_repeated_blocks(fullgraph=True)
        else:  # CogVideoX declares no repeated blocks; its blocks sit in transformer_blocks
            for block in transformer.transformer_blocks:
                block.compile(fullgraph=True)
