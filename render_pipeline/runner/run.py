"""render_all / render_shot: run the plan's jobs with caching, retries, a watchdog and a manifest.

Order of work, as the plan intends: footage shots are conformed first (no model needed);
then, for each backend, one worker process loads the model once, encodes every prompt it
will render, and renders its shots one after another. A worker is only restarted after it
crashed, hung, or ran out of memory (then with the next rung of the memory ladder).

Nothing finished is ever lost: a shot is rendered to ``shots/.<id>.mp4.part``, its frame
count is checked, and only then is it renamed to ``shots/<id>.mp4`` and recorded in
manifest.json, which is itself replaced atomically. A later run skips every shot whose
file is valid and whose key matches, so a killed or interrupted run simply resumes.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import FfmpegError, count_frames, run_ffmpeg
from render_pipeline.runner.jobs import FOOTAGE, Job, build_jobs, last_frame_path, request_to_json
from render_pipeline.runner.manifest import Manifest
from render_pipeline.runner.memory_ladder import next_memory_rung
from render_pipeline.runner.preflight import check_output_folder, needed_bytes
from render_pipeline.runner.progress import PlainReporter, make_reporter
from render_pipeline.runner.worker_process import WORKER_COMMAND, WorkerLost, WorkerProcess
from render_pipeline.storyboard import Storyboard


class RunInterrupted(UserError):
    """Ctrl-C or SIGTERM: the run stopped cleanly and the next one resumes."""


class ShotFailed(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind  # "oom", "error", "bad output", "lost"


@dataclass(frozen=True)
class RunOptions:
    force: bool = False  # re-render every shot, even those already finished
    max_attempts: int = 3  # per shot
    stall_seconds: float = 900.0  # a worker silent this long while rendering is killed
    load_seconds: float = 1800.0  # loading weights and encoding prompts report no steps
    worker_command: tuple[str, ...] = WORKER_COMMAND  # how to start a worker (tests wrap it to inject faults)


@dataclass
class RunResult:
    out_dir: Path
    rendered: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    fallback_reason: str | None = None
    assembly: object | None = None  # post's AssemblyResult when render_all assembled the film


def default_out_dir(storyboard: Storyboard) -> Path:
    return Path("outputs") / storyboard.slug


def render_all(storyboard: Storyboard, out_dir: Path | None = None, *, gpus: str = "auto",
               backend: str | None = None, models_dir: Path | None = None, assemble: bool = True,
               quiet: bool = False, options: RunOptions = RunOptions(),
               reporter: PlainReporter | None = None) -> RunResult:
    """Render every shot of the plan that is not already finished, then assemble the film."""
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(storyboard)
    reporter = reporter or make_reporter(quiet)
    plan, models_dir = _plan(storyboard, gpus, backend, models_dir)
    jobs = build_jobs(storyboard, plan, out_dir, models_dir)
    result = run_jobs(jobs, out_dir, models_dir, options, reporter, plan.fallback_reason)
    if assemble:
        if result.failed:
            reporter.warn(f"not assembling: {len(result.failed)} shot(s) failed (see {out_dir / 'logs'})")
        else:
            from render_pipeline.post import assemble as assemble_film

            result.assembly = assemble_film(storyboard, out_dir)
    return result


def render_shot(storyboard: Storyboard, shot_id: str, out_dir: Path | None = None, *, backend: str | None = None,
                quality: str | None = None, seed: int | None = None, steps: int | None = None,
                gpus: str = "auto", models_dir: Path | None = None, quiet: bool = False,
                options: RunOptions = RunOptions(), reporter: PlainReporter | None = None) -> RunResult:
    """Render one shot (skipped if already finished with these settings); other shots are untouched."""
    try:
        storyboard.shot(shot_id)
    except KeyError as error:
        raise UserError(error.args[0]) from None
    if quality is not None:
        storyboard = replace(storyboard, shots=[replace(s, quality=quality) for s in storyboard.shots])
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(storyboard)
    plan, models_dir = _plan(storyboard, gpus, backend, models_dir)
    jobs = build_jobs(storyboard, plan, out_dir, models_dir, seed=seed, steps=steps)
    job = next(j for j in jobs if j.id == shot_id)
    if job.continues is not None and not job.continues.output.is_file():
        raise UserError(f"shot {shot_id} continues from {job.continues.id}, which is not rendered yet: "
                        f"render {job.continues.id} first (or use render-all)")
    return run_jobs([job], out_dir, models_dir, options, reporter or make_reporter(quiet), plan.fallback_reason)


def run_jobs(jobs: list[Job], out_dir: Path, models_dir: Path, options: RunOptions = RunOptions(),
             reporter: PlainReporter | None = None, fallback_reason: str | None = None) -> RunResult:
    """Render ``jobs`` (from build_jobs) into ``out_dir``, skipping those already finished."""
    return _Run(out_dir, models_dir, options, reporter or make_reporter(quiet=True)).run(jobs, fallback_reason)


def _plan(storyboard: Storyboard, gpus: str, backend: str | None, models_dir: Path | None):
    from render_pipeline.backends.weights import resolve_models_dir
    from render_pipeline.planner.plan import make_plan

    models_dir = resolve_models_dir(models_dir, storyboard.base_dir)
    return make_plan(storyboard, gpus=gpus, backend=backend, models_dir=models_dir), models_dir


@contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler or `kill`) stops the run exactly like Ctrl-C does."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def output_stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def is_finished(job: Job, manifest: Manifest) -> bool:
    """Finished when the manifest says so with the same key and the file is a valid video of the right length.

    A file whose size and modification time are the ones recorded when it was checked and
    renamed is that same file; anything else (truncated, replaced, corrupted) is counted
    again, frame by frame.
    """
    entry = manifest.shots.get(job.id) or {}
    if entry.get("status") != "done" or entry.get("key") != job.key or not job.output.is_file():
        return False
    if entry.get("output_stamp") == output_stamp(job.output):
        return True
    try:
        return count_frames(job.output) == job.request.frames
    except FfmpegError:
        return False


class _Run:
    def __init__(self, out_dir: Path, models_dir: Path, options: RunOptions, reporter: PlainReporter):
        self.out_dir = out_dir
        self.models_dir = models_dir
        self.options = options
        self.reporter = reporter
        self.manifest: Manifest | None = None
        self.result = RunResult(out_dir=out_dir)
        self.current: Job | None = None
        self.worker: WorkerProcess | None = None

    def run(self, jobs: list[Job], fallback_reason: str | None) -> RunResult:
        began = time.monotonic()
        self.result.fallback_reason = fallback_reason
        self.manifest = Manifest.load(self.out_dir)
        todo = [job for job in jobs if self.options.force or not is_finished(job, self.manifest)]
        self.result.cached = [job.id for job in jobs if job not in todo]
        check_output_folder(self.out_dir, needed_bytes([(j.request.frames, j.request.width, j.request.height)
                                                        for j in todo]))
        if fallback_reason and todo:
            self.reporter.note(f"using the animatic: {fallback_reason}")
        self.reporter.start(todo, len(self.result.cached))
        try:
            with _signals_as_interrupt():
                for job in todo:
                    if job.backend == FOOTAGE:
                        self._footage(job)
                self._render_with_workers([job for job in todo if job.backend != FOOTAGE])
        except KeyboardInterrupt:
            self._interrupted()
        finally:
            self.reporter.stop()
        self.result.seconds = time.monotonic() - began
        return self.result

    def _interrupted(self) -> None:
        if self.worker is not None:
            self.worker.kill()
        if self.current is not None:
            self._partial(self.current).unlink(missing_ok=True)
            self.manifest.record(self.current.id, status="interrupted", key=self.current.key,
                                 error="interrupted; the next run renders it again")
        finished = len(self.result.rendered)
        raise RunInterrupted(f"stopped after {finished} shot(s) this run; run the same command again to resume "
                             f"(finished shots are kept in {self.out_dir / 'shots'})")

    def _partial(self, job: Job) -> Path:
        return job.output.with_name(f".{job.output.name}.part")

    def _log(self, job: Job) -> Path:
        return self.out_dir / "logs" / f"{job.id}.log"

    def _write_log(self, job: Job, text: str) -> None:
        with open(self._log(job), "a", encoding="utf-8") as log:
            log.write(f"[{datetime.now(timezone.utc).isoformat(timespec='seconds')}] {text}\n")

    # Footage -----------------------------------------------------------------------------

    def _footage(self, job: Job) -> None:
        from render_pipeline.runner.footage import conform_footage

        self.current = job
        self.reporter.shot_started(job)
        began = time.monotonic()
        partial = self._partial(job)
        request = job.request
        try:
            conform_footage(job.shot, request.width, request.height, request.fps, request.frames, partial,
                            log_path=self._log(job))
            self._check_frames(job, partial)
        except (ShotFailed, FfmpegError) as error:
            job.attempts = 1
            self._failed(job, str(error), time.monotonic() - began)
        else:
            self._finished(job, partial, time.monotonic() - began, peak_memory=None)
        self.current = None

    # Rendering through workers -------------------------------------------------------------

    def _render_with_workers(self, jobs: list[Job]) -> None:
        pending = list(jobs)
        while pending:
            head = pending[0]
            group = [job for job in pending if job.backend == head.backend and job.candidate == head.candidate]
            for job in self._run_worker(group):
                pending.remove(job)

    def _run_worker(self, group: list[Job]) -> list[Job]:
        """Render ``group`` with one worker; return the jobs settled (done or failed) before it stopped."""
        head = group[0]
        worker_log = self.out_dir / "logs" / f"{head.backend}.worker.log"
        self.worker = WorkerProcess(head.backend, self.models_dir, head.candidate, worker_log,
                                    self.options.worker_command)
        settled: list[Job] = []
        try:
            try:
                self._expect(self.worker.next_event(self.options.load_seconds), "ready")
                self.worker.send(op="encode", requests=[request_to_json(job.request) for job in group])
                self._expect(self.worker.next_event(self.options.load_seconds), "encoded")
            except (ShotFailed, WorkerLost) as error:
                return self._worker_failed_to_start(group, error, worker_log)
            for job in group:
                if self._render(job):
                    settled.append(job)
                else:
                    break  # the worker must be restarted (it died, hung, or the memory layout changed)
        finally:
            self.worker.close()
            self.worker = None
        return settled

    def _expect(self, event: dict, wanted: str) -> None:
        if event.get("event") == "failed":
            raise ShotFailed(event["kind"], event["message"])
        if event.get("event") != wanted:
            raise ShotFailed("error", f"the worker said {event!r} instead of {wanted!r}")

    def _worker_failed_to_start(self, group: list[Job], error: Exception, worker_log: Path) -> list[Job]:
        """Loading failed: out of memory moves every shot down the ladder; anything else fails them all."""
        message = f"{group[0].backend} could not load: {error} (see {worker_log})"
        kind = error.kind if isinstance(error, ShotFailed) else "lost"
        settled = []
        for job in group:
            job.attempts += 1
            job.errors.append(message)
            self._write_log(job, message)
            if kind in ("oom", "lost") and job.attempts < self.options.max_attempts and self._step_down(job, kind):
                continue
            self._failed(job, message, 0.0)
            settled.append(job)
        return settled

    def _render(self, job: Job) -> bool:
        """Render ``job`` with retries in the current worker; False when the worker must be restarted."""
        while True:
            self.current = job
            self.reporter.shot_started(job)
            began = time.monotonic()
            try:
                self._prepare_conditioning(job)
                peak = self._attempt(job)
            except (ShotFailed, WorkerLost, FfmpegError) as error:
                kind = getattr(error, "kind", "lost" if isinstance(error, WorkerLost) else "error")
                message = str(error)
                seconds = time.monotonic() - began
            else:
                self._finished(job, self._partial(job), time.monotonic() - began, peak)
                self.current = None
                return True
            self._partial(job).unlink(missing_ok=True)
            job.attempts += 1
            job.errors.append(message)
            self._write_log(job, f"attempt {job.attempts} failed ({kind}): {message}")
            if kind == "upstream" or job.attempts >= self.options.max_attempts:
                self._failed(job, message, seconds)
                self.current = None
                return True
            if kind in ("oom", "lost"):
                if not self._step_down(job, kind):
                    self._failed(job, message, seconds)
                    self.current = None
                    return True
                self.current = None
                return False
            self.reporter.warn(f"{job.id}: attempt {job.attempts} failed ({message}); retrying")

    def _step_down(self, job: Job, kind: str) -> bool:
        """Prepare ``job`` for a fresh worker; after out-of-memory, on the next rung of the memory ladder."""
        if kind != "oom":
            self.reporter.warn(f"{job.id}: {job.errors[-1]}; restarting the worker")
            return True
        rung = next_memory_rung(job.backend, job.candidate)
        if rung is None:
            job.errors.append("out of memory on the lowest rung of the memory ladder")
            return False
        message = f"out of memory; retrying with a lighter memory layout: {rung}"
        self._write_log(job, message)
        self.reporter.warn(f"{job.id}: {message}")
        job.candidate = rung
        return True

    def _prepare_conditioning(self, job: Job) -> None:
        """Extract the last frame of the shot this one continues from, as its conditioning image."""
        upstream = job.continues
        if upstream is None:
            return
        if upstream.id in self.result.failed or not upstream.output.is_file():
            raise ShotFailed("upstream", f"it continues from shot {upstream.id}, which did not render")
        target = last_frame_path(self.out_dir, upstream.id)
        partial = target.with_name(target.name + ".part.png")
        run_ffmpeg(["-sseof", "-1", "-i", str(upstream.output), "-update", "1", "-q:v", "1", str(partial)],
                   what=f"taking the last frame of shot {upstream.id}", log_path=self._log(job))
        os.replace(partial, target)

    def _attempt(self, job: Job) -> dict | None:
        partial = self._partial(job)
        partial.unlink(missing_ok=True)
        self.worker.send(op="render", request=request_to_json(job.request), out=str(partial), log=str(self._log(job)))
        while True:
            event = self.worker.next_event(self.options.stall_seconds)
            kind = event.get("event")
            if kind == "progress":
                self.reporter.step(event["done"], event["total"])
            elif kind == "done":
                self._check_frames(job, partial)
                return event.get("peak_memory")
            elif kind == "failed":
                raise ShotFailed(event["kind"], event["message"])

    def _check_frames(self, job: Job, path: Path) -> None:
        try:
            frames = count_frames(path)
        except FfmpegError:
            raise ShotFailed("bad output", f"the output of shot {job.id} is not a readable video") from None
        if frames != job.request.frames:
            raise ShotFailed("bad output", f"the output of shot {job.id} has {frames} frames, expected "
                                           f"{job.request.frames}")

    # Records --------------------------------------------------------------------------------

    def _record(self, job: Job, **fields) -> None:
        request = request_to_json(job.request)
        self.manifest.record(
            job.id, key=job.key, backend=job.backend, seed=job.request.seed,
            settings={name: request[name] for name in ("width", "height", "fps", "frames", "steps", "quality")}
            | {"memory": job.candidate, "prompt": request["prompt"], "negative_prompt": request["negative_prompt"]},
            output=str(job.output.relative_to(self.out_dir)), log=str(self._log(job).relative_to(self.out_dir)),
            **fields,
        )

    def _finished(self, job: Job, partial: Path, seconds: float, peak_memory: dict | None) -> None:
        os.replace(partial, job.output)
        self._write_log(job, f"done in {seconds:.2f} s")
        self._record(job, status="done", error=None, attempts=job.attempts + 1, peak_memory=peak_memory,
                     output_stamp=output_stamp(job.output),
                     timings={"seconds": round(seconds, 3),
                              "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        self.result.rendered.append(job.id)
        self.reporter.shot_finished(job, seconds, None)

    def _failed(self, job: Job, error: str, seconds: float) -> None:
        self._write_log(job, f"FAILED after {job.attempts} attempt(s): {error}")
        self._record(job, status="failed", error=error, attempts=job.attempts, errors=job.errors, timings={"seconds": round(seconds, 3)})
        self.result.failed[job.id] = error
        self.reporter.shot_finished(job, seconds, f"{error} (log: {self._log(job)})")
