"""FSDP2 weight sharding: each repeated block is one shard unit, then the root takes what is left."""

from __future__ import annotations

import torch
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import fully_shard

from render_pipeline.parallel.layout import LayoutError


def repeated_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The blocks both diffusers and transformers name in ``_no_split_modules`` (Wan, T5, Llama ...)."""
    names = set(getattr(model, "_no_split_modules", None) or ())
    # Innermost first: a block nested in another must be sharded before its parent claims its weights.
    blocks = [m for m in reversed(list(model.modules())) if type(m).__name__ in names]
    if not blocks:
        raise LayoutError(f"fsdp: {type(model).__name__} names no repeated blocks to shard (_no_split_modules)")
    return blocks


def shard_weights(model: torch.nn.Module, mesh: DeviceMesh) -> None:
    """Shard ``model`` over ``mesh``; each block gathers its full weights only while it runs."""
    if mesh.device_type == "cuda":
        _refuse_fp32(model)
    # Inference only. FSDP2 insists on one dtype per shard unit only for weights that train, and
    # diffusers keeps a few of each block's weights in fp32 (Wan: its modulation table and norms)
    # beside bf16 ones: with gradients on, the first forward fails ("uniform original parameter dtype").
    model.requires_grad_(False)
    for block in repeated_blocks(model):
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)


def _refuse_fp32(model: torch.nn.Module) -> None:
    # Sharding fp32 weights doubles what every GPU holds (the cause of the 57 GB-per-GPU failures
    # with the official Wan code); diffusers keeps a few small modules in fp32, which is fine.
    total = sum(p.numel() for p in model.parameters())
    fp32 = sum(p.numel() for p in model.parameters() if p.dtype == torch.float32)
    if total and fp32 > total // 2:
        raise LayoutError(
            f"fsdp: {type(model).__name__} has {fp32 / total:.0%} of its weights in fp32; "
            "load it with torch_dtype=torch.bfloat16 before sharding"
        )
