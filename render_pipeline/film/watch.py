"""render-shot --watch: render one shot again each time its storyboard is saved, the model kept loaded.

Iterating on a shot means many renders of it in a row. Run one by one, each would start a
worker and load the model again (for Wan A14B, minutes of weights before the first step); here
the worker of the last render waits, loaded, for the next one (runner.worker_process.IdleWorkers).
A save that leaves the shot as it was renders nothing (the cache key is the same), and a
storyboard that does not validate is reported and waited on, as a user mid-edit expects.
The output folder is held from the first render to the end of the watch (output_folder/claim.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from render_pipeline.errors import UserError
from render_pipeline.film.render import render_shot
from render_pipeline.media.ffmpeg import FfmpegError
from render_pipeline.output_folder.claim import hold_output_folder
from render_pipeline.runner.results import RunResult
from render_pipeline.runner.shot_faults import RunInterrupted
from render_pipeline.runner.worker_process import IdleWorkers


def watch_shot(path: Path, shot_id: str, *, on_result: Callable[[RunResult], None],
               on_error: Callable[[Exception], None], stop: threading.Event | None = None, poll_seconds: float = 0.5,
               **options) -> None:
    """Render ``shot_id`` now and after every save of ``path`` until ``stop`` is set or Ctrl-C.

    ``options`` are render_shot's (backend, quality, seed, steps, out_dir, ...). A problem with
    the storyboard or a failed render goes to ``on_error`` and the watch goes on.
    """
    from render_pipeline.storyboard import StoryboardError, load_storyboard

    stop = stop or threading.Event()
    workers = IdleWorkers()
    seen = None
    with ExitStack() as holding:  # the output folder, from the first render to the end of the watch
        held = False
        try:
            while not stop.is_set():
                stamp = _stamp(path)
                if stamp is not None and stamp != seen:
                    seen = stamp
                    try:
                        storyboard = load_storyboard(path)
                        if not held:
                            holding.enter_context(hold_output_folder(options.get("out_dir"), storyboard))
                            held = True
                        on_result(render_shot(storyboard, shot_id, idle_workers=workers, **options))
                    except RunInterrupted:
                        raise  # Ctrl-C during a render: it is recorded as interrupted, and the watch ends
                    except (StoryboardError, UserError, FfmpegError) as error:
                        on_error(error)
                stop.wait(poll_seconds)
        except KeyboardInterrupt:
            pass  # Ctrl-C between renders is how a watch ends
        finally:
            workers.close()  # before the folder is let go


def _stamp(path: Path) -> tuple[int, int] | None:
    """When and how big the file was last saved; None while an editor is replacing it."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
