"""Shots longer than a model's trained clip, rendered as windows that each continue the last.

A video model keeps its picture coherent for about as long as the clips it was trained on (Wan
2.2 A14B: 81 frames, TI2V-5B: 121, HunyuanVideo: 129, CogVideoX: 49); past that it loops, freezes
or drifts, and attention cost grows with the square of the frames. So a longer shot is cut into
windows of equal length, none longer than the trained clip, each sharing its first frames with
the last frames of the window before it:

- ``IMAGE``: families that animate an image (TI2V-5B, CogVideoX-I2V, Wan I2V-A14B) render each
  window after the first from the previous window's last frame, through the same model. The
  shared frame is that one frame.
- ``LATENT_OVERLAP``: text-only models (Wan T2V-A14B, HunyuanVideo, CogVideoX T2V) continue
  with the same model: the previous window's last frames are encoded by the VAE and held as
  known while the new window denoises (at every step the held latent frames are put back,
  noised to the step's level), so the new window grows out of them. Shared: those frames.

Where two windows share frames, the picture is cross-blended from the earlier window to the later
one, so no seam shows. The first window is rendered exactly as a one-pass shot with the shot's own
seed; each later window's seed derives from it.

Torch-free: the planner and `validate` read it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from render_pipeline.backends.specs import ModelSpec

# Latent frames the next window holds from the previous one (LATENT_OVERLAP): 2, i.e. 5 frames
# (a third of a second at 16 fps): the model sees where things were and which way they moved, the
# least that carries motion across (Wan2GP's sliding windows share 5 frames by default too). Each
# held frame is compute spent again (2 of an 81-frame window's 21 latent frames); whether real
# footage wants more is a figure to measure on real weights, not on random ones.
HELD_LATENT_FRAMES = 2


class Continuation(StrEnum):
    IMAGE = "image"
    LATENT_OVERLAP = "latent_overlap"


@dataclass(frozen=True)
class Windows:
    """How a shot's frames are rendered: ``count`` windows of ``frames`` each, consecutive windows
    sharing ``overlap`` frames (cross-blended); the shot keeps its first ``RenderRequest.frames``."""

    count: int
    frames: int
    overlap: int
    continuation: Continuation

    @property
    def stride(self) -> int:
        return self.frames - self.overlap

    @property
    def total_frames(self) -> int:
        return self.count * self.frames - (self.count - 1) * self.overlap

    def start(self, index: int) -> int:
        """The shot frame that window ``index`` (from 0) begins on."""
        return index * self.stride


def continuation_for(spec: ModelSpec) -> Continuation:
    """IMAGE for a model that renders from an image itself, else LATENT_OVERLAP."""
    return Continuation.IMAGE if spec.image_to_video == spec.name else Continuation.LATENT_OVERLAP


def overlap_frames(spec: ModelSpec, continuation: Continuation) -> int:
    """Frames two windows share: the one conditioning frame, or the held latent frames' pixels
    (a causal video VAE turns n latent frames into 1 + temporal * (n - 1) frames)."""
    if continuation is Continuation.IMAGE:
        return 1
    return 1 + spec.frame_step * (HELD_LATENT_FRAMES - 1)


def plan_windows(spec: ModelSpec, frames: int, window: str = "auto") -> Windows | None:
    """The windows for a shot of ``frames`` (already obeying the frame rule); None: one pass.

    ``window``: the shot's field, "auto" or "single" (one pass whatever the length).
    """
    if window == "single" or not spec.needs_gpu or frames <= spec.max_frames:
        return None
    continuation = continuation_for(spec)
    overlap = overlap_frames(spec, continuation)
    count = math.ceil((frames - overlap) / (spec.max_frames - overlap))
    # The shortest equal length that covers the shot, on the frame rule. ``count`` windows of the
    # trained length would cover it, so this is never longer than that.
    needed = math.ceil((frames + (count - 1) * overlap) / count)
    length = spec.frame_step * math.ceil((needed - 1) / spec.frame_step) + 1
    return Windows(count=count, frames=length, overlap=overlap, continuation=continuation)


def window_seed(seed: int, index: int) -> int:
    """Window 0 keeps the shot's seed (a one-window shot renders as before); later ones derive from it."""
    if index == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}:window:{index}".encode()).digest()[:4], "big")


def kept_bytes(windows: Windows | None, width: int, height: int) -> int:
    """Disk a windowed shot keeps while it renders: every window's 8-bit frames (windowed.py)."""
    return 0 if windows is None else windows.count * windows.frames * width * height * 3


def windows_folder(out_path: Path) -> Path:
    """Where a windowed shot keeps its finished windows until the shot is written (for resuming)."""
    return out_path.with_name(out_path.name + ".windows")
