"""What the Ray and Slurm executors share: planning for the largest node, absolute folders, the fit
check, the fallback said here, and the jobs sent in dependency waves to the engine's run_waves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from render_pipeline.errors import UserError
from render_pipeline.planner.gpus import Gpu, detect_gpus
from render_pipeline.runner.executors.node_gpus import NodeGpus, gpus_to_plan_for, most_gpus
from render_pipeline.runner.jobs import Job
from render_pipeline.runner.progress import PlainReporter
from render_pipeline.runner.results import RunOptions, RunResult
from render_pipeline.runner.run import note_fallback

if TYPE_CHECKING:
    from render_pipeline.planner.plan_types import Plan


class ClusterExecutor:
    name: str

    def nodes(self) -> list[NodeGpus]:
        raise NotImplementedError

    def run_waves(self, waves: list[list[Job]], out_dir: Path, models_dir: Path, options: RunOptions) -> RunResult:
        """Run every wave's jobs, a wave only once the one before has settled."""
        raise NotImplementedError

    def plan_gpus(self) -> tuple[list[Gpu], str]:
        return gpus_to_plan_for(self.nodes(), self.name, detect_gpus)

    def folders(self, out_dir: Path, models_dir: Path) -> tuple[Path, Path]:
        # Other nodes have other working folders: every path a task gets must be absolute.
        return out_dir.resolve(), models_dir.resolve()

    def run(self, jobs: list[Job], out_dir: Path, models_dir: Path, options: RunOptions, plan: Plan,
            reporter: PlainReporter) -> RunResult:
        if plan.fallback_reason:  # the tasks' own runners say it only in their logs
            note_fallback(reporter, plan.fallback_reason, plan.download_hint)
        result = run_on_cluster(self, jobs, out_dir, models_dir, options)
        result.fallback_reason = plan.fallback_reason
        return result


def run_on_cluster(executor: ClusterExecutor, jobs: list[Job], out_dir: Path, models_dir: Path,
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
    return executor.run_waves(dependency_waves(jobs), out_dir, models_dir, options)


def dependency_waves(jobs: list[Job]) -> list[list[Job]]:
    """Jobs with no upstream shot first, then those continuing from them, and so on."""
    depth: dict[str, int] = {}
    for job in jobs:  # storyboard order: an upstream shot always comes earlier
        depth[job.id] = depth[job.continues.id] + 1 if job.continues is not None and job.continues.id in depth else 0
    return [[job for job in jobs if depth[job.id] == level] for level in range(max(depth.values(), default=-1) + 1)]
