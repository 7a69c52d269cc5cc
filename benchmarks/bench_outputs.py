"""Benchmark: what the output folder costs: memory and disk at each delivery size, and checking shots by digest.

Run: python -m benchmarks.bench_outputs [--sizes 640x360,1920x1080,3840x2160,7680x4320] [--shots 2,6] [--out o.json]
     python -m benchmarks.bench_outputs --digest-only

For each delivery size and shot count, renders an animatic film (1 s shots, dissolves, one
overlay) through the CLI and prints the peak resident memory of the largest process of the
shot stage and of the assembly (each measured in a fresh parent: ru_maxrss of its children),
the bytes per pixel-frame of the shots and of final.mp4. Then the SHA-256 throughput the
runner's reuse check runs at, and what it costs on a 5-minute film's shots.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Results, out_option

FPS = 24
MEASURE = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024); sys.exit(code)")


def board(folder: Path, size: str, shots: int) -> Path:
    lines = ["version: 1", "title: Outputs Bench", f"delivery: {{size: {size}, fps: {FPS}}}",
             "defaults: {backend: animatic}", "shots:"]
    for number in range(1, shots + 1):
        lines.append(f"  - id: s{number:02d}")
        lines.append("    duration: 1")
        lines.append(f"    prompt: \"a harbor at dawn, shot {number}\"")
        if number == 1:
            lines.append("    overlays: [{text: \"Harbor\", style: title, start: 0.2, end: 0.8}]")
        if number < shots:
            lines.append("    transition: {type: dissolve, duration: 0.5}")
    path = folder / f"board-{size}-{shots}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def peak(command: list[str]) -> tuple[int, float]:
    began = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return int(result.stdout.strip().splitlines()[-1]), time.perf_counter() - began


def delivery(folder: Path, size: str, shots: int) -> dict:
    path, out = board(folder, size, shots), folder / f"out-{size}-{shots}"
    cli = [sys.executable, "-m", "render_pipeline.cli"]
    shot_peak, shot_seconds = peak([*cli, "render-all", str(path), "--out", str(out), "--no-assemble", "--quiet"])
    film_peak, film_seconds = peak([*cli, "assemble", str(path), "--out", str(out)])
    width, height = map(int, size.split("x"))
    pixel_frames = shots * FPS * width * height
    shot_bytes = sum(p.stat().st_size for p in (out / "shots").glob("*.mp4"))
    film_bytes = (out / "final.mp4").stat().st_size
    film_pixel_frames = round((shots - (shots - 1) * 0.5) * FPS) * width * height
    return {"size": size, "shots": shots, "shot_stage_peak_bytes": shot_peak, "shot_stage_seconds": round(shot_seconds, 1),
            "assembly_peak_bytes": film_peak, "assembly_seconds": round(film_seconds, 1),
            "shot_bytes_per_pixel_frame": round(shot_bytes / pixel_frames, 5),
            "film_bytes_per_pixel_frame": round(film_bytes / film_pixel_frames, 5)}


def digest_cost(folder: Path) -> dict:
    """SHA-256 of 512 MiB read back from the page cache, as the runner hashes a shot it is about to reuse."""
    path = folder / "blob"
    with open(path, "wb") as file:
        for _ in range(512):
            file.write(os.urandom(1 << 20))
    began = time.perf_counter()
    with open(path, "rb") as file:
        hashlib.file_digest(file, "sha256")
    seconds = time.perf_counter() - began
    rate = 512 * 2**20 / seconds
    five_minutes = 5 * 60 * 24 * 1280 * 720  # pixel-frames of a 5-minute film at 1280x720, 24 fps
    return {"sha256_mib_per_s": round(rate / 2**20), "five_minute_film_seconds": {
        f"{bpp} bytes/pixel-frame ({five_minutes * bpp / 1e6:.0f} MB)": round(five_minutes * bpp / rate, 2)
        for bpp in (0.02, 0.1)}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x360,1920x1080,3840x2160,7680x4320")
    parser.add_argument("--shots", default="2,6")
    parser.add_argument("--digest-only", action="store_true")
    out_option(parser)
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs", flush=True)
    record = Results(__file__, args.out, argv)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        figures: dict = {"digest": digest_cost(folder), "deliveries": []}
        print(json.dumps(figures["digest"]), flush=True)
        record.save(figures)
        if args.digest_only:
            return
        for size in args.sizes.split(","):
            for shots in map(int, args.shots.split(",")):
                figures["deliveries"].append(delivery(folder, size, shots))
                print(json.dumps(figures["deliveries"][-1]), flush=True)
                record.save(figures)


if __name__ == "__main__":
    main()
