"""Time the prompt stage: on-screen text extraction and full enhancement, per prompt.

Run: python scripts/bench_prompts.py   (uses the test corpus; no models, estimated token counts)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from render_pipeline.prompts import enhance_storyboard, find_onscreen_text  # noqa: E402
from render_pipeline.storyboard import load_storyboard  # noqa: E402
from tests.test_prompts_corpus import WITH_TEXT, WITHOUT_TEXT  # noqa: E402

ROUNDS = 50


def main() -> None:
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
