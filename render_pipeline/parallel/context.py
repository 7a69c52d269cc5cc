"""Sequence (context) parallelism through diffusers: Ulysses and ring attention split the video tokens.

Wan ships a context-parallel plan in diffusers; HunyuanVideo does not, so its plan is written
here in the same declarative form. CogVideoX's attention processor calls PyTorch's attention
directly instead of diffusers' dispatcher, so no plan can make it context-parallel; it gets CFG
parallelism instead (see cfg.py).
"""

from __future__ import annotations

import torch
from diffusers.hooks import HookRegistry, ModelHook
from diffusers.models._modeling_parallel import ContextParallelConfig, ContextParallelInput, ContextParallelOutput

from render_pipeline.parallel.layout import LayoutError, ParallelLayout
from render_pipeline.parallel.mesh import LayoutMesh

# Split the joint (video + text) token stream where the first block receives it, each rank
# keeping a matching slice of video tokens, text tokens and rotary angles; gather the video
# tokens after the last projection. The text is split too: otherwise every rank would bring the
# whole prompt to the Ulysses exchange and each text token would be attended to k times.
HUNYUAN_VIDEO_CP_PLAN = {
    "rope": {
        0: ContextParallelInput(split_dim=0, expected_dims=2, split_output=True),
        1: ContextParallelInput(split_dim=0, expected_dims=2, split_output=True),
    },
    "transformer_blocks.0": {
        "hidden_states": ContextParallelInput(split_dim=1, expected_dims=3),
        "encoder_hidden_states": ContextParallelInput(split_dim=1, expected_dims=3),
    },
    "proj_out": ContextParallelOutput(gather_dim=1, expected_dims=3),
}

# Attention backends whose context-parallel path can run ring attention (it needs the
# log-sum-exp of each partial attention, which PyTorch's plain SDPA does not return).
RING_BACKENDS = ("_native_cudnn", "_native_flash", "flash", "flash_hub", "_flash_3_hub", "sage")

_MASK_HOOK = "render_pipeline_local_attention_mask"


class LocalAttentionMaskHook(ModelHook):
    """Give a HunyuanVideo block the attention mask of its own token slice.

    The model builds one padding mask for the whole [video | text] sequence; after the split a
    rank holds [video slice r | text slice r], so it needs the mask entries of exactly those
    tokens (diffusers' Ulysses then gathers the per-rank masks in the order it gathers keys).
    """

    def __init__(self, index: int, degree: int) -> None:
        super().__init__()
        self.index, self.degree = index, degree

    def pre_forward(self, module, hidden_states, encoder_hidden_states, temb, attention_mask=None, *args, **kwargs):
        if attention_mask is not None:
            video, text = hidden_states.shape[1], encoder_hidden_states.shape[1]
            if attention_mask.shape[-1] == self.degree * (video + text):
                all_video = self.degree * video
                attention_mask = torch.cat([
                    attention_mask[..., self.index * video:(self.index + 1) * video],
                    attention_mask[..., all_video + self.index * text:all_video + (self.index + 1) * text],
                ], dim=-1)
        return (hidden_states, encoder_hidden_states, temb, attention_mask, *args), kwargs


def enable_context_parallel(transformer: torch.nn.Module, layout: ParallelLayout, mesh: LayoutMesh) -> None:
    """Ulysses / ring over ``mesh.context``; call once per model, after ``torch.distributed`` is up."""
    if layout.ring > 1:
        backend = _attention_backend(transformer)
        if backend not in RING_BACKENDS:
            raise LayoutError(
                f"parallel layout: ring attention needs an attention backend that returns the log-sum-exp "
                f"({', '.join(RING_BACKENDS)}), but {type(transformer).__name__} uses {backend!r}; "
                "use ulysses instead, or call transformer.set_attention_backend('_native_cudnn') on CUDA"
            )
    plan = None
    name = type(transformer).__name__
    if "HunyuanVideoTransformer3DModel" in name:
        plan = HUNYUAN_VIDEO_CP_PLAN
        index = mesh.context["ring"].get_local_rank() * layout.ulysses + mesh.context["ulysses"].get_local_rank()
        # Its ModuleLists: attributes torch's Module.__getattr__ types as Tensor | Module.
        blocks = [*transformer.transformer_blocks, *transformer.single_transformer_blocks]  # type: ignore[misc]
        for block in blocks:
            HookRegistry.check_if_exists_or_initialize(block).register_hook(
                LocalAttentionMaskHook(index, layout.context_parallel), _MASK_HOOK)
    elif getattr(transformer, "_cp_plan", None) is None:
        raise LayoutError(
            f"parallel layout: {name} has no context-parallel plan; use cfg parallelism or fsdp for it"
        )
    config = ContextParallelConfig(ring_degree=layout.ring, ulysses_degree=layout.ulysses, mesh=mesh.context)
    transformer.enable_parallelism(config=config, cp_plan=plan)  # type: ignore[operator]  # a diffusers ModelMixin's


def _attention_backend(transformer: torch.nn.Module) -> str:
    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    for module in transformer.modules():
        backend = getattr(getattr(module, "processor", None), "_attention_backend", None)
        if backend is not None:
            return str(getattr(backend, "value", backend))
    return _AttentionBackendRegistry.get_active_backend()[0].value
