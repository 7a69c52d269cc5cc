"""The animatic's shapes and the layer they are painted on, with numpy.

Every edge is anti-aliased: a shape is a signed distance (pixels outside it positive), and a
pixel is covered by the share of it inside the edge, clip(0.5 - distance, 0, 1). Shapes are
evaluated only over their bounding box, so a frame's worth of silhouettes costs a few
milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Shapes: each gives its bounding box (x0, y0, x1, y1) and its signed distance at pixel centres.

@dataclass(frozen=True)
class Circle:
    x: float
    y: float
    r: float

    def box(self):
        return self.x - self.r, self.y - self.r, self.x + self.r, self.y + self.r

    def distance(self, ys, xs):
        return np.sqrt((xs - self.x) ** 2 + (ys - self.y) ** 2) - self.r


@dataclass(frozen=True)
class Rect:
    x0: float
    y0: float
    x1: float
    y1: float

    def box(self):
        return self.x0, self.y0, self.x1, self.y1

    def distance(self, ys, xs):
        dx = np.maximum(self.x0 - xs, xs - self.x1)
        dy = np.maximum(self.y0 - ys, ys - self.y1)
        outside = np.sqrt(np.maximum(dx, 0) ** 2 + np.maximum(dy, 0) ** 2)
        return outside + np.minimum(np.maximum(dx, dy), 0)


@dataclass(frozen=True)
class Capsule:
    """A line from (x0, y0) to (x1, y1), r thick on each side, with round ends."""

    x0: float
    y0: float
    x1: float
    y1: float
    r: float

    def box(self):
        return min(self.x0, self.x1) - self.r, min(self.y0, self.y1) - self.r, \
            max(self.x0, self.x1) + self.r, max(self.y0, self.y1) + self.r

    def distance(self, ys, xs):
        dx, dy = self.x1 - self.x0, self.y1 - self.y0
        along = np.clip(((xs - self.x0) * dx + (ys - self.y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
        return np.sqrt((xs - self.x0 - along * dx) ** 2 + (ys - self.y0 - along * dy) ** 2) - self.r


@dataclass(frozen=True)
class Convex:
    """A convex polygon: the largest distance past any of its edges (exact inside and along the edges)."""

    points: tuple[tuple[float, float], ...]

    def box(self):
        xs, ys = zip(*self.points)
        return min(xs), min(ys), max(xs), max(ys)

    def distance(self, ys, xs):
        points = self.points
        area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]))
        turn = 1.0 if area > 0 else -1.0
        result = None
        for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]):
            length = math.hypot(x1 - x0, y1 - y0) or 1.0
            normal_x, normal_y = turn * (y1 - y0) / length, -turn * (x1 - x0) / length
            past = (xs - x0) * normal_x + (ys - y0) * normal_y
            result = past if result is None else np.maximum(result, past)
        return result


class Layer:
    """A picture being painted: RGB, or RGB with coverage (alpha) for the subjects that move."""

    def __init__(self, width: int, height: int, transparent: bool = False):
        self.width, self.height = width, height
        self.rgb = np.zeros((height, width, 3), dtype=np.float32)
        self.alpha = np.zeros((height, width), dtype=np.float32) if transparent else None

    def fill(self, shapes, colour, opacity: float = 1.0) -> None:
        """Paint the union of ``shapes`` in ``colour``, anti-aliased."""
        boxes = [shape.box() for shape in shapes]
        x0 = max(0, math.floor(min(b[0] for b in boxes)) - 1)
        y0 = max(0, math.floor(min(b[1] for b in boxes)) - 1)
        x1 = min(self.width, math.ceil(max(b[2] for b in boxes)) + 2)
        y1 = min(self.height, math.ceil(max(b[3] for b in boxes)) + 2)
        if x1 <= x0 or y1 <= y0:
            return
        ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
        xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
        distance = shapes[0].distance(ys, xs)
        for shape in shapes[1:]:
            distance = np.minimum(distance, shape.distance(ys, xs))
        self.blend(np.clip(0.5 - distance, 0, 1) * opacity, colour, y0, x0)

    def fill_below(self, ridge, colour, top: float | None = None) -> None:
        """Paint everything below the curve ``ridge`` (a row per column), anti-aliased across its slope."""
        slope = np.gradient(ridge)
        first = max(0, int(ridge.min()) - 2) if top is None else max(0, int(top))
        ys = np.arange(first, self.height, dtype=np.float32)[:, None] + 0.5
        below = (ys - ridge[None, :]) / np.sqrt(1 + slope[None, :] ** 2)
        self.blend(np.clip(0.5 + below, 0, 1), colour, first, 0)

    def glow(self, x: float, y: float, radius: float, colour, strength: float) -> None:
        """A soft light around (x, y), fading to nothing ``radius`` away."""
        x0, y0 = max(0, int(x - radius)), max(0, int(y - radius))
        x1, y1 = min(self.width, int(x + radius) + 1), min(self.height, int(y + radius) + 1)
        if x1 <= x0 or y1 <= y0:
            return
        ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
        xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
        fade = np.clip(1 - np.sqrt((xs - x) ** 2 + (ys - y) ** 2) / radius, 0, 1) ** 2
        self.blend(fade * strength, colour, y0, x0)

    def blend(self, coverage, colour, y0: int, x0: int) -> None:
        height, width = coverage.shape
        region = self.rgb[y0:y0 + height, x0:x0 + width]
        region *= 1 - coverage[..., None]
        region += coverage[..., None] * np.asarray(colour, dtype=np.float32)
        if self.alpha is not None:  # colours stay premultiplied by coverage until pixels() divides
            alpha = self.alpha[y0:y0 + height, x0:x0 + width]
            alpha *= 1 - coverage
            alpha += coverage

    def pixels(self, mood) -> np.ndarray:
        """HxWx3 (or HxWx4 with alpha) uint8, with the scene's mood applied."""
        brightness, warmth = mood
        rgb = self.rgb * brightness
        if self.alpha is not None:
            rgb = np.divide(rgb, self.alpha[..., None], out=np.zeros_like(rgb), where=self.alpha[..., None] > 0)
        rgb[..., 0] += warmth
        rgb[..., 2] -= warmth
        rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
        if self.alpha is None:
            return rgb
        return np.dstack([rgb, np.clip(np.rint(self.alpha * 255), 0, 255).astype(np.uint8)])
