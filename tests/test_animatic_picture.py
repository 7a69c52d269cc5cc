"""What the animatic paints: the scene read from a prompt and camera, and edges that are anti-aliased (no FFmpeg)."""

from __future__ import annotations

import numpy as np
import pytest

from render_pipeline.backends.animatic_paint import paint
from render_pipeline.backends.animatic_scene import Subject, read_scene
from render_pipeline.backends.animatic_shapes import Capsule, Circle, Convex, Layer

TEASER = {  # storyboards/harbor-teaser.yaml's generated shots, as enhanced for the animatic
    "s01": ("Aerial view of a quiet harbor at dawn, mist on the water, a blank banner strung between two cranes. "
            "Wide shot, aerial view, slow push-in, 35mm wide-angle lens.", {"size": "wide", "angle": "aerial"}),
    "s05": ("Welders in a dry dock at dusk, sparks falling, a hull section towering behind them. Close-up, "
            "eye-level angle, static camera, 85mm telephoto lens.", {"size": "close-up", "angle": "eye level"}),
    "s06": ("Three ships in line astern at sunset, long shadows on calm water.", {"size": "extreme wide",
                                                                                 "angle": "high angle"}),
    "s07": ("The empty harbor at night, lights reflected on the water, gentle swell.", {"size": "wide"}),
}


def scene(shot_id: str, seed: int = 1):
    prompt, camera = TEASER[shot_id]
    return read_scene(prompt, camera, seed)


def test_the_scene_follows_time_of_day_setting_subjects_and_camera():
    dawn_harbor, welders, fleet, night = (scene(shot_id) for shot_id in ("s01", "s05", "s06", "s07"))
    assert (dawn_harbor.time_of_day, dawn_harbor.setting, dawn_harbor.subjects) == ("dawn", "harbor",
                                                                                    (Subject("crane", 2),))
    assert dawn_harbor.horizon < 0.35  # seen from the air: mostly water and shore
    assert (welders.setting, welders.subjects[0], welders.sparks) == ("shipyard", Subject("person", 2), True)
    assert welders.scale > 3 * fleet.scale  # a close-up against an extreme wide shot
    assert (fleet.time_of_day, fleet.setting, fleet.subjects, fleet.moving) == ("golden", "sea", (Subject("ship", 3),),
                                                                                 True)
    assert (night.time_of_day, night.setting, night.subjects, night.moving) == ("night", "harbor", (), False)


@pytest.mark.parametrize("prompt, setting", [
    ("A plain dark background", "card"),
    ("A plain white background", "light card"),
    ("A plain dark background over slow moving water, golden light", "sea"),  # the card keeps its scene
    ("Steel plates stacked in a vast fabrication hall, an overhead crane lifting one plate", "interior"),
    ("A crowded street in the old town at dusk", "city"),
    ("A lone cyclist climbing a mountain pass", "mountains"),
    ("a close-up of an old man's face", "field"),  # nothing named: a landscape
])
def test_settings(prompt, setting):
    assert read_scene(prompt, {}, 3).setting == setting


def test_prompt_words_set_the_angle_only_for_views_from_the_air():
    assert read_scene("an overhead crane in a hall", {}, 3).horizon > 0.5
    assert read_scene("drone shot of a river delta", {}, 3).horizon < 0.35
    assert read_scene("a river", {"angle": "low angle"}, 3).horizon > 0.7


def test_the_same_scene_paints_the_same_pixels_and_another_seed_others():
    first, second, other = (paint(scene("s06", seed), 320, 180) for seed in (4, 4, 5))
    assert np.array_equal(first.backdrop, second.backdrop) and np.array_equal(first.sprite, second.sprite)
    assert not np.array_equal(first.backdrop, other.backdrop)


def supersampled(shape, width: int, height: int, per_pixel: int = 16) -> np.ndarray:
    """The share of each pixel inside ``shape``, counted on a per_pixel x per_pixel grid of points in it."""
    offsets = (np.arange(per_pixel) + 0.5) / per_pixel
    ys = (np.arange(height)[:, None] + offsets[None, :]).reshape(-1)[:, None]
    xs = (np.arange(width)[:, None] + offsets[None, :]).reshape(-1)[None, :]
    inside = (shape.distance(ys, xs) < 0).astype(float)
    return inside.reshape(height, per_pixel, width, per_pixel).mean(axis=(1, 3))


@pytest.mark.parametrize("shape", [
    Convex(((3.3, 40.2), (60.7, 7.9), (70.1, 44.6))),  # slanted edges at several angles
    Circle(30.4, 24.7, 17.3),
    Capsule(5.2, 38.0, 66.9, 11.3, 2.6),
])
def test_each_pixel_on_an_edge_is_covered_by_the_share_of_it_inside_the_shape(shape):
    layer = Layer(80, 50)
    layer.fill([shape], (255, 255, 255))
    painted = layer.rgb[..., 0] / 255
    truth = supersampled(shape, 80, 50)
    edge = (truth > 0.02) & (truth < 0.98)
    rows, columns = np.mgrid[:50, :80] + 0.5
    # A polygon's corners are rounded off a little (its distance is exact along the edges only).
    off_corners = np.all([np.hypot(columns - x, rows - y) > 3 for x, y in getattr(shape, "points", ())], axis=0)
    error = np.abs(painted - truth)
    assert edge.sum() > 100
    # Measured: at most 0.055 and 0.012-0.016 on average; painted with hard edges, 0.5 and 0.23.
    assert error[off_corners].max() < 0.08 and error[edge].mean() < 0.025


def test_hill_edges_in_a_painted_field_take_two_pixels_or_more_not_one_step():
    """Going down each column, a stair-stepped edge jumps from sky to hill in one pixel; an anti-aliased one
    passes through a pixel partly covered. Measured on the earlier renderer's field: 1 to 2 % of edges."""
    for seed in range(3):
        gray = paint(read_scene("a sunny field", {}, seed), 640, 360).backdrop.mean(axis=2)
        steps = edge_steps(gray)
        assert len(steps) > 600
        assert np.mean(steps >= 2) > 0.9  # measured 0.97


def edge_steps(gray: np.ndarray) -> np.ndarray:
    """For each edge met going down each column (a run of steps of one sign, each over 2 levels, adding up to
    more than 30 levels), how many pixel steps it takes."""
    counts = []
    for column in np.diff(gray, axis=0).T:
        sign, total, steps = 0, 0.0, 0
        for step in [*column, 0.0]:
            step_sign = 0 if abs(step) <= 2 else int(np.sign(step))
            if step_sign and step_sign == sign:
                total, steps = total + step, steps + 1
                continue
            if sign and abs(total) > 30:
                counts.append(steps)
            sign, total, steps = step_sign, step, 1
    return np.array(counts)
