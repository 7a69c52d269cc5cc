"""How the backends apply the memory strategy the planner chooses, so large models fit smaller cards.

The strategy is the memory part of the shot's layout (shot_layout.py MemoryStrategy); its switches:
  expert_swap   Wan A14B: one expert on the GPU, the other in pinned host memory, swapped at
                the boundary (costs host RAM: one expert's pinned copy, 27 GiB).
  group_offload diffusers group offloading: blocks stream to the GPU just before they run.
  fp8_storage   diffusers layerwise casting: weights stored in float8_e4m3fn, computed in bf16.
  vae_tiling    decode the video in tiles (about 1/4 of the peak memory, about 1.7x slower).
  vae_bf16      decode in bf16 instead of fp32 (half the peak, faster, tiny colour differences).
Text encoders are always freed before denoising (see DiffusionSession.encode).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from diffusers.models.modeling_utils import ModelMixin


def store_in_fp8(transformer: ModelMixin) -> None:
    """Keep the weights in float8 and upcast each layer to bf16 only while it runs (halves weight memory)."""
    transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=torch.bfloat16)


def offload_in_groups(transformer: ModelMixin, device: torch.device) -> None:
    """diffusers group offloading: one block at a time on the GPU, the next prefetched on a side stream."""
    streams = device.type == "cuda"
    if streams:
        # diffusers offloads each weight into a pinned copy it makes (pin_memory() of a pinned tensor is
        # the tensor itself). Pinned here first, the weights are their own buffers: one host copy, not
        # two, and a LoRA fused into them before the first forward reaches the GPU (lora_fuse.py).
        for tensor in (*transformer.parameters(), *transformer.buffers()):
            tensor.data = tensor.data.pin_memory()
    transformer.enable_group_offload(onload_device=device, offload_device=torch.device("cpu"),
                                     offload_type="block_level", num_blocks_per_group=1,
                                     use_stream=streams, record_stream=streams, low_cpu_mem_usage=False)


class ExpertSwap:
    """Keeps one of two same-shaped experts on the GPU and the other in one set of pinned host buffers.

    Wan A14B's experts share one architecture, so a single set of pinned host buffers serves
    whichever expert is waiting: host RAM holds one expert (27 GiB), not both. A swap goes
    tensor by tensor: the incoming expert's buffer is copied to the GPU, then the outgoing
    expert's GPU tensor is copied into that same buffer (the copies are ordered on one stream),
    so the GPU holds one expert plus one tensor at any moment. A forward pre-hook makes the
    called expert resident, so the pipeline is unchanged, and the resident expert stays through
    the decode and into the next shot: a shot that starts with it swaps nothing.
    """

    def __init__(self, experts: list[torch.nn.Module], device: torch.device):
        first, waiting = experts
        shapes = [[(name, tensor.shape, tensor.dtype) for name, tensor in _tensors(expert)] for expert in experts]
        if shapes[0] != shapes[1]:
            raise ValueError("expert swap needs two experts with the same parameters (names, shapes, dtypes)")
        self.device = device
        self._experts = experts
        pin = device.type == "cuda"  # pinning needs CUDA; on the CPU the buffers are plain host tensors
        for _, tensor in _tensors(waiting):
            tensor.data = tensor.data.pin_memory() if pin else tensor.data
        for _, tensor in _tensors(first):
            tensor.data = tensor.data.to(device)
        self.resident: torch.nn.Module = first
        self.swaps: list[int] = [0]  # index of each expert made resident, in order: lets tests see the switch
        for expert in experts:
            expert.register_forward_pre_hook(self._before_forward)

    def _before_forward(self, expert: torch.nn.Module, args) -> None:
        if expert is self.resident:
            return
        outgoing = dict(_tensors(self.resident))
        for name, incoming in _tensors(expert):
            buffer = incoming.data
            on_device = torch.empty_like(buffer, device=self.device)
            on_device.copy_(buffer, non_blocking=True)
            buffer.copy_(outgoing[name].data, non_blocking=True)
            incoming.data = on_device
            outgoing[name].data = buffer
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # the buffers hold the outgoing expert before anyone reads them
        self.resident = expert
        self.swaps.append(self._experts.index(expert))


def _tensors(module: torch.nn.Module):
    yield from module.named_parameters()
    yield from module.named_buffers()
