"""A runner worker that misbehaves on purpose, for tests/test_runner_faults.py.

RUNNER_FAULTS maps shot ids to a fault: "crash" (the process dies mid-shot), "hang" (it
stops reporting), "oom" (out of memory until the memory layout tiles the VAE),
"oom-offload" (until it offloads in groups), "short" (writes two frames too few), "always"
(every attempt raises). Each fault except the two "oom" and "always" happens once, remembered by a marker file in RUNNER_FAULT_MARKS.
Every backend name opens the animatic, so the runner's GPU paths run on a CPU.
"""

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import render_pipeline.runner.worker as worker
from render_pipeline.backends.animatic import AnimaticSession
from render_pipeline.shot_layout import ShotLayout

FAULTS = json.loads(os.environ.get("RUNNER_FAULTS", "{}"))
MARKS = Path(os.environ.get("RUNNER_FAULT_MARKS", "."))


class FaultySession(AnimaticSession):
    def __init__(self, layout: ShotLayout):
        super().__init__()
        self.layout = layout

    def render(self, request, out_path, progress):
        fault = FAULTS.get(request.shot_id)
        if fault == "always":
            raise RuntimeError("simulated failure")
        if (fault == "oom" and not self.layout.memory.vae_tiling
                or fault == "oom-offload" and not self.layout.memory.group_offload):
            raise MemoryError("CUDA out of memory (simulated)")
        mark = MARKS / f"{request.shot_id}.{fault}"
        if fault in ("crash", "hang", "short") and not mark.exists():
            mark.touch()
            progress(1, request.frames)
            if fault == "crash":
                os._exit(3)
            if fault == "hang":
                time.sleep(60)
            request = replace(request, frames=request.frames - 2)
        super().render(request, out_path, progress)


worker.open_session = lambda backend, layout, models_dir: FaultySession(layout)
sys.exit(worker.main())
