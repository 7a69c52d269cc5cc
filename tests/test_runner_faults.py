"""The runner under faults: crashes, hangs, out-of-memory, bad and corrupted outputs, a killed run."""

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import count_frames
from render_pipeline.planner.plan import make_plan
from render_pipeline.runner import RunOptions, run_jobs
from render_pipeline.runner.jobs import build_jobs
from render_pipeline.storyboard import load_storyboard

FAULT_WORKER = (sys.executable, str(Path(__file__).with_name("runner_fault_worker.py")))
FPS = 24  # the lowest delivery rate SMPTE timecode (and so the timeline) carries


def write_storyboard(folder: Path, shots: int = 3, duration: float = 1.0, prompt: str = "a harbor at dawn") -> Path:
    lines = ["version: 1", "title: Runner Test", f"delivery: {{size: 192x108, fps: {FPS}}}",
             "defaults: {backend: animatic}", "shots:"]
    for number in range(1, shots + 1):
        lines.append(f"  - {{id: s0{number}, duration: {duration}, prompt: \"{prompt} {number}\"}}")
    path = folder / "board.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def jobs_for(board: Path, out: Path):
    storyboard = load_storyboard(board)
    models = board.parent / "models"
    return build_jobs(storyboard, make_plan(storyboard, models_dir=models), out, models), models


def run(board: Path, out: Path, faults: dict | None = None, monkeypatch=None, **options):
    if faults is not None:
        monkeypatch.setenv("RUNNER_FAULTS", json.dumps(faults))
        monkeypatch.setenv("RUNNER_FAULT_MARKS", str(board.parent))
        options["worker_command"] = FAULT_WORKER
    jobs, models = jobs_for(board, out)
    return run_jobs(jobs, out, models, RunOptions(**options))


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["shots"]


def test_crash_mid_shot_is_retried_and_nothing_finished_is_redone(tmp_path, monkeypatch):
    board, out = write_storyboard(tmp_path), tmp_path / "out"
    result = run(board, out, {"s02": "crash"}, monkeypatch)
    assert result.rendered == ["s01", "s02", "s03"] and not result.failed
    shots = manifest(out)
    assert [shots[s]["attempts"] for s in ("s01", "s02", "s03")] == [1, 2, 1]
    assert "exited unexpectedly (status 3)" in (out / "logs" / "s02.log").read_text()
    assert all(count_frames(out / "shots" / f"{s}.mp4") == FPS for s in ("s01", "s02", "s03"))


def test_worker_that_stops_reporting_is_killed_and_retried(tmp_path, monkeypatch):
    board, out = write_storyboard(tmp_path, shots=2), tmp_path / "out"
    began = time.monotonic()
    result = run(board, out, {"s01": "hang"}, monkeypatch, stall_seconds=2)
    assert time.monotonic() - began < 30  # not the 60 s the hung worker would sleep
    assert result.rendered == ["s01", "s02"]
    assert "no progress for 2 s" in (out / "logs" / "s01.log").read_text()


def test_out_of_memory_steps_down_the_memory_ladder(tmp_path, monkeypatch):
    board, out = write_storyboard(tmp_path, shots=2), tmp_path / "out"
    monkeypatch.setenv("RUNNER_FAULTS", json.dumps({"s02": "oom"}))
    jobs, models = jobs_for(board, out)
    jobs[1].backend = "wan2.2-ti2v-5b"  # a GPU backend has a ladder; the fault worker draws it as an animatic
    result = run_jobs(jobs, out, models, RunOptions(worker_command=FAULT_WORKER))
    assert result.rendered == ["s01", "s02"]
    entry = manifest(out)["s02"]
    assert entry["settings"]["memory"] == {"vae_tiling": True} and entry["attempts"] == 2
    assert "out of memory; retrying with a lighter memory layout" in (out / "logs" / "s02.log").read_text()


def test_after_out_of_memory_the_manifest_says_what_ran(tmp_path, monkeypatch):
    """The plan's layout fields change with the rung: group offload, not the plan's "offload: none"."""
    board, out = write_storyboard(tmp_path, shots=2), tmp_path / "out"
    monkeypatch.setenv("RUNNER_FAULTS", json.dumps({"s02": "oom-offload"}))
    jobs, models = jobs_for(board, out)
    jobs[1].backend = "wan2.2-ti2v-5b"
    planned = make_plan(load_storyboard(board), gpus="1xH200", backend="wan2.2-ti2v-5b").shots[1].layout
    jobs[1].layout = replace(planned, memory=replace(planned.memory, vae_tiling=True))
    assert jobs[1].layout.memory.offload == "none" and not jobs[1].layout.memory.group_offload
    run_jobs(jobs, out, models, RunOptions(worker_command=FAULT_WORKER))
    memory = manifest(out)["s02"]["settings"]["memory"]
    assert memory["group_offload"] and memory["offload"] == "group"


def test_every_rung_of_the_ladder_is_described_as_it_runs(tmp_path):
    from render_pipeline.runner.memory_ladder import next_memory_rung

    layout = make_plan(load_storyboard(write_storyboard(tmp_path)), gpus="1xH200",
                       backend="wan2.2-t2v-a14b").shots[0].layout
    seen = 0
    while (layout := next_memory_rung("wan2.2-t2v-a14b", layout)) is not None:
        seen += 1
        # The switches the backends read (backends/memory.py) against the layout's own fields.
        memory = layout.memory
        assert (memory.offload == "group") == memory.group_offload
        assert (memory.vae_dtype == "bf16") == memory.vae_bf16
        assert (memory.weights_dtype == "fp8") == memory.fp8_storage
    assert seen >= 3


def test_wrong_frame_count_is_retried_and_a_shot_that_keeps_failing_does_not_stop_others(tmp_path, monkeypatch):
    board, out = write_storyboard(tmp_path), tmp_path / "out"
    result = run(board, out, {"s01": "short", "s02": "always"}, monkeypatch, max_attempts=2)
    assert result.rendered == ["s01", "s03"]
    assert list(result.failed) == ["s02"] and "simulated failure" in result.failed["s02"]
    shots = manifest(out)
    assert shots["s01"]["attempts"] == 2 and shots["s02"]["status"] == "failed" and shots["s02"]["attempts"] == 2
    assert f"has {FPS - 2} frames, expected {FPS}" in (out / "logs" / "s01.log").read_text()
    assert not (out / "shots" / "s02.mp4").exists() and not list((out / "shots").glob(".*part"))


def test_corrupted_output_is_rendered_again_and_only_it(tmp_path, monkeypatch):
    board, out = write_storyboard(tmp_path), tmp_path / "out"
    run(board, out)
    (out / "shots" / "s02.mp4").write_bytes(b"\0" * 1000)
    again = run(board, out)
    assert again.rendered == ["s02"] and again.cached == ["s01", "s03"]
    assert count_frames(out / "shots" / "s02.mp4") == FPS


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_killed_run_resumes_without_redoing_finished_shots(tmp_path, how):
    board, out = write_storyboard(tmp_path, shots=6, duration=2.0), tmp_path / "out"
    command = [sys.executable, "-m", "render_pipeline.cli", "render-all", str(board), "--out", str(out),
               "--no-assemble", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = [s for s, e in manifest(out).items() if e["status"] == "done"] if (out / "manifest.json").exists() else []
        if done:
            break
        time.sleep(0.02)
    process.send_signal(how)
    _, stderr = process.communicate(timeout=30)
    if how == signal.SIGTERM:
        assert process.returncode == 130 and "run the same command again to resume" in stderr
        assert not list((out / "shots").glob(".*part"))
    finished = {s for s, e in manifest(out).items() if e["status"] == "done"}
    assert finished and len(finished) < 6
    stamps = {s: (out / "shots" / f"{s}.mp4").stat().st_mtime_ns for s in finished}
    assert {p.stem for p in (out / "shots").glob("*.mp4")} == finished  # nothing half-written looks finished

    jobs, models = jobs_for(board, out)
    resumed = run_jobs(jobs, out, models)
    assert set(resumed.cached) == finished and set(resumed.rendered) == {f"s0{n}" for n in range(1, 7)} - finished
    assert all((out / "shots" / f"{s}.mp4").stat().st_mtime_ns == stamps[s] for s in finished)


def test_unwritable_output_folder_and_full_disk_are_clear_errors_up_front(tmp_path, monkeypatch):
    board = write_storyboard(tmp_path, shots=1)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UserError, match="cannot write .*a-file/out: part of the path is a file"):
        run(board, tmp_path / "a-file" / "out")

    import shutil

    from render_pipeline.runner import preflight

    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12, 10**6))
    with pytest.raises(UserError, match="not enough disk space"):
        run(board, tmp_path / "out")
    assert not (tmp_path / "out" / "shots" / "s01.mp4").exists()
