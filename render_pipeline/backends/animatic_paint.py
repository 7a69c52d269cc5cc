"""The animatic's pictures, painted with numpy from a Scene: a backdrop, and the subjects that move.

Every edge is anti-aliased: a shape is a signed distance (pixels outside it positive), and a
pixel is covered by the share of it inside the edge, clip(0.5 - distance, 0, 1). Shapes are
evaluated only over their bounding box, so a frame's worth of silhouettes costs a few
milliseconds. Sizes are shares of the picture's height, so a scene looks the same at any
size. The same Scene always paints the same pixels (one seeded generator, no other source
of chance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from render_pipeline.backends.animatic_scene import Scene, Subject

Colour = tuple[int, int, int]
# The sky by time of day: (its top, at the horizon, the sun or moon).
SKIES: dict[str, tuple[Colour, Colour, Colour]] = {
    "dawn": ((58, 64, 120), (246, 170, 140), (255, 226, 180)),
    "day": ((60, 130, 210), (180, 215, 240), (255, 250, 220)),
    "golden": ((90, 80, 140), (250, 160, 70), (255, 200, 110)),
    "night": ((8, 12, 40), (30, 40, 90), (230, 230, 245)),
    "overcast": ((120, 126, 135), (180, 184, 190), (215, 215, 215)),
}
WINDOW_LIGHT = (255, 205, 120)  # lit windows, lamps and portholes
SPARK = (255, 230, 150)
# Ground colours by setting, lit by the time of day's light (LIGHT).
GROUNDS = {"field": (86, 124, 66), "forest": (52, 84, 50), "mountains": (96, 96, 104), "desert": (196, 164, 112),
           "snow": (226, 230, 240), "city": (72, 74, 80), "shipyard": (112, 112, 108), "interior": (92, 90, 88)}
LIGHT = {"day": (1.0, 1.0, 1.0), "dawn": (0.85, 0.72, 0.78), "golden": (0.95, 0.7, 0.52),
         "night": (0.2, 0.22, 0.34), "overcast": (0.72, 0.75, 0.78)}


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


def mix(a: Colour, b: Colour, share_of_b: float) -> Colour:
    red, green, blue = (int(round(x * (1 - share_of_b) + y * share_of_b)) for x, y in zip(a, b))
    return red, green, blue


def lit(colour: Colour, time_of_day: str) -> Colour:
    red, green, blue = (int(min(255, c * f)) for c, f in zip(colour, LIGHT[time_of_day]))
    return red, green, blue


@dataclass(frozen=True)
class Painted:
    backdrop: np.ndarray  # HxWx3 uint8
    sprite: np.ndarray | None  # hxwx4 uint8: the subjects that move, cropped to what they cover
    sprite_at: tuple[int, int] = (0, 0)  # (x, y) of the sprite's top left in the backdrop, halfway through the shot
    travel: float = 0.0  # pixels the sprite moves across the shot (negative: to the left)


class _Painter:
    def __init__(self, scene: Scene, width: int, height: int):
        self.scene, self.width, self.height = scene, width, height
        self.rng = np.random.default_rng(scene.seed)
        self.sky_top, self.sky_low, self.disc = SKIES[scene.time_of_day]
        self.disc_x: float | None = None  # where the sun or moon is, for its glitter on water
        self.shore = float(height)  # where the water ends: a harbour's quay
        self.horizon = scene.horizon * height
        self.night = scene.time_of_day == "night"
        # Silhouettes: a dark grey in the time of day's light, nearly black at night.
        self.ink = mix(lit((40, 44, 52), scene.time_of_day), (0, 0, 0), 0.3)

    def paint(self) -> Painted:
        backdrop = Layer(self.width, self.height)
        setting = self.scene.setting
        if setting in ("card", "light card"):
            self._card(backdrop, light=setting == "light card")
            return Painted(backdrop.pixels(self.scene.mood), None)
        if setting == "interior":
            self._interior(backdrop)
        else:
            self._sky(backdrop)
            grounds = {"field": self._field, "snow": self._snow, "desert": self._desert, "forest": self._forest,
                       "mountains": self._mountains, "city": self._city, "sea": self._sea, "harbor": self._harbor,
                       "shipyard": self._shipyard}
            grounds[setting](backdrop)
        subjects = self.scene.subjects
        moving = self.scene.moving and bool(subjects)  # the main subject crosses the frame on a layer of its own
        for index in reversed(range(len(subjects))):  # the main subject last: in front of the others
            if not (index == 0 and moving):
                self._subject(backdrop, subjects[index], main=index == 0)
        if self.scene.sparks:
            self._sparks(backdrop)
        if not moving:
            return Painted(backdrop.pixels(self.scene.mood), None)
        sprite = Layer(self.width, self.height, transparent=True)
        self._subject(sprite, subjects[0], main=True)
        pixels = sprite.pixels(self.scene.mood)
        rows, columns = np.nonzero(pixels[..., 3])
        if rows.size == 0:
            return Painted(backdrop.pixels(self.scene.mood), None)
        y0, y1, x0, x1 = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
        direction = 1 if self.rng.random() < 0.5 else -1
        return Painted(backdrop.pixels(self.scene.mood), pixels[y0:y1, x0:x1], (int(x0), int(y0)),
                       direction * 0.3 * self.width)

    # Skies, grounds and settings -----------------------------------------------------------

    def _sky(self, layer: Layer) -> None:
        rows = np.linspace(0.0, 1.0, self.height, dtype=np.float32)[:, None]
        mix_to_horizon = np.clip(rows * self.height / max(self.horizon, 1), 0, 1)
        top, low = np.asarray(self.sky_top, np.float32), np.asarray(self.sky_low, np.float32)
        layer.rgb[:] = (top * (1 - mix_to_horizon) + low * mix_to_horizon)[:, None, :]
        time_of_day, h = self.scene.time_of_day, self.height
        if self.night:
            for _ in range(int(self.width * self.horizon / 900)):
                x, y = self.rng.uniform(0, self.width), self.rng.uniform(0, self.horizon * 0.9)
                layer.fill([Circle(x, y, self.rng.uniform(0.3, 0.9) * h / 360)], (235, 235, 250),
                           self.rng.uniform(0.4, 1.0))
        if time_of_day != "overcast":
            radius = h * (0.04 if self.night else 0.07)
            x, y = self.width * self.rng.uniform(0.2, 0.8), self.horizon * self.rng.uniform(0.35, 0.75)
            layer.glow(x, y, radius * 5, self.disc, 0.4)
            layer.fill([Circle(x, y, radius)], self.disc)
            self.disc_x = x
        if time_of_day in ("day", "dawn", "overcast"):
            cloud = mix(self.sky_low, (255, 255, 255), 0.5 if time_of_day != "overcast" else 0.2)
            for _ in range(self.rng.integers(2, 5)):
                x, y, size = self.rng.uniform(0, self.width), self.rng.uniform(0.1, 0.6) * self.horizon, h * 0.04
                wide = size * self.rng.uniform(2.5, 5)
                puffs = [Circle(x + self.rng.uniform(-0.6, 0.6) * wide, y - size * self.rng.uniform(0.3, 0.9),
                                size * self.rng.uniform(0.7, 1.3)) for _ in range(3)]
                layer.fill([Capsule(x - wide, y, x + wide, y, size * 0.6), *puffs], cloud, 0.5)

    def _ridge(self, base: float, height: float, bumps: int = 3) -> np.ndarray:
        columns = np.arange(self.width, dtype=np.float32) + 0.5
        ridge = np.full(self.width, base, dtype=np.float32)
        for _ in range(bumps):
            period = self.width * self.rng.uniform(0.3, 1.2)
            ridge += height * np.sin(columns / period * 2 * np.pi + self.rng.uniform(0, 2 * np.pi))
        return ridge

    def _land(self, layer: Layer, name: str, ranges: int = 3) -> Colour:
        ground = lit(GROUNDS[name], self.scene.time_of_day)
        for number in range(ranges):
            depth = (number + 1) / ranges  # far ranges are paler, near ones darker and lower
            layer.fill_below(self._ridge(self.horizon + self.height * 0.04 * number, self.height * 0.03),
                             mix(self.sky_low, ground, 0.4 + 0.6 * depth))
        return ground

    def _field(self, layer: Layer) -> None:
        self._land(layer, "field")

    def _snow(self, layer: Layer) -> None:
        self._land(layer, "snow")

    def _desert(self, layer: Layer) -> None:
        self._land(layer, "desert", ranges=2)

    def _forest(self, layer: Layer) -> None:
        ground = self._land(layer, "forest", ranges=2)
        tree = mix(ground, (0, 0, 0), 0.35)
        for _ in range(int(self.width / self.height * 14)):
            x = self.rng.uniform(0, self.width)
            base = self.horizon + self.height * self.rng.uniform(0.0, 0.08)
            size = self.height * self.rng.uniform(0.08, 0.2)
            layer.fill([Convex(((x, base - size), (x + size * 0.28, base), (x - size * 0.28, base)))], tree)

    def _mountains(self, layer: Layer) -> None:
        ground = lit(GROUNDS["mountains"], self.scene.time_of_day)
        for number, share in enumerate((0.45, 0.75)):
            peaks = self.rng.uniform(0, 1, 9)
            columns = np.linspace(0, self.width, 9)
            ridge = self.horizon - self.height * (0.05 + 0.22 * peaks * (1 - number * 0.4))
            ridge = np.interp(np.arange(self.width) + 0.5, columns, ridge).astype(np.float32)
            layer.fill_below(ridge, mix(self.sky_low, ground, share))
        layer.fill_below(self._ridge(self.horizon + self.height * 0.05, self.height * 0.01), mix(ground, (0, 0, 0), 0.3))

    def _city(self, layer: Layer) -> None:
        ground = lit(GROUNDS["city"], self.scene.time_of_day)
        for number, share in enumerate((0.45, 0.8)):
            x = -self.rng.uniform(0, self.height * 0.1)
            while x < self.width:
                wide = self.height * self.rng.uniform(0.06, 0.16)
                tall = self.height * self.rng.uniform(0.08, 0.3) * (1.2 - number * 0.4)
                colour = mix(self.sky_low, ground, share)
                layer.fill([Rect(x, self.horizon - tall, x + wide, self.horizon + 1)], colour)
                if self.night or self.scene.time_of_day == "golden":
                    self._windows(layer, x, self.horizon - tall, wide, tall, 0.25 if number else 0.15)
                x += wide + self.height * self.rng.uniform(0.0, 0.02)
        layer.fill([Rect(0, self.horizon, self.width, self.height)], mix(ground, (0, 0, 0), 0.3))

    def _windows(self, layer: Layer, x: float, y: float, wide: float, tall: float, share: float) -> None:
        step = self.height * 0.022
        lights = [Rect(wx, wy, wx + step * 0.45, wy + step * 0.55)
                  for wy in np.arange(y + step * 0.5, y + tall - step, step)
                  for wx in np.arange(x + step * 0.4, x + wide - step * 0.5, step)
                  if self.rng.random() < share]
        if lights:
            layer.fill(lights, WINDOW_LIGHT, 0.85)

    def _sea(self, layer: Layer) -> None:
        # A low far shore, then water that darkens towards the camera, with wave lines and the
        # sun's or moon's glitter under it.
        shore = self._ridge(self.horizon - self.height * 0.012, self.height * 0.006, bumps=2)
        layer.fill_below(shore, mix(self.sky_low, self.ink, 0.35))
        deep = mix(self.sky_top, (6, 18, 36), 0.55)
        near = np.asarray(mix(self.sky_low, deep, 0.35), np.float32)
        rows = np.clip((np.arange(self.height, dtype=np.float32) - self.horizon) / max(self.height - self.horizon, 1),
                       0, 1)[:, None]
        water = near * (1 - rows) + np.asarray(deep, np.float32) * rows
        top = int(self.horizon)
        coverage = np.clip(np.arange(top, self.height, dtype=np.float32) + 0.5 - self.horizon + 0.5, 0, 1)[:, None]
        layer.rgb[top:] = layer.rgb[top:] * (1 - coverage[..., None]) + water[top:, None, :] * coverage[..., None]
        light = mix(self.sky_low, (255, 255, 255), 0.35)
        for _ in range(int(self.width / self.height * 30)):
            depth = self.rng.uniform(0.02, 1.0)
            y = self.horizon + (self.height - self.horizon) * depth ** 1.6
            x, length = self.rng.uniform(0, self.width), self.height * (0.01 + 0.06 * depth)
            layer.fill([Capsule(x - length, y, x + length, y, 0.25 + 0.9 * depth * self.height / 360)], light,
                       0.18 + 0.2 * depth)
        if self.disc_x is not None:
            for _ in range(24):
                depth = self.rng.uniform(0.0, 1.0)
                y = self.horizon + (self.height - self.horizon) * depth ** 1.4 + 1
                x = self.disc_x + self.rng.normal(0, self.height * (0.01 + 0.03 * depth))
                length = self.height * (0.01 + 0.04 * depth)
                layer.fill([Capsule(x - length, y, x + length, y, 0.4 + 1.2 * depth * self.height / 360)], self.disc,
                           0.5 * (1 - 0.5 * depth))

    def _harbor(self, layer: Layer) -> None:
        self._sea(layer)
        h = self.height
        # The far side: warehouses and a crane or two on the shore, lit at night.
        far = mix(self.sky_low, self.ink, 0.55)
        x = self.rng.uniform(0, h * 0.2)
        while x < self.width:
            wide, tall = h * self.rng.uniform(0.05, 0.14), h * self.rng.uniform(0.02, 0.06)
            layer.fill([Rect(x, self.horizon - tall, x + wide, self.horizon + 1)], far)
            if self.night:
                self._windows(layer, x, self.horizon - tall, wide, tall, 0.3)
            x += wide + h * self.rng.uniform(0.02, 0.2)
        if not any(subject.kind == "crane" for subject in self.scene.subjects):
            for _ in range(2):
                self._crane(layer, self.rng.uniform(0.1, 0.9) * self.width, self.horizon, h * 0.16, far)
        # The quay: a stone edge across the foot of the frame, with bollards and lamps.
        top = h * (0.86 + self.rng.uniform(-0.03, 0.03))
        self.shore = top - h * 0.03
        stone = mix(lit((120, 116, 108), self.scene.time_of_day), self.ink, 0.2)
        layer.fill([Convex(((0, top), (self.width, top - h * 0.03), (self.width, h + 2), (0, h + 2)))], stone)
        edge = mix(stone, (0, 0, 0), 0.4)
        layer.fill([Capsule(0, top, self.width, top - h * 0.03, h * 0.004)], edge)
        for x in np.arange(self.rng.uniform(0.05, 0.2) * self.width, self.width, self.width * 0.3):
            y = top - h * 0.03 * x / self.width
            layer.fill([Rect(x - h * 0.012, y - h * 0.03, x + h * 0.012, y), Circle(x, y - h * 0.03, h * 0.014)], edge)
            if self.night:
                lamp_x = x + self.width * 0.15
                layer.fill([Capsule(lamp_x, y, lamp_x, y - h * 0.2, h * 0.003)], edge)
                layer.glow(lamp_x, y - h * 0.2, h * 0.06, WINDOW_LIGHT, 0.5)
                layer.fill([Circle(lamp_x, y - h * 0.2, h * 0.008)], WINDOW_LIGHT)

    def _shipyard(self, layer: Layer) -> None:
        ground = lit(GROUNDS["shipyard"], self.scene.time_of_day)
        far = mix(self.sky_low, self.ink, 0.5)
        for _ in range(3):  # sheds on the horizon
            x, wide, tall = self.rng.uniform(0, self.width), self.height * 0.25, self.height * self.rng.uniform(0.05, 0.1)
            layer.fill([Convex(((x, self.horizon - tall), (x + wide, self.horizon - tall * 1.3),
                                (x + wide, self.horizon + 1), (x, self.horizon + 1)))], far)
        if not any(subject.kind == "crane" for subject in self.scene.subjects):
            for share in (0.2, 0.75):
                self._crane(layer, share * self.width, self.horizon, self.height * 0.35, mix(far, self.ink, 0.5))
        layer.fill([Rect(0, self.horizon, self.width, self.height + 1)], ground)
        # The dock's basin: a dark trapezoid sunk into the ground.
        top = self.horizon + (self.height - self.horizon) * 0.35
        layer.fill([Convex(((self.width * 0.1, top), (self.width * 0.9, top), (self.width * 1.05, self.height + 1),
                            (-self.width * 0.05, self.height + 1)))], mix(ground, (0, 0, 0), 0.55))

    def _interior(self, layer: Layer) -> None:
        # A hall: back wall with tall windows showing the sky's light, pillars, roof trusses, a floor.
        h, floor = self.height, self.horizon
        wall = mix(lit((120, 118, 116), self.scene.time_of_day), self.sky_low, 0.15)
        rows = np.linspace(0.7, 1.0, self.height, dtype=np.float32)[:, None]
        layer.rgb[:] = (np.asarray(wall, np.float32) * rows)[:, None, :]
        glass = self.sky_low if not self.night else mix(self.sky_top, (0, 0, 0), 0.3)
        bay = self.width / 5
        for number in range(5):
            x = bay * number + bay * 0.3
            layer.fill([Rect(x, floor * 0.25, x + bay * 0.4, floor * 0.8)], glass)
            layer.fill([Rect(bay * number - h * 0.02, 0, bay * number + h * 0.02, floor)], mix(wall, self.ink, 0.5))
        beam = mix(wall, self.ink, 0.7)
        for number in range(6):
            x = self.width * number / 5
            layer.fill([Capsule(x, floor * 0.2, x + bay / 2, 0, h * 0.006),
                        Capsule(x + bay / 2, 0, x + bay, floor * 0.2, h * 0.006)], beam)
        layer.fill([Capsule(0, floor * 0.2, self.width, floor * 0.2, h * 0.008)], beam)
        if self.night:
            for number in range(5):
                layer.glow(bay * (number + 0.5), floor * 0.3, h * 0.08, WINDOW_LIGHT, 0.5)
                layer.fill([Circle(bay * (number + 0.5), floor * 0.3, h * 0.01)], WINDOW_LIGHT)
        ground = lit(GROUNDS["interior"], self.scene.time_of_day)
        layer.fill([Rect(-2, floor, self.width + 2, self.height + 2)], ground)
        lines = mix(ground, (0, 0, 0), 0.25)
        for share in np.linspace(-1.0, 2.0, 9):  # floor joints converging on the middle of the far wall
            layer.fill([Capsule(self.width / 2, floor, share * self.width, self.height * 1.2, h * 0.002)], lines)

    def _card(self, layer: Layer, light: bool) -> None:
        centre = (235, 235, 232) if light else mix((26, 26, 30), self.sky_low, 0.12)
        edge = mix(centre, (0, 0, 0), 0.5)
        yy, xx = np.ogrid[:self.height, :self.width]
        distance = np.sqrt(((xx - self.width / 2) / self.width) ** 2 + ((yy - self.height / 2) / self.height) ** 2)
        share = np.clip(distance / 0.75, 0, 1)[..., None].astype(np.float32)
        layer.rgb[:] = np.asarray(centre, np.float32) * (1 - share) + np.asarray(edge, np.float32) * share

    # Subjects ------------------------------------------------------------------------------

    def _subject(self, layer: Layer, subject: Subject, main: bool) -> None:
        h, scale = self.height, self.scene.scale * (1.0 if main else 0.55)
        for number in range(subject.count):
            # Several of a kind stand side by side, each a little farther back (smaller, higher, paler).
            far = number / max(subject.count, 1) * 0.5
            size = scale * (1 - far)
            spread = (number - (subject.count - 1) / 2) / max(subject.count, 1)
            x = self.width * (0.5 + spread * 0.8 + self.rng.uniform(-0.05, 0.05)) + (0 if main else self.width * 0.2)
            colour = mix(self.ink, self.sky_low, 0.15 + far * 0.6 + (0 if main else 0.2))
            ground = self.horizon + (h - self.horizon) * min(1.0, size * 0.9)
            kind = subject.kind
            if kind == "ship":
                waterline = min(self.horizon + (h - self.horizon) * min(0.9, size * 0.6), self.shore - h * 0.01)
                self._ship(layer, x, waterline, h * size, colour)
            elif kind == "person":
                self._person(layer, x, ground + h * size * 0.25, h * size, colour)
            elif kind == "crane" and self.scene.setting == "interior":
                self._gantry(layer, x, self.horizon, colour)
            elif kind == "crane":
                self._crane(layer, x, self.horizon, min(h * max(0.3, size * 1.5), self.horizon * 0.8), colour)
            elif kind == "vehicle":
                self._vehicle(layer, x, ground, h * size * 0.45, colour)
            elif kind == "aircraft":
                self._aircraft(layer, x, self.horizon * self.rng.uniform(0.25, 0.5), h * size * 0.5, colour)
            elif kind == "tower":
                self._tower(layer, x, self.horizon + h * 0.01, h * max(0.25, size * 1.3), colour)
            elif kind == "tree":
                self._tree(layer, x, ground, h * size * 1.2, colour)
            elif kind == "bird":
                self._birds(layer, x, self.horizon * self.rng.uniform(0.2, 0.6), h * 0.02, colour)

    def _ship(self, layer: Layer, x: float, waterline: float, tall: float, colour: Colour) -> None:
        length = tall * 3.2
        left = x - length / 2
        hull = Convex(((left, waterline - tall * 0.32), (left + length, waterline - tall * 0.42),
                       (left + length * 0.9, waterline + tall * 0.04), (left + length * 0.05, waterline + tall * 0.04)))
        parts = [hull,
                 Rect(left + length * 0.28, waterline - tall * 0.62, left + length * 0.62, waterline - tall * 0.3),
                 Rect(left + length * 0.42, waterline - tall * 0.8, left + length * 0.58, waterline - tall * 0.6),
                 Capsule(left + length * 0.5, waterline - tall * 1.05, left + length * 0.5, waterline - tall * 0.78,
                         tall * 0.015),
                 Rect(left + length * 0.33, waterline - tall * 0.78, left + length * 0.39, waterline - tall * 0.6)]
        layer.fill(parts, colour)
        if self.night:
            portholes = [Circle(left + length * share, waterline - tall * 0.46, tall * 0.025)
                         for share in np.arange(0.31, 0.6, 0.05)]
            layer.fill(portholes, WINDOW_LIGHT)

    def _person(self, layer: Layer, x: float, feet: float, tall: float, colour: Colour) -> None:
        hip, shoulder = feet - tall * 0.47, feet - tall * 0.8
        parts = [Circle(x, feet - tall * 0.9, tall * 0.075),
                 Capsule(x, shoulder, x, hip, tall * 0.1),
                 Capsule(x - tall * 0.05, hip, x - tall * 0.07, feet, tall * 0.045),
                 Capsule(x + tall * 0.05, hip, x + tall * 0.07, feet, tall * 0.045),
                 Capsule(x - tall * 0.1, shoulder + tall * 0.03, x - tall * 0.15, hip + tall * 0.02, tall * 0.035),
                 Capsule(x + tall * 0.1, shoulder + tall * 0.03, x + tall * 0.2, shoulder + tall * 0.15, tall * 0.035)]
        layer.fill(parts, colour)

    def _crane(self, layer: Layer, x: float, base: float, tall: float, colour: Colour) -> None:
        top = base - tall
        parts = [Rect(x - tall * 0.025, top, x + tall * 0.025, base + 1),
                 Rect(x - tall * 0.3, top - tall * 0.03, x + tall * 0.75, top + tall * 0.02),
                 Convex(((x - tall * 0.025, top - tall * 0.03), (x, top - tall * 0.16), (x + tall * 0.025, top - tall * 0.03))),
                 Rect(x - tall * 0.3, top, x - tall * 0.18, top + tall * 0.07),
                 Capsule(x + tall * 0.6, top, x + tall * 0.6, top + tall * 0.45, max(0.5, tall * 0.004)),
                 Rect(x + tall * 0.57, top + tall * 0.45, x + tall * 0.63, top + tall * 0.5)]
        layer.fill(parts, colour)

    def _gantry(self, layer: Layer, x: float, floor: float, colour: Colour) -> None:
        """An overhead crane: a beam across the hall, its trolley, and a hook hanging from it."""
        h, beam = self.height, floor * 0.22
        layer.fill([Rect(0, beam, self.width, beam + h * 0.03), Rect(x - h * 0.04, beam + h * 0.03, x + h * 0.04, beam + h * 0.06),
                    Capsule(x, beam + h * 0.06, x, floor * 0.65, max(0.5, h * 0.003)),
                    Rect(x - h * 0.015, floor * 0.65, x + h * 0.015, floor * 0.65 + h * 0.03)], colour)

    def _vehicle(self, layer: Layer, x: float, ground: float, tall: float, colour: Colour) -> None:
        length = tall * 2.4
        left = x - length / 2
        layer.fill([Rect(left, ground - tall * 0.85, left + length * 0.7, ground - tall * 0.2),
                    Convex(((left + length * 0.7, ground - tall * 0.6), (left + length * 0.88, ground - tall * 0.6),
                            (left + length, ground - tall * 0.35), (left + length, ground - tall * 0.2),
                            (left + length * 0.7, ground - tall * 0.2)))], colour)
        wheels = [Circle(left + length * share, ground - tall * 0.18, tall * 0.18) for share in (0.2, 0.8)]
        layer.fill(wheels, mix(colour, (0, 0, 0), 0.5))

    def _aircraft(self, layer: Layer, x: float, y: float, span: float, colour: Colour) -> None:
        layer.fill([Capsule(x - span * 0.6, y, x + span * 0.6, y, span * 0.06),
                    Convex(((x - span * 0.1, y), (x + span * 0.15, y), (x - span * 0.05, y + span * 0.5))),
                    Convex(((x - span * 0.1, y), (x + span * 0.15, y), (x - span * 0.05, y - span * 0.5))),
                    Convex(((x - span * 0.6, y), (x - span * 0.45, y), (x - span * 0.6, y - span * 0.2)))], colour)

    def _tower(self, layer: Layer, x: float, base: float, tall: float, colour: Colour) -> None:
        layer.fill([Convex(((x - tall * 0.07, base), (x - tall * 0.04, base - tall * 0.85),
                            (x + tall * 0.04, base - tall * 0.85), (x + tall * 0.07, base))),
                    Rect(x - tall * 0.055, base - tall, x + tall * 0.055, base - tall * 0.85)], colour)
        if self.night or self.scene.time_of_day in ("dawn", "golden", "overcast"):
            layer.glow(x, base - tall * 0.92, tall * 0.25, WINDOW_LIGHT, 0.6)
            layer.fill([Circle(x, base - tall * 0.92, tall * 0.035)], WINDOW_LIGHT)

    def _tree(self, layer: Layer, x: float, ground: float, tall: float, colour: Colour) -> None:
        layer.fill([Capsule(x, ground, x, ground - tall * 0.5, tall * 0.04),
                    Circle(x, ground - tall * 0.7, tall * 0.22), Circle(x - tall * 0.15, ground - tall * 0.55, tall * 0.17),
                    Circle(x + tall * 0.15, ground - tall * 0.58, tall * 0.18)], colour)

    def _birds(self, layer: Layer, x: float, y: float, size: float, colour: Colour) -> None:
        for _ in range(3):
            bx, by = x + self.rng.uniform(-6, 6) * size, y + self.rng.uniform(-2, 2) * size
            layer.fill([Capsule(bx - size, by - size * 0.4, bx, by, size * 0.12),
                        Capsule(bx, by, bx + size, by - size * 0.4, size * 0.12)], colour)

    def _sparks(self, layer: Layer) -> None:
        # Falling from where the main subject works: a glow and short bright streaks.
        h = self.height
        x, y = self.width * self.rng.uniform(0.4, 0.6), self.horizon + (h - self.horizon) * 0.1
        layer.glow(x, y, h * 0.12, SPARK, 0.6)
        streaks = []
        for _ in range(40):
            angle = self.rng.uniform(0.2, math.pi - 0.2)
            reach = h * self.rng.uniform(0.02, 0.25)
            end_x, end_y = x + math.cos(angle) * reach, y + math.sin(angle) * reach
            streaks.append(Capsule(end_x, end_y, end_x + math.cos(angle) * h * 0.015,
                                   end_y + math.sin(angle) * h * 0.015, max(0.4, h * 0.0015)))
        layer.fill(streaks, SPARK)


def paint(scene: Scene, width: int, height: int) -> Painted:
    """The scene at ``width`` x ``height``: its backdrop, and the subjects that move (if any) on their own layer."""
    return _Painter(scene, width, height).paint()
