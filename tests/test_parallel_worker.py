"""The torchrun worker end to end: a tiny Wan A14B folder, 2 gloo processes with CFG parallelism,
against the same shots rendered in one process (decoded pixels must be identical)."""

from __future__ import annotations

import subprocess
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from render_pipeline.parallel.launch import ShotJob, WorkerJob, worker_command, worker_env
from render_pipeline.parallel.layout import ParallelLayout
from tiny_models import build_wan_a14b_folder


def decoded_pixels(path: Path, scratch: Path) -> np.ndarray:
    from render_pipeline.media.ffmpeg import run_ffmpeg

    raw = scratch / f"{path.parent.name}-{path.stem}.rgb"
    run_ffmpeg(["-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", str(raw)], what="decoding test output")
    return np.frombuffer(raw.read_bytes(), dtype=np.uint8)


@pytest.mark.slow
def test_cfg_parallel_worker_renders_what_one_process_renders(tmp_path: Path) -> None:
    from render_pipeline.backends import open_session
    from render_pipeline.backends.base import RenderRequest

    models = tmp_path / "models"
    build_wan_a14b_folder(models / "Wan2.2-T2V-A14B-Diffusers")
    requests = [RenderRequest(shot_id=shot_id, prompt=prompt, negative_prompt="blurry", seed=seed, width=32,
                              height=32, fps=16.0, frames=9, steps=2, quality="draft")
                for shot_id, prompt, seed in (("s01", "a grey destroyer at dawn", 7),
                                              ("s02", "the fleet comes home", 8))]

    session = open_session("wan2.2-t2v-a14b", {}, models)
    session.encode(requests)
    for request in requests:
        session.render(request, tmp_path / f"reference-{request.shot_id}.mp4", lambda done, total: None)
    session.close()

    out = tmp_path / "out"
    job = WorkerJob(
        backend="wan2.2-t2v-a14b", layout=ParallelLayout(world_size=2, cfg=2), models_dir=str(models),
        shots=[ShotJob(request=asdict(request), out_path=str(out / "shots" / f"{request.shot_id}.mp4"),
                       log_path=str(out / "logs" / f"{request.shot_id}.log")) for request in requests],
    )
    job.write(tmp_path / "job.json")
    done = subprocess.run(worker_command(tmp_path / "job.json", 2), env=worker_env([]), capture_output=True,
                          text=True, timeout=240, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr[-6000:]

    for request in requests:
        rendered = out / "shots" / f"{request.shot_id}.mp4"
        reference = tmp_path / f"reference-{request.shot_id}.mp4"
        assert np.array_equal(decoded_pixels(rendered, tmp_path), decoded_pixels(reference, tmp_path))
        log = (out / "logs" / f"{request.shot_id}.log").read_text()
        for rank in (0, 1):
            assert f"[rank {rank}] rendering {request.shot_id} as cfg2" in log
            assert f"[rank {rank}] step 2/2" in log
            assert f"[rank {rank}] done in" in log
    # Only rank 0 wrote: the shots and their claim markers, nothing half-written.
    assert sorted(path.name for path in (out / "shots").iterdir()) == [
        "s01.mp4", "s01.mp4.claimed", "s02.mp4", "s02.mp4.claimed"]
