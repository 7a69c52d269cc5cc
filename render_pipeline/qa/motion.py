"""Frozen and looping motion, from differences between frames (numpy only).

Frozen: the longest run of consecutive frames that barely differ, as a share of the shot. A
video model that runs out of motion holds its last picture; a camera that holds still over a
living scene still has leaves, water and grain moving, so its frames differ by more than
STILL_DIFF.

Looping: a shot that repeats itself comes back to a picture it showed before. For every lag,
the mean difference between each frame and the frame that far ahead (each frame's brightness
and contrast taken out first). A shot that moves on differs more, or as much, the further apart
two frames are; a loop comes back: at its period (at least MIN_LAG_SECONDS) the difference
falls far below what it was at a shorter lag. The score is the largest difference at a shorter
lag over the difference at the lag, at its worst lag (the frame reported is that lag: the period).

Thresholds: docs/benchmarks.md ("Shot QA"), measured on synthetic clips (benchmarks/bench_qa.py).
"""

from __future__ import annotations

from render_pipeline.qa.findings import Check, Score

STILL_DIFF = 0.3  # mean absolute difference (0-255) between shrunken frames below which nothing moved
FROZEN_MAX = 0.25  # the share of the shot that may be still in one run
MIN_LAG_SECONDS = 0.5  # a repeat must be at least this long ago, and last at least this long
LOOP_MAX = 3.0  # how many times closer a frame is to its repeat than to a nearer frame
NOISE_FLOOR = 0.1  # added to the lagged difference: two decodes of one picture still differ a little


def frame_differences(frames):
    """Mean absolute difference between each frame and the next: shape (frames - 1,)."""
    import numpy as np

    return np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))


def frozen_score(differences) -> Score:
    longest, run, end = 0, 0, None
    for index, difference in enumerate(differences):
        run = run + 1 if difference < STILL_DIFF else 0
        if run > longest:
            longest, end = run, index + 1
    share = longest / max(len(differences), 1)
    return Score(Check.FROZEN, share, FROZEN_MAX, frame=None if end is None else end - longest)


def loop_score(frames, differences, fps: float) -> Score:
    import numpy as np

    min_lag = max(2, round(MIN_LAG_SECONDS * fps))
    count = len(frames)
    if count < 2 * min_lag or float(np.median(differences)) < STILL_DIFF:  # too short to repeat, or frozen
        return Score(Check.LOOP, 0.0, LOOP_MAX)
    gray = frames.mean(axis=3)
    # Brightness and contrast that flicker are not a repeat of content: each frame is standardised.
    gray = (gray - gray.mean(axis=(1, 2), keepdims=True)) / (gray.std(axis=(1, 2), keepdims=True) + 1e-3) * gray.std()
    flat = (gray[:, ::2, ::2] + gray[:, 1::2, 1::2]).reshape(count, -1) / 2  # half size is plenty to see a repeat
    lagged = np.array([np.abs(flat[lag:] - flat[:-lag]).mean() for lag in range(1, count - min_lag + 1)])
    farthest_before = np.maximum.accumulate(lagged)  # at index i: the largest difference at lags 1..i+1
    returns = farthest_before[min_lag - 2:-1] / (lagged[min_lag - 1:] + NOISE_FLOOR)  # lags min_lag..
    worst = int(np.argmax(returns))
    return Score(Check.LOOP, float(returns[worst]), LOOP_MAX, frame=min_lag + worst)
