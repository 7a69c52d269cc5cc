"""Every other supported path through a real session on tiny models: HunyuanVideo, Wan TI2V-5B (text and
image), Wan I2V-A14B and CogVideoX-5B-I2V with an image, each loaded from a diffusers-layout folder."""

from pathlib import Path

import numpy as np

from render_pipeline.backends import open_session
from render_pipeline.backends.base import RenderRequest
from render_pipeline.media.ffmpeg import count_frames, probe
from render_pipeline.shot_layout import ShotLayout
from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from tests.assets.tiny_models import (  # noqa: E402
    build_cogvideox_folder,
    build_hunyuanvideo_folder,
    build_wan_a14b_folder,
    build_wan_ti2v_5b_folder,
    decoded_pixels,
)


def request(width: int, height: int, fps: float, frames: int, seed: int = 5, image: Path | None = None) -> RenderRequest:
    return RenderRequest(shot_id="s01", prompt="a grey destroyer at dawn", negative_prompt="blurry", seed=seed,
                         width=width, height=height, fps=fps, frames=frames, steps=2, quality="draft", image=image)


def render(session, shot: RenderRequest, out: Path) -> np.ndarray:
    steps = []
    session.render(shot, out, lambda done, total: steps.append(done))
    assert steps == [1, 2]
    info = probe(out)
    assert (info.width, info.height, info.fps, info.has_audio) == (shot.width, shot.height, shot.fps, False)
    assert count_frames(out) == shot.frames
    return decoded_pixels(out, out.parent)


def picture(path: Path, colour: tuple[int, int, int]) -> Path:
    pixels = np.zeros((48, 64, 3), dtype=np.uint8)
    pixels[:, :32] = colour  # half coloured, half black: a shape the model has to carry
    Image.fromarray(pixels).save(path)
    return path


def test_hunyuanvideo_renders_deterministically_by_seed(tmp_path):
    build_hunyuanvideo_folder(tmp_path / "models" / "HunyuanVideo")
    session = open_session("hunyuanvideo", None, tmp_path / "models")
    shot = request(16, 16, 24.0, 5)
    session.encode([shot, request(16, 16, 24.0, 5, seed=6)])
    first = render(session, shot, tmp_path / "a.mp4")
    again = render(session, shot, tmp_path / "b.mp4")
    other = render(session, request(16, 16, 24.0, 5, seed=6), tmp_path / "c.mp4")
    assert session.pipeline.text_encoder is None and session.pipeline.text_encoder_2 is None
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def dtypes(pipeline) -> dict[str, torch.dtype]:
    return {f"{part}.{name}": value.dtype for part in ("transformer", "vae")
            for name, value in getattr(pipeline, part).named_parameters()}


def test_wan_ti2v_5b_renders_from_text_and_from_an_image(tmp_path):
    build_wan_ti2v_5b_folder(tmp_path / "models" / "Wan2.2-TI2V-5B-Diffusers")
    session = open_session("wan2.2-ti2v-5b", None, tmp_path / "models")
    text_only = render(session, request(32, 32, 24.0, 5), tmp_path / "t.mp4")
    loaded = dtypes(session.pipeline)
    red = render(session, request(32, 32, 24.0, 5, image=picture(tmp_path / "red.png", (255, 0, 0))),
                 tmp_path / "r.mp4")
    blue = render(session, request(32, 32, 24.0, 5, image=picture(tmp_path / "blue.png", (0, 0, 255))),
                  tmp_path / "b.mp4")
    assert not np.array_equal(text_only, red) and not np.array_equal(red, blue)  # the image steers the shot
    # The image-to-video twin shares the loaded modules without recasting them (from_pipe made them fp32).
    assert dtypes(session.pipeline) == loaded
    assert session.pipeline.transformer.blocks[0].attn1.to_q.weight.dtype == torch.bfloat16
    assert session.pipeline_for(request(32, 32, 24.0, 5, image=tmp_path / "red.png")).transformer \
        is session.pipeline.transformer


def test_wan_i2v_a14b_renders_from_an_image_with_expert_swap(tmp_path):
    build_wan_a14b_folder(tmp_path / "models" / "Wan2.2-I2V-A14B-Diffusers", image_to_video=True)
    session = open_session("wan2.2-i2v-a14b", ShotLayout.from_json({"expert_swap": True}), tmp_path / "models")
    red = render(session, request(32, 32, 16.0, 9, image=picture(tmp_path / "red.png", (255, 0, 0))),
                 tmp_path / "r.mp4")
    blue = render(session, request(32, 32, 16.0, 9, image=picture(tmp_path / "blue.png", (0, 0, 255))),
                  tmp_path / "b.mp4")
    assert not np.array_equal(red, blue)
    assert session.expert_swap.swaps[:2] == [0, 1]  # both experts denoised


def test_cogvideox_5b_i2v_renders_from_an_image(tmp_path):
    build_cogvideox_folder(tmp_path / "models" / "CogVideoX-5b-I2V", image_to_video=True)
    session = open_session("cogvideox-5b-i2v", None, tmp_path / "models")
    red = render(session, request(16, 16, 8.0, 9, image=picture(tmp_path / "red.png", (255, 0, 0))),
                 tmp_path / "r.mp4")
    blue = render(session, request(16, 16, 8.0, 9, image=picture(tmp_path / "blue.png", (0, 0, 255))),
                  tmp_path / "b.mp4")
    assert not np.array_equal(red, blue)
