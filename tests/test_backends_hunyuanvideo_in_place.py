"""HunyuanVideo's weights loaded in place, through the real session: Tencent's release (bf16, and fp8 with
its scales file), ComfyUI's single files (bf16, fp16 and fp8 scaled text encoder, fp8 scaled transformer)
and a GGUF transformer, each written from a tiny diffusers model's weights, render the frames the
diffusers folder holding the same weights renders.

As in test_backends_weights_in_place.py: the project's full-size configs are pointed at the tiny folder's;
"the same weights" are the tiny model's rounded to half precision, an fp8 file's fp8 values times their
scales, a GGUF file's blocks dequantized as diffusers' GGUF layers dequantize them. The tiny transformer
has heads of 16, two to a layer: rows 32 wide, whole GGUF blocks; its hidden width (32) is not the 3072
diffusers' own conversion assumes for the single-stream blocks' fused projection.
"""

import shutil
from pathlib import Path

import pytest

from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from render_pipeline.backends import checkpoint_search, open_session  # noqa: E402
from render_pipeline.backends.base import RenderRequest  # noqa: E402
from render_pipeline.backends.checkpoint_loading import load_in_place  # noqa: E402
from render_pipeline.backends.weights import check_model_folder, describe_weights, require_model_folder  # noqa: E402
from render_pipeline.doctor import check_weights  # noqa: E402
from render_pipeline.shot_layout import ShotLayout  # noqa: E402
from tests.assets.release_files import (  # noqa: E402
    comfyui_clip_l,
    comfyui_llama,
    derived_folder,
    diffusers_hunyuan_transformer,
    fp8_meaning,
    fp8_scaled,
    gguf_dequantized,
    half_precision,
    original_hunyuan_transformer,
    tencent_fp8,
    tencent_fp8_meaning,
    weights_of,
    write_gguf,
    write_tencent_release,
)
from tests.assets.tiny_models import build_hunyuanvideo_folder, decoded_pixels  # noqa: E402

BACKEND = "hunyuanvideo"
WEIGHTED = ("transformer", "text_encoder", "text_encoder_2", "vae")
TOKENIZERS = "hf download hunyuanvideo-community/HunyuanVideo --include 'tokenizer*/*' --local-dir"


@pytest.fixture(scope="module")
def hunyuan(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hunyuan")
    raw = build_hunyuanvideo_folder(root / "raw", attention_head_dim=16, rope_axes_dim=(4, 6, 6))
    return derived_folder(raw, root / "reference", {component: half_precision for component in WEIGHTED})


@pytest.fixture
def configs(hunyuan, tmp_path, monkeypatch):
    """The project's model configs, here the tiny models' (see the module docstring)."""
    root = tmp_path / "configs"
    root.mkdir()
    (root / BACKEND).symlink_to(hunyuan)
    monkeypatch.setattr(checkpoint_search, "MODEL_CONFIGS", root)
    return root


def shot() -> RenderRequest:
    return RenderRequest(shot_id="s01", prompt="a grey destroyer at dawn", negative_prompt="", seed=3, width=32,
                         height=32, fps=24.0, frames=5, steps=3, quality="draft")


def render(models_dir: Path, out: Path, layout: ShotLayout | None = None) -> np.ndarray:
    session = open_session(BACKEND, layout, models_dir)
    session.render(shot(), out, lambda done, total: None)
    session.close()
    return decoded_pixels(out, out.parent)


def diffusers_render(folder: Path, tmp_path: Path) -> np.ndarray:
    models = tmp_path / f"diffusers-{folder.name}"
    models.mkdir()
    (models / "HunyuanVideo").symlink_to(folder)
    return render(models, tmp_path / f"diffusers-{folder.name}.mp4")


def test_tencent_release_renders_the_diffusers_folders_frames(hunyuan, configs, tmp_path):
    models = tmp_path / "models"
    write_tencent_release(hunyuan, models / "HunyuanVideo")
    weights = require_model_folder(BACKEND, models)
    assert [(part.component, part.format.label if part.format else None) for part in weights.parts] == [
        ("transformer", ".pt"), ("text_encoder", "fp16"), ("tokenizer", None), ("text_encoder_2", "fp32"),
        ("tokenizer_2", None), ("vae", ".pt")]
    assert f"in place ({models / 'HunyuanVideo'})" in describe_weights(weights)
    pixels = render(models, tmp_path / "tencent.mp4")
    assert pixels.std() > 0
    assert np.array_equal(pixels, diffusers_render(hunyuan, tmp_path))


def test_tencent_fp8_transformer_keeps_fp8_weights_and_renders_what_its_scales_mean(hunyuan, configs, tmp_path):
    """Beside the bf16 file the fp8 one is named as another choice; one line in weights.yaml picks it."""
    models = tmp_path / "models"
    release = write_tencent_release(hunyuan, models / "HunyuanVideo", fp8=True)
    check = next(check for check in check_weights(models, tmp_path) if check.name == f"weights {BACKEND}")
    assert "transformer .pt" in check.detail and "Also found: mp_rank_00_model_states_fp8.pt" in check.detail
    fp8_file = release / "hunyuan-video-t2v-720p" / "transformers" / "mp_rank_00_model_states_fp8.pt"
    (models / "weights.yaml").write_text(f"{BACKEND}: {fp8_file}\n")
    weights = require_model_folder(BACKEND, models)
    assert weights.part("transformer").format.label == "fp8 scaled .pt" and weights.quantised
    assert weights.part("vae").files[0].parent == release / "hunyuan-video-t2v-720p" / "vae"  # the release's root found

    state = weights_of(hunyuan, "transformer")
    meaning = tencent_fp8_meaning(*tencent_fp8(original_hunyuan_transformer(state)))
    reference = derived_folder(hunyuan, tmp_path / "fp8-reference", {
        "transformer": lambda state: diffusers_hunyuan_transformer(meaning, like=state)})
    session = open_session(BACKEND, None, models)
    session.render(shot(), tmp_path / "fp8.mp4", lambda done, total: None)
    transformer = session.pipeline.transformer
    assert transformer.single_transformer_blocks[0].attn.to_q.weight.dtype == torch.float8_e4m3fn
    assert transformer.transformer_blocks[0].norm1.linear.weight.dtype == torch.float8_e4m3fn
    pixels = decoded_pixels(tmp_path / "fp8.mp4", tmp_path)
    assert np.array_equal(pixels, diffusers_render(reference, tmp_path))
    # Streamed block by block, as the planner has quantised files run on a small GPU: the same frames.
    assert np.array_equal(render(models, tmp_path / "offloaded.mp4", ShotLayout.from_json({"group_offload": True})), pixels)

    (release / "hunyuan-video-t2v-720p" / "transformers" / "mp_rank_00_model_states_fp8_map.pt").unlink()
    assert "needs its scales, mp_rank_00_model_states_fp8_map.pt, beside it" in check_model_folder(BACKEND, models)


def comfyui_models(hunyuan: Path, models: Path, transformer: tuple[str, dict] | None, text_encoder: dict,
                   text_name: str = "llava_llama3_fp16.safetensors") -> Path:
    """ComfyUI's models folder with the repackaged HunyuanVideo files' names, and no tokenizers;
    ``transformer``: (file name, tensors) in diffusion_models/."""
    for folder in ("diffusion_models", "text_encoders", "vae"):
        (models / folder).mkdir(parents=True, exist_ok=True)
    if transformer is not None:
        save_file(transformer[1], models / "diffusion_models" / transformer[0])
    save_file(text_encoder, models / "text_encoders" / text_name)
    clip = comfyui_clip_l(weights_of(hunyuan, "text_encoder_2"))
    save_file({name: tensor.half() for name, tensor in clip.items()}, models / "text_encoders" / "clip_l.safetensors")
    save_file({name: tensor.to(torch.bfloat16) for name, tensor in weights_of(hunyuan, "vae").items()},
              models / "vae" / "hunyuan_video_vae_bf16.safetensors")
    return models


def tokenizers_beside(hunyuan: Path, models: Path) -> None:
    """Where the download doctor names puts them: <models dir>/tokenizer/ and tokenizer_2/."""
    for name in ("tokenizer", "tokenizer_2"):
        shutil.copytree(hunyuan / name, models / name)


def test_comfyui_files_render_the_diffusers_folders_frames(hunyuan, configs, tmp_path):
    transformer = {name: tensor.to(torch.bfloat16)
                   for name, tensor in original_hunyuan_transformer(weights_of(hunyuan, "transformer")).items()}
    text = {name: tensor.half() for name, tensor in comfyui_llama(weights_of(hunyuan, "text_encoder")).items()}
    models = comfyui_models(hunyuan, tmp_path / "ComfyUI" / "models",
                            ("hunyuan_video_t2v_720p_bf16.safetensors", transformer), text)
    message = check_model_folder(BACKEND, models)
    assert "the LLaVA-Llama-3 tokenizer: download them" in message and "the CLIP tokenizer: download them" in message
    assert f"{TOKENIZERS} {models}" in message
    tokenizers_beside(hunyuan, models)
    weights = require_model_folder(BACKEND, models)
    assert [part.format.label for part in weights.parts if part.format] == ["bf16", "fp16", "fp16", "bf16"]
    assert np.array_equal(render(models, tmp_path / "comfy.mp4"), diffusers_render(hunyuan, tmp_path))


def test_fp8_scaled_files_keep_fp8_weights_and_render_what_their_scales_mean(hunyuan, configs, tmp_path):
    """One scale per fused weight (ComfyUI's format), spread over the parts the loader cuts it into."""
    state = weights_of(hunyuan, "transformer")
    transformer = fp8_scaled(original_hunyuan_transformer(state))
    text = comfyui_llama(fp8_scaled(weights_of(hunyuan, "text_encoder")))
    text["scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)  # ComfyUI's marker tensor
    reference = derived_folder(hunyuan, tmp_path / "fp8-reference", {
        "transformer": lambda state: diffusers_hunyuan_transformer(fp8_meaning(transformer), like=state),
        "text_encoder": lambda state: fp8_meaning(fp8_scaled(state))})
    models = comfyui_models(hunyuan, tmp_path / "models",
                            ("hunyuan_video_t2v_720p_fp8_scaled.safetensors", transformer), text,
                            "llava_llama3_fp8_scaled.safetensors")
    tokenizers_beside(hunyuan, models)
    weights = require_model_folder(BACKEND, models)
    assert weights.part("transformer").format.label == "fp8 scaled" and weights.part("text_encoder").format.label \
        == "fp8 scaled"
    loaded = load_in_place(weights, ("transformer", "text_encoder"), torch.float32)
    assert loaded["text_encoder"].layers[0].mlp.down_proj.weight.dtype == torch.float8_e4m3fn
    assert loaded["transformer"].norm_out.linear.weight.dtype == torch.float8_e4m3fn  # halves swapped, scale too
    del loaded
    assert np.array_equal(render(models, tmp_path / "fp8.mp4"), diffusers_render(reference, tmp_path))


def test_gguf_transformer_renders_its_dequantized_weights_within_q8_0_error(hunyuan, configs, tmp_path):
    import gguf

    state = weights_of(hunyuan, "transformer")
    original = original_hunyuan_transformer(state)
    text = {name: tensor.half() for name, tensor in comfyui_llama(weights_of(hunyuan, "text_encoder")).items()}
    models = comfyui_models(hunyuan, tmp_path / "models", None, text)
    written = write_gguf(original, models / "diffusion_models" / "hunyuan-video-t2v-720p-Q8_0.gguf",
                         gguf.GGMLQuantizationType.Q8_0, arch="hyvid")
    dequantized = gguf_dequantized(written)
    assert len(dequantized) >= 20 and "single_blocks.0.linear1.weight" in dequantized
    # Q8_0: 32 weights share one fp16 scale d = max|w| / 127, each weight is round(w / d): off by at most
    # d / 2, plus the fp16 rounding of d times 127 and of the product (3 ulp of fp16 at max|w|).
    for name, values in dequantized.items():
        blocks = original[name].reshape(-1, 32).abs().amax(dim=1, keepdim=True)
        bound = blocks / 127 / 2 + 3 * blocks * 2.0 ** -10
        assert ((values - original[name]).reshape(-1, 32).abs() <= bound).all(), name
    tokenizers_beside(hunyuan, models)
    weights = require_model_folder(BACKEND, models)
    assert weights.part("transformer").format.label == "GGUF Q8_0" and weights.quantised
    reference = derived_folder(hunyuan, tmp_path / "gguf-reference", {
        "transformer": lambda state: diffusers_hunyuan_transformer({**original, **dequantized}, like=state)})
    session = open_session(BACKEND, None, models)
    session.render(shot(), tmp_path / "gguf.mp4", lambda done, total: None)
    # The single-stream blocks' fused projection, cut at the tiny width, stays quantised.
    assert session.pipeline.transformer.single_transformer_blocks[0].attn.to_v.weight.quant_type \
        == gguf.GGMLQuantizationType.Q8_0
    pixels = decoded_pixels(tmp_path / "gguf.mp4", tmp_path)
    assert np.array_equal(pixels, diffusers_render(reference, tmp_path))
    assert np.array_equal(render(models, tmp_path / "offloaded.mp4", ShotLayout.from_json({"group_offload": True})), pixels)
