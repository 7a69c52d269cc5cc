"""Benchmark: the animatic's shots of a storyboard, drawn by the session alone (no runner, no assembly).

Run: python -m benchmarks.bench_animatic [storyboards/exhibition-film.yaml] [--out animatic.json]
Prints the shots, frames, seconds and frames/s at the delivery size. Shots with an `image` are
left out (they move over that image and paint nothing); so are footage shots.
"""

import argparse
import tempfile
from pathlib import Path

from benchmarks.harness import Results, out_option, timed
from render_pipeline.backends.animatic import AnimaticSession
from render_pipeline.planner.plan import make_plan
from render_pipeline.runner.jobs import build_jobs
from render_pipeline.storyboard import load_storyboard


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("storyboard", type=Path, nargs="?", default=Path("storyboards/exhibition-film.yaml"))
    out_option(parser)
    args = parser.parse_args(argv)
    storyboard = load_storyboard(args.storyboard)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        jobs = [job for job in build_jobs(storyboard, make_plan(storyboard, models_dir=folder), folder, folder)
                if job.backend == "animatic" and job.request.image is None]
        session = AnimaticSession()
        with timed() as timing:
            for job in jobs:
                session.render(job.request, folder / f"{job.id}.mp4", lambda done, total: None)
    seconds = timing.wall_s
    frames = sum(job.request.frames for job in jobs)
    size = f"{jobs[0].request.width}x{jobs[0].request.height}"
    print(f"{len(jobs)} shots, {frames} frames at {size}: {seconds:.1f} s, {frames / seconds:.0f} frames/s")
    Results(__file__, args.out, argv, settings={"storyboard": str(args.storyboard)}).save(
        {"shots": len(jobs), "frames": frames, "size": size, "seconds": round(seconds, 2),
         "cpu_seconds": round(timing.cpu_s, 2), "frames_per_second": round(frames / seconds, 1)})


if __name__ == "__main__":
    main()
