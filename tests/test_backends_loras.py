"""LoRAs fused into a real session's weights (tiny Wan A14B, HunyuanVideo, CogVideoX), and taken out again."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import torch
from safetensors.torch import load_file, save_file

from render_pipeline.backends import lora_fuse, open_session
from render_pipeline.backends.base import LoraFile, RenderRequest
from render_pipeline.backends.lora_fuse import LoraMismatch
from render_pipeline.shot_layout import ShotLayout
from tests.assets.tiny_models import (
    build_cogvideox_folder,
    build_hunyuanvideo_folder,
    build_wan_a14b_folder,
    decoded_pixels,
)
from tests.tiny_loras import merged_by_hand, random_lora, save_diffusers, save_wan_kohya, save_wan_original

WAN = "wan2.2-t2v-a14b"
FOLDER = "Wan2.2-T2V-A14B-Diffusers"
# Blocks, and layers outside them (whose alphas diffusers' own Wan conversion would drop).
MODULES = ["blocks.0.attn1.to_q", "blocks.0.attn2.to_v", "blocks.1.ffn.net.0.proj", "blocks.1.attn1.to_out.0",
           "condition_embedder.time_proj", "condition_embedder.text_embedder.linear_1", "proj_out"]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    build_wan_a14b_folder(root / FOLDER)
    return root


@pytest.fixture(scope="module")
def transformer(models_dir):
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel.from_pretrained(models_dir / FOLDER / "transformer")


def request(steps: int = 2, loras: tuple = (), **changes) -> RenderRequest:
    fields = dict(shot_id="s01", prompt="a grey destroyer at dawn", negative_prompt="blurry", seed=7, width=32,
                  height=32, fps=16.0, frames=5, steps=steps, quality="draft", loras=loras)
    return RenderRequest(**{**fields, **changes})


def lora_file(path: Path, weight: float = 1.0, expert: str = "both") -> LoraFile:
    return LoraFile(path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), weight=weight, expert=expert)


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def render(session, req: RenderRequest, out: Path) -> np.ndarray:
    session.render(req, out, lambda done, total: None)
    return decoded_pixels(out, out.parent)


def test_a_fused_lora_renders_what_weights_merged_by_hand_render(models_dir, transformer, tmp_path):
    lora = random_lora(transformer, MODULES)
    path = save_wan_original(tmp_path / "look.safetensors", lora, alpha=2.0)
    session = open_session(WAN, None, models_dir)
    session.encode([request()])
    pipeline = session._denoising_pipeline()
    base = {name: weights(getattr(pipeline, name)) for name in ("transformer", "transformer_2")}

    fused_pixels = render(session, request(loras=(lora_file(path, weight=0.75),)), tmp_path / "fused.mp4")

    # By hand: W + 0.75 * (2 / 4) * B @ A, in fp32, cast once; both experts (expert: both).
    merged_folder = tmp_path / "merged" / FOLDER
    shutil.copytree(models_dir / FOLDER, merged_folder)
    for name in ("transformer", "transformer_2"):
        merged = merged_by_hand(base[name], [(lora, 2.0, 0.75)])
        fused = getattr(pipeline, name).state_dict()
        assert set(merged) == {f"{module}.weight" for module in MODULES}
        for key, value in merged.items():
            assert (fused[key].float() - value.float()).abs().max() <= 1e-6, key
            assert not torch.equal(value, base[name][key])  # the LoRA did change it
        file = next((merged_folder / name).glob("*.safetensors"))
        stored = load_file(str(file))
        save_file({key: merged[key].float() if key in merged else value for key, value in stored.items()}, str(file))

    by_hand = open_session(WAN, None, merged_folder.parent)
    by_hand.encode([request()])
    merged_pixels = render(by_hand, request(), tmp_path / "by_hand.mp4")
    assert np.array_equal(fused_pixels, merged_pixels)

    # The same forward, to 1e-6, on a fresh input.
    inputs = dict(hidden_states=torch.randn(1, 16, 2, 4, 4, generator=torch.Generator().manual_seed(1)).bfloat16(),
                  timestep=torch.tensor([500]), encoder_hidden_states=torch.randn(1, 8, 32).bfloat16(),
                  return_dict=False)
    with torch.inference_mode():
        ours = pipeline.transformer(**inputs)[0].float()
        theirs = by_hand._denoising_pipeline().transformer(**inputs)[0].float()
    assert (ours - theirs).abs().max() <= 1e-6


def test_one_lora_in_the_kohya_comfyui_and_diffusers_namings_renders_the_same(models_dir, transformer, tmp_path):
    lora = random_lora(transformer, MODULES, seed=3)
    files = [save(tmp_path / f"{name}.safetensors", lora, alpha=2.0) for name, save in
             (("kohya", save_wan_kohya), ("comfyui", save_wan_original), ("diffusers", save_diffusers))]
    session = open_session(WAN, None, models_dir)
    session.encode([request()])
    plain = render(session, request(), tmp_path / "plain.mp4")
    renders, fused = [], []
    for path in files:
        renders.append(render(session, request(loras=(lora_file(path, weight=0.5),)), tmp_path / f"{path.stem}.mp4"))
        fused.append(weights(session.pipeline.transformer_2))
    assert not np.array_equal(renders[0], plain)
    assert all(np.array_equal(renders[0], other) for other in renders[1:])
    assert all(torch.equal(fused[0][key], other[key]) for other in fused[1:] for key in fused[0])


def test_two_loras_compose(models_dir, transformer, tmp_path):
    first = random_lora(transformer, MODULES[:4], seed=1)
    second = random_lora(transformer, MODULES[2:], rank=8, seed=2)  # two modules in common
    paths = save_wan_original(tmp_path / "a.safetensors", first, 2.0), save_wan_kohya(tmp_path / "b.safetensors", second, 4.0)
    session = open_session(WAN, None, models_dir)
    session.encode([request()])
    base = weights(session._denoising_pipeline().transformer)
    session.render(request(loras=(lora_file(paths[0], 0.75), lora_file(paths[1], -0.5))), tmp_path / "s.mp4",
                   lambda done, total: None)
    fused = session.pipeline.transformer.state_dict()
    merged = merged_by_hand(base, [(first, 2.0, 0.75), (second, 4.0, -0.5)])
    assert len(merged) == len(MODULES)
    for key, value in merged.items():
        assert torch.equal(fused[key], value), key
    assert all(torch.equal(fused[key], base[key]) for key in base if key not in merged)


@pytest.mark.parametrize("strategy", [{}, {"expert_swap": True}, {"group_offload": True}, {"fp8_storage": True}])
def test_switching_lora_sets_restores_the_base_weights_bit_for_bit(models_dir, transformer, tmp_path, strategy,
                                                                   monkeypatch):
    a = save_wan_original(tmp_path / "a.safetensors", random_lora(transformer, MODULES, seed=4), 2.0)
    b = save_wan_kohya(tmp_path / "b.safetensors", random_lora(transformer, MODULES[1:5], seed=5), 4.0)
    reads = []
    real_read = lora_fuse.read_changes
    monkeypatch.setattr(lora_fuse, "read_changes", lambda lora, backend: reads.append(lora.path.name) or real_read(lora, backend))
    session = open_session(WAN, ShotLayout.from_json(strategy), models_dir)
    session.encode([request()])
    pipeline = session._denoising_pipeline()
    base = {name: weights(getattr(pipeline, name)) for name in ("transformer", "transformer_2")}

    first = render(session, request(), tmp_path / "first.mp4")
    for number, loras in enumerate([(lora_file(a),), (lora_file(a),), (lora_file(b, 0.5), lora_file(a, -1.0)), ()]):
        render(session, request(loras=loras), tmp_path / f"{number}.mp4")
    last = render(session, request(), tmp_path / "last.mp4")

    assert reads == ["a.safetensors", "b.safetensors", "a.safetensors"]  # the second shot with `a` fused nothing
    assert np.array_equal(first, last)
    for name, tensors in base.items():
        now = getattr(pipeline, name).state_dict()
        assert all(torch.equal(now[key], value) for key, value in tensors.items()), name


def test_expert_high_and_low_change_one_expert_each(models_dir, transformer, tmp_path):
    path = save_wan_original(tmp_path / "half.safetensors", random_lora(transformer, MODULES[:2]), 2.0)
    session = open_session(WAN, None, models_dir)
    session.encode([request()])
    pipeline = session._denoising_pipeline()
    base = {name: weights(getattr(pipeline, name)) for name in ("transformer", "transformer_2")}
    for expert, changed in (("high", "transformer"), ("low", "transformer_2")):
        session.render(request(loras=(lora_file(path, expert=expert),)), tmp_path / f"{expert}.mp4", lambda d, t: None)
        for name in base:
            now = getattr(pipeline, name).state_dict()
            assert all(torch.equal(now[key], base[name][key]) for key in base[name]) == (name != changed)


def test_a_lora_for_modules_the_model_lacks_is_refused_and_changes_nothing(models_dir, transformer, tmp_path):
    lora = random_lora(transformer, MODULES[:2])
    lora["blocks.7.attn1.to_q"] = lora["blocks.0.attn1.to_q"]  # the tiny model has two blocks
    path = save_wan_original(tmp_path / "wide.safetensors", lora, 2.0)
    session = open_session(WAN, None, models_dir)
    session.encode([request()])
    base = weights(session._denoising_pipeline().transformer)
    with pytest.raises(LoraMismatch, match=r"wide.safetensors does not fit wan2.2-t2v-a14b: 1 of its 3 layers .*blocks.7"):
        session.render(request(loras=(lora_file(path),)), tmp_path / "s.mp4", lambda d, t: None)
    now = session.pipeline.transformer.state_dict()
    assert all(torch.equal(now[key], value) for key, value in base.items())
    assert session.loras.fused == ()


@pytest.mark.parametrize("backend, build, folder, modules", [
    ("hunyuanvideo", build_hunyuanvideo_folder, "HunyuanVideo",
     ["transformer_blocks.0.attn.to_q", "transformer_blocks.0.attn.add_v_proj", "single_transformer_blocks.0.proj_mlp"]),
    ("cogvideox-5b", build_cogvideox_folder, "CogVideoX-5b",
     ["transformer_blocks.0.attn1.to_k", "transformer_blocks.0.ff.net.2"]),
])
def test_the_other_families_fuse_and_restore_diffusers_loras(backend, build, folder, modules, tmp_path):
    build(tmp_path / "models" / folder)
    session = open_session(backend, None, tmp_path / "models")
    req = request(width=16, height=16, frames=5, steps=1)
    session.encode([req])
    model = session._denoising_pipeline().transformer
    base = weights(model)
    lora = random_lora(model, modules)
    path = save_diffusers(tmp_path / "l.safetensors", lora, alpha=8.0)
    session.render(replace(req, loras=(lora_file(path, 0.25),)), tmp_path / "l.mp4", lambda d, t: None)
    merged = merged_by_hand(base, [(lora, 8.0, 0.25)])
    assert all(torch.equal(model.state_dict()[key], value) for key, value in merged.items())
    session.render(req, tmp_path / "plain.mp4", lambda d, t: None)
    assert all(torch.equal(model.state_dict()[key], value) for key, value in base.items())


def test_guidance_1_runs_one_forward_per_step(models_dir, tmp_path):
    session = open_session(WAN, None, models_dir)
    session.encode([request()])
    pipeline = session._denoising_pipeline()
    calls = []
    for expert in (pipeline.transformer, pipeline.transformer_2):
        expert.register_forward_hook(lambda *args: calls.append(1))
    session.render(request(steps=4), tmp_path / "cfg.mp4", lambda d, t: None)
    with_guidance = len(calls)
    calls.clear()
    session.render(request(steps=4, settings={"guidance": 1.0, "guidance_2": 1.0}), tmp_path / "one.mp4",
                   lambda d, t: None)
    assert (with_guidance, len(calls)) == (8, 4)


def test_a_shots_shift_is_used_for_that_shot_only(models_dir, tmp_path):
    session = open_session(WAN, None, models_dir)
    session.encode([request()])
    official = render(session, request(), tmp_path / "official.mp4")
    assert session.pipeline.scheduler.config.flow_shift == 12.0  # the spec's
    shifted = render(session, request(settings={"shift": 5.0}), tmp_path / "shifted.mp4")
    assert session.pipeline.scheduler.config.flow_shift == 5.0
    assert not np.array_equal(official, shifted)
    again = render(session, request(), tmp_path / "again.mp4")
    assert np.array_equal(official, again)


def test_a_kohya_hunyuanvideo_lora_is_read_through_diffusers_conversion(tmp_path):
    """musubi-tuner's HunyuanVideo keys: renamed to the original ones, lora_down/up to lora_A/B and the alpha
    folded in here, then diffusers splits the fused qkv layer into to_q, to_k, to_v."""
    down, up = torch.arange(16.0).reshape(2, 8), torch.arange(48.0).reshape(24, 2)
    name = "lora_unet_double_blocks_3_img_attn_qkv"
    path = tmp_path / "musubi.safetensors"
    save_file({f"{name}.lora_down.weight": down, f"{name}.lora_up.weight": up, f"{name}.alpha": torch.tensor(1.0)},
              str(path))
    changes, dropped = lora_fuse.read_changes(lora_file(path), "hunyuanvideo")
    assert sorted(changes) == [f"transformer_blocks.3.attn.{p}" for p in ("to_k", "to_q", "to_v")] and dropped == 0
    for index, projection in enumerate(("to_q", "to_k", "to_v")):
        change = changes[f"transformer_blocks.3.attn.{projection}"]
        assert torch.equal(change.down, down * 0.5)  # alpha 1 / rank 2
        assert torch.equal(change.up, up[8 * index:8 * (index + 1)])
