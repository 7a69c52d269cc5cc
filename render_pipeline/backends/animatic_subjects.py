"""The animatic's subjects (ships, people, cranes, vehicles, aircraft, towers, trees, birds) and sparks, painted as silhouettes."""

from __future__ import annotations

import math

import numpy as np

from render_pipeline.backends.animatic_colours import SPARK, WINDOW_LIGHT, Colour, mix
from render_pipeline.backends.animatic_scene import Scene, Subject
from render_pipeline.backends.animatic_shapes import Capsule, Circle, Convex, Layer, Rect


class SubjectPainter:
    """The subjects' half of the painter (animatic_paint.py's); the scene's facts are set by the painter."""

    scene: Scene
    width: int
    height: int
    rng: np.random.Generator
    sky_low: Colour
    horizon: float
    shore: float
    night: bool
    ink: Colour

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
