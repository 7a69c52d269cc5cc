"""Shots longer than a model's trained clip: windows, each continuing the last, through the real sessions."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from render_pipeline.backends.base import RenderRequest
from render_pipeline.backends.specs import SPECS
from render_pipeline.backends.windows import Continuation, Windows, plan_windows, window_seed, windows_folder
from render_pipeline.media.ffmpeg import count_frames
from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

from render_pipeline.backends import open_session  # noqa: E402
from render_pipeline.backends.windowed import blended_frames  # noqa: E402
from tests.assets.tiny_models import (  # noqa: E402
    build_hunyuanvideo_folder,
    build_wan_a14b_folder,
    build_wan_ti2v_5b_folder,
    decoded_pixels,
)

MODELS = [name for name, spec in SPECS.items() if spec.needs_gpu]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    build_wan_a14b_folder(root / "Wan2.2-T2V-A14B-Diffusers")
    build_wan_ti2v_5b_folder(root / "Wan2.2-TI2V-5B-Diffusers")
    return root


def request(windows: Windows | None, frames: int, steps: int = 2, fps: float = 16.0, **changes) -> RenderRequest:
    return RenderRequest(shot_id="s05", prompt="a grey destroyer at dawn", negative_prompt="blurry", seed=7, width=32,
                         height=32, fps=fps, frames=frames, steps=steps, quality="draft", windows=windows, **changes)


def frames_of(path: Path, tmp_path: Path) -> np.ndarray:
    return decoded_pixels(path, tmp_path).reshape(-1, 32, 32, 3).astype(np.float32)


@pytest.mark.parametrize("name", MODELS)
def test_windows_cover_any_shot_within_the_trained_clip(name):
    spec = SPECS[name]
    for seconds in np.arange(0.5, 30.0, 0.25):
        frames = spec.frames_for(seconds)
        windows = plan_windows(spec, frames)
        if frames <= spec.max_frames:
            assert windows is None, (name, seconds)
            continue
        assert windows.frames <= spec.max_frames and (windows.frames - 1) % spec.frame_step == 0, (name, seconds)
        assert windows.total_frames >= frames, (name, seconds)
        # As few windows as the trained length allows, each no longer than needed to cover the shot.
        assert windows.count == math.ceil((frames - windows.overlap) / (spec.max_frames - windows.overlap))
        assert windows.total_frames - frames < windows.count * spec.frame_step
    assert plan_windows(spec, spec.max_frames * 3, "single") is None


@pytest.mark.parametrize("name", MODELS)
def test_a_shot_of_two_and_a_half_trained_clips_is_three_windows(name):
    spec = SPECS[name]
    frames = spec.frames_for(2.5 * spec.max_frames / spec.fps)
    windows = plan_windows(spec, frames)
    assert windows.count == 3 and windows.frames <= spec.max_frames
    image_model = spec.image_to_video == name
    assert windows.continuation is (Continuation.IMAGE if image_model else Continuation.LATENT_OVERLAP)


def test_window_seeds_derive_from_the_shot_seed():
    assert window_seed(7, 0) == 7
    assert len({window_seed(7, index) for index in range(5)}) == 5
    assert window_seed(7, 1) == window_seed(7, 1) != window_seed(8, 1)


def test_overlapping_frames_are_cross_blended(tmp_path):
    windows = Windows(count=2, frames=6, overlap=4, continuation=Continuation.LATENT_OVERLAP)
    for index, value in enumerate((0, 200)):
        np.save(tmp_path / f"{index}.frames.npy", np.full((6, 2, 2, 3), value, dtype=np.uint8))
    shot = [int(frame[0, 0, 0]) for frame in blended_frames(tmp_path, windows, frames=7)]
    # Two frames of the first window alone, four shared (the second's share rising 1/5 a frame), then the second.
    assert shot == [0, 0, 40, 80, 120, 160, 200]


def test_a_long_shot_renders_as_windows_none_past_the_trained_clip(models_dir, tmp_path):
    spec = SPECS["wan2.2-t2v-a14b"]
    frames = spec.frames_for(2.5 * spec.max_frames / spec.fps)  # 205 frames, 81 trained
    windows = plan_windows(spec, frames)
    session = open_session(spec.name, None, models_dir)
    latent_frames = []
    pipeline = session._denoising_pipeline()
    pipeline.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: latent_frames.append(kwargs["hidden_states"].shape[2]), with_kwargs=True)
    steps = []
    session.render(request(windows, frames), tmp_path / "s05.mp4", lambda done, total: steps.append((done, total)))

    assert count_frames(tmp_path / "s05.mp4") == frames
    assert windows.count == 3
    # Every pass of the model saw one window: at most the 21 latent frames of 81 frames.
    assert set(latent_frames) == {(windows.frames - 1) // 4 + 1} and max(latent_frames) <= 21
    assert steps == [(done, 6) for done in range(1, 7)]  # 2 steps in each of 3 windows
    assert not windows_folder(tmp_path / "s05.mp4").exists()  # kept only until the shot is written


def seam_jumps(video: np.ndarray, windows: Windows) -> list[float]:
    """Mean change between the last frame before each later window begins and its first frame."""
    starts = [windows.start(index) for index in range(1, windows.count)]
    return [float(np.abs(video[start] - video[start - 1]).mean()) for start in starts]


@pytest.mark.parametrize("name, overlap, fps", [("wan2.2-t2v-a14b", 5, 16.0), ("wan2.2-ti2v-5b", 1, 24.0)])
def test_each_window_continues_where_the_last_one_ended(models_dir, tmp_path, name, overlap, fps):
    """The change across a seam, against windows rendered unconditioned with the same seeds and cut together."""
    continuation = Continuation.IMAGE if overlap == 1 else Continuation.LATENT_OVERLAP
    windows = Windows(count=3, frames=17, overlap=overlap, continuation=continuation)
    shot = request(windows, windows.total_frames, fps=fps)
    session = open_session(name, None, models_dir)
    session.render(shot, tmp_path / "continued.mp4", lambda done, total: None)
    continued = frames_of(tmp_path / "continued.mp4", tmp_path)

    alone = []
    for index in range(windows.count):
        one = replace(shot, seed=window_seed(shot.seed, index), frames=windows.frames, windows=None)
        session.render(one, tmp_path / f"alone{index}.mp4", lambda done, total: None)
        alone.append(frames_of(tmp_path / f"alone{index}.mp4", tmp_path))
    cut_together = np.concatenate([part[:windows.stride] for part in alone[:-1]] + [alone[-1]])

    assert len(continued) == len(cut_together) == windows.total_frames
    # Window 0 is the one-pass render of its frames (up to x264: the two mp4s were encoded apart, about 1.3 levels on these tiny noisy frames; a different render is 15-50 levels away).
    assert np.abs(continued[:windows.stride] - cut_together[:windows.stride]).mean() < 3.0
    for continued_jump, cut_jump in zip(seam_jumps(continued, windows), seam_jumps(cut_together, windows)):
        assert continued_jump < 0.75 * cut_jump, (seam_jumps(continued, windows), seam_jumps(cut_together, windows))


def test_latent_overlap_continues_hunyuanvideo_too(tmp_path):
    models = tmp_path / "models"
    build_hunyuanvideo_folder(models / "HunyuanVideo")
    windows = Windows(count=2, frames=17, overlap=5, continuation=Continuation.LATENT_OVERLAP)
    shot = request(windows, windows.total_frames, fps=24.0)
    session = open_session("hunyuanvideo", None, models)
    session.render(shot, tmp_path / "continued.mp4", lambda done, total: None)
    continued = frames_of(tmp_path / "continued.mp4", tmp_path)
    alone = []
    for index in range(2):
        one = replace(shot, seed=window_seed(shot.seed, index), frames=windows.frames, windows=None)
        session.render(one, tmp_path / f"alone{index}.mp4", lambda done, total: None)
        alone.append(frames_of(tmp_path / f"alone{index}.mp4", tmp_path))
    cut_together = np.concatenate([alone[0][:windows.stride], alone[1]])
    assert seam_jumps(continued, windows)[0] < 0.75 * seam_jumps(cut_together, windows)[0]


class Stop(Exception):
    pass


def test_a_render_stopped_in_window_three_resumes_there(models_dir, tmp_path):
    windows = Windows(count=3, frames=17, overlap=5, continuation=Continuation.LATENT_OVERLAP)
    shot = request(windows, windows.total_frames)
    session = open_session("wan2.2-t2v-a14b", None, models_dir)
    session.render(shot, tmp_path / "whole.mp4", lambda done, total: None)

    def stop_in_window_three(done: int, total: int) -> None:
        if done > 2 * shot.steps:
            raise Stop  # a crash, a kill: the worker dies here
    out = tmp_path / ".s05.mp4.part"
    with pytest.raises(Stop):
        session.render(shot, out, stop_in_window_three)
    assert sorted(path.name for path in windows_folder(out).glob("*.frames.npy")) == ["0.frames.npy",
                                                                                      "1.frames.npy"]

    again = []
    session.render(shot, out, lambda done, total: again.append(done))
    assert again == [2 * shot.steps + 1, 2 * shot.steps + 2]  # only window 3 was denoised
    assert np.array_equal(decoded_pixels(out, tmp_path), decoded_pixels(tmp_path / "whole.mp4", tmp_path))


def test_windows_kept_for_other_settings_are_not_reused(models_dir, tmp_path):
    windows = Windows(count=2, frames=17, overlap=5, continuation=Continuation.LATENT_OVERLAP)
    shot = request(windows, windows.total_frames)
    session = open_session("wan2.2-t2v-a14b", None, models_dir)
    out = tmp_path / ".s05.mp4.part"

    def stop_in_window_two(done: int, total: int) -> None:
        if done > shot.steps:
            raise Stop
    with pytest.raises(Stop):
        session.render(shot, out, stop_in_window_two)
    longer = Windows(count=2, frames=21, overlap=5, continuation=Continuation.LATENT_OVERLAP)
    seen = []
    session.render(request(longer, longer.total_frames), out, lambda done, total: seen.append(done))
    assert seen == [1, 2, 3, 4]  # both windows rendered again
    assert count_frames(out) == longer.total_frames


def test_a_rank_takes_rank_zeros_saved_latents_instead_of_denoising(models_dir, tmp_path):
    """In a worker group every rank denoises or none does: a rank with nothing saved of its own (a fresh group
    after a failed decode) takes rank 0's latents rather than entering the model's collectives alone."""
    import torch

    shot = request(None, 9)
    session = open_session("wan2.2-t2v-a14b", None, models_dir)
    rank0 = session.denoised(shot, tmp_path / "rank0.latents.pt", lambda done, total: None)
    session.share_from_first_rank = lambda make: rank0.clone()  # what rank 0 broadcasts
    steps = []
    mine = session.denoised(shot, tmp_path / "rank1" / "nothing.latents.pt", lambda done, total: steps.append(done))
    assert steps == [] and torch.equal(mine, rank0)
