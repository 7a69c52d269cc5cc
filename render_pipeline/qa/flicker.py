"""Flicker: the brightness of a region jumping up and down from frame to frame (numpy only).

The frame is cut into a GRID x GRID of regions; for each, the mean luma per frame. Steady change
(a pan, a sunrise, something walking through) moves that mean smoothly, so its second difference
is small; flicker reverses it every frame or two. The score is, for the worst region, the
FLICKER_PERCENTILE-th percentile over the shot of half the absolute second difference, in luma
levels (0-255): a flicker must recur, one cut or flash does not make a shot flicker.

Threshold: docs/benchmarks.md ("Shot QA"), measured on synthetic clips (benchmarks/bench_qa.py).
"""

from __future__ import annotations

from render_pipeline.qa.findings import Check, Score

GRID = 3
FLICKER_PERCENTILE = 90
FLICKER_MAX = 1.5  # luma levels


def flicker_score(frames) -> Score:
    import numpy as np

    count, height, width, _ = frames.shape
    if count < 3:
        return Score(Check.FLICKER, 0.0, FLICKER_MAX)
    luma = frames @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    rows, cols = height // GRID * GRID, width // GRID * GRID
    regions = luma[:, :rows, :cols].reshape(count, GRID, rows // GRID, GRID, cols // GRID).mean(axis=(2, 4))
    second = np.abs(np.diff(regions.reshape(count, -1), n=2, axis=0)) / 2  # (count - 2, regions)
    per_region = np.percentile(second, FLICKER_PERCENTILE, axis=0)
    worst = int(np.argmax(per_region))
    return Score(Check.FLICKER, float(per_region[worst]), FLICKER_MAX, frame=int(np.argmax(second[:, worst])) + 1)
