"""The runner on a plan's GPU groups, with "2 GPUs" faked on the CPU: a tiny Wan A14B folder rendered by
two groups of one GPU at once, and by one torchrun group of two (CFG parallel over gloo), must give the
same pixels as one worker on one GPU."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from render_pipeline.planner.plan import make_plan
from render_pipeline.runner import run_jobs
from render_pipeline.runner.jobs import build_jobs
from render_pipeline.runner.lanes import device_ids
from render_pipeline.shot_layout import ExpertsResident, ParallelPlan, ShotLayout
from render_pipeline.storyboard import load_storyboard
from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

from PIL import Image  # noqa: E402

from tests.assets.tiny_models import build_wan_a14b_folder, decoded_pixels  # noqa: E402

WAN = "wan2.2-t2v-a14b"
ONE_GPU = ShotLayout(ParallelPlan(gpus_per_shot=1))
CFG_ON_TWO = ShotLayout(ParallelPlan(gpus_per_shot=2, cfg_parallel=True, experts_resident=ExpertsResident.BOTH))


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("board")
    build_wan_a14b_folder(folder / "models" / "Wan2.2-T2V-A14B-Diffusers")
    lines = ["version: 1", "title: Groups", "delivery: {size: 192x108, fps: 24}", "defaults: {backend: animatic}",
             "shots:"]
    prompts = ("a grey destroyer at dawn", "the fleet comes home", "sailors on deck", "harbor light")
    lines += [f"  - {{id: s0{n}, duration: 1, prompt: \"{p}\", seed: {n}}}" for n, p in enumerate(prompts, 1)]
    (folder / "board.yaml").write_text("\n".join(lines) + "\n")
    return folder / "board.yaml"


def wan_jobs(board: Path, out: Path, layout: ShotLayout, groups: int):
    """The animatic plan's jobs turned into tiny Wan renders (the planner would ask for 720p)."""
    storyboard = load_storyboard(board)
    jobs = build_jobs(storyboard, make_plan(storyboard), out, board.parent / "models")
    for job in jobs:
        job.backend, job.layout, job.groups = WAN, layout, groups
        job.request = replace(job.request, width=32, height=32, fps=16.0, frames=9, steps=2, negative_prompt="blurry")
    return jobs


@pytest.fixture(scope="module")
def one_gpu(board, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one-gpu")
    result = run_jobs(wan_jobs(board, out, ONE_GPU, groups=1), out, board.parent / "models", gpus=1)
    assert result.rendered == ["s01", "s02", "s03", "s04"], result.failed
    return out


def shots(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["shots"]


@pytest.mark.slow
def test_two_groups_of_one_gpu_share_the_shots_and_render_the_same_frames(board, one_gpu, tmp_path):
    out = tmp_path / "two-groups"
    result = run_jobs(wan_jobs(board, out, ONE_GPU, groups=2), out, board.parent / "models", gpus=2)
    assert sorted(result.rendered) == ["s01", "s02", "s03", "s04"] and not result.failed
    for shot_id in result.rendered:
        assert np.array_equal(decoded_pixels(out / "shots" / f"{shot_id}.mp4", tmp_path),
                              decoded_pixels(one_gpu / "shots" / f"{shot_id}.mp4", tmp_path)), shot_id
    records = shots(out)
    # Both groups worked, each on its own GPU, and the manifest says which rendered what.
    first, second = device_ids(2)
    assert {(r["group"], tuple(r["gpus"])) for r in records.values()} == {(0, (first,)), (1, (second,))}
    assert {(r["group"], tuple(r["gpus"])) for r in shots(one_gpu).values()} == {(0, (first,))}
    assert (out / "logs" / f"{WAN}.group0.worker.log").exists() and (out / "logs" / f"{WAN}.group1.worker.log").exists()


@pytest.mark.slow
def test_a_torchrun_group_of_two_renders_what_one_gpu_renders(board, one_gpu, tmp_path):
    out = tmp_path / "cfg-on-two"
    jobs = [job for job in wan_jobs(board, out, CFG_ON_TWO, groups=1) if job.id in ("s01", "s02")]
    result = run_jobs(jobs, out, board.parent / "models", gpus=2)
    assert result.rendered == ["s01", "s02"] and not result.failed
    for shot_id in result.rendered:
        assert np.array_equal(decoded_pixels(out / "shots" / f"{shot_id}.mp4", tmp_path),
                              decoded_pixels(one_gpu / "shots" / f"{shot_id}.mp4", tmp_path)), shot_id
        log = (out / "logs" / f"{shot_id}.log").read_text()
        assert f"[rank 0] rendering {shot_id} as cfg2" in log and f"[rank 1] rendering {shot_id} as cfg2" in log
        assert shots(out)[shot_id]["gpus"] == device_ids(2)
    # Rank 1 wrote nothing into the output folder: the two shots, no part files, no latents.
    assert sorted(path.name for path in (out / "shots").iterdir()) == ["s01.mp4", "s02.mp4"]


@pytest.mark.cuda
def test_one_gpu_renders_on_the_real_gpu_what_a_user_gets(board, tmp_path):
    """The worker on a real GPU: the session on CUDA, its compiled blocks, the decode and the write."""
    out = tmp_path / "cuda"
    jobs = [job for job in wan_jobs(board, out, ONE_GPU, groups=1) if job.id in ("s01", "s02")]
    result = run_jobs(jobs, out, board.parent / "models", gpus=1)
    assert result.rendered == ["s01", "s02"] and not result.failed
    for shot_id, record in shots(out).items():
        assert record["gpus"] == device_ids(1) and record["peak_memory"]["gpu_bytes"] > 0
        pixels = decoded_pixels(out / "shots" / f"{shot_id}.mp4", tmp_path)
        assert pixels.size == 9 * 32 * 32 * 3 and pixels.std() > 0


@pytest.mark.slow
def test_the_manifest_says_where_each_shots_time_went(one_gpu):
    records = shots(one_gpu)
    first, second = records["s01"]["timings"], records["s02"]["timings"]
    steps = ("first_step_s", "other_steps_s", "decode_write_s")
    # The worker started and encoded every prompt once, before the first shot; the others reuse it.
    assert first["worker_start_s"] > 0 and first["encode_s"] > 0 and "worker_start_s" not in second
    for timings in (first, second):
        assert all(timings[name] >= 0 for name in steps)
        assert sum(timings[name] for name in steps) <= timings["seconds"] + 0.01


def test_the_cfg_hooks_learn_each_shots_negative_prompt_whichever_pipeline_renders_it(tmp_path):
    """TI2V-5B animates an image through a second pipeline over the same modules. Without its negative
    prompt the CFG hooks would split each step with the text shot's, find it wrong at the unconditional
    call and compute that call again: the right picture, at no speed-up."""
    from types import SimpleNamespace

    import torch

    from render_pipeline.backends import open_session
    from render_pipeline.backends.base import RenderRequest
    from render_pipeline.parallel.group import WorkerGroup
    from tests.assets.tiny_models import build_wan_ti2v_5b_folder

    build_wan_ti2v_5b_folder(tmp_path / "models" / "Wan2.2-TI2V-5B-Diffusers")
    Image.fromarray(np.full((32, 32, 3), 120, dtype=np.uint8)).save(tmp_path / "still.png")
    shots = [RenderRequest(shot_id=shot_id, prompt="a grey destroyer at dawn", negative_prompt=negative, seed=1,
                           width=32, height=32, fps=24.0, frames=5, steps=1, quality="draft", image=image)
             for shot_id, negative, image in (("s01", "blurry", None), ("s02", "static grey", tmp_path / "still.png"))]
    session = open_session("wan2.2-ti2v-5b", None, tmp_path / "models")
    session.encode(shots)
    group = object.__new__(WorkerGroup)  # no process group: only what happens before each shot is under test
    hook = SimpleNamespace(negative=None, _answer=None)
    group.cfg_hooks = [hook]
    for shot in shots:
        group.before_shot(session, shot)
        session.render(shot, tmp_path / f"{shot.shot_id}.mp4", lambda done, total: None)
        assert torch.equal(hook.negative, session.conditioning(shot)["negative_prompt_embeds"]), shot.shot_id
    assert session.pipeline_for(shots[1]) is not session.pipeline_for(shots[0])


def two_render_what_one_renders(jobs_for, models: Path, tmp_path: Path) -> dict[str, Path]:
    """Render s01 and s02 of ``jobs_for(out, layout)`` on one GPU and on a CFG-parallel group of two; the
    same pixels. The two output folders, by name."""
    outputs = {}
    for name, layout, gpus in (("one", ONE_GPU, 1), ("two", CFG_ON_TWO, 2)):
        out = tmp_path / name
        result = run_jobs(jobs_for(out, layout), out, models, gpus=gpus)
        assert result.rendered == ["s01", "s02"], result.failed
        outputs[name] = out
    for shot_id in ("s01", "s02"):
        assert np.array_equal(decoded_pixels(outputs["two"] / "shots" / f"{shot_id}.mp4", tmp_path),
                              decoded_pixels(outputs["one"] / "shots" / f"{shot_id}.mp4", tmp_path)), shot_id
    return outputs


@pytest.mark.slow
def test_a_torchrun_group_renders_an_image_shot_as_one_gpu_does(board, tmp_path):
    """TI2V-5B's image-to-video pipeline, sharing the modules the group spread over two processes."""
    from tests.assets.tiny_models import build_wan_ti2v_5b_folder

    models = tmp_path / "models"
    build_wan_ti2v_5b_folder(models / "Wan2.2-TI2V-5B-Diffusers")
    image = tmp_path / "still.png"
    pixels = np.zeros((32, 32, 3), dtype=np.uint8)
    pixels[:, :16] = (200, 40, 0)
    Image.fromarray(pixels).save(image)

    def ti2v_jobs(out: Path, layout: ShotLayout):
        jobs = [job for job in wan_jobs(board, out, layout, groups=1) if job.id in ("s01", "s02")]
        for job, negative, still in zip(jobs, ("blurry", "static grey"), (None, image)):
            job.backend = "wan2.2-ti2v-5b"
            job.request = replace(job.request, fps=24.0, frames=5, negative_prompt=negative, image=still)
        return jobs

    two_render_what_one_renders(ti2v_jobs, models, tmp_path)


@pytest.mark.slow
def test_a_torchrun_group_renders_windowed_shots_as_one_gpu_does(board, tmp_path):
    """Both continuations across two processes: rank 0 decodes each window and hands the next one what it
    continues from (held latent frames for Wan A14B, the last frame for TI2V-5B) to rank 1."""
    from render_pipeline.backends.windows import Continuation, Windows
    from tests.assets.tiny_models import build_wan_ti2v_5b_folder

    models = tmp_path / "models"
    build_wan_a14b_folder(models / "Wan2.2-T2V-A14B-Diffusers")
    build_wan_ti2v_5b_folder(models / "Wan2.2-TI2V-5B-Diffusers")
    held = Windows(count=2, frames=9, overlap=5, continuation=Continuation.LATENT_OVERLAP)
    image = Windows(count=2, frames=9, overlap=1, continuation=Continuation.IMAGE)

    def windowed_jobs(out: Path, layout: ShotLayout):
        jobs = [job for job in wan_jobs(board, out, layout, groups=1) if job.id in ("s01", "s02")]
        jobs[0].request = replace(jobs[0].request, frames=held.total_frames, windows=held)
        jobs[1].backend = "wan2.2-ti2v-5b"
        jobs[1].request = replace(jobs[1].request, fps=24.0, frames=image.total_frames, windows=image)
        return jobs

    outputs = two_render_what_one_renders(windowed_jobs, models, tmp_path)
    # Nothing kept once the shots were written: no windows folders, no part files.
    assert sorted(path.name for path in (outputs["two"] / "shots").iterdir()) == ["s01.mp4", "s02.mp4"]
    assert shots(outputs["two"])["s01"]["settings"]["windows"]["count"] == 2  # the manifest says how it was made
