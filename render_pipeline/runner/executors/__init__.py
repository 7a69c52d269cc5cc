"""Executors: where the runner's shot jobs run. Local (the default) hands them to run.run_jobs here.

The cluster executors (cluster.py) send each shot job to an existing engine (Ray, or Slurm
through submitit) as one task holding the GPUs the plan gives a shot; the task runs the ordinary
local runner for that one job on its node (see node_task.py), so the worker, its retries, the
atomic rename of the output and the manifest entry are the same everywhere. The output folder
must be shared by every node. The plan is made for the cluster's largest node, as the engine
reports it (node_gpus.py), and a task first claims its shot (shot_claim.py), so two tasks the
engine runs for the same shot never both render it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from render_pipeline.errors import UserError
from render_pipeline.runner.jobs import Job
from render_pipeline.runner.progress import PlainReporter
from render_pipeline.runner.results import RunOptions, RunResult

if TYPE_CHECKING:
    from render_pipeline.planner.gpus import Gpu
    from render_pipeline.planner.plan_types import Plan

EXECUTORS = ("local", "ray", "slurm")


class Executor(Protocol):
    name: str

    def plan_gpus(self) -> tuple[str | list[Gpu], str | None]:
        """What a plan for --gpus auto is made for (make_plan's ``gpus``), and a line saying so, if any."""

    def folders(self, out_dir: Path, models_dir: Path) -> tuple[Path, Path]:
        """The output and models folders as the jobs must name them wherever they run."""

    def run(self, jobs: list[Job], out_dir: Path, models_dir: Path, options: RunOptions, plan: Plan,
            reporter: PlainReporter) -> RunResult:
        """Run every job, a continuing shot only after its upstream one.

        ``plan`` (its fallback reason, download hint and GPU count) and ``reporter`` come with the
        call rather than the constructor: make_executor runs on the CLI's options, before the plan
        exists, and the same executor could run a second plan.
        """


def make_executor(name: str, address: str | None = None, partition: str | None = None) -> Executor:
    if name not in EXECUTORS:
        raise UserError(f"--executor {name!r}: unknown; choose one of {', '.join(EXECUTORS)}")
    if name == "local":
        from render_pipeline.runner.executors.local import LocalExecutor

        return LocalExecutor()
    try:
        if name == "ray":
            from render_pipeline.runner.executors.ray_cluster import RayExecutor

            return RayExecutor(address)
        if not partition:
            raise UserError("--executor slurm needs --partition NAME (the Slurm partition to submit to)")
        from render_pipeline.runner.executors.slurm_cluster import SlurmExecutor

        return SlurmExecutor(partition)
    except ImportError as error:
        raise UserError(f"--executor {name} needs the cluster extra ({error.name} is missing): "
                        f"pip install 'render-pipeline[cluster]'") from None
