"""The animatic's backdrops: skies, grounds and settings (sea, harbour, city, shipyard, interior, title cards)."""

from __future__ import annotations

import numpy as np

from render_pipeline.backends.animatic_colours import GROUNDS, WINDOW_LIGHT, Colour, lit, mix
from render_pipeline.backends.animatic_shapes import Capsule, Circle, Convex, Layer, Rect
from render_pipeline.backends.animatic_subjects import SubjectPainter


class BackdropPainter(SubjectPainter):
    """The backdrop's half of the painter (animatic_paint.py's): cranes on the skyline are the subjects' own."""

    sky_top: Colour
    disc: Colour
    disc_x: float | None

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
