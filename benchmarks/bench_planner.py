"""Time `make_plan` for a 50-shot storyboard on a what-if machine; prints seconds and whether torch got imported.

Run: python -m benchmarks.bench_planner [--out planner.json]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Results, out_option
from render_pipeline.planner import make_plan
from render_pipeline.storyboard import load_storyboard


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    out_option(parser)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fifty.yaml"
        shots = [f"  - {{id: s{i:02d}, duration: {3 + i % 4}, prompt: 'shot {i}'}}" for i in range(50)]
        path.write_text("version: 1\ntitle: Fifty\ndelivery: {size: 1280x720, fps: 24, loudness_lufs: -16}\n"
                        "defaults: {backend: wan2.2-t2v-a14b}\nshots:\n" + "\n".join(shots) + "\n")
        storyboard = load_storyboard(path)
        for gpus in ("1x24GB", "2xA6000", "8xH200"):
            start = time.perf_counter()
            plan = make_plan(storyboard, gpus=gpus, host_ram="64GB")
            seconds = time.perf_counter() - start
            candidates = len(plan.backends[0].candidates)
            print(f"{gpus}: planned in {seconds:.3f} s, {candidates} candidates, "
                  f"film {plan.total_seconds / 3600:.1f} h")
            rows.append({"gpus": gpus, "seconds": round(seconds, 4), "candidates": candidates,
                         "film_hours": round(plan.total_seconds / 3600, 2)})
    imported = "torch" in sys.modules
    print("torch imported:", imported)
    Results(__file__, args.out, argv, settings={"shots": 50, "host_ram": "64GB"}).save(
        {"plans": rows, "torch_imported": imported})


if __name__ == "__main__":
    main()
