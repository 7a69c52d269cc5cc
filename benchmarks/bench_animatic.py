"""Benchmark: the animatic's shots of a storyboard, drawn by the session alone (no runner, no assembly).

Run: python scripts/bench_animatic.py [storyboards/exhibition-film.yaml]
Prints the shots, frames, seconds and frames/s at the delivery size. Shots with an `image` are
left out (they move over that image and paint nothing); so are footage shots.
"""

import sys
import tempfile
import time
from pathlib import Path

from render_pipeline.backends.animatic import AnimaticSession
from render_pipeline.planner.plan import make_plan
from render_pipeline.runner.jobs import build_jobs
from render_pipeline.storyboard import load_storyboard


def main() -> None:
    storyboard = load_storyboard(Path(sys.argv[1] if len(sys.argv) > 1 else "storyboards/exhibition-film.yaml"))
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        jobs = [job for job in build_jobs(storyboard, make_plan(storyboard, models_dir=folder), folder, folder)
                if job.backend == "animatic" and job.request.image is None]
        session = AnimaticSession()
        began = time.perf_counter()
        for job in jobs:
            session.render(job.request, folder / f"{job.id}.mp4", lambda done, total: None)
        seconds = time.perf_counter() - began
    frames = sum(job.request.frames for job in jobs)
    size = f"{jobs[0].request.width}x{jobs[0].request.height}"
    print(f"{len(jobs)} shots, {frames} frames at {size}: {seconds:.1f} s, {frames / seconds:.0f} frames/s")


if __name__ == "__main__":
    main()
