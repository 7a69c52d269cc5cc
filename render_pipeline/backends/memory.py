"""Memory strategies the planner chooses and the backends apply, so large models fit smaller cards.

The plan's ``candidate`` dict names them; keys this module reads (others are ignored):
  expert_swap   bool  Wan A14B: one expert on the GPU, the other in pinned host memory, swapped at
                      the boundary (costs host RAM: both experts keep a pinned host copy).
  group_offload bool  diffusers group offloading: blocks stream to the GPU just before they run.
  fp8_storage   bool  diffusers layerwise casting: weights stored in float8_e4m3fn, computed in bf16.
  vae_tiling    bool  decode the video in tiles (about 1/4 of the peak memory, about 1.7x slower).
  vae_bf16      bool  decode in bf16 instead of fp32 (half the peak, faster, tiny colour differences).
Text encoders are always freed before denoising (see DiffusionSession.encode).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass(frozen=True)
class MemoryStrategy:
    expert_swap: bool = False
    group_offload: bool = False
    fp8_storage: bool = False
    vae_tiling: bool = False
    vae_bf16: bool = False

    @classmethod
    def from_candidate(cls, candidate: dict | None) -> "MemoryStrategy":
        names = {field.name for field in fields(cls)}
        return cls(**{key: bool(value) for key, value in (candidate or {}).items() if key in names})


def store_in_fp8(transformer: torch.nn.Module) -> None:
    """Keep the weights in float8 and upcast each layer to bf16 only while it runs (halves weight memory)."""
    transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=torch.bfloat16)


def offload_in_groups(transformer: torch.nn.Module, device: torch.device) -> None:
    """diffusers group offloading: one block at a time on the GPU, the next prefetched on a side stream."""
    streams = device.type == "cuda"
    transformer.enable_group_offload(onload_device=device, offload_device=torch.device("cpu"),
                                     offload_type="block_level", num_blocks_per_group=1,
                                     use_stream=streams, record_stream=streams, low_cpu_mem_usage=False)


class ExpertSwap:
    """Keeps exactly one of several transformers on the GPU, swapping on the first forward of another.

    Every expert keeps a pinned host copy of its weights, so sending one away is free (its GPU
    tensors are just dropped) and bringing one in is a single fast host-to-device copy. The
    pipeline is not changed: a forward pre-hook makes the called expert resident.
    """

    def __init__(self, experts: list[torch.nn.Module], device: torch.device):
        self.device = device
        self.resident: torch.nn.Module | None = None
        self.swaps: list[int] = []  # index of the expert brought in, in order: lets tests see the switch
        self._experts = experts
        pin = device.type == "cuda"
        self._host: dict[int, dict[str, torch.Tensor]] = {}
        for expert in experts:
            host = {}
            for name, tensor in _tensors(expert):
                tensor.data = tensor.data.pin_memory() if pin else tensor.data
                host[name] = tensor.data
            self._host[id(expert)] = host
            expert.register_forward_pre_hook(self._before_forward)

    def _before_forward(self, expert: torch.nn.Module, args) -> None:
        if self.resident is expert:
            return
        if self.resident is not None:
            self._send_home(self.resident)
        for name, tensor in _tensors(expert):
            tensor.data = self._host[id(expert)][name].to(self.device, non_blocking=True)
        self.resident = expert
        self.swaps.append(self._experts.index(expert))

    def _send_home(self, expert: torch.nn.Module) -> None:
        for name, tensor in _tensors(expert):
            tensor.data = self._host[id(expert)][name]

    def release(self) -> None:
        """Send the resident expert home, freeing its GPU memory (between shots it is kept)."""
        if self.resident is not None:
            self._send_home(self.resident)
            self.resident = None


def _tensors(module: torch.nn.Module):
    yield from module.named_parameters()
    yield from module.named_buffers()
