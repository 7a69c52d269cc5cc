"""Linear layers whose weights stay in fp8 with the scales their file carries.

ComfyUI's ``*_fp8_scaled.safetensors`` files and musubi-tuner's fp8 DiTs store each linear
layer's weight in float8_e4m3fn beside a ``<layer>.scale_weight`` tensor: one scale for the whole
weight (ComfyUI), one per output row ([out, 1]) or one per block of 64 inputs ([out, blocks, 1],
musubi-tuner, which may add one more factor for the whole weight in ``.scale_weight_tensor``).
The true weight is the fp8 values times the scale. Kept that way the weights take half the
memory of bf16; each layer computes with its weight dequantized just before it runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

FP8_TYPES = (torch.float8_e4m3fn, torch.float8_e5m2)
SCALE_SUFFIXES = (".scale_weight", ".scale_weight_tensor", ".scale_input")


class ScaledFp8Linear(torch.nn.Module):
    """A linear layer holding its weight in fp8 and its scale in fp32."""

    scale: torch.Tensor  # a buffer, registered in __init__

    def __init__(self, weight: torch.Tensor, scale: torch.Tensor, bias: bool):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.weight = torch.nn.Parameter(weight, requires_grad=False)
        self.register_buffer("scale", scale)
        # Empty until the loader fills it, like every other parameter of a model built on the meta device.
        self.bias = torch.nn.Parameter(torch.empty(self.out_features, device="meta"), requires_grad=False) \
            if bias else None

    def dequantized(self, dtype: torch.dtype) -> torch.Tensor:
        """The weight the file means: fp8 values times their scales, computed in fp32, then in ``dtype``."""
        return dequantize(self.weight, self.scale).to(dtype)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(inputs.dtype)
        return F.linear(inputs, self.dequantized(inputs.dtype), bias)


def dequantize(weight: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    values = weight.to(torch.float32)
    if scale.ndim == 3:  # one scale per block of inputs, per output row
        rows, blocks = scale.shape[:2]
        return (values.view(rows, blocks, -1) * scale).view(weight.shape)
    return values * scale


def quantize(values: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """What dequantize inverts: ``values`` (fp32) divided by their scales, within ``dtype``'s range, in ``dtype``."""
    if scale.ndim == 3:
        rows, blocks = scale.shape[:2]
        values = (values.view(rows, blocks, -1) / scale).view(values.shape)
    else:
        values = values / scale
    limit = torch.finfo(dtype).max
    return values.clamp(-limit, limit).to(dtype)


def scales_of(state: dict[str, torch.Tensor], weight_name: str) -> torch.Tensor | None:
    """The combined fp32 scale of ``<layer>.weight`` in ``state``, or None when it has none."""
    layer = weight_name.removesuffix(".weight")
    scale = state.get(f"{layer}.scale_weight")
    if scale is None:
        return None
    scale = scale.to(torch.float32)
    whole = state.get(f"{layer}.scale_weight_tensor")
    return scale if whole is None else scale * whole.to(torch.float32)


def use_scaled_fp8(model: torch.nn.Module, state: dict[str, torch.Tensor],
                   not_fp8: list[str]) -> dict[str, torch.Tensor]:
    """Put ScaledFp8Linear layers in ``model`` (built on the meta device) for the linear weights ``state``
    holds in fp8, filled with those weights and scales. Returns the rest of ``state`` to load as usual:
    an fp8 tensor of any other module, or of a module named in ``not_fp8`` (those a model keeps in
    fp32 or computes in its weight's dtype), comes back dequantized to fp32."""
    rest = {}
    for name, tensor in state.items():
        if name.endswith(SCALE_SUFFIXES) or name == "scaled_fp8":  # scaled_fp8: ComfyUI's marker, no weight
            continue
        if tensor.dtype not in FP8_TYPES:
            rest[name] = tensor
            continue
        scale = scales_of(state, name)
        if scale is None:
            scale = torch.ones((), dtype=torch.float32)
        layer_name = name.removesuffix(".weight")
        try:
            layer = model.get_submodule(layer_name) if name.endswith(".weight") else None
        except AttributeError:  # not the model's: the loader reports it as an unexpected tensor
            layer = None
        if isinstance(layer, torch.nn.Linear) and not any(part in not_fp8 for part in layer_name.split(".")):
            parent, _, child = layer_name.rpartition(".")
            setattr(model.get_submodule(parent), child, ScaledFp8Linear(tensor, scale, layer.bias is not None))
        else:
            rest[name] = dequantize(tensor, scale)
    return rest
