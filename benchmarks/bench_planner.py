"""Time `make_plan` for a 50-shot storyboard on a what-if machine; prints seconds and whether torch got imported."""

import sys
import tempfile
import time
from pathlib import Path

from render_pipeline.planner import make_plan
from render_pipeline.storyboard import load_storyboard

with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "fifty.yaml"
    shots = [f"  - {{id: s{i:02d}, duration: {3 + i % 4}, prompt: 'shot {i}'}}" for i in range(50)]
    path.write_text("version: 1\ntitle: Fifty\ndelivery: {size: 1280x720, fps: 24, loudness_lufs: -16}\n"
                    "defaults: {backend: wan2.2-t2v-a14b}\nshots:\n" + "\n".join(shots) + "\n")
    storyboard = load_storyboard(path)
    for gpus in ("1x24GB", "2xA6000", "8xH200"):
        start = time.perf_counter()
        plan = make_plan(storyboard, gpus=gpus, host_ram="64GB")
        print(f"{gpus}: planned in {time.perf_counter() - start:.3f} s, "
              f"{len(plan.backends[0].candidates)} candidates, film {plan.total_seconds / 3600:.1f} h")
print("torch imported:", "torch" in sys.modules)
