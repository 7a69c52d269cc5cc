"""A runner worker that, once, kills the cluster task running it mid-shot (tests/test_cluster_executors.py).

CLUSTER_KILL_SHOT names the shot; a marker file in CLUSTER_KILL_MARKS makes it happen only once.
The worker's parent is the process of the Ray task (the local runner inside it): killing it is
what a lost cluster worker looks like to Ray.
"""

import os
import signal
import sys
from pathlib import Path

import render_pipeline.runner.worker as worker
from render_pipeline.backends.animatic import AnimaticSession

SHOT = os.environ["CLUSTER_KILL_SHOT"]
MARK = Path(os.environ["CLUSTER_KILL_MARKS"]) / f"{SHOT}.killed"


class KillingSession(AnimaticSession):
    def render(self, request, out_path, progress):
        if request.shot_id == SHOT and not MARK.exists():
            MARK.touch()
            progress(1, request.frames)
            os.kill(os.getppid(), signal.SIGKILL)
            os._exit(9)
        super().render(request, out_path, progress)


worker.open_session = lambda backend, layout, models_dir: KillingSession()
sys.exit(worker.main())
