"""The local executor: every shot job rendered on this machine by run.run_jobs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from render_pipeline.runner.jobs import Job
from render_pipeline.runner.progress import PlainReporter
from render_pipeline.runner.results import RunOptions, RunResult
from render_pipeline.runner.run import run_jobs

if TYPE_CHECKING:
    from render_pipeline.planner.plan_types import Plan


class LocalExecutor:
    name = "local"

    def plan_gpus(self) -> tuple[str, None]:
        # "auto" rather than the GPUs nodes() reports: make_plan then detects this machine's GPUs,
        # each as it is, and its RAM, as a local plan always has.
        return "auto", None

    def folders(self, out_dir: Path, models_dir: Path) -> tuple[Path, Path]:
        return out_dir, models_dir

    def run(self, jobs: list[Job], out_dir: Path, models_dir: Path, options: RunOptions, plan: Plan,
            reporter: PlainReporter) -> RunResult:
        # All at once, not in dependency waves: the runner's lanes hold a continuing shot back
        # until its upstream one is done, while other shots go on.
        return run_jobs(jobs, out_dir, models_dir, options, reporter, plan.fallback_reason, gpus=len(plan.gpus),
                        download_hint=plan.download_hint)
