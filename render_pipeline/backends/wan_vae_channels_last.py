"""The Wan VAE's decode on a GPU, kept in the channels-last layout from its first layer to its last.

cuDNN's convolutions are faster given channels-last tensors (wan.decode_in_runs). Around them,
diffusers' decoder spent two fifths of its GPU time outside the convolutions (a TI2V-5B shot on
an H200, docs/benchmarks.md), and two of its habits cost much of that:

- Each causal convolution pads its input (time and space) with F.pad, a full copy of a large
  tensor, then convolves without padding. Here only time is padded, by the cached frames as
  before; the spatial zeros are cuDNN's own padding, which needs no copy.
- Each RMS norm is F.normalize, then a multiply by sqrt(C), by gamma and an add of a zero bias:
  five passes over the tensor, the broadcast ones unvectorised. In channels-last memory the
  channels of one pixel are contiguous, so the norm is torch's fused RMS norm over rows of C:
  x / ||x|| * sqrt(C) = x / sqrt(mean(x^2)), one pass.

Both are the same sums in another order (float error only: the bench reports it against
diffusers). Any input these rewrites do not fit (another layout, a norm with a bias) takes
diffusers' own forward. Measured: that TI2V-5B decode took 7.75 s instead of 8.75 s with only the
weights channels-last. The CPU keeps diffusers' decode untouched, bit for bit.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F


def channels_last_weights(vae) -> None:
    """The VAE's convolution weights in the channels-last layout (in place; once is enough)."""
    for module in vae.modules():
        if isinstance(module, torch.nn.Conv3d):
            module.weight.data = module.weight.data.contiguous(memory_format=torch.channels_last_3d)
        elif isinstance(module, torch.nn.Conv2d):
            module.weight.data = module.weight.data.contiguous(memory_format=torch.channels_last)


def channels_last_decoder(vae) -> None:
    """Channels-last weights, fused row norms and padding inside the convolutions (in place; once is enough)."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d, WanRMS_norm

    channels_last_weights(vae)
    # Each instance's own forward, on purpose: this VAE's modules change, not the classes.
    for module in vae.modules():
        if isinstance(module, WanCausalConv3d):
            module.forward = types.MethodType(_causal_conv_padding_inside, module)  # type: ignore[method-assign]
        elif isinstance(module, WanRMS_norm):
            module.forward = types.MethodType(_rms_norm_over_channel_rows, module)  # type: ignore[method-assign]


def _causal_conv_padding_inside(conv, x: torch.Tensor, cache_x: torch.Tensor | None = None) -> torch.Tensor:
    """WanCausalConv3d.forward, with the spatial zeros left to the convolution instead of F.pad."""
    pad_w, _, pad_h, _, pad_t, _ = conv._padding
    if cache_x is not None and pad_t > 0:
        x = torch.cat([cache_x.to(x.device), x], dim=2)
        pad_t -= cache_x.shape[2]
    if pad_t != 0:
        x = F.pad(x, (0, 0, 0, 0, pad_t, 0))
    return F.conv3d(x, conv.weight, conv.bias, conv.stride, (0, pad_h, pad_w), conv.dilation, conv.groups)


# F.normalize divides by max(||x||, 1e-12); as a mean of squares that floor is 1e-24 / C.
_NORM_FLOOR_SQUARED = 1e-24


def _rms_norm_over_channel_rows(norm, x: torch.Tensor) -> torch.Tensor:
    """WanRMS_norm.forward as one fused RMS norm over each pixel's channels, when they are contiguous."""
    rows = x.movedim(1, -1)
    if not (norm.channel_first and rows.is_contiguous() and isinstance(norm.bias, float) and norm.bias == 0.0
            and x.dtype == norm.gamma.dtype):
        return type(norm).forward(norm, x)
    channels = rows.shape[-1]
    normed = F.rms_norm(rows, (channels,), weight=norm.gamma.view(channels), eps=_NORM_FLOOR_SQUARED / channels)
    return normed.movedim(-1, 1)
