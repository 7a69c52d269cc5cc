"""The animatic's pictures, painted with numpy from a Scene: a backdrop, and the subjects that move.

The shapes are anti-aliased (animatic_shapes.py); the backdrop (animatic_backdrop.py) and the
subjects (animatic_subjects.py) are painted over them. Sizes are shares of the picture's
height, so a scene looks the same at any size. The same Scene always paints the same pixels
(one seeded generator, no other source of chance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from render_pipeline.backends.animatic_backdrop import BackdropPainter
from render_pipeline.backends.animatic_colours import SKIES, lit, mix
from render_pipeline.backends.animatic_scene import Scene
from render_pipeline.backends.animatic_shapes import Layer


@dataclass(frozen=True)
class Painted:
    backdrop: np.ndarray  # HxWx3 uint8
    sprite: np.ndarray | None  # hxwx4 uint8: the subjects that move, cropped to what they cover
    sprite_at: tuple[int, int] = (0, 0)  # (x, y) of the sprite's top left in the backdrop, halfway through the shot
    travel: float = 0.0  # pixels the sprite moves across the shot (negative: to the left)


class _Painter(BackdropPainter):
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


def paint(scene: Scene, width: int, height: int) -> Painted:
    """The scene at ``width`` x ``height``: its backdrop, and the subjects that move (if any) on their own layer."""
    return _Painter(scene, width, height).paint()
