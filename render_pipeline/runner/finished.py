"""Whether a shot job is already finished: the manifest says so, and the file is the one it recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from render_pipeline.media.ffmpeg import FfmpegError, count_frames
from render_pipeline.output_folder.files import digest
from render_pipeline.runner.jobs import Job
from render_pipeline.runner.manifest import Manifest


def output_stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def is_finished(job: Job, manifest: Manifest, changed: Callable[[Job, str], None] = lambda job, why: None) -> bool:
    """Finished when the manifest says so with the same key and the file holds the bytes it recorded.

    The manifest keeps the SHA-256 of each shot as it was checked and renamed: a file whose
    bytes differ (truncated, replaced, corrupted in place even at the same size and time) is
    rendered again, and ``changed`` is told why. An entry from before digests were kept
    trusts the recorded size and modification time, else counts the frames.
    """
    entry = manifest.shots.get(job.id) or {}
    if entry.get("status") != "done" or entry.get("key") != job.key or not job.output.is_file():
        return False
    if "sha256" in entry:
        if digest(job.output) == entry["sha256"]:
            return True
        changed(job, f"{job.output} is not the file that was rendered (its SHA-256 differs from the manifest's); "
                     f"rendering it again")
        return False
    if entry.get("output_stamp") == output_stamp(job.output):
        return True
    try:
        return count_frames(job.output) == job.request.frames
    except FfmpegError:
        return False
