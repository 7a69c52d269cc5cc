"""Overlay text reaches the picture exactly as written; style presets are known to validation."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from render_pipeline.media.ffmpeg import ffmpeg_exe
from render_pipeline.media.fonts import find_font
from render_pipeline.post.edit import Edit
from render_pipeline.post.overlays_ass import PlacedOverlay, escape_ass_text, write_ass
from render_pipeline.post.styles import load_overlay_styles
from render_pipeline.storyboard import StoryboardError, load_storyboard
from render_pipeline.storyboard.schema import Overlay

WIDTH, HEIGHT = 640, 360


def render_text(tmp_path: Path, text: str, style: str = "title") -> np.ndarray:
    """One frame with ``text`` burned in over black; a boolean mask of its bright pixels."""
    font = find_font()
    fonts = tmp_path / "fonts"
    fonts.mkdir(exist_ok=True)
    (fonts / font.path.name).write_bytes(font.path.read_bytes())
    ass = tmp_path / "text.ass"
    overlay = Overlay(text=text, style=style, position="center")
    write_ass(ass, Edit(Fraction(24), WIDTH, HEIGHT, []), [PlacedOverlay(overlay, "s", 0.0, 2.0)],
              load_overlay_styles(), font)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"color=black:s={WIDTH}x{HEIGHT}:r=24",
                          "-vf", f"ass={ass}:fontsdir={fonts}", "-ss", "1", "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], check=True, capture_output=True, cwd=tmp_path).stdout
    return np.frombuffer(raw, np.uint8).reshape(HEIGHT, WIDTH) > 128


def test_ass_special_characters_are_escaped():
    assert escape_ass_text('a {b} \\N "50%": c\nd') == 'a \\{b\\} \\\u2060N "50%": c\\Nd'


def test_braces_render_instead_of_hiding_text(tmp_path):
    # Unescaped, ASS would read "{hidden}" as an (empty) override block and draw nothing.
    assert render_text(tmp_path, "{hidden}").sum() > 200


def test_backslash_n_stays_literal_and_newline_breaks_the_line(tmp_path):
    def extent(mask: np.ndarray, axis: int) -> int:
        used = np.nonzero(mask.any(axis=axis))[0]
        return used.max() - used.min()

    literal = render_text(tmp_path, "AB\\NCD")
    broken = render_text(tmp_path, "AB\nCD")
    assert extent(broken, axis=1) > 1.6 * extent(literal, axis=1)  # two lines tall
    assert extent(literal, axis=0) > extent(broken, axis=0)  # one line, wider


def test_right_to_left_text_is_drawn_with_real_glyphs(tmp_path):
    # DejaVu Sans has Hebrew; a missing font would draw nothing or empty boxes of one width.
    hebrew = render_text(tmp_path, "שלום")
    assert hebrew.sum() > 100
    assert not np.array_equal(hebrew, render_text(tmp_path, "םולש"))


def test_title_size_is_relative_to_frame_height(tmp_path):
    rows = np.nonzero(render_text(tmp_path, "H").any(axis=1))[0]
    cap_height = rows.max() - rows.min()
    expected = load_overlay_styles()["title"].size * HEIGHT * 0.73  # DejaVu's cap height / font size
    assert abs(cap_height - expected) < 0.2 * expected


def test_validation_accepts_presets_and_lists_them_for_unknown_styles(write_storyboard):
    text = """\
version: 1
title: Styles
shots:
  - id: a
    duration: 2
    prompt: sea
    overlays:
      - {text: Part One, style: chapter}
      - {text: Oops, style: headline}
"""
    with pytest.raises(StoryboardError) as caught:
        load_storyboard(write_storyboard(text))
    messages = [str(problem) for problem in caught.value.problems]
    assert len(messages) == 1 and "overlays[1].style" in messages[0] and "chapter" in messages[0]


@pytest.mark.needs("fonts-noto-cjk")
def test_cjk_text_is_drawn_through_font_fallback(tmp_path):
    # The title font has no CJK glyphs; libass falls back to Noto Sans CJK. Missing glyphs
    # would come out as identical empty boxes, so two different characters would match.
    first, second = render_text(tmp_path, "港"), render_text(tmp_path, "船")
    assert first.sum() > 50 and second.sum() > 50
    assert (first != second).sum() > 0.2 * first.sum()
