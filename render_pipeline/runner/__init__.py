"""The runner: render the plan's shots with caching, retries and a manifest (see run.py)."""

from render_pipeline.output_folder.claim import default_out_dir
from render_pipeline.runner.results import RunOptions, RunResult
from render_pipeline.runner.run import run_jobs
from render_pipeline.runner.shot_faults import RunInterrupted

__all__ = ["RunInterrupted", "RunOptions", "RunResult", "default_out_dir", "run_jobs"]
