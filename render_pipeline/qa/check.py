"""check_shot: every check on one rendered shot file."""

from __future__ import annotations

import time
from pathlib import Path

from render_pipeline.backends.windows import Windows
from render_pipeline.media.ffmpeg import probe
from render_pipeline.qa.findings import Check, ShotQa


def check_shot(path: Path, windows: Windows | None = None, lettering: bool = True,
               report_only: tuple[Check, ...] = ()) -> ShotQa:
    """Score ``path`` on every check; ``windows``: how it was rendered (seams), from the manifest.

    ``lettering`` False skips the text detector (not installed, or the animatic, whose slate is
    text on purpose); ``report_only``: checks reported that never fail the shot (footage's text).
    """
    from render_pipeline.qa.flicker import flicker_score
    from render_pipeline.qa.frames import read_frames
    from render_pipeline.qa.lettering import lettering_score, sample_indices
    from render_pipeline.qa.motion import frame_differences, frozen_score, loop_score
    from render_pipeline.qa.seams import seam_score

    began = time.monotonic()
    info = probe(path)
    fps = info.fps or 24.0
    # The frame count from the container's duration: close enough to spread the samples.
    picks = sample_indices(max(1, int((info.duration or 0) * fps))) if lettering else []
    frames = read_frames(path, info, picks)
    differences = frame_differences(frames.small)
    scores = [frozen_score(differences), loop_score(frames.small, differences, fps), flicker_score(frames.small)]
    seam = seam_score(frames.small, differences, windows)
    if seam is not None:
        scores.append(seam)
    if lettering:
        scores.append(lettering_score(frames, *info.video_size()))
    return ShotQa(tuple(scores), time.monotonic() - began, report_only=report_only)
