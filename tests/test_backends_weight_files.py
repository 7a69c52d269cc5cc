"""Finding the weights a user has, without torch: formats named, what is missing named exactly, the
memory of quantised files counted from their headers, and weights.yaml's one line.

The files here hold headers only (a safetensors JSON table, a GGUF tensor table) with the full-size
models' tensor shapes: that is all `doctor` and `plan` read.
"""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from render_pipeline.backends.checkpoint_files import gguf_tensors, safetensors_tensors
from render_pipeline.backends.weights import check_model_folder, locate_weights
from render_pipeline.doctor import check_weights
from render_pipeline.errors import UserError
from render_pipeline.planner import make_plan
from render_pipeline.planner.gpus import GIB
from render_pipeline.storyboard import load_storyboard
from tests.optional_parts import module_needs

# The code under test is torch-free; the tests build the full-size models' tensor tables on the meta device.
pytestmark = module_needs("diffusion")

A14B = "wan2.2-t2v-a14b"
Q4_K, Q6_K, F32, F16, IQ2_XXS = 12, 14, 0, 1, 16
BITS = {Q4_K: 144 * 8 / 256, Q6_K: 210 * 8 / 256, F32: 32, F16: 16}  # ggml's block sizes


@pytest.fixture(scope="module")
def expert_shapes() -> dict[str, tuple[int, ...]]:
    """Wan 2.2 A14B's expert: every tensor's original name and full-size shape (built on the meta device)."""
    from accelerate import init_empty_weights
    from diffusers import WanTransformer3DModel

    from tests.assets.release_files import original_wan_transformer

    config = Path("render_pipeline/backends/model_configs/wan2.2-t2v-a14b/transformer")
    with init_empty_weights():
        model = WanTransformer3DModel.from_config(WanTransformer3DModel.load_config(config))
    return {name: tuple(tensor.shape) for name, tensor in original_wan_transformer(model.state_dict()).items()}


def safetensors_header(path: Path, tensors: dict[str, tuple[str, tuple[int, ...]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = json.dumps({name: {"dtype": dtype, "shape": list(shape), "data_offsets": [0, 0]}
                         for name, (dtype, shape) in tensors.items()}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    return path


def gguf_header(path: Path, tensors: dict[str, tuple[int, tuple[int, ...]]]) -> Path:
    """A GGUF file's header (written by gguf's writer) listing tensors of these GGML types and shapes."""
    import gguf
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch="wan")
    for name, (kind, shape) in tensors.items():
        block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(kind)]
        elements = 1
        for dim in shape:
            elements *= dim
        writer.add_tensor_info(name, shape, np.dtype(np.float32), elements // block * size,
                               raw_dtype=gguf.GGMLQuantizationType(kind))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    return path


def q4_k_m(shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, tuple[int, ...]]]:
    """As llama.cpp's Q4_K_M mix: matrices in Q4_K, the feed-forward outputs in Q6_K, the rest unquantised."""
    return {name: ((Q6_K if ".ffn.2." in name else Q4_K) if len(shape) == 2 else F16 if len(shape) == 5 else F32,
                   shape) for name, shape in shapes.items()}


def small_files(models: Path, text_encoder: str = "umt5_xxl_fp8_e4m3fn_scaled.safetensors") -> None:
    """The text encoder and VAE files (headers of a few tensors) and the tokenizer folder."""
    safetensors_header(models / "text_encoders" / text_encoder, {
        "shared.weight": ("F8_E4M3", (256384, 4096)), "shared.scale_weight": ("F32", (1,)),
        "encoder.block.0.layer.0.SelfAttention.q.weight": ("F8_E4M3", (4096, 4096)),
        "encoder.block.0.layer.0.SelfAttention.q.scale_weight": ("F32", (1,)), "scaled_fp8": ("F8_E4M3", (0,))})
    safetensors_header(models / "vae" / "wan_2.1_vae.safetensors", {"decoder.conv1.weight": ("BF16", (384, 16, 3, 3, 3))})
    (models / "google" / "umt5-xxl").mkdir(parents=True)
    (models / "google" / "umt5-xxl" / "tokenizer.json").write_text("{}")


@pytest.mark.needs("diffusion")  # the fixture builds the full-size model on the meta device
def test_headers_give_names_types_and_full_size_shapes(tmp_path, expert_shapes):
    path = gguf_header(tmp_path / "e.gguf", q4_k_m(expert_shapes))
    tensors = gguf_tensors(path)
    assert tensors["blocks.0.self_attn.q.weight"].dtype == "Q4_K"
    assert tensors["blocks.0.self_attn.q.weight"].shape == (5120, 5120)
    assert tensors["blocks.39.ffn.2.weight"].dtype == "Q6_K"
    assert tensors["patch_embedding.weight"].shape == (5120, 16, 1, 2, 2)
    assert sum(t.elements for t in tensors.values()) == sum(t.elements for t in tensors.values() if t.dtype) > 14e9
    header = safetensors_tensors(safetensors_header(tmp_path / "s.safetensors", {"a": ("F8_E4M3", (3, 4))}))
    assert header["a"].dtype == "F8_E4M3" and header["a"].elements == 12


@pytest.mark.needs("diffusion")  # the fixture builds the full-size model on the meta device
def test_comfyui_folder_names_the_formats_and_one_line_picks_another_file(tmp_path, expert_shapes):
    models = tmp_path / "ComfyUI" / "models"
    fp8 = {name: ("F8_E4M3" if len(shape) == 2 else "BF16", shape) for name, shape in expert_shapes.items()}
    fp8 |= {name.removesuffix(".weight") + ".scale_weight": ("F32", (1,)) for name, shape in expert_shapes.items()
            if len(shape) == 2}
    for expert in ("high", "low"):
        safetensors_header(models / "diffusion_models" / f"wan2.2_t2v_{expert}_noise_14B_fp8_scaled.safetensors", fp8)
        gguf_header(models / "diffusion_models" / f"wan2.2_t2v_{expert}_noise_14B_Q4_K_M.gguf", q4_k_m(expert_shapes))
    small_files(models)

    checks = {check.name: check for check in check_weights(models, tmp_path / 'storyboards')}
    found = checks[f"weights {A14B}"]
    assert found.status == "ok"
    # The highest precision found is used; the other files are named with the way to choose them.
    assert "transformer fp8 scaled" in found.detail and "transformer_2 fp8 scaled" in found.detail
    assert "text_encoder fp8 scaled" in found.detail and "vae bf16" in found.detail
    assert "Also found: wan2.2_t2v_high_noise_14B_Q4_K_M.gguf" in found.detail and "weights.yaml" in found.detail
    assert checks["weights wan2.2-ti2v-5b"].status == "warn"  # no TI2V-5B transformer there

    (models / "weights.yaml").write_text(f"{A14B}: diffusion_models/wan2.2_t2v_high_noise_14B_Q4_K_M.gguf\n")
    weights, problem = locate_weights(A14B, models)
    assert problem is None
    assert [part.format.label for part in weights.parts[:2]] == ["GGUF Q4_K_M", "GGUF Q4_K_M"]
    assert weights.parts[1].files[0].name == "wan2.2_t2v_low_noise_14B_Q4_K_M.gguf"


@pytest.mark.needs("diffusion")  # the fixture builds the full-size model on the meta device
def test_half_present_files_name_exactly_what_to_add(tmp_path, expert_shapes):
    models = tmp_path / "models"
    gguf_header(models / "diffusion_models" / "Wan2.2-T2V-A14B-HighNoise-Q4_K_M.gguf", q4_k_m(expert_shapes))
    message = check_model_folder(A14B, models)
    assert "Wan2.2-T2V-A14B-LowNoise-Q4_K_M.gguf beside " in message
    assert "umt5_xxl_fp8_e4m3fn_scaled.safetensors" in message and "wan_2.1_vae.safetensors" in message
    assert f"hf download Wan-AI/Wan2.2-T2V-A14B --include 'google/umt5-xxl/*' --local-dir {models}" in message

    official = tmp_path / "official" / "Wan2.2-T2V-A14B"
    for expert in ("high_noise_model", "low_noise_model"):
        (official / expert).mkdir(parents=True)
        index = {"weight_map": {"blocks.0.self_attn.q.weight": "diffusion_pytorch_model-00001-of-00002.safetensors",
                                "head.head.weight": "diffusion_pytorch_model-00002-of-00002.safetensors"}}
        (official / expert / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps(index))
        safetensors_header(official / expert / "diffusion_pytorch_model-00001-of-00002.safetensors",
                           {"blocks.0.self_attn.q.weight": ("F32", (5120, 5120))})
    message = check_model_folder(A14B, tmp_path / "official")
    assert "diffusion_pytorch_model-00002-of-00002.safetensors is missing" in message
    assert "models_t5_umt5-xxl-enc-bf16.pth from Wan-AI/Wan2.2-T2V-A14B" in message


@pytest.mark.needs("diffusion")  # the fixture builds the full-size model on the meta device
def test_a_gguf_diffusers_cannot_read_is_refused_by_name(tmp_path, expert_shapes):
    models = tmp_path / "models"
    shapes = {name: (IQ2_XXS if len(shape) == 2 else F32, shape) for name, shape in expert_shapes.items()}
    for expert in ("High", "Low"):
        gguf_header(models / f"Wan2.2-T2V-A14B-{expert}Noise-IQ2_XXS.gguf", shapes)
    small_files(models)
    assert "uses IQ2_XXS, which diffusers' GGUF loader cannot read" in check_model_folder(A14B, models)


def test_weights_yaml_mistakes_are_user_errors(tmp_path):
    (tmp_path / "weights.yaml").write_text("wan2.2-t2v-a15b: /x\n")
    with pytest.raises(UserError, match="unknown backend 'wan2.2-t2v-a15b'"):
        locate_weights(A14B, tmp_path)
    (tmp_path / "weights.yaml").write_text(f"{A14B}: nowhere/files\n")
    assert f"points at {tmp_path / 'nowhere/files'}, which does not exist" in check_model_folder(A14B, tmp_path)


def test_weights_yaml_can_name_a_diffusers_folder_elsewhere(tmp_path):
    from render_pipeline.backends.specs import SPECS
    from tests.test_backends_specs import _fake_diffusers_folder

    elsewhere = tmp_path / "disk2" / "wan-a14b"
    _fake_diffusers_folder(elsewhere, "WanPipeline", SPECS[A14B].components)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "weights.yaml").write_text(f"{A14B}: {elsewhere}\n")
    assert locate_weights(A14B, tmp_path / "models") == (elsewhere, None)


def test_weights_yaml_naming_no_diffusers_folder_for_cogvideox_is_a_problem(tmp_path):
    """CogVideoX has no files in place: a line naming any other folder was taken as usable weights (None)."""
    (tmp_path / "models").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "models" / "weights.yaml").write_text(f"cogvideox-5b: {tmp_path / 'elsewhere'}\n")
    weights, problem = locate_weights("cogvideox-5b", tmp_path / "models")
    assert weights is None and "has no model_index.json" in problem


def test_a_storyboards_own_weights_yaml_may_not_lead_out_of_its_folder(tmp_path, monkeypatch):
    """A storyboard is untrusted: a weights.yaml in a models folder inside its folder (the default ./models
    when run from there) cannot make the tool read files elsewhere; the same line in a models folder
    outside it can."""
    from typer.testing import CliRunner

    from render_pipeline.backends.specs import SPECS
    from render_pipeline.cli import app
    from render_pipeline.planner import make_plan
    from render_pipeline.storyboard import load_storyboard
    from tests.test_backends_specs import _fake_diffusers_folder

    elsewhere = tmp_path / "disk2" / "wan-a14b"
    _fake_diffusers_folder(elsewhere, "WanPipeline", SPECS[A14B].components)
    film = tmp_path / "film"
    (film / "models").mkdir(parents=True)
    (film / "models" / "weights.yaml").write_text(f"{A14B}: {elsewhere}\n")
    board = load_storyboard(_board(film))
    monkeypatch.chdir(film)
    with pytest.raises(UserError, match="outside the storyboard's folder .* --models-dir"):
        make_plan(board, gpus="1xH200")
    result = CliRunner().invoke(app, ["plan", str(film / "board.yaml"), "--gpus", "1xH200"])
    assert result.exit_code == 2 and "outside the storyboard's folder" in result.output
    # A link inside the storyboard's folder leading out is refused the same way.
    (film / "models" / "weights.yaml").write_text(f"{A14B}: linked\n")
    (film / "models" / "linked").symlink_to(elsewhere)
    with pytest.raises(UserError, match="outside the storyboard's folder"):
        make_plan(board, gpus="1xH200")

    mine = tmp_path / "my-models"
    mine.mkdir()
    (mine / "weights.yaml").write_text(f"{A14B}: {elsewhere}\n")
    plan = make_plan(board, gpus="1xH200", models_dir=mine)
    assert plan.backend(A14B).weights_problem is None


def _board(tmp_path: Path) -> Path:
    path = tmp_path / "board.yaml"
    path.write_text("version: 1\ntitle: Q\ndelivery: {size: 1280x720, fps: 24, loudness_lufs: -16}\n"
                    f"defaults: {{backend: {A14B}}}\nshots:\n  - {{id: s01, duration: 5, prompt: 'a harbor at dawn'}}\n")
    return path


@pytest.mark.needs("diffusion")  # the fixture builds the full-size model on the meta device
def test_plan_counts_the_memory_of_gguf_q4_experts_from_their_headers(tmp_path, expert_shapes):
    models = tmp_path / "models"
    for expert in ("high", "low"):
        gguf_header(models / "diffusion_models" / f"wan2.2_t2v_{expert}_noise_14B_Q4_K_M.gguf", q4_k_m(expert_shapes))
    small_files(models)
    plan = make_plan(load_storyboard(_board(tmp_path)), gpus="1x24GB", models_dir=models)
    backend = plan.backend(A14B)
    choice = backend.choice
    assert choice.layout.memory.weights_dtype == "GGUF Q4_K_M" and choice.layout.memory.offload == "inactive_expert"
    # One expert's bytes, from the mix of types in the file (ggml's bits per weight of each type).
    types = q4_k_m(expert_shapes)
    bits = sum(BITS[kind if kind != F16 and kind != F32 else F16] * _count(shape) for kind, shape in types.values())
    one_expert = bits / 8 / GIB
    assert one_expert < 8.5  # against 26.7 GiB in bf16
    from render_pipeline.backends.specs import WAN_A14B_EXPERT

    # Plus one block dequantized to bf16 while it runs, and the small modules kept in fp32.
    assert abs(choice.cost.weights_gib - one_expert - WAN_A14B_EXPERT.block_gib(2)) < 0.15
    assert "GGUF Q4_K_M" in backend.weights_found and not backend.quantised_peaks
    assert choice.to_json()["peak_gpu_gib"]["denoise"] < 24


def test_plan_shows_what_quantised_files_would_take_when_bf16_needs_offloading(tmp_path):
    plan = make_plan(load_storyboard(_board(tmp_path)), gpus="1x24GB", models_dir=tmp_path / "nothing")
    backend = plan.backend(A14B)
    assert backend.choice.layout.memory.offload == "group"
    peaks = backend.quantised_peaks
    assert set(peaks) == {"GGUF Q8_0", "GGUF Q4_K_M", "fp8 scaled"}
    assert peaks["GGUF Q4_K_M"] < peaks["fp8 scaled"] < peaks["GGUF Q8_0"] < 24
    from render_pipeline.planner.report import verdict

    assert "With quantised files instead, one GPU would peak at: GGUF Q8_0" in verdict(backend)


def _count(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


@pytest.mark.needs("diffusion")  # the fixture builds the full-size model on the meta device
def test_finding_weights_imports_no_torch(tmp_path, expert_shapes):
    models = tmp_path / "models"
    for expert in ("high", "low"):
        gguf_header(models / f"wan2.2_t2v_{expert}_noise_14B_Q4_K_M.gguf", q4_k_m(expert_shapes))
    small_files(models)
    code = ("import sys; from pathlib import Path; from render_pipeline.backends.weights import locate_weights; "
            f"weights, problem = locate_weights('{A14B}', Path({str(models)!r})); assert problem is None, problem; "
            "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(Path.cwd())})


HUNYUAN = "hunyuanvideo"


@pytest.fixture(scope="module")
def hunyuan_shapes() -> dict[str, tuple[int, ...]]:
    """HunyuanVideo's transformer: every tensor's original (Tencent's, ComfyUI's, city96's) name and full-size shape."""
    from accelerate import init_empty_weights
    from diffusers import HunyuanVideoTransformer3DModel

    from tests.assets.release_files import original_hunyuan_transformer

    config = Path("render_pipeline/backends/model_configs/hunyuanvideo/transformer")
    with init_empty_weights():
        model = HunyuanVideoTransformer3DModel.from_config(HunyuanVideoTransformer3DModel.load_config(config))
    return {name: tuple(tensor.shape) for name, tensor in original_hunyuan_transformer(model.state_dict()).items()}


def hunyuan_q4_k_m(shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, tuple[int, ...]]]:
    """A Q4_K_M-like mix: matrices in Q4_K, the MLPs' outputs in Q6_K, the rest unquantised."""
    return {name: ((Q6_K if name.endswith(("fc2.weight", "linear2.weight")) else Q4_K) if len(shape) == 2
                   else F16 if len(shape) == 5 else F32, shape) for name, shape in shapes.items()}


def hunyuan_small_files(models: Path) -> None:
    """ComfyUI's text encoder and VAE files (headers of a few full-size tensors each)."""
    safetensors_header(models / "text_encoders" / "llava_llama3_fp8_scaled.safetensors", {
        "model.embed_tokens.weight": ("F8_E4M3", (128320, 4096)), "model.embed_tokens.scale_weight": ("F32", (1,)),
        "model.layers.0.self_attn.q_proj.weight": ("F8_E4M3", (4096, 4096)),
        "model.layers.0.self_attn.q_proj.scale_weight": ("F32", (1,)), "scaled_fp8": ("F8_E4M3", (0,))})
    safetensors_header(models / "text_encoders" / "clip_l.safetensors",
                       {"text_model.embeddings.token_embedding.weight": ("F16", (49408, 768))})
    safetensors_header(models / "vae" / "hunyuan_video_vae_bf16.safetensors",
                       {"decoder.up_blocks.0.resnets.0.conv1.conv.weight": ("BF16", (512, 512, 3, 3, 3))})


@pytest.mark.needs("diffusion")  # the fixture builds the full-size model on the meta device
def test_hunyuanvideo_comfyui_files_are_named_and_the_tokenizers_they_lack_asked_for(tmp_path, hunyuan_shapes):
    models = tmp_path / "ComfyUI" / "models"
    safetensors_header(models / "diffusion_models" / "hunyuan_video_t2v_720p_bf16.safetensors",
                       {name: ("BF16", shape) for name, shape in hunyuan_shapes.items()})
    gguf_header(models / "diffusion_models" / "hunyuan-video-t2v-720p-Q4_K_M.gguf", hunyuan_q4_k_m(hunyuan_shapes))
    hunyuan_small_files(models)
    assert sum(_count(shape) for shape in hunyuan_shapes.values()) > 12.8e9  # the full-size transformer

    found = {check.name: check for check in check_weights(models, tmp_path / "storyboards")}[f"weights {HUNYUAN}"]
    assert found.status == "warn"
    assert "found in place" in found.fix and "transformer bf16" in found.fix
    assert "the LLaVA-Llama-3 tokenizer: download them" in found.fix
    assert "the CLIP tokenizer: download them" in found.fix
    assert f"hf download hunyuanvideo-community/HunyuanVideo --include 'tokenizer*/*' --local-dir {models}" in found.fix

    for name, file in (("tokenizer", "tokenizer.json"), ("tokenizer_2", "vocab.json")):  # what that download brings
        (models / name).mkdir()
        (models / name / file).write_text("{}")
    found = {check.name: check for check in check_weights(models, tmp_path / "storyboards")}[f"weights {HUNYUAN}"]
    assert found.status == "ok"
    for part in ("transformer bf16", "text_encoder fp8 scaled", "text_encoder_2 fp16", "tokenizer folder", "vae bf16"):
        assert part in found.detail
    assert "Also found: hunyuan-video-t2v-720p-Q4_K_M.gguf" in found.detail


def test_tencent_release_files_are_named_and_an_incomplete_one_says_what_is_missing(tmp_path):
    release = tmp_path / "models" / "HunyuanVideo"
    transformers = release / "hunyuan-video-t2v-720p" / "transformers"
    transformers.mkdir(parents=True)
    (transformers / "mp_rank_00_model_states.pt").write_bytes(b"\0" * 64)
    message = check_model_folder(HUNYUAN, tmp_path / "models")
    assert f"found in place in {release}: transformer .pt" in message
    assert "the LLaVA-Llama-3 text encoder: add llava_llama3_fp16.safetensors" in message
    assert "hunyuan-video-t2v-720p/vae/ of tencent/HunyuanVideo" in message

    (release / "hunyuan-video-t2v-720p" / "vae").mkdir()
    (release / "hunyuan-video-t2v-720p" / "vae" / "pytorch_model.pt").write_bytes(b"\0" * 64)
    for folder, tokenizer in (("text_encoder", "tokenizer.json"), ("text_encoder_2", "vocab.json")):
        (release / folder).mkdir()
        (release / folder / tokenizer).write_text("{}")
        (release / folder / "config.json").write_text('{"model_type": "llama"}')
        index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
        (release / folder / "model.safetensors.index.json").write_text(json.dumps(index))
        safetensors_header(release / folder / "model-00001-of-00002.safetensors", {"a": ("F16", (8, 8))})
    message = check_model_folder(HUNYUAN, tmp_path / "models")
    assert f"{release / 'text_encoder'} is incomplete: model-00002-of-00002.safetensors is missing" in message
    assert "vae .pt" in message


@pytest.mark.needs("diffusion")  # the fixture builds the full-size model on the meta device
def test_plan_counts_the_memory_of_a_hunyuanvideo_gguf_from_its_header(tmp_path, hunyuan_shapes):
    models = tmp_path / "models"
    gguf_header(models / "diffusion_models" / "hunyuan-video-t2v-720p-Q4_K_M.gguf", hunyuan_q4_k_m(hunyuan_shapes))
    hunyuan_small_files(models)
    for name in ("tokenizer", "tokenizer_2"):
        (models / name).mkdir()
        (models / name / "tokenizer.json").write_text("{}")
    board = tmp_path / "board.yaml"
    board.write_text(_board(tmp_path).read_text().replace(A14B, HUNYUAN))
    plan = make_plan(load_storyboard(board), gpus="1x24GB", models_dir=models)
    backend = plan.backend(HUNYUAN)
    assert "transformer GGUF Q4_K_M" in backend.weights_found
    choice = backend.choice
    assert choice.layout.memory.weights_dtype == "GGUF Q4_K_M" and choice.layout.memory.offload == "none"
    from render_pipeline.backends.specs import HUNYUANVIDEO

    types = hunyuan_q4_k_m(hunyuan_shapes)
    bits = sum(BITS[kind if kind != F16 and kind != F32 else F16] * _count(shape) for kind, shape in types.values())
    gib = bits / 8 / GIB
    assert gib < 23.88 / 3  # about 4.8 bits a weight, against bf16's 16 (23.88 GiB)
    # Plus one block dequantized to bf16 while it runs.
    assert abs(choice.cost.weights_gib - gib - HUNYUANVIDEO.block_gib(2)) < 0.15


@pytest.mark.needs("diffusion")  # the fixture builds the full-size model on the meta device
def test_finding_hunyuanvideo_weights_imports_no_torch(tmp_path, hunyuan_shapes):
    models = tmp_path / "models"
    gguf_header(models / "hunyuan-video-t2v-720p-Q4_K_M.gguf", hunyuan_q4_k_m(hunyuan_shapes))
    hunyuan_small_files(models)
    for name in ("tokenizer", "tokenizer_2"):
        (models / name).mkdir()
        (models / name / "tokenizer.json").write_text("{}")
    code = ("import sys; from pathlib import Path; from render_pipeline.backends.weights import locate_weights; "
            f"weights, problem = locate_weights('{HUNYUAN}', Path({str(models)!r})); assert problem is None, problem; "
            "assert weights.part('transformer').format.label == 'GGUF Q4_K_M'; "
            "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
