"""Weights loaded in place, through the real session: the official Wan 2.2 release, ComfyUI's single
files (fp16, fp8 with scales), musubi-tuner's block-scaled fp8 and GGUF, each written from a tiny
diffusers model's weights, render the frames the diffusers folder holding the same weights renders.

The project keeps the full-size models' configs (backends/model_configs/); these tests point that at
the tiny folder, whose configs describe the tiny models. Everything else is the product's code path.

Which weights are "the same": the fp16 and bf16 files hold the tiny model's weights rounded to half
precision, and so does the reference folder; an fp8 file's weights are its fp8 values times their
scales, and the reference folder holds those; a GGUF file's are its blocks dequantized as diffusers'
GGUF layers dequantize them before computing, and the reference folder holds those. How far those
are from the unquantised weights is the format's own error, asserted separately per weight.
"""

from pathlib import Path

import pytest

from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from render_pipeline.backends import checkpoint_search, open_session  # noqa: E402
from render_pipeline.backends.base import RenderRequest  # noqa: E402
from render_pipeline.backends.weights import check_model_folder, describe_weights, require_model_folder  # noqa: E402
from render_pipeline.shot_layout import ShotLayout  # noqa: E402
from tests.assets.release_files import (  # noqa: E402
    derived_folder,
    fp8_meaning,
    fp8_scaled,
    gguf_meaning,
    half_precision,
    original_wan21_vae,
    original_wan_transformer,
    weights_of,
    write_gguf,
    write_official_release,
)
from tests.assets.tiny_models import (  # noqa: E402
    build_wan_a14b_folder,
    build_wan_ti2v_5b_folder,
    decoded_pixels,
    small_wan21_vae,
    small_wan22_vae,
)

A14B = "wan2.2-t2v-a14b"
WEIGHTED = ("transformer", "transformer_2", "text_encoder", "vae")


@pytest.fixture(scope="module")
def a14b(tmp_path_factory) -> Path:
    """A tiny A14B folder whose weights every format holds exactly (rounded to half precision).

    Heads of 16 make every linear layer's rows 32 wide: whole GGUF blocks and fp8 scale blocks."""
    root = tmp_path_factory.mktemp("a14b")
    raw = build_wan_a14b_folder(root / "raw", attention_head_dim=16, vae=small_wan21_vae())
    return derived_folder(raw, root / "reference", {component: half_precision for component in WEIGHTED})


@pytest.fixture
def configs(a14b, tmp_path, monkeypatch):
    """The project's model configs, here the tiny models' (see the module docstring)."""
    root = tmp_path / "configs"
    root.mkdir()
    (root / A14B).symlink_to(a14b)
    monkeypatch.setattr(checkpoint_search, "MODEL_CONFIGS", root)
    return root


def shot(**changes) -> RenderRequest:
    fields = dict(shot_id="s01", prompt="a grey destroyer at dawn", negative_prompt="blurry", seed=3, width=32,
                  height=32, fps=16.0, frames=9, steps=4, quality="draft")
    return RenderRequest(**{**fields, **changes})


def render(backend: str, models_dir: Path, out: Path, layout: ShotLayout | None = None, request=None) -> np.ndarray:
    session = open_session(backend, layout, models_dir)
    session.render(request or shot(), out, lambda done, total: None)
    session.close()
    return decoded_pixels(out, out.parent)


def diffusers_render(folder: Path, tmp_path: Path, backend: str = A14B, request=None) -> np.ndarray:
    models = tmp_path / "diffusers-models"
    models.mkdir(exist_ok=True)
    name = {A14B: "Wan2.2-T2V-A14B-Diffusers", "wan2.2-ti2v-5b": "Wan2.2-TI2V-5B-Diffusers"}[backend]
    (models / name).symlink_to(folder)
    return render(backend, models, tmp_path / "diffusers.mp4", request=request)


def test_official_release_folder_renders_the_diffusers_folders_frames(a14b, configs, tmp_path):
    models = tmp_path / "models"
    write_official_release(a14b, models / "Wan2.2-T2V-A14B", ("transformer", "transformer_2"))
    weights = require_model_folder(A14B, models)
    assert [part.format.label for part in weights.parts if part.format] == ["fp32", "fp32", "bf16 .pth", ".pth"]
    assert "in place" in describe_weights(weights)
    assert np.array_equal(render(A14B, models, tmp_path / "official.mp4"), diffusers_render(a14b, tmp_path))


def comfyui_models(a14b: Path, models: Path, transformer: dict, text_encoder: dict, kind: str) -> Path:
    """ComfyUI's models folder with the repackaged files' names."""
    for folder in ("diffusion_models", "text_encoders", "vae"):
        (models / folder).mkdir(parents=True, exist_ok=True)
    for component, expert in (("transformer", "high"), ("transformer_2", "low")):
        save_file(transformer[component], models / "diffusion_models" / f"wan2.2_t2v_{expert}_noise_14B_{kind}.safetensors")
    save_file(text_encoder, models / "text_encoders" / f"umt5_xxl_{'fp8_e4m3fn_scaled' if 'fp8' in kind else kind}.safetensors")
    save_file({name: tensor.to(torch.bfloat16) for name, tensor in original_wan21_vae(weights_of(a14b, "vae")).items()},
              models / "vae" / "wan_2.1_vae.safetensors")
    return models


def tokenizer_beside(a14b: Path, models: Path) -> None:
    """The tokenizer single files lack, where `hf download ... --include 'google/umt5-xxl/*'` puts it."""
    import shutil

    shutil.copytree(a14b / "tokenizer", models / "google" / "umt5-xxl")


def test_comfyui_fp16_files_render_the_diffusers_folders_frames(a14b, configs, tmp_path):
    transformer = {component: {name: tensor.to(torch.float16) for name, tensor in
                                original_wan_transformer(weights_of(a14b, component)).items()}
                   for component in ("transformer", "transformer_2")}
    text = {name: tensor.to(torch.float16) for name, tensor in weights_of(a14b, "text_encoder").items()}
    models = comfyui_models(a14b, tmp_path / "ComfyUI" / "models", transformer, text, "fp16")
    message = check_model_folder(A14B, models)
    assert "the UMT5 tokenizer: download it" in message
    assert f"hf download Wan-AI/Wan2.2-T2V-A14B --include 'google/umt5-xxl/*' --local-dir {models}" in message
    tokenizer_beside(a14b, models)
    weights = require_model_folder(A14B, models)
    assert [part.format.label for part in weights.parts if part.format] == ["fp16", "fp16", "fp16", "bf16"]
    assert np.array_equal(render(A14B, models, tmp_path / "comfy.mp4"), diffusers_render(a14b, tmp_path))


@pytest.mark.parametrize("per_block", [None, 16], ids=["comfyui-scale-per-weight", "musubi-scale-per-block"])
def test_fp8_scaled_files_keep_fp8_weights_and_render_what_their_scales_mean(a14b, configs, tmp_path, per_block):
    reference = derived_folder(a14b, tmp_path / "fp8-reference", {
        "transformer": lambda state: fp8_meaning(fp8_scaled(state, per_block)),
        "transformer_2": lambda state: fp8_meaning(fp8_scaled(state, per_block)),
        "text_encoder": lambda state: fp8_meaning(fp8_scaled(state))})
    transformer = {component: original_wan_transformer(fp8_scaled(weights_of(a14b, component), per_block))
                   for component in ("transformer", "transformer_2")}
    text = fp8_scaled(weights_of(a14b, "text_encoder"))  # ComfyUI's umt5_xxl_fp8_e4m3fn_scaled
    text["scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)  # ComfyUI's marker tensor
    models = comfyui_models(a14b, tmp_path / "models", transformer, text, "fp8_scaled")
    tokenizer_beside(a14b, models)
    weights = require_model_folder(A14B, models)
    assert weights.part("transformer").format.label == "fp8 scaled" and weights.quantised

    session = open_session(A14B, None, models)
    session.render(shot(), tmp_path / "fp8.mp4", lambda done, total: None)
    q = session.pipeline.transformer.blocks[0].attn1.to_q
    assert q.weight.dtype == torch.float8_e4m3fn  # the weights stay fp8 in memory
    assert np.array_equal(decoded_pixels(tmp_path / "fp8.mp4", tmp_path), diffusers_render(reference, tmp_path))


@pytest.mark.parametrize("strategy", [{"expert_swap": True}, {"group_offload": True}])
def test_fp8_scaled_experts_offload_like_bf16_ones(a14b, configs, tmp_path, strategy):
    """The memory strategies the planner offers for quantised files render the same frames."""
    transformer = {component: original_wan_transformer(fp8_scaled(weights_of(a14b, component)))
                   for component in ("transformer", "transformer_2")}
    models = comfyui_models(a14b, tmp_path / "models", transformer, weights_of(a14b, "text_encoder"), "fp8_scaled")
    tokenizer_beside(a14b, models)
    plain = render(A14B, models, tmp_path / "plain.mp4")
    assert np.array_equal(render(A14B, models, tmp_path / "offloaded.mp4", ShotLayout.from_json(strategy)), plain)


def test_gguf_experts_render_their_dequantized_weights_within_q8_0_error(a14b, configs, tmp_path):
    import gguf

    models = tmp_path / "models"
    (models / "diffusion_models").mkdir(parents=True)
    references = {}
    for component, expert in (("transformer", "High"), ("transformer_2", "Low")):
        state = weights_of(a14b, component)
        written = write_gguf(original_wan_transformer(state),
                             models / "diffusion_models" / f"Wan2.2-T2V-A14B-{expert}Noise-Q8_0.gguf",
                             gguf.GGMLQuantizationType.Q8_0)
        references[component] = gguf_meaning(state, written, original_wan_transformer)
        quantised = [name for name, tensor in references[component].items() if not torch.equal(tensor, state[name])]
        assert len(quantised) >= 20  # every linear weight of the blocks
        # Q8_0: 32 weights share one fp16 scale d = max|w| / 127, each weight is round(w / d): off by at
        # most d / 2, plus the fp16 rounding of d times 127 and of the product (3 ulp of fp16 at max|w|).
        for name, dequantized in references[component].items():
            original = state[name]
            if original.ndim == 2 and not torch.equal(dequantized, original):
                blocks = original.reshape(-1, 32).abs().amax(dim=1, keepdim=True)
                bound = blocks / 127 / 2 + 3 * blocks * 2.0 ** -10
                assert ((dequantized - original).reshape(-1, 32).abs() <= bound).all(), name
    text = weights_of(a14b, "text_encoder")
    save_file(text, models / "umt5_xxl_fp16.safetensors")
    save_file(original_wan21_vae(weights_of(a14b, "vae")), models / "wan_2.1_vae.safetensors")
    tokenizer_beside(a14b, models)
    weights = require_model_folder(A14B, models)
    assert weights.part("transformer").format.label == "GGUF Q8_0"
    reference = derived_folder(a14b, tmp_path / "gguf-reference", {
        component: (lambda state, component=component: references[component])
        for component in ("transformer", "transformer_2")})
    session = open_session(A14B, None, models)
    session.render(shot(), tmp_path / "gguf.mp4", lambda done, total: None)
    assert session.pipeline.transformer_2.blocks[1].ffn.net[2].weight.quant_type == gguf.GGMLQuantizationType.Q8_0
    pixels = decoded_pixels(tmp_path / "gguf.mp4", tmp_path)
    assert np.array_equal(pixels, diffusers_render(reference, tmp_path))
    # The quantised experts swap between host and device, or stream block by block, as bf16 ones do.
    for strategy in ({"expert_swap": True}, {"group_offload": True}):
        assert np.array_equal(render(A14B, models, tmp_path / "offloaded.mp4", ShotLayout.from_json(strategy)), pixels)


def test_ti2v_5b_official_release_renders_the_diffusers_folders_frames(tmp_path, monkeypatch):
    raw = build_wan_ti2v_5b_folder(tmp_path / "raw", attention_head_dim=16, vae=small_wan22_vae())
    reference = derived_folder(raw, tmp_path / "reference", {component: half_precision
                                                                for component in ("transformer", "text_encoder", "vae")})
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "wan2.2-ti2v-5b").symlink_to(reference)
    monkeypatch.setattr(checkpoint_search, "MODEL_CONFIGS", tmp_path / "configs")
    models = tmp_path / "models"
    write_official_release(reference, models / "Wan2.2-TI2V-5B", ("transformer",))
    request = shot(fps=24.0, frames=5, steps=2)
    assert np.array_equal(render("wan2.2-ti2v-5b", models, tmp_path / "official.mp4", request=request),
                          diffusers_render(reference, tmp_path, "wan2.2-ti2v-5b", request))


def test_i2v_a14b_official_release_renders_the_diffusers_folders_frames_from_an_image(tmp_path, monkeypatch):
    from PIL import Image

    raw = build_wan_a14b_folder(tmp_path / "raw", image_to_video=True, attention_head_dim=16, vae=small_wan21_vae())
    reference = derived_folder(raw, tmp_path / "reference", {component: half_precision for component in WEIGHTED})
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "wan2.2-i2v-a14b").symlink_to(reference)
    monkeypatch.setattr(checkpoint_search, "MODEL_CONFIGS", tmp_path / "configs")
    models = tmp_path / "models"
    write_official_release(reference, models / "Wan2.2-I2V-A14B", ("transformer", "transformer_2"))
    pixels = np.zeros((32, 32, 3), dtype=np.uint8)
    pixels[:, :16] = (200, 40, 0)
    Image.fromarray(pixels).save(tmp_path / "first.png")
    request = shot(image=tmp_path / "first.png")
    diffusers_models = tmp_path / "diffusers-models"
    diffusers_models.mkdir()
    (diffusers_models / "Wan2.2-I2V-A14B-Diffusers").symlink_to(reference)
    assert np.array_equal(render("wan2.2-i2v-a14b", models, tmp_path / "official.mp4", request=request),
                          render("wan2.2-i2v-a14b", diffusers_models, tmp_path / "diffusers.mp4", request=request))
