"""Time the prompt stage: on-screen text extraction and full enhancement, per prompt.

Run: python -m benchmarks.bench_prompts   (uses the test corpus; no models, estimated token counts)
     python -m benchmarks.bench_prompts --long 40000,320000 [--cap 60]
         extraction of the long prompt shapes of tests/test_prompts_linear_time.py, at each size
         in characters; a call still running after --cap seconds is stopped and printed as such
Either takes --out FILE for the figures as JSON.
"""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path

from benchmarks.harness import Results, out_option
from render_pipeline.prompts import enhance_storyboard, find_onscreen_text
from render_pipeline.storyboard import load_storyboard
from tests.assets.prompt_corpus import LONG_PROMPTS, WITH_TEXT, WITHOUT_TEXT

ROUNDS = 50


def long_prompts(sizes: list[int], cap: int) -> dict[str, list[float | None]]:
    """Seconds per call for each shape at each size; None for a call stopped after ``cap`` seconds."""

    def stop(signum, frame):
        raise TimeoutError

    signal.signal(signal.SIGALRM, stop)
    print("shape".ljust(38) + "".join(f"{size:>12,}" for size in sizes))
    figures: dict[str, list[float | None]] = {}
    for name, make in LONG_PROMPTS.items():
        cells, seconds = [], []
        for size in sizes:
            text = make(size)
            signal.alarm(cap)
            start = time.perf_counter()
            try:
                find_onscreen_text(text)
                seconds.append(time.perf_counter() - start)
                cells.append(f"{seconds[-1]:11.2f}s")
            except TimeoutError:
                seconds.append(None)
                cells.append(f"{'>' + str(cap):>11}s")
            finally:
                signal.alarm(0)
        print(name.ljust(38) + "".join(cells))
        figures[name] = seconds
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", help="comma-separated prompt sizes in characters for the long shapes")
    parser.add_argument("--cap", type=int, default=60, help="seconds after which a call is stopped")
    out_option(parser)
    options = parser.parse_args(argv)
    if options.long:
        sizes = [int(size) for size in options.long.split(",")]
        figures = long_prompts(sizes, options.cap)
        Results(__file__, options.out, argv, settings={"sizes": sizes, "cap_s": options.cap}).save(
            {"seconds_per_call": figures})
        return
    prompts = [p for p, _, _ in WITH_TEXT] + WITHOUT_TEXT
    start = time.perf_counter()
    for _ in range(ROUNDS):
        for prompt in prompts:
            find_onscreen_text(prompt)
    per_prompt = (time.perf_counter() - start) / (ROUNDS * len(prompts))
    print(f"extraction: {per_prompt * 1e6:.0f} us per prompt ({len(prompts)} prompts x {ROUNDS})")

    storyboard = load_storyboard(Path(__file__).resolve().parents[1] / "storyboards" / "harbor-teaser.yaml")
    start = time.perf_counter()
    for _ in range(ROUNDS):
        results = enhance_storyboard(storyboard, "wan2.2-t2v-a14b")
    per_shot = (time.perf_counter() - start) / (ROUNDS * len(results))
    print(f"enhancement (wan2.2-t2v-a14b template, estimated tokens): {per_shot * 1e6:.0f} us per shot")
    Results(__file__, options.out, argv, settings={"prompts": len(prompts), "rounds": ROUNDS}).save(
        {"extraction_us_per_prompt": round(per_prompt * 1e6, 1), "enhancement_us_per_shot": round(per_shot * 1e6, 1)})


if __name__ == "__main__":
    main()
