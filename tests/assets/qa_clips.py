"""Synthetic shots for the QA checks (tests/test_qa_*.py, benchmarks/bench_qa.py), encoded by FFmpeg.

A scene: a sky, the ground, a plain sign, discs moving across with grain over everything, like a
generated shot. Variants: pseudo-letters drawn on the sign (drawtext), motion that stops
(frozen), motion that repeats (looping), brightness that alternates (flicker), and a shot in
two windows whose second one jumps in colour and time (seam).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from render_pipeline.backends.windows import Continuation, Windows
from render_pipeline.media.ffmpeg import MediaInfo
from render_pipeline.media.fonts import find_font
from render_pipeline.media.rgb_frames import SHOT_ENCODE, read_rgb_frames, write_rgb_frames

FPS = 24


@dataclass(frozen=True)
class Scene:
    seed: int
    width: int = 320
    height: int = 180
    seconds: float = 2.0

    @property
    def frames(self) -> int:
        return round(self.seconds * FPS)

    @property
    def sign(self) -> tuple[int, int, int, int]:
        """x0, y0, x1, y1 of the sign, where letters go."""
        rng = random.Random(self.seed)
        w, h = int(self.width * rng.uniform(0.35, 0.5)), int(self.height * rng.uniform(0.18, 0.25))
        x0, y0 = int(rng.uniform(0.05, 0.95) * (self.width - w)), int(rng.uniform(0.05, 0.35) * self.height)
        return x0, y0, x0 + w, y0 + h


@lru_cache(maxsize=4)
def _still_parts(scene: Scene) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """What does not move: the sky, ground and sign; and a pool of grain frames drawn from it."""
    rng = random.Random(scene.seed)
    top, bottom = np.array([rng.randint(40, 140) for _ in range(3)]), np.array([rng.randint(120, 230) for _ in range(3)])
    h, w = scene.height, scene.width
    rows = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    frame = np.broadcast_to(top + (bottom - top) * rows, (h, w, 3)).astype(np.float32).copy()
    horizon = int(h * rng.uniform(0.6, 0.75))
    frame[horizon:] = [rng.randint(20, 90) for _ in range(3)]
    x0, y0, x1, y1 = scene.sign
    frame[y0:y1, x0:x1] = [rng.randint(170, 240)] * 3
    noise = np.random.default_rng(scene.seed)
    return frame, tuple(noise.normal(0, 3, frame.shape).astype(np.float32) for _ in range(GRAIN_FRAMES))


GRAIN_FRAMES = 16


def _picture(scene: Scene, t: float, grain: int) -> np.ndarray:
    """The scene at ``t`` seconds with grain frame ``grain`` of the pool."""
    background, grains = _still_parts(scene)
    rng = random.Random(scene.seed + 1)
    frame = background.copy()
    h, w = scene.height, scene.width
    speed = w / 320  # pixels per second scale with the frame, so every size shows the same motion
    for _ in range(3):
        radius = rng.uniform(0.06, 0.12) * h
        x = (rng.uniform(0, w) + rng.uniform(30, 80) * speed * t * rng.choice((-1, 1))) % w
        y = rng.uniform(0.5, 0.9) * h + 8 * speed * np.sin(2 * t + rng.uniform(0, 6))
        colour = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32)
        x0, x1 = max(0, int(x - radius) - 1), min(w, int(x + radius) + 2)
        y0, y1 = max(0, int(y - radius) - 1), min(h, int(y + radius) + 2)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        inside = np.clip(radius + 0.5 - np.hypot(xx - x, yy - y), 0, 1)[..., None].astype(np.float32)  # anti-aliased
        frame[y0:y1, x0:x1] = frame[y0:y1, x0:x1] * (1 - inside) + inside * colour
    return frame + grains[grain]


def pseudo_letters(seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(5, 10)))


def make_clip(scene: Scene, out: Path, kind: str = "clean", scratch: Path | None = None,
              encode: list[str] = SHOT_ENCODE) -> Path:
    """Write the scene as ``kind``: clean, lettered, frozen, looping, flicker or seam (``scratch``: where
    the letters' text file goes; beside ``out`` by default)."""
    grain = random.Random(scene.seed)
    duration = scene.seconds
    seam = SEAM_WINDOWS.start(1)

    def frames():
        for n in range(scene.frames):
            t = n / FPS
            if kind == "frozen" and t >= duration / 4:
                frame = _picture(scene, duration / 4, 0)  # the picture and its grain stop
            elif kind == "looping":
                frame = _picture(scene, t % 0.75, grain.randrange(GRAIN_FRAMES))
            else:
                frame = _picture(scene, t, grain.randrange(GRAIN_FRAMES))
            if kind == "flicker":
                frame = frame * (1.08 if n % 2 else 0.94)
            if kind == "seam" and n >= seam:  # the second window: later in time, another colour, blended in
                later = _picture(scene, t + 0.4, grain.randrange(GRAIN_FRAMES)) + np.array([18, 4, -14])
                blend = min(1.0, (n - seam + 1) / SEAM_WINDOWS.overlap)
                frame = frame * (1 - blend) + later * blend
            yield np.clip(frame, 0, 255).astype(np.uint8).tobytes()

    if kind == "lettered":
        text_file = (scratch or out.parent) / f"{out.name}.letters.txt"
        text_file.write_text(pseudo_letters(scene.seed))
        x0, y0, x1, y1 = scene.sign
        size = int((y1 - y0) * 0.6)
        font = find_font().path
        encode = ["-vf", f"drawtext=fontfile={font}:textfile={text_file}:fontsize={size}:fontcolor=0x202020"
                         f":x={x0}+({x1 - x0}-text_w)/2:y={y0}+({y1 - y0}-text_h)/2", *encode]
    write_rgb_frames(frames(), scene.width, scene.height, FPS, out, what=f"writing the {kind} clip", encode=encode)
    return out


# The seam clip's windows: two of 29 frames sharing 5 (a 2 s shot at 24 fps is 53 frames long at most).
SEAM_WINDOWS = Windows(count=2, frames=29, overlap=5, continuation=Continuation.LATENT_OVERLAP)


def frames_at(path: Path, info: MediaInfo, indices: list[int], width: int, height: int) -> list[np.ndarray]:
    """The frames numbered ``indices`` (sorted, from 0) scaled to ``width`` x ``height``, uint8 RGB (height, width, 3)."""
    picks = "+".join(f"eq(n,{index})" for index in indices)
    frames = read_rgb_frames(path, width, height, f"reading frames of {path}",
                             filters=f"select='{picks}',scale={width}:{height}:flags=area")
    return [np.frombuffer(frame, dtype=np.uint8).reshape(height, width, 3) for frame in frames]
