"""Executors: where the runner's shot jobs run. Local (the default) is run.run_jobs itself.

The cluster executors send each shot job to an existing engine (Ray, or Slurm through
submitit) as one task holding the GPUs the plan gives a shot; the task runs the ordinary
local runner for that one job on its node (see node_task.py), so the worker, its retries,
the atomic rename of the output and the manifest entry are the same everywhere. The output
folder must be shared by every node. The plan is made for the cluster's largest node, as the
engine reports it (node_gpus.py), and a task first claims its shot (shot_claim.py), so two
tasks the engine runs for the same shot never both render it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from render_pipeline.errors import UserError
from render_pipeline.runner.executors.node_gpus import NodeGpus, most_gpus
from render_pipeline.runner.jobs import Job
from render_pipeline.runner.results import RunOptions, RunResult

EXECUTORS = ("local", "ray", "slurm")


class Executor(Protocol):
    name: str

    def nodes(self) -> list[NodeGpus]:
        """The GPUs of each kind of node the cluster has, as its engine reports them."""

    def run(self, waves: list[list[Job]], out_dir: Path, models_dir: Path, options: RunOptions) -> RunResult:
        """Run every wave's jobs, a wave only once the one before has settled."""


def make_executor(name: str, address: str | None = None, partition: str | None = None) -> Executor | None:
    """None for the local executor (render_all then runs the jobs itself)."""
    if name not in EXECUTORS:
        raise UserError(f"--executor {name!r}: unknown; choose one of {', '.join(EXECUTORS)}")
    try:
        if name == "ray":
            from render_pipeline.runner.executors.ray_cluster import RayExecutor

            return RayExecutor(address)
        if name == "slurm":
            if not partition:
                raise UserError("--executor slurm needs --partition NAME (the Slurm partition to submit to)")
            from render_pipeline.runner.executors.slurm_cluster import SlurmExecutor

            return SlurmExecutor(partition)
    except ImportError as error:
        raise UserError(f"--executor {name} needs the cluster extra ({error.name} is missing): "
                        f"pip install 'render-pipeline[cluster]'") from None
    return None


def run_on_cluster(executor: Executor, jobs: list[Job], out_dir: Path, models_dir: Path,
                   options: RunOptions) -> RunResult:
    """Check that every job fits on a node, then run the jobs on the cluster in dependency waves."""
    most = most_gpus(executor.nodes())
    too_big = [job for job in jobs if job.gpus_per_shot > most]
    if too_big:
        # Submitted anyway, such a task would wait forever for a node that does not exist.
        raise UserError(f"shot {too_big[0].id} needs {too_big[0].gpus_per_shot} GPUs at once, but no node of "
                        f"the {executor.name} cluster has more than {most}: plan for smaller nodes "
                        f"(fewer GPUs per shot) or add a bigger node")
    out_dir.mkdir(parents=True, exist_ok=True)
    return executor.run(dependency_waves(jobs), out_dir, models_dir, options)


def dependency_waves(jobs: list[Job]) -> list[list[Job]]:
    """Jobs with no upstream shot first, then those continuing from them, and so on."""
    depth: dict[str, int] = {}
    for job in jobs:  # storyboard order: an upstream shot always comes earlier
        depth[job.id] = depth[job.continues.id] + 1 if job.continues is not None and job.continues.id in depth else 0
    return [[job for job in jobs if depth[job.id] == level] for level in range(max(depth.values(), default=-1) + 1)]
