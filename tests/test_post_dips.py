"""Dips to a colour are centred on the cut: the colour fills the cut frame, equal fades either side."""

from __future__ import annotations

import numpy as np
import pytest

from render_pipeline.post import assemble
from render_pipeline.post.edit import make_edit
from render_pipeline.storyboard import load_storyboard
from tests.post_film import FakeAudio, ffmpeg, read_frames

GREY = 128  # both shots: mid grey, so a dip to black and a dip to white both move every pixel


def dip_film(tmp_path, kind: str, seconds: float):
    (tmp_path / "storyboard.yaml").write_text(f"""\
version: 1
title: Dip
delivery: {{size: 320x180, fps: 24, loudness_lufs: -16}}
defaults: {{backend: animatic}}
shots:
  - {{id: s01, duration: 1.5, prompt: a grey field, transition: {{type: {kind}, duration: {seconds}}}}}
  - {{id: s02, duration: 1.5, prompt: a grey field}}
""", encoding="utf-8")
    storyboard = load_storyboard(tmp_path / "storyboard.yaml")
    (tmp_path / "shots").mkdir()
    for shot in storyboard.shots:
        ffmpeg("-f", "lavfi", "-i", f"color=c=0x{GREY:02x}{GREY:02x}{GREY:02x}:s=320x180:r=24",
               "-t", f"{shot.render_duration:.3f}", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast",
               str(tmp_path / "shots" / f"{shot.id}.mp4"))
    film = assemble(storyboard, tmp_path, audio=FakeAudio(narration={}, music_bed=None)).film
    cut = make_edit(storyboard).shots[1].record_start
    return read_frames(film).astype(float).mean(axis=(1, 2, 3)), cut


@pytest.mark.parametrize("seconds", [0.5, 0.375])  # 12 frames, 9 frames
def test_dip_to_black_is_darkest_on_the_cut_with_equal_fades(tmp_path, seconds):
    levels, cut = dip_film(tmp_path, "fadeblack", seconds)
    assert len(levels) == 72
    assert abs(int(np.argmin(levels)) - cut) <= 1
    assert levels[cut] < 20  # black on the cut frame (limited-range black reads about 16 or less)
    untouched = levels[0]
    dimmed = np.flatnonzero(levels < untouched - 4)
    fade_out, fade_in = cut - dimmed[0], dimmed[-1] - cut
    assert abs(fade_out - fade_in) <= 1, (fade_out, fade_in)
    assert fade_out >= round(seconds * 24) // 2 - 1
    # Mirror frames either side of the cut are equally dark.
    for offset in range(1, fade_out):
        assert abs(levels[cut - offset] - levels[cut + offset]) < 0.15 * untouched


def test_dip_to_white_is_brightest_on_the_cut(tmp_path):
    levels, cut = dip_film(tmp_path, "fadewhite", 0.5)
    assert abs(int(np.argmax(levels)) - cut) <= 1
    assert levels[cut] > 235
