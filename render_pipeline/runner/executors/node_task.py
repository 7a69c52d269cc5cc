"""What a cluster task runs on its node: the local runner, for one shot job, in the shared output folder;
and the run's result made from every task's outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from render_pipeline.output_folder.files import append_text
from render_pipeline.runner.executors.shot_claim import ShotClaim
from render_pipeline.runner.finished import is_finished
from render_pipeline.runner.jobs import Job
from render_pipeline.runner.manifest import Manifest
from render_pipeline.runner.results import RunOptions, RunResult
from render_pipeline.runner.run import run_jobs


def render_on_this_node(job: Job, out_dir: Path, models_dir: Path, options: RunOptions, executor: str) -> dict:
    """Render ``job`` unless someone already finished it; the manifest says which node ran it and which were lost.

    The shot is claimed first (shot_claim.py), so a second task for it waits for the first and
    then finds it finished. A claim left by a task whose process or node died is taken over,
    and that node goes into the manifest's ``lost_on``.
    """
    log = out_dir / "logs" / f"{job.id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)

    def waiting(holder: dict) -> None:
        append_text(log, f"[{datetime.now(UTC).isoformat(timespec='seconds')}] waiting: shot {job.id} is being "
                         f"rendered by {holder.get('node', 'another task')} (pid {holder.get('pid', '?')}) since "
                         f"{holder.get('since', '?')}\n")

    with ShotClaim(out_dir, job.id, waiting) as claim:
        manifest = Manifest.load(out_dir)
        # Even with --force, a shot another task of this run just finished is not rendered twice.
        if (claim.waited or not options.force) and is_finished(job, manifest):
            return {"rendered": [], "cached": [job.id], "failed": {}, "seconds": 0.0}
        entry = manifest.shots.get(job.id) or {}
        lost = list(entry.get("lost_on", [])) if entry.get("key") == job.key else []
        if claim.took_over_from is not None:
            lost.append(claim.took_over_from)
        manifest.record(job.id, status="running", key=job.key, executor=executor, node=claim.node, lost_on=lost)
        # The engine already placed this task on its GPUs (CUDA_VISIBLE_DEVICES): use them all.
        result = run_jobs([job], out_dir, models_dir, options, gpus=job.gpus_per_shot,
                          may_finish=lambda finished: claim.is_ours())
    return {"rendered": result.rendered, "cached": result.cached, "failed": result.failed, "seconds": result.seconds}


def failed_outcome(out_dir: Path, job: Job, message: str) -> dict:
    """Record a shot the cluster gave up on, and the outcome merge_results expects for it."""
    Manifest.load(out_dir).record(job.id, status="failed", key=job.key, error=message)
    return {"rendered": [], "cached": [], "failed": {job.id: message}, "seconds": 0.0}


def merge_results(out_dir: Path, outcomes: list[dict]) -> RunResult:
    result = RunResult(out_dir=out_dir)
    for outcome in outcomes:
        result.rendered += outcome["rendered"]
        result.cached += outcome["cached"]
        result.failed.update(outcome["failed"])
        result.seconds = max(result.seconds, outcome["seconds"])
    return result
