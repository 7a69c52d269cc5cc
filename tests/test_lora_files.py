"""LoRA files read without torch: the namings, each backend's modules at full size, fit and family."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import torch
from safetensors.torch import save_file

from render_pipeline.backends.lora_files import (
    changed_parameters,
    expert_problem,
    fit,
    fit_problem,
    module_tables,
    read_header,
)
from render_pipeline.storyboard import LoraUse


def _wan(in_channels: int, heads: int, ffn: int, layers: int, out_channels: int):
    from diffusers import WanTransformer3DModel

    # transformer/config.json of the Wan-AI ...-Diffusers repositories
    return WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=heads, attention_head_dim=128,
                                 in_channels=in_channels, out_channels=out_channels, text_dim=4096, freq_dim=256,
                                 ffn_dim=ffn, num_layers=layers, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                 eps=1e-6, rope_max_seq_len=1024)


def _cogvideox(in_channels: int, learned_positions: bool):
    from diffusers import CogVideoXTransformer3DModel

    return CogVideoXTransformer3DModel(num_attention_heads=48, attention_head_dim=64, in_channels=in_channels,
                                       out_channels=16, num_layers=42, sample_width=90, sample_height=60,
                                       sample_frames=49, patch_size=2, text_embed_dim=4096, time_embed_dim=512,
                                       use_rotary_positional_embeddings=True,
                                       use_learned_positional_embeddings=learned_positions)


def _hunyuanvideo():
    from diffusers import HunyuanVideoTransformer3DModel

    return HunyuanVideoTransformer3DModel()  # its defaults are hunyuanvideo-community/HunyuanVideo's config


FULL_SIZE = {
    "wan2.2-t2v-a14b": lambda: _wan(16, 40, 13824, 40, 16),
    "wan2.2-i2v-a14b": lambda: _wan(36, 40, 13824, 40, 16),
    "wan2.2-ti2v-5b": lambda: _wan(48, 24, 14336, 30, 48),
    "hunyuanvideo": _hunyuanvideo,
    "cogvideox-5b": lambda: _cogvideox(16, False),
    "cogvideox-5b-i2v": lambda: _cogvideox(32, True),
}


@pytest.mark.parametrize("backend", FULL_SIZE)
def test_the_diffusers_naming_is_the_full_size_models_own_linear_layers(backend):
    with torch.device("meta"):
        model = FULL_SIZE[backend]()
    linear = {name: tuple(module.weight.shape) for name, module in model.named_modules()
              if isinstance(module, torch.nn.Linear)}
    assert module_tables(backend)["diffusers"].linear == linear


@pytest.mark.parametrize("backend, pipeline, down, up", [
    ("wan2.2-t2v-a14b", "WanPipeline", "lora_down", "lora_up"),
    ("hunyuanvideo", "HunyuanVideoPipeline", "lora_A", "lora_B"),
])
def test_diffusers_converts_the_original_naming_into_those_layers(backend, pipeline, down, up):
    import diffusers

    tables = module_tables(backend)
    state = {}
    for name, (rows, columns) in tables["original"].linear.items():
        state[f"diffusion_model.{name}.{down}.weight"] = torch.ones(1, columns)
        state[f"diffusion_model.{name}.{up}.weight"] = torch.ones(rows, 1)
    converted = getattr(diffusers, pipeline).lora_state_dict(state)
    layers = {}
    for key, value in converted.items():
        module, part = re.fullmatch(r"transformer\.(.+)\.lora_([AB])\.weight", key).groups()
        layers.setdefault(module, {})[part] = value.shape
    diffusers_names = tables["diffusers"].linear
    assert set(layers) <= set(diffusers_names)
    for module, parts in layers.items():
        rows, columns = diffusers_names[module]
        assert (parts["A"][1], parts["B"][0]) == (columns, rows), module
    # Every block layer is reached; left out are the HunyuanVideo layers diffusers cannot convert from a LoRA.
    assert {name for name in diffusers_names if name.split(".")[0] in ("blocks", "transformer_blocks",
                                                                       "single_transformer_blocks")} <= set(layers)


def a14b_lora(path: Path, names: list[str], prefix: str = "diffusion_model.", width: int = 5120, rank: int = 4,
              down: str = "lora_down", up: str = "lora_up", alpha: bool = True) -> Path:
    tensors = {}
    for name in names:
        tensors[f"{prefix}{name}.{down}.weight"] = torch.zeros(rank, width, dtype=torch.float16)
        tensors[f"{prefix}{name}.{up}.weight"] = torch.zeros(width, rank, dtype=torch.float16)
        if alpha:
            tensors[f"{prefix}{name}.alpha"] = torch.tensor(float(rank))
    save_file(tensors, str(path))
    return path


def test_a14b_loras_in_each_naming_fit(tmp_path):
    original = a14b_lora(tmp_path / "comfy.safetensors", ["blocks.0.self_attn.q", "blocks.39.cross_attn.o"])
    kohya = a14b_lora(tmp_path / "kohya.safetensors", ["blocks_0_self_attn_q", "blocks_39_cross_attn_o"],
                      prefix="lora_unet_")
    peft = a14b_lora(tmp_path / "peft.safetensors", ["blocks.0.attn1.to_q", "blocks.39.attn2.to_out.0"],
                     prefix="transformer.", down="lora_A", up="lora_B", alpha=False)
    for path, naming in ((original, "original"), (kohya, "kohya"), (peft, "diffusers")):
        assert read_header(path).naming == naming
        assert fit_problem(path, "wan2.2-t2v-a14b") is None
        assert fit_problem(path, "wan2.2-i2v-a14b") is None
        assert fit(path, "wan2.2-t2v-a14b").changed == dict.fromkeys(fit(path, "wan2.2-t2v-a14b").changed, 5120 * 5120)


def test_lightx2v_style_differences_and_bias_differences_are_read(tmp_path):
    path = tmp_path / "distill.safetensors"
    tensors = {"diffusion_model.blocks.0.self_attn.q.lora_down.weight": torch.zeros(4, 5120),
               "diffusion_model.blocks.0.self_attn.q.lora_up.weight": torch.zeros(5120, 4),
               "diffusion_model.blocks.0.self_attn.q.diff_b": torch.zeros(5120),
               "diffusion_model.blocks.0.self_attn.norm_q.diff": torch.zeros(5120),
               "diffusion_model.blocks.0.norm3.diff_b": torch.zeros(5120),
               "diffusion_model.blocks.0.diff_m": torch.zeros(1, 6, 5120)}
    save_file(tensors, str(path))
    assert fit_problem(path, "wan2.2-t2v-a14b") is None
    assert fit(path, "wan2.2-t2v-a14b").changed == {"blocks.0.self_attn.q": 5120 * 5120 + 5120}


@pytest.mark.parametrize("keys, shape, family", [
    (["transformer.transformer_blocks.{i}.attn.to_q", "transformer.single_transformer_blocks.{i}.proj_mlp",
      "transformer.context_embedder.token_refiner.refiner_blocks.0.attn.to_q"], (4, 3072), "HunyuanVideo"),
    (["lora_unet_double_blocks_{i}_img_attn_qkv", "lora_unet_single_blocks_{i}_linear1"], (4, 3072), "HunyuanVideo"),
    (["transformer.transformer_blocks.{i}.attn.to_q", "transformer.single_transformer_blocks.{i}.attn.to_k"], (4, 3072),
     "Flux or HunyuanVideo"),
    (["transformer.transformer_blocks.{i}.attn.add_k_proj"], (4, 3072), "Flux or HunyuanVideo"),
    (["lora_unet_down_blocks_0_attentions_0_proj_in", "lora_unet_up_blocks_1_attentions_2_proj_out"], (4, 320),
     "Stable Diffusion"),
    (["transformer.transformer_blocks.{i}.attn1.to_q", "transformer.transformer_blocks.{i}.ff.net.2"], (4, 1920),
     "CogVideoX-2B"),
    (["diffusion_model.blocks.{i}.self_attn.q", "diffusion_model.blocks.{i}.ffn.0"], (4, 1536), "Wan 2.1 1.3B"),
])
def test_a_lora_for_another_model_is_refused_naming_its_family_and_how_many_tensors_miss(tmp_path, keys, shape, family):
    tensors = {}
    for key in keys:
        for i in (0, 5):
            tensors[key.format(i=i) + ".lora_A.weight"] = torch.zeros(shape)
            tensors[key.format(i=i) + ".lora_B.weight"] = torch.zeros(shape[::-1])
    path = tmp_path / "other.safetensors"
    save_file(tensors, str(path))
    problem = fit_problem(path, "wan2.2-t2v-a14b")
    assert problem.startswith("other.safetensors does not fit wan2.2-t2v-a14b: ")
    assert f"it looks like a LoRA for {family}" in problem
    count = re.search(r"(\d+) of its (\d+) tensors match no module", problem)
    assert count and count.groups() == (str(len(tensors)), str(len(tensors)))


def test_a_ti2v_lora_on_a14b_misses_by_size_and_says_whose_it_is(tmp_path):
    path = a14b_lora(tmp_path / "five.safetensors", ["blocks.0.self_attn.q", "blocks.1.cross_attn.v"], width=3072)
    problem = fit_problem(path, "wan2.2-t2v-a14b")
    # The A and B matrices miss by size; the alphas name modules A14B has.
    assert "4 of its 6 tensors match no module of wan2.2-t2v-a14b's transformer, or one of another size" in problem
    assert problem.endswith("it looks like a LoRA for Wan 2.2 TI2V-5B")
    assert fit_problem(path, "wan2.2-ti2v-5b") is None


def test_files_that_are_not_loras(tmp_path):
    (tmp_path / "a.safetensors").write_bytes(b"not a safetensors file at all")
    (tmp_path / "b.safetensors").write_bytes(struct.pack("<Q", 4) + b"[1,]")
    (tmp_path / "c.pt").write_bytes(b"PK")
    assert fit_problem(tmp_path / "a.safetensors", "wan2.2-t2v-a14b") == "a.safetensors: not a safetensors file (no header)"
    assert "its header is not JSON" in fit_problem(tmp_path / "b.safetensors", "wan2.2-t2v-a14b")
    assert "from .safetensors files only" in fit_problem(tmp_path / "c.pt", "wan2.2-t2v-a14b")
    save_file({"diffusion_model.blocks.0.norm3.diff": torch.zeros(5120)}, str(tmp_path / "d.safetensors"))
    assert "holds no LoRA weights" in fit_problem(tmp_path / "d.safetensors", "wan2.2-t2v-a14b")


def test_kohya_names_are_not_read_for_cogvideox(tmp_path):
    path = a14b_lora(tmp_path / "k.safetensors", ["transformer_blocks_0_attn1_to_q"], prefix="lora_unet_", width=3072)
    assert "its keys use the kohya naming, and cogvideox-5b's LoRAs are read in the diffusers naming only" in \
        fit_problem(path, "cogvideox-5b")


def test_one_expert_only_on_a_two_expert_model():
    assert expert_problem("high", "wan2.2-t2v-a14b") is None
    assert expert_problem("both", "wan2.2-ti2v-5b") is None
    assert "wan2.2-ti2v-5b has one transformer; use expert: both" in expert_problem("low", "wan2.2-ti2v-5b")


def test_changed_parameters_count_each_expert_and_each_layer_once(tmp_path):
    first = a14b_lora(tmp_path / "a.safetensors", ["blocks.0.self_attn.q", "blocks.0.self_attn.k"])
    second = a14b_lora(tmp_path / "b.safetensors", ["blocks_0_self_attn_q"], prefix="lora_unet_")
    layer = 5120 * 5120
    assert changed_parameters("wan2.2-t2v-a14b", [LoraUse(first, 1.0, "both")]) == 2 * 2 * layer
    assert changed_parameters("wan2.2-t2v-a14b", [LoraUse(first, 1.0, "high"), LoraUse(first, 0.5, "low")]) == 4 * layer
    # Another naming of a layer already counted is counted apart (a safe overestimate).
    assert changed_parameters("wan2.2-t2v-a14b", [LoraUse(first, 1.0, "high"), LoraUse(second, 1.0, "high")]) == 3 * layer
