"""One expert per GPU group (Wan A14B): each group holds one expert, so no GPU holds both.

Every rank still walks the whole denoising loop (the scheduler is cheap); when the loop calls
an expert, the group that holds it computes and its first rank broadcasts the result to the
other group, which keeps that expert only as shapes on the meta device.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from diffusers.hooks import HookRegistry, ModelHook

from render_pipeline.parallel.cfg import wrapped_forward

HOOK_NAME = "render_pipeline_expert_placement"


class ExpertPlacementHook(ModelHook):
    def __init__(self, source_rank: int, holds_weights: bool) -> None:
        super().__init__()
        self.source_rank = source_rank
        self.holds_weights = holds_weights

    def new_forward(self, module: torch.nn.Module, *args, **kwargs):
        latents = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        return_dict = kwargs.get("return_dict", True)
        if self.holds_weights:
            output = wrapped_forward(self)(*args, **kwargs)
            sample = (output[0] if isinstance(output, tuple) else output.sample).to(latents.dtype).contiguous()
            shape = torch.tensor(sample.shape, dtype=torch.int64, device=latents.device)
        else:
            shape = torch.zeros(latents.ndim, dtype=torch.int64, device=latents.device)
        # The output's channel count can differ from the input's (Wan I2V: 36 in, 16 out).
        dist.broadcast(shape, src=self.source_rank)
        if not self.holds_weights:
            sample = torch.empty(tuple(shape.tolist()), dtype=latents.dtype, device=latents.device)
        dist.broadcast(sample, src=self.source_rank)
        if return_dict:
            from diffusers.models.modeling_outputs import Transformer2DModelOutput

            return Transformer2DModelOutput(sample=sample)
        return (sample,)


def place_expert(expert: torch.nn.Module, source_rank: int, holds_weights: bool) -> None:
    """Route ``expert``'s calls through the group that holds it; elsewhere drop its weights from the GPU.

    Weights in host memory stay: on a CPU-only run diffusers would otherwise take the meta
    device for the whole pipeline's device.
    """
    if not holds_weights and expert.device.type != "cpu":
        expert.to("meta")
    HookRegistry.check_if_exists_or_initialize(expert).register_hook(
        ExpertPlacementHook(source_rank, holds_weights), HOOK_NAME)
