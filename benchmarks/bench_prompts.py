"""Time the prompt stage: on-screen text extraction and full enhancement, per prompt.

Run: python scripts/bench_prompts.py   (uses the test corpus; no models, estimated token counts)
     python scripts/bench_prompts.py --long 40000,320000 [--cap 60]
         extraction of the long prompt shapes of tests/test_prompts_linear_time.py, at each size
         in characters; a call still running after --cap seconds is stopped and printed as such
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from render_pipeline.prompts import enhance_storyboard, find_onscreen_text  # noqa: E402
from render_pipeline.storyboard import load_storyboard  # noqa: E402
from tests.test_prompts_corpus import WITH_TEXT, WITHOUT_TEXT  # noqa: E402

ROUNDS = 50


def long_prompts(sizes: list[int], cap: int) -> None:
    from tests.test_prompts_linear_time import CASES

    def stop(signum, frame):
        raise TimeoutError

    signal.signal(signal.SIGALRM, stop)
    print("shape".ljust(38) + "".join(f"{size:>12,}" for size in sizes))
    for name, make in CASES.items():
        cells = []
        for size in sizes:
            text = make(size)
            signal.alarm(cap)
            start = time.perf_counter()
            try:
                find_onscreen_text(text)
                cells.append(f"{time.perf_counter() - start:11.2f}s")
            except TimeoutError:
                cells.append(f"{'>' + str(cap):>11}s")
            finally:
                signal.alarm(0)
        print(name.ljust(38) + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--long", help="comma-separated prompt sizes in characters for the long shapes")
    parser.add_argument("--cap", type=int, default=60, help="seconds after which a call is stopped")
    options = parser.parse_args()
    if options.long:
        long_prompts([int(size) for size in options.long.split(",")], options.cap)
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


if __name__ == "__main__":
    main()
