"""The animatic: exact frame counts, the palette from the prompt, camera moves, Ken Burns on an image."""

from pathlib import Path

import numpy as np
import pytest

from render_pipeline.backends.animatic import AnimaticSession, move_for, palette_for, write_ppm
from render_pipeline.backends.base import RenderRequest
from render_pipeline.media.ffmpeg import count_frames, probe, run_ffmpeg

WIDTH, HEIGHT = 320, 180


def render(tmp_path: Path, prompt: str = "a field", movement: str | None = None, image: Path | None = None,
           frames: int = 15, fps: float = 12) -> Path:
    request = RenderRequest(shot_id="s01", prompt=prompt, negative_prompt="", seed=7, width=WIDTH, height=HEIGHT,
                            fps=fps, frames=frames, steps=0, quality="draft", image=image,
                            settings={"scene": 2, "camera": {"movement": movement}})
    out = tmp_path / f"{abs(hash((prompt, movement, image)))}.mp4"
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
    night = frame(render(tmp_path, "a harbor at night, ominous"), 7)[40:120].mean()
    day = frame(render(tmp_path, "a harbor at noon, sunny and bright"), 7)[40:120].mean()
    assert night < day - 60
    assert palette_for("misty dawn")[0] == "dawn"


def test_push_in_magnifies_and_pan_slides_while_static_stays(tmp_path):
    assert move_for("slow push in").label.startswith("push in")
    assert move_for("Pan left across the bay").label.startswith("pan left")
    assert move_for("crane up").label.startswith("crane up") and move_for(None).label == "static"
    middle = (slice(60, 120), slice(100, 220))  # clear of the printed notes
    static = render(tmp_path, movement=None)
    assert np.abs(frame(static, 0)[middle] - frame(static, 14)[middle]).mean() < 2
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
