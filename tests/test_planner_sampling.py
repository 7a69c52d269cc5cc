"""Per-shot sampling in the plan (steps, guidance, shift) and the host memory LoRAs take."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import torch
from safetensors.torch import save_file

from render_pipeline.backends.specs import SPECS
from render_pipeline.errors import UserError
from render_pipeline.planner import make_plan
from render_pipeline.planner.architectures import ARCHITECTURES
from render_pipeline.planner.gpus import GIB, parse_gpus
from render_pipeline.planner.layouts import Shape, candidate_layouts, evaluate, high_noise_steps
from render_pipeline.storyboard import load_storyboard

A14B = "wan2.2-t2v-a14b"


def storyboard(tmp_path: Path, defaults: str, *shots: str) -> Path:
    lines = ["version: 1", "title: Sampling", "delivery: {size: 1280x720, fps: 24}", f"defaults: {{{defaults}}}",
             "shots:"]
    lines += [f"  - {{id: s{i}, duration: 5, prompt: 'a harbor at dawn', {extra}}}" for i, extra in enumerate(shots)]
    path = tmp_path / "board.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_four_steps_without_guidance_plan_about_a_twentieth_of_forty_with_it(tmp_path):
    board = load_storyboard(storyboard(tmp_path, f"backend: {A14B}", "", "steps: 4, guidance: 1, shift: 5"))
    plan = make_plan(board, gpus="1xH100", host_ram="256GB")
    official, fast = plan.shots
    assert (official.steps, fast.steps) == (40, 4)
    assert (fast.settings["guidance"], fast.settings["shift"]) == (1.0, 5.0)
    assert (official.settings["guidance"], official.settings["shift"]) == (4.0, 12.0)
    # 80 forwards against 4: the denoising is 20x shorter; encoding the text and decoding the video are not.
    assert 15 < official.estimated_seconds / fast.estimated_seconds <= 20


def test_the_forwards_follow_steps_and_guidance_exactly():
    spec, arch, gpu = SPECS[A14B], ARCHITECTURES[A14B], parse_gpus("1xH100")[0]
    layout = next(layout for layout in candidate_layouts(arch, spec, 1)
                  if layout.memory.offload == "none" and layout.memory.weights_dtype == "bf16")

    def seconds(steps: int, guided: bool) -> float:
        return evaluate(arch, spec, layout, Shape(1280, 720, 81, steps, guided=guided), gpu).seconds_per_shot

    fixed = seconds(0, True)
    assert (seconds(40, True) - fixed) / (seconds(4, False) - fixed) == pytest.approx(20)
    assert (seconds(40, True) - fixed) / (seconds(40, False) - fixed) == pytest.approx(2)


def test_the_shift_moves_the_boundary_between_the_experts():
    spec = SPECS[A14B]
    assert high_noise_steps(spec, 40) == high_noise_steps(spec, 40, 12.0)
    assert high_noise_steps(spec, 4, 5.0) < high_noise_steps(spec, 4, 12.0)


def test_cfg_parallel_is_chosen_only_for_shots_with_guidance(tmp_path):
    guided = load_storyboard(storyboard(tmp_path, f"backend: {A14B}", "", ""))
    layout = make_plan(guided, gpus="4xH100", host_ram="512GB").backend(A14B).choice.layout
    assert (layout.parallel.gpus_per_shot, layout.parallel.cfg_parallel) == (2, True)
    unguided = load_storyboard(storyboard(tmp_path, f"backend: {A14B}, steps: 4, guidance: 1", "", ""))
    layout = make_plan(unguided, gpus="4xH100", host_ram="512GB").backend(A14B).choice.layout
    assert not layout.parallel.cfg_parallel and layout.parallel.ulysses == layout.parallel.gpus_per_shot == 2


def test_cogvideox_without_guidance_runs_batch_one(tmp_path):
    board = load_storyboard(storyboard(tmp_path, "backend: cogvideox-5b", "", "guidance: 1"))
    backend = make_plan(board, gpus="1xH100", host_ram="256GB").backend("cogvideox-5b")
    spec, arch, gpu = SPECS["cogvideox-5b"], ARCHITECTURES["cogvideox-5b"], parse_gpus("1xH100")[0]
    layout = backend.choice.layout
    both, one = (evaluate(arch, spec, layout, Shape(720, 480, 49, 50, guided=guided), gpu) for guided in (True, False))
    assert one.activations_gib == pytest.approx(both.activations_gib / 2)
    assert one.seconds_per_shot < both.seconds_per_shot


def write_a14b_lora(path: Path, modules: list[str], rank: int = 4) -> Path:
    tensors = {}
    for name in modules:
        tensors[f"diffusion_model.{name}.lora_down.weight"] = torch.zeros(rank, 5120, dtype=torch.bfloat16)
        tensors[f"diffusion_model.{name}.lora_up.weight"] = torch.zeros(5120, rank, dtype=torch.bfloat16)
    save_file(tensors, str(path))
    return path


def test_the_original_weights_a_lora_changes_are_counted_in_host_ram(tmp_path):
    write_a14b_lora(tmp_path / "look.safetensors", [f"blocks.{i}.self_attn.{p}" for i in range(40) for p in "qkvo"])
    plain = load_storyboard(storyboard(tmp_path, f"backend: {A14B}", ""))
    with_lora = load_storyboard(storyboard(tmp_path, f"backend: {A14B}", "loras: [{path: look.safetensors}]"))
    changed = 2 * 160 * 5120 * 5120  # both experts, 160 layers each (no bias differences in this file)
    for gpus in ("1xH100", "2xH100"):
        before, after = (make_plan(board, gpus=gpus, host_ram="512GB").backend(A14B) for board in (plain, with_lora))
        for old, new in zip(before.candidates, after.candidates):
            copies = 1 if old.layout.parallel.fsdp or old.layout.parallel.experts_resident == "one_per_gpu" else old.layout.parallel.gpus_per_shot
            per_parameter = 2 if old.layout.memory.weights_dtype == "bf16" else 1
            assert new.cost.host_ram_gib - old.cost.host_ram_gib == pytest.approx(changed * per_parameter * copies / GIB)


def test_a_lora_that_does_not_fit_the_backend_the_plan_renders_with_is_refused(tmp_path):
    write_a14b_lora(tmp_path / "look.safetensors", ["blocks.0.self_attn.q"])
    board = load_storyboard(storyboard(tmp_path, "backend: auto", "loras: [{path: look.safetensors}]"))
    make_plan(board, gpus="1xH100", backend=A14B)  # fits A14B
    with pytest.raises(UserError, match=r"shot s0: loras\[0\]: look.safetensors does not fit wan2.2-ti2v-5b: 2 of its 2 "
                                        r"tensors .* it looks like a LoRA for Wan 2.x 14B .*plan renders this shot "
                                        r"with wan2.2-ti2v-5b"):
        make_plan(board, gpus="1xH100", backend="wan2.2-ti2v-5b")
