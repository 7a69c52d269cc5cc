"""Whole shots through `render-all`'s own runner: where a shot's time goes around the denoising steps.

Renders a storyboard of --shots shots of --seconds each with one backend (the real worker,
model folder, prompt encoding, load, compile, steps, decode and mp4 write), then reads the
phases the runner records in manifest.json and prints, per shot, the time outside the steps
and its share of the shot. One step's time is the mean of the steps after the first (the
first also loads the denoising pipeline and compiles it), so "outside the steps" is the
shot's time less its step count times that.

    python -m benchmarks.make_random_model_folder wan2.2-ti2v-5b /tmp/models
    python -m benchmarks.bench_whole_shot --backend wan2.2-ti2v-5b --models-dir /tmp/models --shots 2 --out shot.json
    python -m benchmarks.bench_whole_shot --models-dir /tmp/models --shots 1 --runs 2 --out again.json  # iterate
    python -m benchmarks.bench_whole_shot --models-dir /tmp/models --shots 1 --runs 2 --keep-worker --out watch.json
    python -m benchmarks.bench_whole_shot --backend wan2.2-ti2v-5b --models-dir /tmp/m --tiny --out /tmp/s.json  # CPU
    python -m benchmarks.bench_whole_shot --models-dir /tmp/models --shots 1 --seconds 10 --out windowed.json
    python -m benchmarks.bench_whole_shot --models-dir /tmp/models --shots 1 --seconds 10 --window single --out one.json

--sampling gives shots their own sampling fields, in turn (shot i takes the i-th, cycling), so
two samplings are timed in one run, e.g. Wan A14B's official 40 steps with guidance against 4
without: --shots 2 --sampling '' --sampling 'steps: 4, guidance: 1, shift: 5'. Each row also
has the plan's estimate of the shot (planned_s).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.harness import Results, out_option

STORYBOARD = """\
version: 1
title: Whole Shot Bench
delivery: {{size: {size}, fps: 24, loudness_lufs: -16}}
defaults: {{backend: {backend}, quality: {quality}, window: {window}}}
shots:
"""
PROMPTS = ["a grey destroyer at dawn, slow push in", "sailors on deck, morning light", "a harbor crane at dusk",
           "gulls over the breakwater", "rain on the quay", "a tugboat leaving the dock"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="wan2.2-ti2v-5b")
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--quality", default="final", choices=["draft", "final"])
    parser.add_argument("--window", default="auto", choices=["auto", "single"],
                        help="a shot past the model's trained clip: in windows (auto) or in one pass")
    parser.add_argument("--gpus", default="auto")
    parser.add_argument("--runs", type=int, default=1,
                        help="render the shots this many times (later runs: text embeddings from the cache)")
    parser.add_argument("--keep-worker", action="store_true",
                        help="later runs take the loaded worker of the run before (render-shot --watch)")
    parser.add_argument("--steps", type=int, help="override the backend's step count (--tiny uses 3)")
    parser.add_argument("--sampling", action="append", default=[], metavar="FIELDS",
                        help="storyboard sampling fields for the shots in turn, e.g. 'steps: 4, guidance: 1' "
                             "('' for the backend's own); may be repeated")
    parser.add_argument("--tiny", action="store_true", help="a tiny model folder on the CPU (checks this script)")
    out_option(parser, required=True)
    args = parser.parse_args(argv)

    from render_pipeline.planner import make_plan
    from render_pipeline.runner import RunOptions, run_jobs
    from render_pipeline.runner.jobs import build_jobs
    from render_pipeline.runner.worker_process import IdleWorkers
    from render_pipeline.storyboard import load_storyboard

    work = Path(tempfile.mkdtemp(prefix="whole-shot-"))
    size = "64x64" if args.tiny else "1280x720"
    text = STORYBOARD.format(size=size, backend=args.backend, quality=args.quality, window=args.window)
    samplings = args.sampling or [""]
    text += "".join(f"  - {{id: s{index + 1:02d}, duration: {args.seconds}, prompt: \"{PROMPTS[index % len(PROMPTS)]}\""
                    + (f", {samplings[index % len(samplings)]}" if samplings[index % len(samplings)] else "") + "}\n"
                    for index in range(args.shots))
    (work / "board.yaml").write_text(text, encoding="utf-8")
    storyboard = load_storyboard(work / "board.yaml")
    gpus = "1x80GB" if args.tiny else args.gpus  # the CPU check plans as if for one GPU and computes on the CPU
    plan = make_plan(storyboard, gpus=gpus, backend=args.backend, models_dir=args.models_dir)
    models_dir = plan.models_dir
    steps = args.steps or (3 if args.tiny and not args.sampling else None)
    planned = {shot.shot_id: shot.estimated_seconds for shot in plan.shots}
    jobs = build_jobs(storyboard, plan, work / "out", models_dir, steps=steps)
    if args.tiny:  # the plan sizes shots for the real model; a tiny one renders them small
        jobs = [replace(job, request=tiny_request(job.request)) for job in jobs]
    rows, wall = [], 0.0
    idle_workers = IdleWorkers() if args.keep_worker else None
    for run in range(1, args.runs + 1):
        # A later run renders the same shots again, as a film-maker iterating does: its prompts'
        # embeddings are read from the film's text cache instead of loading the text encoder, and
        # with --keep-worker (render-shot --watch) the loaded worker of the run before renders them.
        began = time.monotonic()
        result = run_jobs(jobs, work / "out", models_dir, RunOptions(force=run > 1),
                          gpus=0 if args.tiny else len(plan.gpus), idle_workers=idle_workers)
        wall += time.monotonic() - began
        if result.failed:
            raise SystemExit(f"shots failed: {result.failed} (logs in {work / 'out' / 'logs'})")
        manifest = json.loads((work / "out" / "manifest.json").read_text())["shots"]
        for job in jobs:
            entry = manifest[job.id]
            windows = job.request.windows.count if job.request.windows else 1
            timings, steps_done = entry["timings"], job.request.steps * windows
            step = timings["other_steps_s"] / (steps_done - 1)
            shot = timings["seconds"] + timings.get("worker_start_s", 0.0) + timings.get("encode_s", 0.0)
            outside = shot - steps_done * step
            # QA runs in the shot's lane after the write, so it is inside the shot's seconds.
            qa_s = sum(attempt.get("seconds", 0.0) for attempt in (entry.get("qa") or {}).get("attempts", []))
            rows.append(dict(run=run, shot=job.id, backend=job.backend, size=f"{job.request.width}x{job.request.height}",
                             frames=job.request.frames, windows=windows, steps=steps_done,
                             guidance=job.request.settings.get("guidance"), shift=job.request.settings.get("shift"),
                             planned_s=planned[job.id], step_s=step, shot_s=shot,
                             outside_steps_s=outside, outside_share=outside / shot, qa_s=qa_s, qa_share=qa_s / shot,
                             peak_memory=entry.get("peak_memory"),
                             **{name: value for name, value in timings.items() if name.endswith("_s")}))
            print(json.dumps(rows[-1]), flush=True)
    if idle_workers is not None:
        idle_workers.close()
    outside = sum(row["outside_steps_s"] for row in rows)
    report = dict(wall_s=wall, rows=rows, batch_outside_steps_s=outside, batch_outside_share=outside / wall)
    device = "cpu" if args.tiny else ", ".join(gpu.name for gpu in plan.gpus) or "cpu"
    Results(__file__, args.out, argv, device=device,
            settings={"backend": args.backend, "size": size, "quality": args.quality, "window": args.window,
                      "seconds": args.seconds}).save(report)
    print(f"\n{'run':<4}{'shot':<6}{'frames':>7}{'steps':>6}{'guid':>5}{'s/step':>8}{'shot s':>9}{'planned':>9}"
          f"{'outside':>9}{'share':>7}{'start':>7}{'encode':>8}{'1st step':>9}{'decode+write':>13}{'qa':>7}")
    for row in rows:
        print(f"{row['run']:<4}{row['shot']:<6}{row['frames']:>7}{row['steps']:>6}{row['guidance'] or 0:>5g}"
              f"{row['step_s']:>8.2f}{row['shot_s']:>9.1f}{row['planned_s']:>9.1f}"
              f"{row['outside_steps_s']:>9.1f}{row['outside_share']:>7.1%}{row.get('worker_start_s', 0):>7.1f}"
              f"{row.get('encode_s', 0):>8.1f}{row['first_step_s']:>9.1f}{row['decode_write_s']:>13.1f}{row['qa_s']:>7.2f}")
    print(f"all {len(rows)} shots rendered: {wall:.1f} s wall, {outside:.1f} s outside the steps ({outside / wall:.1%})")
    return report


def tiny_request(request):
    """The request at 32x32, its windows (if any) of 9 frames."""
    if request.windows is None:
        return replace(request, width=32, height=32, frames=9)
    windows = replace(request.windows, frames=9)
    return replace(request, width=32, height=32, frames=windows.total_frames, windows=windows)


if __name__ == "__main__":
    main()
