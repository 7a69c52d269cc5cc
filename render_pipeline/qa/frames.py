"""A shot's frames as the checks read them, decoded through media/ffmpeg.py.

The motion checks read every frame, shrunk to ANALYSIS_WIDTH (area-averaged: grain and
compression noise average out, motion and colour stay); lettering reads a few frames whole.
"""

from __future__ import annotations

from pathlib import Path

from render_pipeline.media.ffmpeg import MediaInfo, read_rgb_frames

ANALYSIS_WIDTH = 128  # pixels; a 1280x720 shot is read at 128x72


def analysis_size(info: MediaInfo) -> tuple[int, int]:
    height = max(2, round(ANALYSIS_WIDTH * info.height / info.width / 2) * 2)
    return ANALYSIS_WIDTH, height


def small_frames(path: Path, info: MediaInfo):
    """Every frame, float32 RGB of shape (frames, height, width, 3), values 0-255."""
    import numpy as np

    width, height = analysis_size(info)
    frames = read_rgb_frames(path, width, height, f"reading the frames of {path} for QA",
                             filters=f"scale={width}:{height}:flags=area")
    data = b"".join(frames)
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, height, width, 3).astype(np.float32)


def frames_at(path: Path, info: MediaInfo, indices: list[int], width: int, height: int) -> list:
    """The frames numbered ``indices`` (sorted, from 0) scaled to ``width`` x ``height``, uint8 RGB (height, width, 3)."""
    import numpy as np

    picks = "+".join(f"eq(n,{index})" for index in indices)
    frames = read_rgb_frames(path, width, height, f"reading frames of {path} for QA",
                             filters=f"select='{picks}',scale={width}:{height}:flags=area")
    return [np.frombuffer(frame, dtype=np.uint8).reshape(height, width, 3) for frame in frames]
