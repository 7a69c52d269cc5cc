"""RIFE: frames between two frames, from the intermediate flow a small network estimates.

The network is Practical-RIFE's IFNet as released in versions 4.25 and 4.26 (same layers; MIT
licence, https://github.com/hzwer/Practical-RIFE), written here so that their ``flownet.pkl``
loads into it under its own key names. The user puts the weights in place once:

    download v4.25 (the version Practical-RIFE's README recommends by default) or v4.26 from the
    README's "Trained Model" list, unzip it, and copy ``train_log/flownet.pkl`` to
    ``<models dir>/rife/flownet.pkl``

How it works: an encoder gives each frame a few feature channels; five flow levels, coarse to
fine (1/16 of the frame down to full size), each refine the flow from the wanted moment to both
frames, a blend mask and some context features; the result is both frames warped to that
moment and blended by the mask. The moment, 0 < t < 1, is an input, so one pass gives any
in-between frame. Frames are padded to a multiple of 64 (the coarsest level works at 1/64).

This module imports torch at the top: media/retime.py imports it only when RIFE is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from render_pipeline.errors import UserError
from render_pipeline.media.rife_weights import RIFE_FIX

PAD_MULTIPLE = 64
LEVEL_SCALES = (16, 8, 4, 2, 1)  # each flow level works at 1/scale of the frame
LEVEL_WIDTHS = (192, 128, 96, 64, 32)
FEATURES = 4  # encoder channels per frame
# What one flow level outputs: flow to each frame (2 + 2), the blend mask (1), context features (8).
LEVEL_OUTPUTS = 13
CONTEXT = LEVEL_OUTPUTS - 5
BATCH = {"cuda": 8, "cpu": 2}  # frame pairs per forward


class _Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.cnn0 = nn.Conv2d(3, 16, 3, 2, 1)
        self.cnn1 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn2 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(16, FEATURES, 4, 2, 1)
        self.relu = nn.LeakyReLU(0.2, True)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.cnn0(image))
        x = self.relu(self.cnn1(x))
        x = self.relu(self.cnn2(x))
        return self.cnn3(x)


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones((1, channels, 1, 1)))
        self.relu = nn.LeakyReLU(0.2, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x) * self.beta + x)


def _down(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs, outputs, 3, 2, 1), nn.LeakyReLU(0.2, True))


class _FlowLevel(nn.Module):
    """One level: down 4x, eight residual convolutions, up 4x (a transposed conv, then a pixel shuffle)."""

    def __init__(self, inputs: int, width: int):
        super().__init__()
        self.conv0 = nn.Sequential(_down(inputs, width // 2), _down(width // 2, width))
        self.convblock = nn.Sequential(*(_Residual(width) for _ in range(8)))
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(width, 4 * LEVEL_OUTPUTS, 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor, flow: torch.Tensor | None,
                scale: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = F.interpolate(x, scale_factor=1 / scale, mode="bilinear", align_corners=False)
        if flow is not None:
            flow = F.interpolate(flow, scale_factor=1 / scale, mode="bilinear", align_corners=False) / scale
            x = torch.cat((x, flow), 1)
        out = self.lastconv(self.convblock(self.conv0(x)))
        out = F.interpolate(out, scale_factor=scale, mode="bilinear", align_corners=False)
        return out[:, :4] * scale, out[:, 4:5], out[:, 5:]


class IFNet(nn.Module):
    """Practical-RIFE 4.25/4.26's IFNet: ``forward(img0, img1, t)`` -> the frame at moment ``t``.

    Images are (batch, 3, H, W) RGB in 0..1 with H and W multiples of PAD_MULTIPLE; ``t`` is
    (batch, 1, H, W), each sample filled with its moment.
    """

    def __init__(self):
        super().__init__()
        first = 3 + 3 + 2 * FEATURES + 1  # both frames, their features, the moment
        later = 3 + 3 + 2 * FEATURES + 1 + 1 + CONTEXT + 4  # warped frames and features, t, mask, context, flow
        self.block0 = _FlowLevel(first, LEVEL_WIDTHS[0])
        self.block1 = _FlowLevel(later, LEVEL_WIDTHS[1])
        self.block2 = _FlowLevel(later, LEVEL_WIDTHS[2])
        self.block3 = _FlowLevel(later, LEVEL_WIDTHS[3])
        self.block4 = _FlowLevel(later, LEVEL_WIDTHS[4])
        self.encode = _Encoder()

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        height, width = img0.shape[2:]
        # Sampling positions of every pixel in grid_sample's -1..1 coordinates, and the divisor
        # that turns a flow in pixels into the same coordinates.
        rows = torch.linspace(-1.0, 1.0, height, device=img0.device, dtype=img0.dtype)
        columns = torch.linspace(-1.0, 1.0, width, device=img0.device, dtype=img0.dtype)
        grid = torch.stack(torch.meshgrid(columns, rows, indexing="xy"), 0).unsqueeze(0)
        pixels = torch.tensor([(width - 1) / 2, (height - 1) / 2], device=img0.device, dtype=img0.dtype)
        pixels = pixels.view(1, 2, 1, 1)

        def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
            where = (grid + flow / pixels).permute(0, 2, 3, 1)
            return F.grid_sample(image, where, mode="bilinear", padding_mode="border", align_corners=True)

        features0, features1 = self.encode(img0), self.encode(img1)
        flow, mask, context = self.block0(torch.cat((img0, img1, features0, features1, timestep), 1), None,
                                          LEVEL_SCALES[0])
        for level, scale in zip((self.block1, self.block2, self.block3, self.block4), LEVEL_SCALES[1:]):
            warped0, warped1 = warp(img0, flow[:, :2]), warp(img1, flow[:, 2:4])
            inputs = torch.cat((warped0, warped1, warp(features0, flow[:, :2]), warp(features1, flow[:, 2:4]),
                                timestep, mask, context), 1)
            correction, mask, context = level(inputs, flow, scale)
            flow = flow + correction
        warped0, warped1 = warp(img0, flow[:, :2]), warp(img1, flow[:, 2:4])
        mask = torch.sigmoid(mask)
        return warped0 * mask + warped1 * (1 - mask)


def load_ifnet(weights: Path, device: torch.device) -> IFNet:
    """The network with the released ``flownet.pkl`` loaded; UserError if the file is not one of 4.25/4.26."""
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"no RIFE weights at {weights}: {RIFE_FIX}") from None
    except Exception as error:  # a truncated or foreign file: say which, not how unpickling failed
        raise UserError(f"{weights} is not a readable RIFE flownet.pkl ({type(error).__name__}: {error}); "
                        f"{RIFE_FIX}") from None
    # The release was saved from a DistributedDataParallel wrapper: every key starts "module.".
    state = {key.removeprefix("module."): value for key, value in state.items()}
    network = IFNet()
    wanted = network.state_dict()
    missing = [key for key in wanted if key not in state]
    misshapen = [key for key in wanted if key in state and tuple(state[key].shape) != tuple(wanted[key].shape)]
    if missing or misshapen:
        example = (missing or misshapen)[0]
        raise UserError(f"{weights} is not Practical-RIFE 4.25 or 4.26 ({len(missing)} weight(s) missing, "
                        f"{len(misshapen)} of another shape, e.g. {example}); {RIFE_FIX}")
    network.load_state_dict({key: state[key] for key in wanted})
    return network.eval().to(device)



def interpolate(frames: Iterable[bytes], width: int, height: int, positions: Sequence[Fraction],
                weights: Path) -> Iterator[bytes]:
    """Packed RGB24 frames at ``positions``, counted in source frames (2/3: two thirds of the way
    from frame 0 to frame 1), in order; ``frames`` are the source's, RGB24 too.

    A whole position gives the source frame itself, byte for byte. The others are interpolated
    in batches, on the GPU when there is one. Positions must not decrease nor pass the last frame.
    """
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    network = load_ifnet(weights, device)
    batch = BATCH[device.type]
    padded_height = -(-height // PAD_MULTIPLE) * PAD_MULTIPLE
    padded_width = -(-width // PAD_MULTIPLE) * PAD_MULTIPLE
    source = iter(frames)
    held: dict[int, bytes] = {}  # source frames still needed, by index
    read = 0
    pending: list[bytes | tuple[int, float]] = []  # output frames in order: ready, or (left frame, moment)

    def frame(index: int) -> bytes:
        nonlocal read
        while read <= index:
            held[read] = next(source)
            read += 1
        return held[index]

    def as_tensor(data: bytes) -> torch.Tensor:
        image = torch.frombuffer(bytearray(data), dtype=torch.uint8).view(height, width, 3)
        return image.permute(2, 0, 1).to(device, torch.float32) / 255

    def run_batch() -> Iterator[bytes]:
        wanted = [item for item in pending if isinstance(item, tuple)]
        if wanted:
            pad = (0, padded_width - width, 0, padded_height - height)
            img0 = F.pad(torch.stack([as_tensor(held[left]) for left, _ in wanted]), pad)
            img1 = F.pad(torch.stack([as_tensor(held[left + 1]) for left, _ in wanted]), pad)
            moments = torch.tensor([t for _, t in wanted], device=device, dtype=torch.float32)
            timestep = moments.view(-1, 1, 1, 1).expand(-1, 1, padded_height, padded_width)
            with torch.inference_mode():
                out = network(img0, img1, timestep)[:, :, :height, :width]
            pixels = (out.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu()
            made = iter(image.numpy().tobytes() for image in pixels)
        for item in pending:
            yield next(made) if isinstance(item, tuple) else item
        pending.clear()

    for position in positions:
        left = position.numerator // position.denominator
        if position == left:
            pending.append(frame(left))
        else:
            frame(left + 1)
            pending.append((left, float(position - left)))
            if sum(isinstance(item, tuple) for item in pending) == batch:
                yield from run_batch()
        needed = min([item[0] for item in pending if isinstance(item, tuple)] + [left])
        for index in [index for index in held if index < needed]:
            del held[index]
    yield from run_batch()
