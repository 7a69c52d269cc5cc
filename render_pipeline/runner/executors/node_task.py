"""What a cluster task runs on its node: the local runner, for one shot job, in the shared output folder."""

from __future__ import annotations

import socket
from pathlib import Path

from render_pipeline.runner.jobs import Job
from render_pipeline.runner.manifest import Manifest
from render_pipeline.runner.run import RunOptions, is_finished, run_jobs


def render_on_this_node(job: Job, out_dir: Path, models_dir: Path, options: RunOptions, executor: str) -> dict:
    """Render ``job`` unless someone already finished it; the manifest says which node ran it and which were lost.

    The engine restarts a task whose node or worker died; the entry that task left "running"
    tells the new one that an attempt was lost, and where.
    """
    node = socket.gethostname()
    manifest = Manifest.load(out_dir)
    if not options.force and is_finished(job, manifest):
        return {"rendered": [], "cached": [job.id], "failed": {}, "seconds": 0.0}
    entry = manifest.shots.get(job.id) or {}
    lost = list(entry.get("lost_on", [])) if entry.get("key") == job.key else []
    if entry.get("status") == "running" and entry.get("key") == job.key:
        lost.append(entry.get("node"))
    manifest.record(job.id, status="running", key=job.key, executor=executor, node=node, lost_on=lost)
    # The engine already placed this task on its GPUs (CUDA_VISIBLE_DEVICES): use them all.
    result = run_jobs([job], out_dir, models_dir, options, gpus=job.gpus_per_shot)
    return {"rendered": result.rendered, "cached": result.cached, "failed": result.failed, "seconds": result.seconds}
