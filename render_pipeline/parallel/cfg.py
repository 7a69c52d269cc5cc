"""CFG parallelism: the conditional and unconditional branches of a step run on different ranks.

Two ways pipelines call the transformer, both handled without changing the pipeline:
- batched (CogVideoX): one call with the branches stacked in the batch; each rank runs its half.
- one call per branch (Wan): at the conditional call each rank runs its own branch (the other
  rank swaps in the negative prompt's embeddings, which the pipeline's ``encode_prompt`` told
  us), the results are exchanged, and the unconditional call that follows is answered from
  what was exchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast

import torch
import torch.distributed as dist
from diffusers.hooks import HookRegistry, ModelHook
from torch.distributed.device_mesh import DeviceMesh

HOOK_NAME = "render_pipeline_cfg_parallel"


def wrapped_forward(hook: ModelHook) -> Callable[..., Any]:
    """The forward ``hook`` wraps. diffusers' HookFunctionReference starts it as None, which is all the
    type it declares; register_hook sets it before the first call."""
    return cast(Callable[..., Any], hook.fn_ref.original_forward)


class CfgParallelHook(ModelHook):
    def __init__(self, cfg_mesh: DeviceMesh) -> None:
        super().__init__()
        self.group = cfg_mesh.get_group()
        self.branch = cfg_mesh.get_local_rank()  # 0: conditional, 1: unconditional
        self.negative: torch.Tensor | None = None  # set from encode_prompt for one-call-per-branch pipelines
        self._answer: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # (latents, negative, output)

    def new_forward(self, module: torch.nn.Module, *args, **kwargs):
        call = inspect.signature(wrapped_forward(self)).bind(*args, **kwargs).arguments
        latents, text = call["hidden_states"], call["encoder_hidden_states"]
        if self._answer is not None:
            answered_latents, answered_text, output = self._answer
            self._answer = None
            if torch.equal(latents, answered_latents) and torch.equal(text, answered_text):
                return _as_output(output, call)
        if self.negative is not None and self.negative.shape == text.shape:
            return self._one_call_per_branch(call, self.negative)
        if latents.shape[0] % 2 == 0:
            return self._batched(call)
        return wrapped_forward(self)(**call)

    def _one_call_per_branch(self, call: dict, negative: torch.Tensor):
        negative = negative.to(call["encoder_hidden_states"])
        mine = dict(call, encoder_hidden_states=negative) if self.branch == 1 else call
        conditional, unconditional = self._exchange(_sample(wrapped_forward(self)(**mine)))
        self._answer = (call["hidden_states"], negative, unconditional)
        return _as_output(conditional, call)

    def _batched(self, call: dict):
        half = call["hidden_states"].shape[0] // 2
        mine = {name: value[self.branch * half:(self.branch + 1) * half] if _is_batched(value, 2 * half) else value
                for name, value in call.items()}
        halves = self._exchange(_sample(wrapped_forward(self)(**mine)))
        return _as_output(torch.cat(halves), call)

    def _exchange(self, mine: torch.Tensor) -> list[torch.Tensor]:
        mine = mine.contiguous()
        both = [torch.empty_like(mine) for _ in range(2)]
        dist.all_gather(both, mine, group=self.group)
        return both


def _is_batched(value, batch: int) -> bool:
    return isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == batch


def _sample(output) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output.sample


def _as_output(sample: torch.Tensor, call: dict):
    if call.get("return_dict", True):
        from diffusers.models.modeling_outputs import Transformer2DModelOutput

        return Transformer2DModelOutput(sample=sample)
    return (sample,)


def enable_cfg_parallel(transformer: torch.nn.Module, cfg_mesh: DeviceMesh) -> CfgParallelHook:
    hook = CfgParallelHook(cfg_mesh)
    HookRegistry.check_if_exists_or_initialize(transformer).register_hook(hook, HOOK_NAME)
    return hook


def remember_negative_prompt(pipeline, hooks: list[CfgParallelHook]) -> None:
    """Wrap the pipeline's ``encode_prompt`` so the hooks learn the negative embeddings of each shot.

    Once per pipeline object: a pipeline already wrapped is left as it is.
    """
    if getattr(pipeline, "_remembers_negative_prompt", False):
        return
    pipeline._remembers_negative_prompt = True
    encode_prompt = pipeline.encode_prompt

    def encode_and_remember(*args, **kwargs):
        result = encode_prompt(*args, **kwargs)
        for hook in hooks:
            hook.negative = result[1]
            hook._answer = None
        return result

    pipeline.encode_prompt = encode_and_remember
