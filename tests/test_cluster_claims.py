"""Two cluster tasks for the same shot: only one renders it; a claim whose holder died is taken over."""

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from render_pipeline.media.ffmpeg import count_frames
from render_pipeline.runner import RunOptions, run_jobs
from render_pipeline.runner.executors.node_task import render_on_this_node
from tests.test_runner_faults import FPS, jobs_for, manifest, write_storyboard


def race_for_shot(start, outcomes, job, out: Path, models: Path) -> None:
    """One engine task (in its own process, as Ray and Slurm run them), started with the other one."""
    start.wait()
    outcomes.put(render_on_this_node(job, out, models, RunOptions(), "ray"))


def leave_claim(out: Path, shot: str, node: str, pid: int, age_seconds: float = 0.0) -> Path:
    claim = out / "claims" / f"{shot}.json"
    claim.parent.mkdir(parents=True)
    claim.write_text(json.dumps({"node": node, "pid": pid, "token": "gone", "since": "2025-01-01T00:00:00+00:00"}))
    then = time.time() - age_seconds
    os.utime(claim, (then, then))
    return claim


def test_two_tasks_started_together_for_one_shot_render_it_once(tmp_path):
    out = tmp_path / "out"
    jobs, models = jobs_for(write_storyboard(tmp_path, shots=1), out)
    spawn = multiprocessing.get_context("spawn")
    start, outcomes = spawn.Barrier(2), spawn.Queue()
    tasks = [spawn.Process(target=race_for_shot, args=(start, outcomes, jobs[0], out, models)) for _ in range(2)]
    for task in tasks:
        task.start()
    results = [outcomes.get(timeout=120) for _ in tasks]
    for task in tasks:
        task.join(timeout=30)
    assert sorted(len(result["rendered"]) for result in results) == [0, 1]
    assert sorted(len(result["cached"]) for result in results) == [0, 1]
    log = (out / "logs" / "s01.log").read_text()
    assert "waiting: shot s01 is being rendered by " + socket.gethostname() in log  # they did overlap
    assert log.count("done in") == 1
    assert manifest(out)["s01"]["status"] == "done" and count_frames(out / "shots" / "s01.mp4") == FPS
    assert not list((out / "claims").iterdir())


def test_a_claim_left_by_a_dead_process_on_this_node_is_taken_over(tmp_path):
    out = tmp_path / "out"
    jobs, models = jobs_for(write_storyboard(tmp_path, shots=1), out)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leave_claim(out, "s01", socket.gethostname(), dead.pid)
    began = time.monotonic()
    result = render_on_this_node(jobs[0], out, models, RunOptions(), "slurm")
    assert result["rendered"] == ["s01"] and time.monotonic() - began < 60
    assert manifest(out)["s01"]["lost_on"] == [socket.gethostname()]
    assert not list((out / "claims").iterdir())


def test_a_claim_not_refreshed_for_long_by_another_node_is_taken_over(tmp_path):
    out = tmp_path / "out"
    jobs, models = jobs_for(write_storyboard(tmp_path, shots=1), out)
    leave_claim(out, "s01", "render-07", os.getpid(), age_seconds=3600)
    result = render_on_this_node(jobs[0], out, models, RunOptions(), "slurm")
    assert result["rendered"] == ["s01"]
    assert manifest(out)["s01"]["lost_on"] == ["render-07"]


def test_a_task_that_lost_its_claim_does_not_put_its_output_in_place(tmp_path):
    out = tmp_path / "out"
    jobs, models = jobs_for(write_storyboard(tmp_path, shots=1), out)
    result = run_jobs(jobs, out, models, may_finish=lambda job: False)
    assert result.rendered == [] and "another task took this shot over" in result.failed["s01"]
    assert not (out / "shots" / "s01.mp4").exists() and not list((out / "shots").glob(".*.part"))
    assert not (out / "manifest.json").exists()  # the manifest entry is the new claimant's to write
