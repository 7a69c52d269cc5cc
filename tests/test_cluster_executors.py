"""Cluster executors on a CPU: a local Ray instance with declared (fake) GPUs, and submitit's local executor
standing in for Slurm. Both must give the very shots the local runner gives."""

import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.optional_parts import module_needs

pytestmark = module_needs("cluster")  # before the imports that load ray

import ray  # noqa: E402

from render_pipeline.errors import UserError  # noqa: E402
from render_pipeline.media.ffmpeg import count_frames, ffmpeg_exe  # noqa: E402
from render_pipeline.planner.gpus import detect_gpus  # noqa: E402
from render_pipeline.runner import RunOptions, run_jobs  # noqa: E402
from render_pipeline.runner.executors.cluster import run_on_cluster  # noqa: E402
from render_pipeline.runner.executors.node_gpus import NodeGpus  # noqa: E402
from render_pipeline.runner.executors.ray_cluster import RayExecutor  # noqa: E402
from render_pipeline.runner.executors.slurm_cluster import SlurmExecutor  # noqa: E402
from tests.test_runner_faults import FPS, jobs_for, manifest, write_storyboard  # noqa: E402

SHOTS = ["s01", "s02", "s03"]
KILL_WORKER = (sys.executable, str(Path(__file__).with_name("cluster_kill_worker.py")))


def pixels(video: Path) -> bytes:
    return subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                          capture_output=True, check=True).stdout


def needing_gpus(job, gpus: int) -> None:
    job.layout = replace(job.layout, parallel=replace(job.layout.parallel, gpus_per_shot=gpus))


def on_fake_gpus(jobs):
    """Give every shot one GPU, as a real backend would: Ray must then place it on a (declared) GPU."""
    for job in jobs:
        needing_gpus(job, 1)
    return jobs


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    return write_storyboard(tmp_path_factory.mktemp("board"))


@pytest.fixture(scope="module")
def local_shots(board, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    jobs, models = jobs_for(board, out)
    assert run_jobs(jobs, out, models).rendered == SHOTS
    return out / "shots"


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    marks = tmp_path_factory.mktemp("marks")
    # Two fake GPUs, and the accelerator type Ray itself would report on a node of two A6000s.
    ray.init(num_cpus=2, num_gpus=2, resources={"accelerator_type:A6000": 1}, include_dashboard=False,
             log_to_driver=False,
             runtime_env={"env_vars": {"CLUSTER_KILL_SHOT": "s02", "CLUSTER_KILL_MARKS": str(marks)}})
    yield marks
    ray.shutdown()


def assert_same_shots(out: Path, local_shots: Path) -> None:
    for shot in SHOTS:
        assert count_frames(out / "shots" / f"{shot}.mp4") == FPS
        assert pixels(out / "shots" / f"{shot}.mp4") == pixels(local_shots / f"{shot}.mp4"), shot


def test_ray_renders_the_local_shots_and_a_rerun_renders_nothing(board, local_shots, ray_cluster, tmp_path):
    out = tmp_path / "out"
    jobs, models = jobs_for(board, out)
    result = run_on_cluster(RayExecutor(None), on_fake_gpus(jobs), out, models, RunOptions())
    assert sorted(result.rendered) == SHOTS and not result.failed
    assert_same_shots(out, local_shots)
    entries = manifest(out)
    assert all(entries[s]["status"] == "done" and entries[s]["executor"] == "ray" for s in SHOTS)
    assert all(entries[s]["node"] == socket.gethostname() and entries[s]["gpus"] for s in SHOTS)
    jobs, models = jobs_for(board, out)
    again = run_on_cluster(RayExecutor(None), on_fake_gpus(jobs), out, models, RunOptions())
    assert again.rendered == [] and sorted(again.cached) == SHOTS


def test_ray_retries_a_shot_whose_worker_was_killed_mid_shot(board, local_shots, ray_cluster, tmp_path):
    out = tmp_path / "out"
    jobs, models = jobs_for(board, out)
    result = run_on_cluster(RayExecutor(None), jobs, out, models, RunOptions(worker_command=KILL_WORKER))
    assert (ray_cluster / "s02.killed").exists()  # the kill did happen
    assert sorted(result.rendered) == SHOTS and not result.failed
    assert_same_shots(out, local_shots)
    entries = manifest(out)
    assert entries["s02"]["lost_on"] == [socket.gethostname()] and entries["s02"]["status"] == "done"
    assert entries["s01"]["lost_on"] == [] and not list((out / "shots").glob(".*.part"))


def test_a_shot_needing_more_gpus_than_any_node_is_refused_before_submitting(board, ray_cluster, tmp_path):
    out = tmp_path / "out"
    jobs, models = jobs_for(board, out)
    needing_gpus(jobs[1], 4)
    with pytest.raises(UserError, match="shot s02 needs 4 GPUs at once, but no node of the ray cluster has more than 2"):
        run_on_cluster(RayExecutor(None), jobs, out, models, RunOptions())
    assert not (out / "manifest.json").exists()


def test_slurm_array_through_submitit_renders_the_local_shots(board, local_shots, tmp_path):
    out = tmp_path / "out"
    jobs, models = jobs_for(board, out)
    result = run_on_cluster(SlurmExecutor("gpu", cluster="local"), jobs, out, models, RunOptions())
    assert sorted(result.rendered) == SHOTS and not result.failed
    assert_same_shots(out, local_shots)
    assert all(manifest(out)[s]["executor"] == "slurm" for s in SHOTS)
    assert len(list((out / "logs" / "slurm").glob("*_log.out"))) == len(SHOTS)  # one array element per shot


def fake_sinfo(folder: Path, monkeypatch, script: str) -> Path:
    """A `sinfo` alone on PATH running ``script``; returns the file where it writes its arguments."""
    folder.mkdir()
    (folder / "sinfo").write_text(f'#!/bin/sh\necho "$@" > {folder / "args"}\n{script}\n')
    (folder / "sinfo").chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    return folder / "args"


def test_slurm_refuses_before_submitting_a_shot_no_node_of_the_partition_can_hold(board, tmp_path, monkeypatch):
    asked = fake_sinfo(tmp_path / "bin", monkeypatch,
                       """if [ "$3" = gpu ]; then printf 'gpu:h100:4(S:0-1)\\n(null)\\n'; fi""")
    assert SlurmExecutor("gpu").nodes() == [NodeGpus(4, "h100"), NodeGpus(0, None)]
    assert asked.read_text().split() == ["-h", "-p", "gpu", "-o", "%G"]
    out = tmp_path / "out"
    jobs, models = jobs_for(board, out)
    needing_gpus(jobs[1], 8)
    with pytest.raises(UserError, match="shot s02 needs 8 GPUs at once, but no node of the slurm cluster has more than 4"):
        run_on_cluster(SlurmExecutor("gpu"), jobs, out, models, RunOptions())
    assert not (out / "logs" / "slurm").exists()  # nothing was submitted


def test_slurm_names_an_unknown_partition_a_failing_sinfo_and_a_missing_one(tmp_path, monkeypatch):
    # Like the real one, it prints nothing for a partition it does not have.
    fake_sinfo(tmp_path / "bin", monkeypatch, """if [ "$3" = gpu ]; then echo gpu:8; fi""")
    with pytest.raises(UserError, match="Slurm has no partition 'big': choose one that `sinfo -s` lists"):
        SlurmExecutor("big").nodes()
    fake_sinfo(tmp_path / "down", monkeypatch, "echo 'Unable to contact slurm controller' >&2; exit 1")
    with pytest.raises(UserError, match="sinfo could not list partition 'gpu': Unable to contact slurm controller"):
        SlurmExecutor("gpu").nodes()
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(UserError, match="sinfo is not on PATH.*module load slurm"):
        SlurmExecutor("gpu").nodes()
    # submitit's local cluster runs every element on this machine: it asks this machine, not sinfo.
    assert [node.count for node in SlurmExecutor("gpu", cluster="local").nodes()] == [len(detect_gpus())]


def test_render_all_cli_runs_on_ray_and_explains_a_missing_partition(board, local_shots, ray_cluster, tmp_path):
    from typer.testing import CliRunner

    from render_pipeline.cli import app

    runner = CliRunner()
    refused = runner.invoke(app, ["render-all", str(board), "--executor", "slurm", "--out", str(tmp_path / "x")])
    assert refused.exit_code == 2 and "--executor slurm needs --partition NAME" in refused.output
    out = tmp_path / "out"
    # --backend auto: the plan looks for a model that fits the cluster's node (here none has its weights).
    done = runner.invoke(app, ["render-all", str(board), "--executor", "ray", "--backend", "auto", "--no-assemble",
                               "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "planning for the ray cluster's largest node: 2x A6000" in done.output
    assert "its weights are missing" in done.output  # not "no GPU found", as on this machine
    assert_same_shots(out, local_shots)
    assert all(manifest(out)[s]["executor"] == "ray" for s in SHOTS)
