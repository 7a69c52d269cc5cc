"""Time narration for a 50-shot film (the target: under 30 s on two CPU cores), then a cached rerun.

Usage: python -m benchmarks.bench_audio [--engine piper|espeak] [--shots 50] [--out audio.json]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.harness import Results, out_option, timed
from render_pipeline.audio import render_audio
from render_pipeline.storyboard import load_storyboard

LINES = (
    "At first light, the fleet comes home after six months at sea.",
    "Families wait on the quay. Somewhere a band is tuning up.",
    "The harbour pilot climbs aboard and takes the ship in.",
    "Lines are thrown, caught and made fast. The engines fall quiet.",
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="piper")
    parser.add_argument("--shots", type=int, default=50)
    out_option(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as scratch:
        folder = Path(scratch)
        shots = "".join(f'  - {{id: s{n:03d}, duration: 8, prompt: harbor, narration: "{LINES[n % len(LINES)]} Shot {n}."}}\n'
                        for n in range(args.shots))
        (folder / "film.yaml").write_text(f"version: 1\ntitle: Bench\nvoice: {{engine: {args.engine}}}\n"
                                          f"defaults: {{backend: animatic}}\nshots:\n{shots}", encoding="utf-8")
        board = load_storyboard(folder / "film.yaml")
        with timed() as first_run:
            result = render_audio(board, folder / "out")
        first, cpu = first_run.wall_s, first_run.cpu_s
        spoken = sum(clip.duration for clip in result.narration.values())
        with timed() as second_run:
            again = render_audio(board, folder / "out")
        rerun = second_run.wall_s
    print(f"{result.messages[0]}")
    print(f"{args.shots} shots, {spoken:.1f} s of speech: {first:.1f} s ({spoken / first:.0f}x real time); "
          f"cached rerun {rerun:.2f} s, {len(again.synthesized)} synthesised")
    # On a shared machine the wall time includes waiting for a core; CPU time does not, and on
    # two idle cores the wall time is at most this (piper's onnxruntime spreads over both).
    print(f"CPU time, this process and its children (piper, espeak, ffmpeg): {cpu:.1f} s")
    Results(__file__, args.out, argv, settings={"engine": args.engine, "shots": args.shots}).save(
        {"speech_s": round(spoken, 1), "first_s": round(first, 2), "cpu_s": round(cpu, 2),
         "real_time": round(spoken / first, 1), "cached_rerun_s": round(rerun, 3),
         "rerun_synthesised": len(again.synthesized), "engine_line": result.messages[0]})


if __name__ == "__main__":
    main()
