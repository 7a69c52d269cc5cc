"""LoRAs fused into a loaded transformer's weights for the shots that use them, then taken out bit for bit.

A shot's LoRA set is fused before it denoises: for every linear layer the set changes,

    W <- cast(float32(W) + sum over its LoRAs of weight * scale * float32(B) @ float32(A))

computed in fp32 on the session's device and cast once to the weight's own dtype (bf16, or fp8
under fp8 storage, where the change is rounded to fp8's resolution). ``scale`` is alpha / rank
(or the file's PEFT config); a bias difference is added the same way. The steps then run on
plain weights: a fused LoRA costs nothing per step.

Before a weight is first changed, its tensor is copied to the host; the next shot with another
set (or none) gets those copies back, so the base weights return exactly, without reloading the
model. The copies cost host memory: the bytes of every weight the set changes (the planner
counts them). Shots with the same set run one after another (runner/order.py), so a set is
fused once per run of shots, not once per shot.

Weights loaded in place in a quantised file keep their format. fp8 weights with scales (ComfyUI's
and musubi-tuner's scaled files, Tencent's fp8 release: scaled_fp8.py) are changed in what they
mean, fp8 values times their scales, and stored back in fp8 at the same scales: the change is
rounded to fp8's resolution there. GGUF weights are blocks of packed integers that cannot take a
change in place; for them each LoRA is computed beside the layer instead, a forward hook adding
weight * scale * B(A x) to its output: a small cost every step (two thin matrix products per
layer), and taking it out is removing the hook.

Weights are changed in place, wherever they lie between two pipeline calls: on the GPU, in the
pinned host buffers of expert swap (the expert waiting) and of group offloading (memory.py pins
the weights before offloading, so those buffers are the weights' own), sharded by FSDP2 (each
rank changes its own rows), or nowhere (an expert another rank holds: parallel/experts.py).

Files are read with diffusers' own conversion of each family's key namings (the pipeline's
``lora_state_dict``); this module only turns what that conversion does not read into what it
does: kohya names into the original ones, lora_down/lora_up into lora_A/lora_B for HunyuanVideo,
and every alpha into the A matrix (diffusers' Wan conversion drops the alphas of layers outside
the blocks). Whole-weight differences (``.diff``, of norms and modulation tables) are left out,
as diffusers leaves them out; the worker's log counts them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from render_pipeline.backends.base import LoraFile
from render_pipeline.backends.lora_files import (
    KOHYA_PREFIX,
    ORIGINAL_PREFIX,
    kohya_to_original,
    peft_scale,
    read_header,
)
from render_pipeline.backends.scaled_fp8 import dequantize, quantize
from render_pipeline.backends.specs import SPECS

# The transformers of a LoRA's `expert`; a backend with one transformer has only the first.
EXPERT_TRANSFORMERS = {"both": ("transformer", "transformer_2"), "high": ("transformer",), "low": ("transformer_2",)}


class LoraMismatch(ValueError):
    """A LoRA names modules the loaded transformer does not have (validate and plan check this first)."""


@dataclass(frozen=True)
class Change:
    """One LoRA's change to one linear layer, in fp32 with its scale folded into ``down``."""

    down: torch.Tensor | None  # A: rank x in
    up: torch.Tensor | None  # B: out x rank
    bias: torch.Tensor | None  # out


def read_changes(lora: LoraFile, backend: str) -> tuple[dict[str, Change], int]:
    """The changes a LoRA file makes, by module name (diffusers naming), and how many `.diff` tensors it
    holds that are not applied."""
    import diffusers
    from safetensors.torch import load_file

    header = read_header(lora.path)
    tensors = load_file(str(lora.path))
    by_key = {tensor.key: tensor for tensor in header.tensors}
    dropped = sum(1 for tensor in header.tensors if tensor.part == "diff")
    ranks = header.ranks()
    alphas = {t.module: float(tensors[t.key].float().reshape(-1)[0]) for t in header.tensors if t.part == "alpha"}
    state = {}
    original_names = kohya_to_original(backend) if header.naming == "kohya" else {}
    for key, value in tensors.items():
        tensor = by_key[key]
        if tensor.part in ("alpha", "diff"):
            continue
        if header.naming == "kohya" and tensor.module not in original_names:
            raise LoraMismatch(f"{lora.path.name}: {key} names no layer of {backend}'s transformer")
        if tensor.part == "down":
            rank = ranks[tensor.module]
            scale = alphas[tensor.module] / rank if tensor.module in alphas else peft_scale(header, tensor.module, rank)
            value = value.float() * scale if scale is not None else value
        state[_readable_key(key, header.naming, backend, original_names)] = value
    pipeline_class = getattr(diffusers, SPECS[backend].pipeline)
    converted = pipeline_class.lora_state_dict(state) if state else {}
    changes: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in converted.items():
        name = key.removeprefix("transformer.").removeprefix("base_model.model.")
        for suffix, part in ((".lora_A.weight", "down"), (".lora_B.weight", "up"), (".lora_B.bias", "bias")):
            if name.endswith(suffix):
                changes.setdefault(name[:-len(suffix)], {})[part] = value.float()
                break
        else:
            raise LoraMismatch(f"{lora.path.name}: diffusers' conversion left a tensor this program cannot apply: {key}")
    return {module: Change(parts.get("down"), parts.get("up"), parts.get("bias")) for module, parts in changes.items()}, dropped


def _readable_key(key: str, naming: str, backend: str, original_names: dict[str, str]) -> str:
    """The key as diffusers' conversion for ``backend``'s family reads it."""
    if naming == "kohya":
        module, _, rest = key[len(KOHYA_PREFIX):].partition(".")
        key = f"{ORIGINAL_PREFIX}{original_names[module]}.{rest}"
    if naming in ("kohya", "original") and SPECS[backend].family == "hunyuanvideo":
        key = key.replace(".lora_down.weight", ".lora_A.weight").replace(".lora_up.weight", ".lora_B.weight")
    return key


class FusedLoras:
    """The LoRA set fused into one loaded pipeline's transformers, and the original tensors it replaced."""

    def __init__(self, backend: str, device: torch.device):
        self.backend = backend
        self.device = device
        self.fused: tuple[LoraFile, ...] = ()
        self._originals: list[tuple[torch.Tensor, torch.Tensor]] = []  # (weight or bias, its host copy)
        self._beside: list = []  # the forward hooks that compute LoRAs beside GGUF layers

    def use(self, loras: tuple[LoraFile, ...], transformers: dict[str, torch.nn.Module]) -> None:
        """Make ``transformers`` carry exactly ``loras`` (the base weights when empty)."""
        if tuple(loras) == self.fused:
            return
        _sharded_again(transformers)
        self.restore()
        if not loras:
            return
        began = time.perf_counter()
        changes, dropped = self._changes(loras, transformers)
        _settle(self.device)
        try:
            for (name, module_name), parts in changes.items():
                module = transformers[name].get_submodule(module_name)
                weight, bias = module.weight, module.bias
                assert isinstance(weight, torch.Tensor) and (bias is None or isinstance(bias, torch.Tensor))  # _fits
                low_rank = [(w, (c.up, c.down)) for w, c in parts if c.down is not None]
                if _is_gguf(weight):
                    self._compute_beside(module, low_rank)
                else:
                    self._change(weight, low_rank, getattr(module, "scale", None))
                self._change(bias, [(w, (c.bias,)) for w, c in parts if c.bias is not None])
        except BaseException:
            self.restore()  # never leave a shot's weights half changed
            raise
        _settle(self.device)
        self.fused = tuple(loras)
        size = sum(original.numel() * original.element_size() for _, original in self._originals)
        print(f"LoRAs: {', '.join(f'{lora.path.name} x{lora.weight:g} ({lora.expert})' for lora in loras)} fused into "
              f"{len(changes)} layers in {time.perf_counter() - began:.1f} s; {size / 1024**3:.2f} GiB of original "
              f"weights kept on the host" + (f"; {len(self._beside)} GGUF layers compute them beside their weights "
                                             "every step" if self._beside else "")
              + (f"; {dropped} whole-weight differences (.diff) not applied" if dropped else ""), flush=True)

    def restore(self) -> None:
        """Put back the original tensors of every weight the fused set changed."""
        for hook in self._beside:
            hook.remove()
        self._beside.clear()
        if not self._originals:
            self.fused = ()
            return
        _settle(self.device)
        with torch.no_grad():
            for target, original in reversed(self._originals):
                _local(target).copy_(original)
        _settle(self.device)
        self._originals.clear()
        self.fused = ()

    def forget(self) -> None:
        """The pipeline was dropped (a new one loads with the base weights): nothing is left to restore."""
        self._originals.clear()
        self._beside.clear()
        self.fused = ()

    def _changes(self, loras, transformers) -> tuple[dict[tuple[str, str], list], int]:
        """(transformer name, module name) -> [(weight, Change)], every module checked against the model first."""
        changes: dict[tuple[str, str], list] = {}
        dropped = 0
        for lora in loras:
            read, skipped = read_changes(lora, self.backend)
            dropped += skipped
            names = [name for name in EXPERT_TRANSFORMERS[lora.expert] if name in transformers]
            if not names:
                raise LoraMismatch(f"{lora.path.name}: expert {lora.expert} names a transformer {self.backend} "
                                   "does not have")
            for name in names:
                missing = [module for module, change in read.items() if not _fits(transformers[name], module, change)]
                if missing:
                    raise LoraMismatch(f"{lora.path.name} does not fit {self.backend}: {len(missing)} of its "
                                       f"{len(read)} layers are not in its {name} or have another size "
                                       f"(first: {missing[0]})")
                for module, change in read.items():
                    changes.setdefault((name, module), []).append((lora.weight, change))
        return changes, dropped

    def _change(self, target: torch.Tensor | None, deltas: Sequence[tuple[float, tuple[torch.Tensor, ...]]],
                scale: torch.Tensor | None = None) -> None:
        """target <- cast(fp32(target) + sum of weight * delta), after keeping target's original on the host.

        A delta is (B, A), multiplied here on the session's device, or (bias difference,). ``scale``: an
        fp8 weight's scales (scaled_fp8.py); the change then goes into what the weight means.
        """
        if target is None or not deltas or target.device.type == "meta":
            return
        with torch.no_grad():
            local = _local(target)
            self._originals.append((target, local.to("cpu", copy=True)))
            total = torch.zeros(target.shape, dtype=torch.float32, device=self.device)
            for weight, factors in deltas:
                delta = factors[0].to(self.device)
                if len(factors) == 2:
                    delta = delta @ factors[1].to(self.device)
                total += delta * weight
            if scale is None:
                changed = (local.to(self.device, torch.float32) + _local_part(target, total)).to(local.dtype)
            else:
                scale = scale.to(self.device)
                changed = quantize(dequantize(local.to(self.device), scale) + total, scale, local.dtype)
            local.copy_(changed)

    def _compute_beside(self, module: torch.nn.Module,
                        deltas: Sequence[tuple[float, tuple[torch.Tensor, ...]]]) -> None:
        """The LoRAs of a layer whose weight cannot change (GGUF), added to its output at every call."""
        if not deltas:
            return
        factors = [(weight, up.to(self.device), down.to(self.device)) for weight, (up, down) in deltas]

        def add_low_rank(module, inputs, output):
            features = inputs[0]
            for weight, up, down in factors:
                output = output + weight * F.linear(F.linear(features, down.to(features.dtype)), up.to(features.dtype))
            return output

        self._beside.append(module.register_forward_hook(add_low_rank))


def _fits(transformer: torch.nn.Module, module_name: str, change: Change) -> bool:
    try:
        module = transformer.get_submodule(module_name)
    except AttributeError:
        return False
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
        return False
    out_features, in_features = getattr(weight, "quant_shape", weight.shape)  # a GGUF weight's own shape
    if change.down is not None and (change.up is None or change.down.shape[1] != in_features
                                    or change.up.shape != (out_features, change.down.shape[0])):
        return False
    return change.bias is None or (getattr(module, "bias", None) is not None and change.bias.shape == (out_features,))


def _is_gguf(weight: torch.Tensor) -> bool:
    return hasattr(weight, "quant_type")  # diffusers' GGUFParameter: packed blocks, not values


def _local(tensor: torch.Tensor) -> torch.Tensor:
    """The part of ``tensor`` this process holds: an FSDP2 shard's own rows, else the whole tensor's data."""
    return tensor.to_local() if hasattr(tensor, "to_local") else tensor.data


def _local_part(target: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
    """``whole`` (the change of the whole tensor) cut the way ``target`` is sharded over its ranks."""
    if not hasattr(target, "to_local"):
        return whole
    from torch.distributed.tensor import DTensor, distribute_tensor

    assert isinstance(target, DTensor)  # the tensor with to_local
    return distribute_tensor(whole, target.device_mesh, target.placements, src_data_rank=None).to_local()


def _sharded_again(transformers: dict[str, torch.nn.Module]) -> None:
    """FSDP2 keeps the root's weights gathered after an inference forward (no backward reshards them):
    reshard, so that each rank's shard is again the weight the next forward gathers."""
    from torch.distributed.fsdp import FSDPModule

    for transformer in transformers.values():
        for module in transformer.modules():
            if isinstance(module, FSDPModule):
                module.reshard()


def _settle(device: torch.device) -> None:
    """Let copies queued on other streams (expert swap, group offloading) land before weights are read or written."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)

