"""The animatic: exact frame counts, a picture that follows the prompt, camera and subject moves, Ken Burns on
an image, the same bytes every time, and its slate only on frames no transition covers."""

from pathlib import Path

import numpy as np
import pytest

from render_pipeline.backends.animatic import AnimaticSession, move_for, slate_frames, write_ppm
from render_pipeline.backends.animatic_scene import time_and_mood
from render_pipeline.backends.base import RenderRequest
from render_pipeline.media.ffmpeg import count_frames, probe, run_ffmpeg

WIDTH, HEIGHT = 320, 180


def render(tmp_path: Path, prompt: str = "a field", movement: str | None = None, image: Path | None = None,
           frames: int = 15, fps: float = 12, transitions: tuple[float, float] = (0.0, 0.0), name: str = "") -> Path:
    request = RenderRequest(shot_id="s01", prompt=prompt, negative_prompt="", seed=7, width=WIDTH, height=HEIGHT,
                            fps=fps, frames=frames, steps=0, quality="draft", image=image,
                            settings={"scene": 2, "camera": {"movement": movement}, "transitions": list(transitions)})
    out = tmp_path / f"{name or abs(hash((prompt, movement, image, transitions)))}.mp4"
    steps = []
    AnimaticSession().render(request, out, lambda done, total: steps.append((done, total)))
    assert steps[-1] == (frames, frames)
    return out


def frame(path: Path, index: int) -> np.ndarray:
    raw = path.with_suffix(f".{index}.rgb")
    run_ffmpeg(["-i", str(path), "-vf", f"select=eq(n\\,{index})", "-frames:v", "1", "-f", "rawvideo",
                "-pix_fmt", "rgb24", str(raw)], what="reading a frame")
    return np.frombuffer(raw.read_bytes(), dtype=np.uint8).reshape(HEIGHT, WIDTH, 3).astype(int)


def test_exact_frames_size_and_rate(tmp_path):
    out = render(tmp_path, frames=31, fps=23.976)
    info = probe(out)
    assert count_frames(out) == 31 and (info.width, info.height) == (WIDTH, HEIGHT) and not info.has_audio
    assert info.fps == pytest.approx(23.98, abs=0.01)


def test_night_and_gloomy_prompts_are_darker_than_a_sunny_day(tmp_path):
    night = frame(render(tmp_path, "a harbor at night, ominous"), 14)[40:120].mean()
    day = frame(render(tmp_path, "a harbor at noon, sunny and bright"), 14)[40:120].mean()
    assert night < day - 60
    assert time_and_mood("misty dawn")[0] == "dawn"


def test_a_night_quay_and_a_sunny_field_are_far_apart_in_colour(tmp_path):
    quay = frame(render(tmp_path, "Fishing boats moored along a quay at night"), 14).reshape(-1, 3).mean(axis=0)
    field = frame(render(tmp_path, "A sunny field of wheat under a few clouds"), 14).reshape(-1, 3).mean(axis=0)
    # Measured: quay (18, 23, 53), field (111, 155, 161): 194 apart.
    assert np.linalg.norm(quay - field) > 120, (quay, field)
    assert quay.mean() < 50 and field[1] > 120  # a dark picture; a green and blue one


def test_the_same_shot_renders_the_same_bytes_twice(tmp_path):
    first = render(tmp_path, "Three ships sailing past the harbor wall at dusk", "pan right", name="first")
    second = render(tmp_path, "Three ships sailing past the harbor wall at dusk", "pan right", name="second")
    assert first.read_bytes() == second.read_bytes()


def test_subjects_that_sail_cross_the_frame_and_moored_ones_stay(tmp_path):
    def changed_pixels(prompt):  # over the first second, under a 1 s transition (no notes written there)
        shot = render(tmp_path, prompt, frames=24, transitions=(1.0, 0.0))
        return (np.abs(frame(shot, 0) - frame(shot, 11)).max(axis=2) > 20).sum()

    assert changed_pixels("A ship sailing across the bay at noon") > 1000  # measured 4950 of 57600
    assert changed_pixels("A ship moored in the bay at noon") == 0


def test_push_in_magnifies_and_pan_slides_while_static_stays(tmp_path):
    assert move_for("slow push in").label.startswith("push in")
    assert move_for("Pan left across the bay").label.startswith("pan left")
    assert move_for("crane up").label.startswith("crane up") and move_for(None).label == "static"
    middle = (slice(60, 120), slice(100, 220))  # clear of the printed notes
    static = render(tmp_path, movement=None)
    assert np.abs(frame(static, 1)[middle] - frame(static, 13)[middle]).mean() < 2
    pan = render(tmp_path, movement="pan right")
    assert np.abs(frame(pan, 0)[middle] - frame(pan, 14)[middle]).mean() > 2


def test_image_gets_a_ken_burns_move_over_its_own_pixels(tmp_path):
    pixels = np.zeros((90, 160, 3), dtype=np.uint8)
    for stripe, colour in enumerate([(220, 30, 30), (30, 220, 30), (30, 30, 220), (220, 220, 220)]):
        pixels[:, stripe * 40:(stripe + 1) * 40] = colour  # output edges at x = 80, 160, 240
    image = tmp_path / "ref.ppm"
    write_ppm(image, pixels)
    out = render(tmp_path, image=image)  # no movement asked: a still image gets a push-in
    first, last = frame(out, 0), frame(out, 14)
    assert first[90, 70].argmax() == 0 and first[90, 200].argmax() == 2
    # Zoomed 1.25x about the centre, the red/green edge moves from x=80 to x=60.
    assert last[90, 70].argmax() == 1


def test_the_slate_is_written_only_where_no_transition_covers_the_shot(tmp_path):
    # 4 s at 12 fps with a 1 s transition in and out: frames 0-11 and 36-47 lie under them.
    out = render(tmp_path, "a sunny field", frames=48, transitions=(1.0, 1.0))
    header = (slice(4, 40), slice(4, 120))  # the shot id and camera notes, on a dark box
    levels = {index: frame(out, index)[header].mean() for index in (0, 11, 12, 24, 34, 35, 47)}
    assert all(levels[index] < levels[0] - 20 for index in (12, 24, 34)), levels
    assert all(abs(levels[index] - levels[0]) < 2 for index in (11, 35, 47)), levels


def test_the_slate_never_reaches_the_last_frame_and_skips_a_shot_shorter_than_its_transitions():
    def request(frames, transitions):
        return RenderRequest(shot_id="s", prompt="", negative_prompt="", seed=0, width=WIDTH, height=HEIGHT, fps=24,
                             frames=frames, steps=0, quality="draft", settings={"transitions": transitions})

    assert slate_frames(request(24, [0.0, 0.0])) == range(0, 23)
    assert slate_frames(request(42, [0.5, 0.25])) == range(12, 35)
    assert not slate_frames(request(24, [0.5, 0.5]))
