"""Prompt embeddings kept on disk: a later run renders the same pixels without loading the text encoder."""

import os
from pathlib import Path

import numpy as np
import pytest

from render_pipeline.backends import open_session
from render_pipeline.backends.base import RenderRequest
from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

from tests.assets.tiny_models import build_hunyuanvideo_folder, build_wan_ti2v_5b_folder, decoded_pixels  # noqa: E402

NEGATIVE = "blurry static"


def shot(shot_id: str, prompt: str) -> RenderRequest:
    return RenderRequest(shot_id=shot_id, prompt=prompt, negative_prompt=NEGATIVE, seed=4, width=32, height=32,
                         fps=24.0, frames=5, steps=2, quality="draft")


SHOTS = [shot("s01", "a grey destroyer at dawn"), shot("s02", "sailors on deck")]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    build_wan_ti2v_5b_folder(root / "Wan2.2-TI2V-5B-Diffusers")
    return root


def counting_loads(session) -> list[tuple[str, ...]]:
    """The components of every pipeline the session loads from its folder."""
    loads = []
    real_load = session._load

    def load(pipeline_class, keep, **overrides):
        loads.append(keep)
        return real_load(pipeline_class, keep, **overrides)

    session._load = load
    return loads


def render(session, request: RenderRequest, out: Path) -> np.ndarray:
    session.render(request, out, lambda done, total: None)
    return decoded_pixels(out, out.parent)


def test_a_second_run_renders_the_same_pixels_without_loading_the_text_encoder(models_dir, tmp_path):
    cache = tmp_path / "cache"
    first = open_session("wan2.2-ti2v-5b", None, models_dir)
    first_loads = counting_loads(first)
    first.encode(SHOTS, text_cache=cache)
    before = render(first, SHOTS[1], tmp_path / "first.mp4")
    assert len(list(cache.glob("*.pt"))) == 3  # two prompts and the negative prompt they share
    assert first_loads[0] == first.text_components

    again = open_session("wan2.2-ti2v-5b", None, models_dir)
    again_loads = counting_loads(again)
    again.encode(SHOTS, text_cache=cache)
    after = render(again, SHOTS[1], tmp_path / "again.mp4")
    assert again.text_components not in again_loads  # only the denoising pipeline was loaded
    assert np.array_equal(before, after)


def test_a_new_text_is_encoded_and_added_beside_those_kept(models_dir, tmp_path):
    cache = tmp_path / "cache"
    open_session("wan2.2-ti2v-5b", None, models_dir).encode(SHOTS[:1], text_cache=cache)
    session = open_session("wan2.2-ti2v-5b", None, models_dir)
    loads = counting_loads(session)
    session.encode(SHOTS, text_cache=cache)
    assert loads == [session.text_components]
    assert len(list(cache.glob("*.pt"))) == 3


def test_a_damaged_file_or_a_changed_encoder_is_encoded_again(models_dir, tmp_path):
    cache = tmp_path / "cache"
    open_session("wan2.2-ti2v-5b", None, models_dir).encode(SHOTS[:1], text_cache=cache)
    for kept in cache.glob("*.pt"):
        kept.write_bytes(b"cut off by a full disk")
    session = open_session("wan2.2-ti2v-5b", None, models_dir)
    loads = counting_loads(session)
    session.encode(SHOTS[:1], text_cache=cache)
    assert loads == [session.text_components]

    weights = next((models_dir / "Wan2.2-TI2V-5B-Diffusers" / "text_encoder").glob("*.safetensors"))
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a new download of the encoder
    session = open_session("wan2.2-ti2v-5b", None, models_dir)
    loads = counting_loads(session)
    session.encode(SHOTS[:1], text_cache=cache)
    assert loads == [session.text_components]
    assert len(list(cache.glob("*.pt"))) == 4  # the two of the old encoder stay until the film folder is cleaned


def test_hunyuanvideo_keeps_its_three_tensors_and_no_negative(tmp_path):
    build_hunyuanvideo_folder(tmp_path / "models" / "HunyuanVideo")
    request = RenderRequest(shot_id="s01", prompt="a ship at dawn", negative_prompt=NEGATIVE, seed=2, width=16,
                            height=16, fps=24.0, frames=5, steps=2, quality="draft")
    first = open_session("hunyuanvideo", None, tmp_path / "models")
    first.encode([request], text_cache=tmp_path / "cache")
    before = render(first, request, tmp_path / "a.mp4")
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1

    again = open_session("hunyuanvideo", None, tmp_path / "models")
    loads = counting_loads(again)
    again.encode([request], text_cache=tmp_path / "cache")
    assert set(again._embeddings["a ship at dawn"]) == {"prompt_embeds", "pooled_prompt_embeds",
                                                       "prompt_attention_mask"}
    assert np.array_equal(before, render(again, request, tmp_path / "b.mp4"))
    assert again.text_components not in loads
