from render_pipeline.backends import open_session
from render_pipeline.backends.base import RenderRequest
from render_pipeline.media.ffmpeg import count_frames, probe
from render_pipeline.shot_layout import ShotLayout
from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

from tests.assets.tiny_models import build_cogvideox_folder  # noqa: E402


def test_cogvideox_renders_a_shot_from_the_folder(tmp_path):
    build_cogvideox_folder(tmp_path / "models" / "CogVideoX-5b")
    session = open_session("cogvideox-5b", ShotLayout.from_json({"vae_tiling": True}), tmp_path / "models")
    request = RenderRequest(shot_id="s01", prompt="a ship at dawn", negative_prompt="blurry", seed=3, width=16,
                            height=16, fps=8.0, frames=9, steps=2, quality="draft")
    steps = []
    session.encode([request])
    session.render(request, tmp_path / "s01.mp4", lambda done, total: steps.append(done))
    assert session.pipeline.text_encoder is None
    assert steps == [1, 2]
    info = probe(tmp_path / "s01.mp4")
    assert (info.width, info.height, info.fps) == (16, 16, 8.0)
    assert count_frames(tmp_path / "s01.mp4") == 9
