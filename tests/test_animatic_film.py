"""Animatic shots through the runner and the assembly: a continued shot starts from the last frame of the
shot it continues, no transition shows a slate, and the output folder holds no empty folder."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from render_pipeline.film import render_all
from render_pipeline.media.ffmpeg import ffmpeg_exe
from render_pipeline.post.edit import make_edit
from render_pipeline.storyboard import load_storyboard

WIDTH, HEIGHT = 320, 180
STORYBOARD = """\
version: 1
title: Continued
delivery: {size: 320x180, fps: 24}
defaults: {backend: animatic}
shots:
  - id: s01
    duration: 2
    prompt: "A sunny field under a few clouds"
    camera: {size: wide, movement: static}
    transition: {type: dissolve, duration: 1}
  - id: s02
    duration: 2
    prompt: "Fishing boats moored along a quay at night"
    continue_from: s01
"""


def frames(path) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, HEIGHT, WIDTH, 3).astype(int)


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    folder = tmp_path_factory.mktemp("continued")
    (folder / "storyboard.yaml").write_text(STORYBOARD, encoding="utf-8")
    storyboard = load_storyboard(folder / "storyboard.yaml")
    result = render_all(storyboard, folder / "out")
    assert not result.failed and result.assembly is not None
    return storyboard, folder / "out"


def test_a_continued_shot_starts_from_the_last_frame_of_the_shot_it_continues(film):
    _, out = film
    first, second = frames(out / "shots" / "s01.mp4"), frames(out / "shots" / "s02.mp4")
    assert np.abs(second[0] - first[-1]).mean() < 2  # the same picture, encoded once more
    assert np.abs(second[-1] - first[-1]).mean() > 40  # then its own: a quay at night, not a sunny field
    assert (out / "frames" / "s01.last.png").is_file()


def test_no_frame_under_the_dissolve_carries_a_slate(film):
    storyboard, out = film
    edited = make_edit(storyboard).shots[0]
    used_end = edited.source_start + edited.used_frames
    under = range(used_end - edited.transition_out_frames, used_end)
    shot = frames(out / "shots" / "s01.mp4")
    header = (slice(4, 40), slice(4, 120))  # the shot id and camera notes, on a dark box
    clean = shot[-1][header]  # a still camera on a still field: only the slate changes the picture
    assert np.abs(shot[5][header] - clean).mean() > 20
    for index in under:
        assert np.abs(shot[index][header] - clean).mean() < 2, index


def test_the_output_folder_holds_no_empty_folder(film):
    _, out = film
    empty = [folder for folder, children, files in os.walk(out) if not children and not files]
    assert empty == []
