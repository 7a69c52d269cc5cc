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
    # Opt-in fast mode that CHANGES THE OUTPUT: the linear layers of the transformer blocks
    # compute in fp8 (torchao, dynamic per-row scales for activations and weights). Needs
    # a GPU with fp8 matrix units (Hopper, Ada) and the `fast` extra.
    fp8_compute: bool = False


def apply_speedups(transformer, options: SpeedOptions) -> None:
    """Apply the chosen levers to a diffusers transformer, in place."""
    if options.fp8_compute:
        quantize_blocks_to_fp8(transformer)
    if options.compile_blocks:
        if getattr(transformer, "_repeated_blocks", None):
            transformer.compile_repeated_blocks(fullgraph=True)
        else:  # CogVideoX declares no repeated blocks; its blocks sit in transformer_blocks
            for block in transformer.transformer_blocks:
                block.compile(fullgraph=True)


def quantize_blocks_to_fp8(transformer) -> None:
    """Swap the weights of every linear layer inside the repeated blocks for fp8 ones."""
    import torch
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_

    # Wan keeps its blocks in `blocks`, CogVideoX in `transformer_blocks`, HunyuanVideo in
    # `transformer_blocks` and `single_transformer_blocks`.
    block_lists = [getattr(transformer, name) for name in ("blocks", "transformer_blocks", "single_transformer_blocks")
                   if hasattr(transformer, name)]
    for block in (block for blocks in block_lists for block in blocks):
        quantize_(block, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()),
                  filter_fn=lambda module, _name: isinstance(module, torch.nn.Linear))
