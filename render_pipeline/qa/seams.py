"""Seams: where a shot rendered in windows (backends/windows.py) jumps from one window to the next.

Consecutive windows share ``overlap`` frames, cross-blended; a seam that shows is a jump in
motion (frames around the blend differ far more than the shot's frames usually do) or in colour
(the mean colour after the blend is far from the colour before it, further than the shot drifts
over the same span). Each is a ratio to the shot's own typical change; the score is the larger,
at the worst seam.

Threshold: docs/benchmarks.md ("Shot QA"), measured on synthetic clips (benchmarks/bench_qa.py).
"""

from __future__ import annotations

from render_pipeline.backends.windows import Windows
from render_pipeline.qa.findings import Check, Score

SEAM_MAX = 3.0  # times the shot's typical change
CHANGE_FLOOR = 0.5  # levels (0-255): a near-still shot's typical change is not divided by ~0


def seam_score(frames, differences, windows: Windows | None) -> Score | None:
    """None for a shot rendered in one pass."""
    import numpy as np

    if windows is None or windows.count < 2:
        return None
    count = len(frames)
    colours = frames.mean(axis=(1, 2))  # (frames, 3)
    typical_motion = float(np.median(differences)) + CHANGE_FLOOR
    worst, worst_frame = 0.0, None
    for index in range(1, windows.count):
        first = windows.start(index)
        last = min(first + windows.overlap, count - 1)  # the first frame past the blend
        before = max(first - 1, 0)
        if before >= last:
            continue
        motion = float(differences[before:last].max()) / typical_motion
        span = last - before
        drift = np.abs(colours[span:] - colours[:-span]).max(axis=1)
        typical_drift = float(np.median(drift)) + CHANGE_FLOOR
        colour = float(np.abs(colours[last] - colours[before]).max()) / typical_drift
        if max(motion, colour) > worst:
            worst, worst_frame = max(motion, colour), first
    return Score(Check.SEAM, worst, SEAM_MAX, frame=worst_frame)
