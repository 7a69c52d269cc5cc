"""Frame-rate conversion (media/retime.py, media/rife.py): a 16 fps clip becomes 24 fps by motion,
not by repeating frames; the frame count is exact; footage goes through the same step; conversions
are cached; RIFE loads the released weights' layout and is checked before any shot renders."""

from __future__ import annotations

import os
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from render_pipeline.doctor import check_frame_interpolation
from render_pipeline.errors import UserError
from render_pipeline.film import render_all
from render_pipeline.media.ffmpeg import count_frames, ffmpeg_exe, probe
from render_pipeline.media.retime import (
    LOSSLESS,
    Interpolation,
    choose_interpolation,
    clip_rate,
    retime,
    retimed,
    retimed_count,
)
from render_pipeline.media.rgb_frames import write_rgb_frames
from render_pipeline.post import assemble
from render_pipeline.runner import run_jobs
from render_pipeline.runner.footage import conform_footage
from render_pipeline.storyboard import load_storyboard
from tests.post_film import FakeAudio
from tests.test_runner_faults import jobs_for

WIDTH, HEIGHT = 160, 48
BAR = 8  # pixels wide
SPEED = 3  # pixels per source frame: at 16 fps, 2 pixels per 24 fps frame


def moving_bar(path: Path, frames: int, fps: Fraction = Fraction(16)) -> Path:
    """A white bar crossing a black frame, SPEED pixels a frame: its centre is at BAR/2 + SPEED x frame."""
    def frame(index: int) -> bytes:
        pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        pixels[:, SPEED * index:SPEED * index + BAR] = 255
        return pixels.tobytes()

    write_rgb_frames((frame(index) for index in range(frames)), WIDTH, HEIGHT, fps, path, "a test clip",
                     encode=LOSSLESS)
    return path


def decoded(path: Path) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, HEIGHT, WIDTH).astype(np.float64)


def bar_centres(path: Path) -> np.ndarray:
    """Where the bar's centre is in each frame (brightness-weighted, so a blend lands in between)."""
    profile = decoded(path).mean(axis=1)
    profile = np.where(profile > 20, profile, 0)
    return (profile * np.arange(WIDTH)).sum(axis=1) / profile.sum(axis=1) + 0.5


def frame_crcs(path: Path) -> list[str]:
    """framecrc of every decoded frame: two frames with the same CRC are the same picture."""
    listing = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framecrc", "-"],
                             check=True, capture_output=True, text=True).stdout
    return [line.split(",")[-1].strip() for line in listing.splitlines() if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def rife_models(tmp_path_factory) -> Path:
    """A models folder holding random RIFE weights, saved as the release is: a state dict under "module." keys."""
    import torch

    from render_pipeline.media.rife import IFNet

    torch.manual_seed(0)
    models = tmp_path_factory.mktemp("models")
    (models / "rife").mkdir()
    state = IFNet().eval().state_dict()
    torch.save({f"module.{key}": value for key, value in state.items()}, models / "rife" / "flownet.pkl")
    return models


@pytest.mark.needs("diffusion")  # RIFE runs on torch
@pytest.mark.parametrize("method", [Interpolation.MINTERPOLATE, Interpolation.RIFE])
def test_16_fps_to_24_repeats_no_frame(method, tmp_path, rife_models):
    clip = moving_bar(tmp_path / "s01.mp4", 9)
    out = tmp_path / "out.mp4"
    retime(clip, Fraction(16), Fraction(24), 13, method, out, rife_models)
    crcs = frame_crcs(out)
    assert len(crcs) == 13 == retimed_count(9, Fraction(16), Fraction(24))  # 0.5 s of motion: 8 -> 12 intervals
    assert len(set(crcs)) == 13, f"{13 - len(set(crcs))} repeated frame(s)"


def test_repeat_shows_each_source_frame_again_and_again(tmp_path):
    clip = moving_bar(tmp_path / "s01.mp4", 9)
    out = tmp_path / "out.mp4"
    retime(clip, Fraction(16), Fraction(24), 13, Interpolation.REPEAT, out, tmp_path)
    crcs = frame_crcs(out)
    assert len(crcs) == 13 and len(set(crcs)) == 9  # 4 of the 13 frames repeat the one before
    centres = bar_centres(out)
    assert (np.diff(centres) < 0.5).sum() == 4  # the bar stands still for 4 frames: the judder


@pytest.mark.parametrize("source, target", [(Fraction(16), Fraction(24)), (Fraction(30), Fraction(24)),
                                            (Fraction(16), Fraction(24000, 1001)), (Fraction(8), Fraction(25))])
def test_minterpolate_puts_the_bar_where_it_is_at_each_moment(source, target, tmp_path):
    clip = moving_bar(tmp_path / "s01.mp4", 17, source)
    out = tmp_path / "out.mp4"
    frames = retimed_count(17, source, target)
    retime(clip, source, target, frames, Interpolation.MINTERPOLATE, out, tmp_path)
    assert count_frames(out) == frames
    info = probe(out)
    assert abs(info.duration - frames / target) < 1 / (2 * target) and abs(info.fps - target) < 0.01
    expected = BAR / 2 + SPEED * np.arange(frames) * source / target
    assert np.abs(bar_centres(out) - expected).max() < 0.75


@pytest.mark.needs("diffusion")  # RIFE runs on torch
def test_rife_keeps_the_clips_own_frames_and_its_order_across_batches(rife_models):
    from render_pipeline.media.rife import BATCH, interpolate

    sources = [np.random.default_rng(index).integers(0, 256, (48, 80, 3), dtype=np.uint8).tobytes()
               for index in range(4)]
    positions = [Fraction(0), Fraction(1, 3), Fraction(2, 3), Fraction(1), Fraction(4, 3), Fraction(5, 3),
                 Fraction(2), Fraction(5, 2), Fraction(3)]
    assert sum(position.denominator > 1 for position in positions) > BATCH["cpu"]
    made = list(interpolate(iter(sources), 80, 48, positions, rife_models / "rife" / "flownet.pkl"))
    assert len(made) == len(positions)
    for position, frame in zip(positions, made):
        if position.denominator == 1:
            assert frame == sources[position.numerator]
        else:
            assert frame not in sources and len(frame) == 80 * 48 * 3


@pytest.mark.needs("diffusion")  # RIFE runs on torch
def test_rife_weights_must_be_the_released_network(tmp_path, rife_models):
    import torch

    from render_pipeline.media.rife import load_ifnet

    released = torch.load(rife_models / "rife" / "flownet.pkl", weights_only=True)
    network = load_ifnet(rife_models / "rife" / "flownet.pkl", torch.device("cpu"))
    assert all(torch.equal(value, released[f"module.{key}"]) for key, value in network.state_dict().items())
    older = tmp_path / "older.pkl"  # an earlier RIFE: no fifth flow level
    torch.save({key: value for key, value in released.items() if ".block4." not in key}, older)
    with pytest.raises(UserError, match=r"not Practical-RIFE 4\.25 or 4\.26 .*block4"):
        load_ifnet(older, torch.device("cpu"))
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable RIFE flownet.pkl"):
        load_ifnet(broken, torch.device("cpu"))


def test_a_conversion_is_made_once_and_again_only_when_its_input_or_method_changes(tmp_path):
    clip = moving_bar(tmp_path / "s01.mp4", 17)
    cache, log = tmp_path / "cache", tmp_path / "assemble.log"

    def convert(method: Interpolation) -> Path:
        return retimed(clip, Fraction(16), Fraction(24), method, cache, tmp_path, log)

    def conversions_run() -> int:
        return log.read_text(encoding="utf-8").count("minterpolate=") if log.exists() else 0

    first = convert(Interpolation.MINTERPOLATE)
    made_at = first.stat().st_mtime_ns
    assert conversions_run() == 1 and count_frames(first) == 25
    assert convert(Interpolation.MINTERPOLATE) == first and first.stat().st_mtime_ns == made_at
    assert conversions_run() == 1  # nothing ran the second time
    os.utime(clip, ns=(made_at, made_at + 10**9))  # the shot rendered again
    second = convert(Interpolation.MINTERPOLATE)
    assert second != first and not first.exists() and conversions_run() == 2
    third = convert(Interpolation.REPEAT)
    assert third != second and count_frames(third) == 25 and list(cache.glob("*.mp4")) == [third]
    assert convert(Interpolation.MINTERPOLATE) != third and conversions_run() == 3
    assert retimed(clip, Fraction(24), Fraction(24), Interpolation.MINTERPOLATE, cache, tmp_path, log) == clip


FILM = """\
version: 1
title: Rates
delivery: {{size: {width}x{height}, fps: 24, frame_interpolation: {method}}}
defaults: {{backend: animatic}}
shots:
  - {{id: s01, duration: 1.0, prompt: a bar crossing the frame}}
"""


@pytest.mark.parametrize("method, moves_every_frame", [("minterpolate", True), ("repeat", False)])
def test_assembled_film_of_a_16_fps_shot(method, moves_every_frame, tmp_path):
    (tmp_path / "storyboard.yaml").write_text(FILM.format(width=WIDTH, height=HEIGHT, method=method))
    storyboard = load_storyboard(tmp_path / "storyboard.yaml")
    (tmp_path / "shots").mkdir()
    moving_bar(tmp_path / "shots" / "s01.mp4", 17)
    silence = FakeAudio(narration={}, music_bed=None)
    result = assemble(storyboard, tmp_path, audio=silence, models_dir=tmp_path / "models")
    assert result.frames == 24 and count_frames(result.film) == 24
    steps = np.diff(bar_centres(result.film))
    assert bool(steps.min() > 1) == moves_every_frame, steps.round(1)
    log = tmp_path / "logs" / "assemble.log"
    assert conversions_in(log) == 1
    assemble(storyboard, tmp_path, audio=silence, models_dir=tmp_path / "models")
    assert conversions_in(log) == 1  # the second assembly converted nothing


def conversions_in(log: Path) -> int:
    """FFmpeg commands in the log that wrote a conversion (to its temporary name in cache/retime)."""
    return sum(1 for line in log.read_text(encoding="utf-8").splitlines()
               if line.startswith("$ ") and "/cache/retime/." in line)


FOOTAGE = """\
version: 1
title: Footage
delivery: {{size: {width}x{height}, fps: 24, frame_interpolation: {method}}}
shots:
  - {{id: s01, source: bar16.mp4, trim: [1.0, 2.0], duration: 1.0}}
"""


def footage_board(folder: Path, method: str) -> Path:
    if not (folder / "bar16.mp4").exists():
        moving_bar(folder / "bar16.mp4", 48)
    board = folder / "storyboard.yaml"
    board.write_text(FOOTAGE.format(width=WIDTH, height=HEIGHT, method=method))
    return board


def test_footage_at_16_fps_is_conformed_by_motion_from_its_trim(tmp_path):
    storyboard = load_storyboard(footage_board(tmp_path, "minterpolate"))
    out = tmp_path / "s01.mp4"
    conform_footage(storyboard.shots[0], WIDTH, HEIGHT, 24.0, 24, out, Interpolation.MINTERPOLATE, tmp_path)
    assert count_frames(out) == 24
    # The trim starts at 1.0 s, source frame 16; 24 fps frame n shows source frame 16 + 2n/3.
    expected = BAR / 2 + SPEED * (16 + np.arange(24) * 2 / 3)
    assert np.abs(bar_centres(out) - expected).max() < 0.75


def test_runner_conforms_footage_again_when_the_method_changes(tmp_path):
    out = tmp_path / "out"
    first = run_jobs(*jobs_for_method(tmp_path, out, "repeat"))
    repeated = bar_centres(out / "shots" / "s01.mp4")
    assert first.rendered == ["s01"] and (np.diff(repeated) < 0.5).any()
    assert run_jobs(*jobs_for_method(tmp_path, out, "repeat")).cached == ["s01"]
    again = run_jobs(*jobs_for_method(tmp_path, out, "minterpolate"))
    assert again.rendered == ["s01"] and np.diff(bar_centres(out / "shots" / "s01.mp4")).min() > 1


def jobs_for_method(folder: Path, out: Path, method: str):
    jobs, models = jobs_for(footage_board(folder, method), out)
    return jobs, out, models


def test_rife_without_weights_stops_before_any_shot_renders(tmp_path):
    board = footage_board(tmp_path, "rife")
    # Without torch (the README's install) it says so instead: either way before any shot renders.
    with pytest.raises(UserError, match=r"frame_interpolation is rife, but (no RIFE weights at .*rife/flownet\.pkl"
                                         r"|RIFE needs torch)"):
        render_all(load_storyboard(board), tmp_path / "out", models_dir=tmp_path / "models", quiet=True)
    assert not list((tmp_path / "out").rglob("*.mp4"))


@pytest.mark.needs("diffusion")  # RIFE runs on torch
def test_doctor_says_which_interpolation_auto_uses(tmp_path, rife_models):
    with_weights = check_frame_interpolation(rife_models)
    assert with_weights.status == "ok" and "RIFE" in with_weights.detail
    without = check_frame_interpolation(tmp_path)
    assert without.status == "warn" and "minterpolate" in without.detail
    assert str(tmp_path / "rife" / "flownet.pkl") in without.fix and "Practical-RIFE v4.25" in without.fix


@pytest.mark.needs("diffusion")  # RIFE runs on torch
def test_auto_is_rife_only_where_its_weights_are(tmp_path, rife_models):
    assert choose_interpolation("auto", rife_models) is Interpolation.RIFE
    assert choose_interpolation("auto", tmp_path) is Interpolation.MINTERPOLATE
    assert choose_interpolation("repeat", rife_models) is Interpolation.REPEAT


@pytest.mark.parametrize("printed, exact", [(16.0, Fraction(16)), (23.98, Fraction(24000, 1001)),
                                            (23.976, Fraction(24000, 1001)), (29.97, Fraction(30000, 1001)),
                                            (12.5, Fraction(25, 2)), (25.0, Fraction(25))])
def test_rates_as_ffmpeg_prints_them_are_read_exactly(printed, exact):
    assert clip_rate(printed) == exact
