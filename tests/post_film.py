"""A tiny real film for the post tests: solid-colour shots of mixed sizes and rates, tone narration, a tone bed.

Its rates are converted by repeating frames: motion interpolation of solid colours shows nothing
and costs most of the run (tests/test_retime.py tests it on moving pictures).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render_pipeline.media.ffmpeg import ffmpeg_exe
from render_pipeline.storyboard import Storyboard, load_storyboard

WIDTH, HEIGHT, FPS = 320, 180, 24
COLOURS = {"s01": (255, 0, 0), "s02": (0, 255, 0), "s03": (0, 0, 255), "s04": (255, 255, 0)}
# (source size, source fps, seconds short of the needed length)
SOURCES = {"s01": ("256x256", 16, 0.0), "s02": ("1280x720", 30, 0.0), "s03": ("320x180", 24, 0.0),
           "s04": ("640x360", 25, 0.3)}
TRICKY_TEXT = 'Q: "50%" {x} \\N back\\slash\nשלום ☀'

STORYBOARD = f"""\
version: 1
title: Post Test
delivery: {{size: {WIDTH}x{HEIGHT}, fps: {FPS}, loudness_lufs: -16, frame_interpolation: repeat}}
defaults: {{backend: animatic}}
shots:
  - id: s01
    duration: 2.0
    prompt: a red field
    transition: {{type: dissolve, duration: 0.5}}
  - id: s02
    duration: 1.5
    prompt: a green field
    overlays:
      - {{text: "TITLE", style: title, start: 0.2, end: 1.3, position: center}}
    narration: Hello there. Second one.
  - id: s03
    duration: 1.0
    prompt: 'a blue field, a banner reading "HARBOR"'
    transition: {{type: wipeleft, duration: 0.25}}
  - id: s04
    duration: 1.5
    prompt: a yellow field
    overlays:
      - {{text: {TRICKY_TEXT!r}, style: caption}}
"""


@dataclass
class FakeNarrationClip:
    path: Path
    duration: float
    sentences: list[tuple[str, float, float]]


@dataclass
class FakeAudio:
    narration: dict[str, FakeNarrationClip]
    music_bed: Path | None


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_film_inputs(folder: Path) -> tuple[Storyboard, FakeAudio]:
    """Write the storyboard, its rendered shots (handles included) and the audio stage's files."""
    (folder / "storyboard.yaml").write_text(STORYBOARD, encoding="utf-8")
    storyboard = load_storyboard(folder / "storyboard.yaml")
    (folder / "shots").mkdir()
    for shot in storyboard.shots:
        size, rate, short = SOURCES[shot.id]
        red, green, blue = COLOURS[shot.id]
        ffmpeg("-f", "lavfi", "-i", f"color=c=0x{red:02x}{green:02x}{blue:02x}:s={size}:r={rate}",
               "-t", f"{shot.render_duration - short:.3f}", "-pix_fmt", "yuv420p", "-c:v", "libx264",
               "-preset", "ultrafast", str(folder / "shots" / f"{shot.id}.mp4"))
    manifest = {"shots": {"s01": {"status": "done", "backend": "animatic", "seed": 7,
                                  "timings": {"seconds": 12.5, "finished_at": "2026-11-22T05:00:00+00:00"}}}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    audio_dir = folder / "audio"
    (audio_dir / "narration").mkdir(parents=True)
    voice = audio_dir / "narration" / "s02.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=f=1000:r=48000:d=1.0", "-af", "volume=-14dB", str(voice))
    bed = audio_dir / "music_bed.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=f=220:r=48000:d=6.0", "-af", "volume=-18dB", str(bed))
    narration = {"s02": FakeNarrationClip(voice, 1.0, [("Hello there.", 0.0, 0.5), ("Second one.", 0.5, 1.0)])}
    return storyboard, FakeAudio(narration, bed)


def read_frames(path: Path, crop: str | None = None) -> np.ndarray:
    """Every frame as RGB (frames, height, width, 3), optionally cropped (w:h:x:y)."""
    filters = ["-vf", f"crop={crop}"] if crop else []
    width, height = (int(v) for v in crop.split(":")[:2]) if crop else (WIDTH, HEIGHT)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), *filters, "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def band_level_db(path: Path, low: float, high: float, start: float, end: float) -> float:
    """Mean level (dBFS) of the audio between ``start`` and ``end`` seconds, band-passed to low..high Hz."""
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-af",
                          f"atrim={start}:{end},highpass=f={low}:poles=2,highpass=f={low}:poles=2,"
                          f"lowpass=f={high}:poles=2,lowpass=f={high}:poles=2",
                          "-ac", "1", "-f", "f32le", "-"], check=True, capture_output=True).stdout
    samples = np.frombuffer(raw, np.float32)
    return float(20 * np.log10(np.sqrt(np.mean(samples.astype(np.float64) ** 2)) + 1e-12))
