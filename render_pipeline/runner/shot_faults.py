"""How a run stops and a shot fails: the exceptions, a worker's events read, the output's frames checked.

SIGTERM (a scheduler or `kill`) stops a run exactly like Ctrl-C does (``signals_as_interrupt``).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import FfmpegError, count_frames
from render_pipeline.runner.jobs import Job


class RunInterrupted(UserError):
    """Ctrl-C or SIGTERM: the run stopped cleanly and the next one resumes."""


class ShotFailed(Exception):
    def __init__(self, kind: str, message: str, restart: bool = False):
        super().__init__(message)
        self.kind = kind  # "oom", "error", "bad output", "lost"
        self.restart = restart  # the worker stopped after reporting it (a multi-GPU group always does)


def failure(event: dict) -> Exception:
    """What a worker's "failed" event raises: a fault of the disk, which every shot would meet, stops the run."""
    if event["kind"] == "disk":
        return UserError(event["message"])
    return ShotFailed(event["kind"], event["message"], event.get("restart", False))


def expect(event: dict, wanted: str) -> None:
    if event.get("event") == "failed":
        raise failure(event)
    if event.get("event") != wanted:
        raise ShotFailed("error", f"the worker said {event!r} instead of {wanted!r}")


def check_frames(job: Job, path: Path) -> None:
    try:
        frames = count_frames(path)
    except FfmpegError:
        raise ShotFailed("bad output", f"the output of shot {job.id} is not a readable video") from None
    if frames != job.request.frames:
        raise ShotFailed("bad output", f"the output of shot {job.id} has {frames} frames, expected "
                                       f"{job.request.frames}")


@contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler or `kill`) stops the run exactly like Ctrl-C does."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
