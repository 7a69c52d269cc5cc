"""Time `render-pipeline validate` on a generated 500-shot storyboard and `render-pipeline --help`.

Targets (issue 2): validate < 2 s, --help < 0.5 s, both as wall time of a fresh process.
Usage: python -m benchmarks.bench_validate [--shots 500] [--runs 5] [--out validate.json]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Results, out_option

VALIDATE_TARGET_S = 2.0
HELP_TARGET_S = 0.5


def generated_storyboard(shots: int) -> str:
    lines = [
        "version: 1",
        "title: Benchmark Film",
        "delivery: {size: 1920x1080, fps: 25, loudness_lufs: -16}",
        "defaults:",
        "  duration: 5",
        "  style: cinematic documentary, natural light",
        "  negative_prompt: blurry, distorted, watermark",
        "  camera: {lens_mm: 35}",
        "music:",
    ]
    for start in range(0, shots, 50):
        lines += [f"  - cue: cue-{start // 50}", f"    prompt: strings and brass, {70 + start % 40} bpm",
                  f"    from: s{start:04d}", f"    to: s{min(start + 49, shots - 1):04d}", "    volume_db: -18"]
    lines.append("shots:")
    for index in range(shots):
        lines += [
            f"  - id: s{index:04d}",
            f"    scene: {index // 10 + 1}",
            f"    duration: {4 + index % 4}",
            f'    prompt: "Shot {index}: a grey ship passing the harbor wall at dawn, gulls overhead, spray on the bow"',
            "    camera: {size: wide, angle: eye level, movement: slow push in}",
            "    overlays:",
            f'      - {{text: "Pier {index}", style: lower_third, start: 0.5, end: 3.5}}',
            f'    narration: "The ship number {index} turns toward the open sea."',
        ]
        if index % 10 == 9 and index < shots - 1:
            lines.append("    transition: {type: dissolve, duration: 1.0}")
    return "\n".join(lines) + "\n"


def timings(command: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system) of each run; on a busy machine the CPU figure is steadier."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    out_option(parser)
    args = parser.parse_args(argv)
    cli = shutil.which("render-pipeline") or sys.exit("render-pipeline is not on PATH: activate the venv first")
    with tempfile.TemporaryDirectory() as folder:
        storyboard = Path(folder) / "bench.yaml"
        storyboard.write_text(generated_storyboard(args.shots), encoding="utf-8")
        validate = timings([cli, "validate", str(storyboard)], args.runs)
    help_times = timings([cli, "--help"], args.runs)
    ok, rows = True, []
    for name, (walls, cpus), target in ((f"validate ({args.shots} shots)", validate, VALIDATE_TARGET_S),
                                        ("--help", help_times, HELP_TARGET_S)):
        median = statistics.median(walls)
        ok &= median < target
        print(f"{name:24s} wall median {median:.3f} s (min {min(walls):.3f}, max {max(walls):.3f})  "
              f"cpu median {statistics.median(cpus):.3f} s  target < {target} s: {'ok' if median < target else 'TOO SLOW'}")
        rows.append({"command": name, "target_s": target, "wall_median_s": round(median, 3),
                     "wall_s": [round(wall, 3) for wall in walls], "cpu_median_s": round(statistics.median(cpus), 3)})
    Results(__file__, args.out, argv, settings={"shots": args.shots, "runs": args.runs}).save(rows)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
