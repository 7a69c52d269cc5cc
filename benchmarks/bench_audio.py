"""Time narration for a 50-shot film (the target: under 30 s on two CPU cores), then a cached rerun.

Usage: python scripts/bench_audio.py [--engine piper|espeak] [--shots 50]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from render_pipeline.audio import render_audio
from render_pipeline.storyboard import load_storyboard

LINES = (
    "At first light, the fleet comes home after six months at sea.",
    "Families wait on the quay. Somewhere a band is tuning up.",
    "The harbour pilot climbs aboard and takes the ship in.",
    "Lines are thrown, caught and made fast. The engines fall quiet.",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="piper")
    parser.add_argument("--shots", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as scratch:
        folder = Path(scratch)
        shots = "".join(f'  - {{id: s{n:03d}, duration: 8, prompt: harbor, narration: "{LINES[n % len(LINES)]} Shot {n}."}}\n'
                        for n in range(args.shots))
        (folder / "film.yaml").write_text(f"version: 1\ntitle: Bench\nvoice: {{engine: {args.engine}}}\n"
                                          f"defaults: {{backend: animatic}}\nshots:\n{shots}", encoding="utf-8")
        board = load_storyboard(folder / "film.yaml")
        started, cpu_before = time.perf_counter(), cpu_seconds()
        result = render_audio(board, folder / "out")
        first, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
        spoken = sum(clip.duration for clip in result.narration.values())
        started = time.perf_counter()
        again = render_audio(board, folder / "out")
        rerun = time.perf_counter() - started
    print(f"{result.messages[0]}")
    print(f"{args.shots} shots, {spoken:.1f} s of speech: {first:.1f} s ({spoken / first:.0f}x real time); "
          f"cached rerun {rerun:.2f} s, {len(again.synthesized)} synthesised")
    # On a shared machine the wall time includes waiting for a core; CPU time does not, and on
    # two idle cores the wall time is at most this (piper's onnxruntime spreads over both).
    print(f"CPU time, this process and its children (piper, espeak, ffmpeg): {cpu:.1f} s")


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
