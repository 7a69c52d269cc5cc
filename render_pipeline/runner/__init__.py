"""The runner: render the plan's shots with caching, retries and a manifest (see run.py)."""

from render_pipeline.output_folder.claim import default_out_dir
from render_pipeline.runner.run import RunInterrupted, RunOptions, RunResult, render_all, render_shot, run_jobs

__all__ = ["RunInterrupted", "RunOptions", "RunResult", "default_out_dir", "render_all", "render_shot", "run_jobs"]
