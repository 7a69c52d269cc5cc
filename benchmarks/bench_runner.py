"""Benchmark: animatic throughput at 1280x720 and the runner's overhead per shot.

Run: python -m benchmarks.bench_runner [--out runner.json]
Prints frames/s of the animatic (one 5 s shot at 24 fps, drawn directly by the session),
and for a 6-shot animatic storyboard: seconds per shot through the runner (worker process,
checks, manifest) against the session alone, and the cost of a second, cached run.
"""

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Results, out_option
from render_pipeline.backends.animatic import AnimaticSession
from render_pipeline.backends.base import RenderRequest
from render_pipeline.planner.plan import make_plan
from render_pipeline.runner import run_jobs
from render_pipeline.runner.jobs import build_jobs
from render_pipeline.storyboard import load_storyboard

SHOTS, SECONDS, FPS = 6, 5.0, 24


def animatic_fps(folder: Path) -> float:
    session = AnimaticSession()
    frames = int(SECONDS * FPS)
    request = RenderRequest(shot_id="bench", prompt="a quiet harbor at dawn, mist on the water, cranes", negative_prompt="",
                            seed=1, width=1280, height=720, fps=FPS, frames=frames, steps=0, quality="final",
                            settings={"scene": 1, "camera": {"movement": "slow push in"}})
    began = time.perf_counter()
    session.render(request, folder / "bench.mp4", lambda done, total: None)
    return frames / (time.perf_counter() - began)


def runner_overhead(folder: Path, session_seconds_per_shot: float) -> tuple[float, float]:
    board = folder / "board.yaml"
    shots = "\n".join(f"  - {{id: s{n:02d}, duration: {SECONDS}, prompt: \"shot {n} at dawn\"}}" for n in range(SHOTS))
    board.write_text(f"version: 1\ntitle: Bench\ndelivery: {{size: 1280x720, fps: {FPS}}}\n"
                     f"defaults: {{backend: animatic}}\nshots:\n{shots}\n")
    storyboard = load_storyboard(board)
    out = folder / "out"
    timings = []
    for _ in range(2):
        began = time.perf_counter()
        jobs = build_jobs(storyboard, make_plan(storyboard, models_dir=folder), out, folder)
        run_jobs(jobs, out, folder)
        timings.append(time.perf_counter() - began)
    return timings[0] / SHOTS - session_seconds_per_shot, timings[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    out_option(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        fps = animatic_fps(folder)
        print(f"animatic at 1280x720: {fps:.0f} frames/s ({fps / FPS:.1f}x real time at {FPS} fps)")
        session_seconds = SECONDS * FPS / fps
        overhead, cached = runner_overhead(folder, session_seconds)
        print(f"runner: {session_seconds + overhead:.2f} s per shot against {session_seconds:.2f} s for the session "
              f"alone: overhead {overhead:+.2f} s per shot ({SHOTS} shots of {SECONDS:g} s)")
        print(f"second run, all {SHOTS} shots cached: {cached:.3f} s")
    Results(__file__, args.out, argv, settings={"shots": SHOTS, "seconds": SECONDS, "fps": FPS, "size": "1280x720"}).save(
        {"animatic_frames_per_second": round(fps, 1), "session_s_per_shot": round(session_seconds, 3),
         "runner_overhead_s_per_shot": round(overhead, 3), "cached_run_s": round(cached, 4)})


if __name__ == "__main__":
    main()
