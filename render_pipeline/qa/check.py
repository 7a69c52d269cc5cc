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
    from render_pipeline.qa.frames import small_frames
    from render_pipeline.qa.lettering import lettering_score
    from render_pipeline.qa.motion import frame_differences, frozen_score, loop_score
    from render_pipeline.qa.seams import seam_score

    began = time.monotonic()
    info = probe(path)
    frames = small_frames(path, info)
    differences = frame_differences(frames)
    scores = [frozen_score(differences), loop_score(frames, differences, info.fps or 24.0), flicker_score(frames)]
    seam = seam_score(frames, differences, windows)
    if seam is not None:
        scores.append(seam)
    if lettering:
        scores.append(lettering_score(path, info, len(frames)))
    return ShotQa(tuple(scores), time.monotonic() - began, report_only=report_only)
