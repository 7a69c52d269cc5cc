"""render-shot --watch: each save of the storyboard renders the shot again, through the one worker started."""

import os
import queue
import threading

import pytest

from render_pipeline.film.watch import watch_shot
from render_pipeline.runner import lanes as lanes_module
from render_pipeline.storyboard import StoryboardError
from tests.test_runner_faults import write_storyboard


def save(board, text: str) -> None:
    """Write the storyboard with a modification time later than the last one, as an editor's save is."""
    before = board.stat().st_mtime_ns
    board.write_text(text)
    os.utime(board, ns=(before + 10**9, before + 10**9))


@pytest.fixture
def started(monkeypatch) -> list:
    workers = []

    class CountedWorker(lanes_module.WorkerProcess):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            workers.append(self)

    monkeypatch.setattr(lanes_module, "WorkerProcess", CountedWorker)
    return workers


def test_each_save_renders_the_shot_again_with_the_worker_kept_loaded(tmp_path, started):
    board, out = write_storyboard(tmp_path, shots=2), tmp_path / "out"
    text = board.read_text()
    edited = text.replace("a harbor at dawn 2", "a lighthouse at night")
    saves = [  # what the user saves after each render: the watch runs in the main thread (signals)
        edited,                                    # the shot's prompt changed
        edited.replace("dawn 1", "dusk 1"),        # only the other shot changed
        text.replace("shots:", "shots: [", 1),     # a save mid-edit: not YAML
        text,                                      # back to the first prompt
    ]
    events: queue.Queue = queue.Queue()
    seen = []
    stop = threading.Event()

    def user() -> None:
        try:
            for text_to_save in [*saves, None]:
                seen.append(events.get(timeout=60))
                if text_to_save is not None:
                    save(board, text_to_save)
        finally:
            stop.set()

    editing = threading.Thread(target=user, daemon=True)
    editing.start()
    watch_shot(board, "s02", on_result=lambda result: events.put(result), on_error=lambda error: events.put(error),
               stop=stop, poll_seconds=0.05, out_dir=out, quiet=True)
    editing.join(timeout=5)

    first, after_edit, after_other_edit, mid_edit, reverted = seen
    assert first.rendered == ["s02"] and after_edit.rendered == ["s02"]
    assert after_other_edit.rendered == [] and after_other_edit.cached == ["s02"]
    assert isinstance(mid_edit, StoryboardError) and str(mid_edit).startswith(f"{board}:")
    assert reverted.rendered == ["s02"]
    assert len(started) == 1  # one worker for the three renders
    assert started[0].process.poll() is not None  # closed when the watch ended
    assert (out / "shots" / "s02.mp4").is_file() and not (out / "shots" / "s01.mp4").exists()
