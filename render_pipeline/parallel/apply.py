"""Apply a layout to a diffusers pipeline (or a lone transformer) in one fixed order.

The order matters: FSDP2 shards each transformer (blocks, then the root) before diffusers'
context-parallel hooks wrap its inputs, and the CFG hook goes on last so that it is the
outermost: it picks this rank's guidance branch, then context parallelism splits that
branch's tokens. The model code never imports this package; everything here is applied to
objects it is handed.
"""

from __future__ import annotations

import torch

from render_pipeline.parallel.cfg import CfgParallelHook, enable_cfg_parallel, remember_negative_prompt
from render_pipeline.parallel.context import enable_context_parallel
from render_pipeline.parallel.experts import place_expert
from render_pipeline.parallel.fsdp import shard_weights
from render_pipeline.parallel.layout import LayoutError, ParallelLayout, video_tokens
from render_pipeline.parallel.mesh import LayoutMesh

TRANSFORMERS = ("transformer", "transformer_2")  # Wan A14B: high-noise expert, then low-noise
TEXT_ENCODERS = ("text_encoder", "text_encoder_2")


def apply_layout(target: torch.nn.Module, layout: ParallelLayout, mesh: LayoutMesh | None) -> list[CfgParallelHook]:
    """Make ``target`` (a pipeline with components, or a transformer) run as ``layout`` says.

    Every rank calls this with the same layout and then runs the same pipeline call with the
    same inputs and seed; the transforms make them cooperate. Returns the CFG-parallel hooks: a
    second pipeline over the same modules must be handed to cfg.remember_negative_prompt too.
    """
    if layout.is_single:
        return []
    if mesh is None:
        raise LayoutError(f"parallel layout {layout.describe()} needs a device mesh; call build_mesh first")
    is_pipeline = hasattr(target, "components")
    components = [getattr(target, name, None) for name in TRANSFORMERS] if is_pipeline else [target]
    transformers = [component for component in components if component is not None]
    if layout.experts > len(transformers):
        raise LayoutError(
            f"parallel layout: experts {layout.experts} needs a pipeline with {layout.experts} transformers, "
            f"this one has {len(transformers)}"
        )

    for transformer in transformers:
        # A diffusers model's config: an attribute torch's Module.__getattr__ types as Tensor | Module.
        heads: int = transformer.config.num_attention_heads  # type: ignore[union-attr, assignment]
        layout.check_model(heads=heads, experts=len(transformers),
                           model=type(transformer).__name__)

    cfg_hooks: list[CfgParallelHook] = []
    for index, transformer in enumerate(transformers):
        holds_weights = layout.experts == 1 or index == mesh.expert_index
        if holds_weights:
            if layout.fsdp:
                shard_weights(transformer, mesh.model)
            if layout.context_parallel > 1:
                enable_context_parallel(transformer, layout, mesh)
            if layout.cfg > 1:
                cfg_hooks.append(enable_cfg_parallel(transformer, mesh.cfg))
        if layout.experts > 1:
            place_expert(transformer, source_rank=index * layout.ranks_per_model, holds_weights=holds_weights)

    if not is_pipeline:
        return cfg_hooks
    if layout.fsdp:
        for name in TEXT_ENCODERS:
            encoder = getattr(target, name, None)
            if encoder is not None:
                shard_weights(encoder, mesh.everyone)
    if cfg_hooks:
        remember_negative_prompt(target, cfg_hooks)
    # Rank 0 alone decodes and writes (DiffusionSession.render, through first_rank). Every rank keeps
    # its VAE: each encodes the image or the last window's frames it continues from.
    vae = getattr(target, "vae", None)
    if vae is not None and layout.vae == "tiled":
        vae.enable_tiling()  # trades decode time for memory (1280x720x81 fp32: 20.7 GiB whole, 4.4 GiB tiled)
    return cfg_hooks


def check_shot(pipeline, layout: ParallelLayout, frames: int, height: int, width: int) -> None:
    """Before a shot: context parallelism must divide this shot's video tokens evenly."""
    transformer = pipeline.transformer if pipeline.transformer is not None else pipeline.transformer_2
    patch = transformer.config.patch_size
    if isinstance(patch, int):  # HunyuanVideo: spatial patch, with a separate temporal one
        patch = (transformer.config.patch_size_t, patch, patch)
    tokens = video_tokens(frames, height, width, temporal=pipeline.vae_scale_factor_temporal,
                          spatial=pipeline.vae_scale_factor_spatial, patch=tuple(patch))
    layout.check_model(heads=transformer.config.num_attention_heads, tokens=tokens, model=type(transformer).__name__)
