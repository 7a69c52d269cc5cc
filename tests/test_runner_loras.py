"""The runner and LoRAs: shots grouped by LoRA set, the files' hashes in the cache key, the set sent to the
worker, and a torchrun group of two (each rank fusing the set) rendering what one worker renders.

(FSDP's own shards are tested in test_parallel_gloo.py: a worker group cannot shard a bf16-loaded Wan
yet, with or without LoRAs: "FSDP expects uniform original parameter dtype".)"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import torch

from render_pipeline.backends.base import LoraFile
from render_pipeline.planner.plan import make_plan
from render_pipeline.runner import run_jobs
from render_pipeline.runner.jobs import build_jobs, request_from_json, request_to_json
from render_pipeline.runner.order import grouped_by_lora_set
from render_pipeline.shot_layout import ExpertsResident, ParallelPlan, ShotLayout
from render_pipeline.storyboard import load_storyboard
from tests.assets.tiny_models import build_wan_a14b_folder, decoded_pixels
from tests.tiny_loras import random_lora, save_wan_kohya, save_wan_original

WAN = "wan2.2-t2v-a14b"


def ti2v_lora(path: Path, seed: int) -> Path:
    from safetensors.torch import save_file

    name = "diffusion_model.blocks.0.self_attn.q"
    save_file({f"{name}.lora_down.weight": torch.full((4, 3072), float(seed)),
               f"{name}.lora_up.weight": torch.zeros(3072, 4)}, str(path))
    return path


def board(folder: Path, shots: list[str]) -> Path:
    lines = ["version: 1", "title: LoRA Runs", "delivery: {size: 1280x720, fps: 24}",
             "defaults: {backend: wan2.2-ti2v-5b}", "shots:"]
    lines += [f"  - {{id: s{n}, duration: 1, prompt: \"a harbor at dawn {n}\"{', ' + extra if extra else ''}}}"
              for n, extra in enumerate(shots, 1)]
    path = folder / "board.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def jobs_of(path: Path):
    storyboard = load_storyboard(path)
    return build_jobs(storyboard, make_plan(storyboard, gpus="1xH100", host_ram="256GB"), path.parent / "out",
                      path.parent / "models")


def test_shots_with_one_lora_set_render_together_after_the_shot_they_continue(tmp_path):
    ti2v_lora(tmp_path / "a.safetensors", 1)
    ti2v_lora(tmp_path / "b.safetensors", 2)
    a, b = "{path: a.safetensors}", "{path: b.safetensors}"
    jobs = jobs_of(board(tmp_path, [f"loras: [{a}]", "", f"loras: [{a}], continue_from: s2", f"loras: [{b}]",
                                    f"loras: [{a}]", "", f"loras: [{b}, {a}]"]))
    assert [len(job.request.loras) for job in jobs] == [1, 0, 1, 1, 1, 0, 2]
    # s3 uses a's set but continues from s2: it waits for a later run of that set.
    assert [job.id for job in grouped_by_lora_set(jobs)] == ["s1", "s5", "s2", "s6", "s3", "s4", "s7"]


def test_the_cache_key_has_the_lora_files_contents_not_their_place_in_the_file(tmp_path):
    lora = ti2v_lora(tmp_path / "a.safetensors", 1)
    path = board(tmp_path, ["loras: [{path: a.safetensors, weight: 0.5}]", ""])
    first = {job.id: job.key for job in jobs_of(path)}
    path.write_text("# a comment moves every line\n" + path.read_text())
    assert {job.id: job.key for job in jobs_of(path)} == first
    sent = jobs_of(path)[0].request.loras[0]
    assert sent == LoraFile(lora.resolve(), hashlib.sha256(lora.read_bytes()).hexdigest(), 0.5, "both")
    ti2v_lora(lora, 3)  # same file name, other weights
    second = {job.id: job.key for job in jobs_of(path)}
    assert second["s1"] != first["s1"] and second["s2"] == first["s2"]
    path.write_text(path.read_text().replace("weight: 0.5", "weight: 0.6"))
    assert jobs_of(path)[0].key not in (first["s1"], second["s1"])


def test_a_request_with_loras_reaches_the_worker_whole(tmp_path):
    ti2v_lora(tmp_path / "a.safetensors", 1)
    job = jobs_of(board(tmp_path, ["loras: [{path: a.safetensors, weight: -0.5}], steps: 4, guidance: 1, shift: 5"]))[0]
    assert request_from_json(request_to_json(job.request)) == job.request
    assert (job.request.steps, job.request.settings["guidance"], job.request.settings["shift"]) == (4, 1.0, 5.0)


@pytest.mark.slow
def test_a_group_of_two_fuses_each_set_and_renders_what_one_worker_renders(tmp_path):
    """Four shots, three LoRA sets (one shot with none), through real workers: one, then a torchrun group of
    two (CFG parallel over gloo on the CPU)."""
    from diffusers import WanTransformer3DModel

    folder = build_wan_a14b_folder(tmp_path / "models" / "Wan2.2-T2V-A14B-Diffusers")
    transformer = WanTransformer3DModel.from_pretrained(folder / "transformer")
    modules = ["blocks.0.attn1.to_q", "blocks.1.ffn.net.0.proj", "proj_out"]
    files = [save_wan_original(tmp_path / "a.safetensors", random_lora(transformer, modules, seed=1), 2.0),
             save_wan_kohya(tmp_path / "b.safetensors", random_lora(transformer, modules[1:], seed=2), 4.0)]
    look, other = (LoraFile(path, hashlib.sha256(path.read_bytes()).hexdigest(), 0.75) for path in files)
    sets = [(look,), (), (look, replace(other, expert="low")), (look,)]

    path = tmp_path / "board.yaml"
    path.write_text("version: 1\ntitle: FSDP\ndefaults: {backend: animatic}\nshots:\n" + "".join(
        f"  - {{id: s{n}, duration: 1, prompt: \"a grey destroyer at dawn\", seed: 3}}\n" for n in range(4)))

    def jobs(out: Path, layout: ShotLayout):
        storyboard = load_storyboard(path)
        built = build_jobs(storyboard, make_plan(storyboard), out, tmp_path / "models")
        for job, loras in zip(built, sets):
            job.backend, job.layout = WAN, layout
            job.request = replace(job.request, width=32, height=32, fps=16.0, frames=5, steps=2,
                                  negative_prompt="blurry", loras=loras)
        return built

    one, group = tmp_path / "one", tmp_path / "group"
    alone = run_jobs(jobs(one, ShotLayout(ParallelPlan(gpus_per_shot=1))), one, tmp_path / "models", gpus=1)
    cfg2 = ShotLayout(ParallelPlan(gpus_per_shot=2, cfg_parallel=True, experts_resident=ExpertsResident.BOTH))
    together = run_jobs(jobs(group, cfg2), group, tmp_path / "models", gpus=2)
    assert alone.rendered == together.rendered == ["s0", "s3", "s1", "s2"], (alone.failed, together.failed)
    pixels = {shot: decoded_pixels(one / "shots" / f"{shot}.mp4", tmp_path) for shot in alone.rendered}
    assert not np.array_equal(pixels["s0"], pixels["s1"]) and np.array_equal(pixels["s0"], pixels["s3"])
    for shot in alone.rendered:
        assert np.array_equal(decoded_pixels(group / "shots" / f"{shot}.mp4", tmp_path), pixels[shot]), shot
    assert (group / "logs" / "s0.log").read_text().count("a.safetensors x0.75 (both) fused into") == 2  # both ranks
    assert "fused into" not in (group / "logs" / "s3.log").read_text()  # the same set: nothing to do
