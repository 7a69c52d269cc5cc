"""A shot's frames as the checks read them, in one decode through media/ffmpeg.py.

The motion checks read every frame shrunk to ANALYSIS_WIDTH (area-averaged: grain and
compression noise average out, motion and colour stay). Lettering reads a few frames at
OCR_WIDTH at most. Decoding a 720p shot costs more than every check together, so it is
decoded once, at a whole multiple of the analysis size near the reading size (640x360 for
1280x720): the frames lettering reads are kept whole, and every frame is averaged down
block by block to the analysis size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from render_pipeline.media.ffmpeg import MediaInfo
from render_pipeline.media.rgb_frames import read_rgb_frames

ANALYSIS_WIDTH = 128  # pixels; a 1280x720 shot is analysed at 128x72
OCR_WIDTH = 640  # the most lettering reads (RapidOCR would scale 720p up to 736 on its short side)


@dataclass(frozen=True)
class ShotFrames:
    small: object  # every frame: float32 RGB, (frames, height, width, 3), values 0-255
    picked: dict  # frame number -> uint8 RGB frame (height, width, 3) at the reading size
    scale: tuple[float, float]  # the shot's pixels per pixel of a picked frame, x and y


def read_frames(path: Path, info: MediaInfo, picks: Sequence[int] = ()) -> ShotFrames:
    """Every frame shrunk, and the frames numbered ``picks`` at the reading size."""
    import numpy as np

    shot_width, shot_height = info.video_size()
    width = ANALYSIS_WIDTH
    height = max(2, round(width * shot_height / shot_width / 2) * 2)
    factor = max(1, min(OCR_WIDTH, shot_width) // width) if picks else 1
    wanted = set(picks)
    small, picked = [], {}
    frames = read_rgb_frames(path, width * factor, height * factor, f"reading the frames of {path} for QA",
                             filters=f"scale={width * factor}:{height * factor}:flags=area")
    for number, data in enumerate(frames):
        frame = np.frombuffer(data, dtype=np.uint8).reshape(height * factor, width * factor, 3)
        if number in wanted:
            picked[number] = frame
        # Block sums in whole numbers, rows then columns (5 x 5 x 255 fits 16 bits): a fifth of a float mean's cost.
        rows = frame.reshape(height, factor, width * factor * 3).sum(axis=1, dtype=np.uint16)
        small.append(rows.reshape(height, width, factor, 3).sum(axis=2, dtype=np.uint16))
    blocks = np.stack(small) if small else np.zeros((0, height, width, 3), np.uint16)
    return ShotFrames(blocks.astype(np.float32) / factor**2, picked,
                      (shot_width / (width * factor), shot_height / (height * factor)))
