"""What the runner asks of every backend: a session that loads its models once and renders many shots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from render_pipeline.backends.windows import Windows

# Called as progress(done_steps, total_steps) while a shot renders.
Progress = Callable[[int, int], None]
# The image formats a conditioning image is read as: those `validate` lets through (media/ffmpeg.py
# IMAGE_CODECS). Pillow guesses from the bytes among these only, never hands a file to another reader.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")


@dataclass(frozen=True)
class LoraFile:
    """A LoRA fused into the transformer(s) while a shot renders (backends/lora_fuse.py)."""

    path: Path  # a .safetensors file
    sha256: str  # of the file's bytes: part of the shot's cache key
    weight: float  # multiplies the LoRA's change: W + weight * (alpha / rank) * B @ A
    expert: str = "both"  # Wan 2.2 A14B: "high" (transformer), "low" (transformer_2) or "both"


@dataclass(frozen=True)
class RenderRequest:
    """One shot to render, with everything the backend needs and nothing it must look up."""

    shot_id: str
    prompt: str  # the enhanced prompt (text already stripped out); "" for footage
    negative_prompt: str
    seed: int
    width: int  # the size the backend renders at (its native size; conformed later)
    height: int
    fps: float  # the backend's native frame rate
    frames: int  # frames to render, handles included, obeying the backend's frame rule
    steps: int
    quality: str  # "draft" | "final"
    image: Path | None = None  # image-to-video conditioning (a file, or the last frame of continue_from)
    settings: dict = field(default_factory=dict)  # backend-specific knobs from the plan (guidance, shift, ...)
    loras: tuple[LoraFile, ...] = ()  # fused in this order; shots with the same set share the fused weights
    windows: Windows | None = None  # None: one pass; else the shot is rendered window by window (windows.py)

    @property
    def frames_per_pass(self) -> int:
        """The frames one denoising pass renders: the whole shot, or one window."""
        return self.windows.frames if self.windows is not None else self.frames


class BackendSession(Protocol):
    """Loads its models once; the runner calls encode() for every shot first, then render() per shot."""

    name: str

    def encode(self, requests: list[RenderRequest], text_cache: Path | None = None) -> None:
        """Prepare text conditioning for all shots, so the text encoder can be freed before denoising.

        ``text_cache``: a folder where embeddings are kept, so a later run need not encode them again.
        """

    def render(self, request: RenderRequest, out_path: Path, progress: Progress) -> None:
        """Write the shot as a video file (no audio) at ``out_path``; the runner checks and renames it."""

    def close(self) -> None:
        """Free GPU and host memory."""


def conditioning_image(path: Path, width: int, height: int):
    """A request's image as an RGB picture at the render size (PIL), read as one of IMAGE_FORMATS."""
    from PIL import Image

    with Image.open(path, formats=IMAGE_FORMATS) as image:
        return image.convert("RGB").resize((width, height))
