"""A runner worker that says which shot layout it read back, for tests/test_shot_layout.py.

Every worker appends the layout it opened its session with (its type's name and its JSON) to the
file LAYOUT_ECHO names. The shots LAYOUT_OOM lists run out of memory until their layout offloads
in groups. Every backend name opens the animatic, so the runner's GPU paths run on a CPU.
"""

import json
import os
import sys

import render_pipeline.runner.worker as worker
from render_pipeline.backends.animatic import AnimaticSession


class EchoSession(AnimaticSession):
    def __init__(self, layout):
        super().__init__()
        self.layout = layout
        with open(os.environ["LAYOUT_ECHO"], "a") as file:
            file.write(json.dumps([type(layout).__name__, layout.to_json()]) + "\n")

    def render(self, request, out_path, progress):
        if request.shot_id in os.environ.get("LAYOUT_OOM", "").split(",") and not self.layout.memory.group_offload:
            raise MemoryError("CUDA out of memory (simulated)")
        super().render(request, out_path, progress)


worker.open_session = lambda backend, layout, models_dir: EchoSession(layout)
sys.exit(worker.main())
