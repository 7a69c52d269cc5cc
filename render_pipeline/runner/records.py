"""A run's records of its shots: the partial files, the logs, the manifest and the result.

Lanes finish shots at the same time: ``finished`` and ``failed`` record under the run's lock
(the one ``_Run`` holds), and nothing more once the run is stopping.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

from render_pipeline.output_folder.files import append_text, digest
from render_pipeline.qa.attempts import ShotAttempts
from render_pipeline.runner.jobs import Job, request_to_json
from render_pipeline.runner.lanes import Lane
from render_pipeline.runner.manifest import Manifest
from render_pipeline.runner.progress import PlainReporter
from render_pipeline.runner.results import RunResult


class ShotRecords:
    def __init__(self, out_dir: Path, manifest: Manifest, result: RunResult, reporter: PlainReporter,
                 qa: dict[str, ShotAttempts], lock: AbstractContextManager, stopping: threading.Event,
                 may_finish: Callable[[Job], bool]):
        self.out_dir = out_dir
        self.manifest = manifest
        self.result = result
        self.reporter = reporter
        self.qa = qa
        self.lock = lock
        self.stopping = stopping
        self.may_finish = may_finish

    def partial(self, job: Job) -> Path:
        return job.output.with_name(f".{job.output.name}.part")

    def log(self, job: Job) -> Path:
        return self.out_dir / "logs" / f"{job.id}.log"

    def write_log(self, job: Job, text: str) -> None:
        append_text(self.log(job), f"[{datetime.now(UTC).isoformat(timespec='seconds')}] {text}\n")

    def changed(self, job: Job, why: str) -> None:
        self.write_log(job, why)
        self.reporter.warn(f"{job.id}: {why}")

    # Records (under the lock: lanes finish shots at the same time) --------------------------

    def record(self, lane: Lane, job: Job, **fields) -> None:
        request = request_to_json(job.request)
        self.manifest.record(
            job.id, key=job.key, backend=job.backend, seed=job.request.seed,
            settings={name: request[name] for name in ("width", "height", "fps", "frames", "steps", "quality")}
            | {"fast": request["settings"].get("fast", []), "memory": job.layout.to_json(), "prompt": request["prompt"],
               "negative_prompt": request["negative_prompt"], "windows": request["windows"]},
            output=str(job.output.relative_to(self.out_dir)), log=str(self.log(job).relative_to(self.out_dir)),
            **lane.describe(), **fields,
        )

    def finished(self, lane: Lane, job: Job, partial: Path, seconds: float, peak_memory: dict | None) -> None:
        with self.lock:
            if self.stopping.is_set():
                return
            if not self.may_finish(job):
                # Another task took this shot over as stale: the output it puts in place is the one kept.
                partial.unlink(missing_ok=True)
                error = "another task took this shot over; its output is kept"
                self.write_log(job, error)
                self.result.failed[job.id] = error
                self.reporter.shot_finished(job, seconds, error)
                return
            sha256 = digest(partial)
            os.replace(partial, job.output)
            self.write_log(job, f"done in {seconds:.2f} s")
            qa = self.qa.get(job.id)
            self.record(lane, job, status="done", error=None, attempts=job.attempts + 1, peak_memory=peak_memory,
                        sha256=sha256, qa=qa.to_json() if qa is not None else None,
                        timings={"seconds": round(seconds, 3),
                                 **{name: round(value, 3) for name, value in lane.phases.items()},
                                 "finished_at": datetime.now(UTC).isoformat(timespec="seconds")})
            lane.phases = {}
            self.result.rendered.append(job.id)
            self.reporter.shot_finished(job, seconds, None)

    def failed(self, lane: Lane, job: Job, error: str, seconds: float) -> None:
        with self.lock:
            if self.stopping.is_set():
                return
            self.write_log(job, f"FAILED after {job.attempts} attempt(s): {error}")
            self.record(lane, job, status="failed", error=error, attempts=job.attempts, errors=job.errors,
                        timings={"seconds": round(seconds, 3)})
            self.result.failed[job.id] = error
            self.reporter.shot_finished(job, seconds, f"{error} (log: {self.log(job)})")
