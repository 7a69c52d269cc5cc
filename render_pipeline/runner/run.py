"""run_jobs: render the plan's shot jobs with caching, retries, a watchdog and a manifest.

Order of work, as the plan intends: footage shots are conformed first (no model needed);
then, for each backend, the plan's GPUs are split into groups of k (its GPUs per shot) and
each group runs one worker (torchrun for k > 1) that loads the model once, encodes every
prompt, and keeps taking the next unfinished shot until none is left, so every group stays
busy. A worker is only restarted after it crashed, hung, or ran out of memory (then with the
next rung of the memory ladder).

Nothing finished is ever lost: a shot is rendered to ``shots/.<id>.mp4.part``, its frame
count is checked, and only then is it renamed to ``shots/<id>.mp4`` and recorded in
manifest.json, which is itself replaced atomically. Before that, shot QA checks it
(render_pipeline/qa/): under the shot's `qa: {on_fail: rerender}` a failing shot is rendered
again with a new seed, and the attempt that passes, or the best, is the one renamed. A later
run skips every shot whose file is valid and whose key matches, so a killed or interrupted run
simply resumes.

The film's render_all and render_shot (render_pipeline/film/) hold the output folder around a
run (output_folder/claim.py). Every file goes through output_folder/files.py, never through a link; a fault of the disk (full, size limit,
read-only) stops the run at once with one line naming the path, and the next run resumes.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from render_pipeline.backends.base import RenderRequest
from render_pipeline.backends.windows import kept_bytes, windows_folder
from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import FfmpegError, MediaKind, check_features, media_input, run_ffmpeg
from render_pipeline.output_folder.files import create_empty, make_folder, writing
from render_pipeline.planner.phases import Phase
from render_pipeline.qa.attempts import ShotAttempts, remove_attempt_files, requests_to_encode
from render_pipeline.qa.lettering import ocr_installed
from render_pipeline.runner.finished import is_finished
from render_pipeline.runner.jobs import FOOTAGE, FRAMES_FOLDER, Job, last_frame_path, request_to_json
from render_pipeline.runner.lanes import Lane, device_ids, lanes_for, run_lanes, start_worker
from render_pipeline.runner.manifest import Manifest
from render_pipeline.runner.memory_ladder import next_memory_rung
from render_pipeline.runner.order import grouped_by_lora_set
from render_pipeline.runner.preflight import check_output_folder, needed_bytes
from render_pipeline.runner.progress import PlainReporter, make_reporter
from render_pipeline.runner.records import ShotRecords
from render_pipeline.runner.results import RunOptions, RunResult
from render_pipeline.runner.shot_faults import (
    RunInterrupted,
    ShotFailed,
    check_frames,
    expect,
    failure,
    signals_as_interrupt,
)
from render_pipeline.runner.worker_process import IdleWorkers, WorkerLost


def text_cache_dir(out_dir: Path) -> Path:
    """Where a film's prompt embeddings are kept between runs (backends/text_cache.py)."""
    return out_dir / "cache" / "text"


def note_fallback(reporter: PlainReporter, reason: str, download_hint: str | None) -> None:
    reporter.note(f"using the animatic: {reason}")
    if download_hint:
        reporter.note(f"  {download_hint}")


def run_jobs(jobs: list[Job], out_dir: Path, models_dir: Path, options: RunOptions = RunOptions(),
             reporter: PlainReporter | None = None, fallback_reason: str | None = None, gpus: int = 0,
             may_finish: Callable[[Job], bool] = lambda job: True,
             idle_workers: IdleWorkers | None = None, download_hint: str | None = None) -> RunResult:
    """Render ``jobs`` (from build_jobs) into ``out_dir``, skipping those already finished.

    ``gpus``: how many GPUs the plan was made for (the first ``gpus`` visible ones are used).
    Taken from the plan rather than probed, so a plan for 2 GPUs runs 2 groups even on a CPU
    (each worker then computes on the CPU, and torchrun groups talk through gloo).
    ``may_finish``: asked just before a rendered shot is put in place; a cluster task answers
    whether it still holds the shot's claim (executors/shot_claim.py).
    ``idle_workers``: where workers are kept loaded when the run ends, and taken from by the next
    run (render-shot --watch); None closes them.
    ``download_hint``: said after ``fallback_reason``: what to download so that a model renders instead.
    """
    runner = _Run(out_dir, models_dir, options, reporter or make_reporter(quiet=True), device_ids(gpus), may_finish,
                  idle_workers)
    return runner.run(jobs, fallback_reason, download_hint)


class _Run:
    def __init__(self, out_dir: Path, models_dir: Path, options: RunOptions, reporter: PlainReporter,
                 devices: list[str], may_finish: Callable[[Job], bool], idle_workers: IdleWorkers | None = None):
        self.out_dir = out_dir
        self.models_dir = models_dir
        self.options = options
        self.reporter = reporter
        self.devices = devices
        self.idle_workers = idle_workers
        self.manifest = Manifest.load(out_dir)
        self.result = RunResult(out_dir=out_dir)
        self.lanes: list[Lane] = []  # the lanes at work now
        self.qa: dict[str, ShotAttempts] = {}  # each shot's QA attempts in this run
        # Lanes run in threads: the manifest, the result and the reporter are shared.
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.records = ShotRecords(out_dir, self.manifest, self.result, reporter, self.qa, self.lock, self.stopping,
                                   may_finish)

    def run(self, jobs: list[Job], fallback_reason: str | None, download_hint: str | None = None) -> RunResult:
        began = time.monotonic()
        self.result.fallback_reason = fallback_reason
        todo = [job for job in jobs if self.options.force or not is_finished(job, self.manifest, self.records.changed)]
        self.result.cached = [job.id for job in jobs if job not in todo]
        # Each lane keeps one windowed shot's frames on disk while it renders.
        in_flight = max((kept_bytes(j.request.windows, j.request.width, j.request.height) * j.groups for j in todo),
                        default=0)
        check_output_folder(self.out_dir, in_flight + needed_bytes([(j.request.frames, j.request.width,
                                                                     j.request.height, j.backend) for j in todo]))
        if todo:
            check_features()  # an ffmpeg without drawtext or libx264 would fail every shot, three times
        if fallback_reason and todo:
            note_fallback(self.reporter, fallback_reason, download_hint)
        self.reporter.start(todo, len(self.result.cached))
        try:
            with signals_as_interrupt():
                footage = Lane(0, None)
                self.lanes = [footage]
                for job in todo:
                    if job.backend == FOOTAGE:
                        self._footage(footage, job)
                self._render_with_workers([job for job in todo if job.backend != FOOTAGE])
        except KeyboardInterrupt:
            self._interrupted()
        except (UserError, OSError):  # a fault of the disk or the folder, which every shot would meet
            self._stop(record=False)
            raise
        finally:
            self.reporter.stop()
        self.result.seconds = time.monotonic() - began
        return self.result

    def _stop(self, record: bool) -> None:
        """Kill the workers and remove what they were writing; ``record`` the shots cut short in the manifest."""
        with self.lock:
            self.stopping.set()  # lanes record nothing more and take no further shot
            for lane in self.lanes:
                if lane.worker is not None:
                    lane.worker.kill()
                if lane.current is not None:
                    self.records.partial(lane.current).unlink(missing_ok=True)
                    attempts = self.qa.get(lane.current.id)
                    remove_attempt_files(self.records.partial(lane.current), len(attempts.attempts) if attempts else 0)
                    if record:
                        self.manifest.record(lane.current.id, status="interrupted", key=lane.current.key,
                                             error="interrupted; the next run renders it again")

    def _interrupted(self) -> None:
        self._stop(record=True)
        finished = len(self.result.rendered)
        raise RunInterrupted(f"stopped after {finished} shot(s) this run; run the same command again to resume "
                             f"(finished shots are kept in {self.out_dir / 'shots'})")

    # Footage -----------------------------------------------------------------------------

    def _footage(self, lane: Lane, job: Job) -> None:
        from render_pipeline.media.retime import Interpolation
        from render_pipeline.runner.footage import conform_footage

        lane.current = job
        self.reporter.shot_started(job)
        began = time.monotonic()
        partial = self.records.partial(job)
        create_empty(partial)
        request = job.request
        try:
            conform_footage(job.shot, request.width, request.height, request.fps, request.frames, partial,
                            Interpolation(request.settings["frame_interpolation"]), self.models_dir,
                            log_path=self.records.log(job), on_frames=lambda done, total: self.reporter.part(
                                Phase.SHOTS, job.id, done, total))
            check_frames(job, partial)
        except (ShotFailed, FfmpegError) as error:
            job.attempts = 1
            self.records.failed(lane, job, str(error), time.monotonic() - began)
        else:
            self._check_quality(job)  # footage is only reported on, never rendered again
            self.records.finished(lane, job, partial, time.monotonic() - began, peak_memory=None)
        lane.current = None

    # Rendering through workers, one per GPU group ---------------------------------------------

    def _render_with_workers(self, jobs: list[Job]) -> None:
        pending = grouped_by_lora_set(jobs)
        while pending:
            head = pending[0]
            batch = [job for job in pending if job.backend == head.backend and job.layout == head.layout]
            self.lanes = lanes_for(self.devices, head)[:len(batch)]  # no model loaded for nothing
            settled = run_lanes(self.lanes, batch, self.stopping, self._run_worker)
            pending = [job for job in pending if job not in settled]

    def _take(self, lane: Lane, queue: list[Job]) -> Job | None:
        with self.lock:
            if self.stopping.is_set() or not queue:
                return None
            lane.current = queue.pop(0)  # at once, for a later shot that waits on it (see _wait_for)
            return lane.current

    def _run_worker(self, lane: Lane, queue: list[Job]) -> list[Job]:
        """Start a worker on ``lane`` and render shots from ``queue`` until it is empty or the worker must restart."""
        with self.lock:
            if self.stopping.is_set() or not queue:
                return []
            upcoming = list(queue)
            kept_as = json.dumps([upcoming[0].backend, upcoming[0].layout.to_json(), lane.devices], sort_keys=True)
            kept = self.idle_workers.take(kept_as) if self.idle_workers is not None else None
            lane.worker = kept or start_worker(lane, upcoming[0], self.out_dir, self.models_dir,
                                                     self.options.worker_command)
        settled: list[Job] = []
        healthy = False
        try:
            try:
                started = time.monotonic()
                if kept is None:
                    expect(lane.worker.next_event(self.options.load_seconds), "ready")
                ready = time.monotonic()
                lane.worker.send(op="encode", requests=[request_to_json(request) for job in upcoming
                                                        for request in requests_to_encode(job.request, job.shot.qa)],
                                 text_cache=str(text_cache_dir(self.out_dir)))
                expect(lane.worker.next_event(self.options.load_seconds), "encoded")
                lane.phases = {"worker_start_s": ready - started, "encode_s": time.monotonic() - ready}
            except (ShotFailed, WorkerLost) as error:
                with self.lock:  # the same model would fail the same way in every lane
                    taken = list(queue)
                    queue.clear()
                return self._worker_failed_to_start(lane, taken, error, lane.worker.log)
            while (job := self._take(lane, queue)) is not None:
                tried = job.layout
                if self._render(lane, job):
                    settled.append(job)
                    continue
                # The worker must be restarted (it died or hung): the shot goes first to the fresh one.
                # After out of memory it has a lighter layout and waits for that layout's workers.
                if job.layout == tried:
                    with self.lock:
                        queue.insert(0, job)
                break
            else:
                healthy = not self.stopping.is_set()
        finally:
            if healthy and self.idle_workers is not None:
                self.idle_workers.keep(kept_as, lane.worker)
            else:
                lane.worker.close()
            lane.worker = None
        return settled

    def _worker_failed_to_start(self, lane: Lane, group: list[Job], error: Exception, worker_log: Path) -> list[Job]:
        """Loading failed: out of memory moves every shot down the ladder; anything else fails them all."""
        message = f"{group[0].backend} could not load: {error} (see {worker_log})"
        kind = error.kind if isinstance(error, ShotFailed) else "lost"
        settled = []
        for job in group:
            job.attempts += 1
            job.errors.append(message)
            self.records.write_log(job, message)
            if kind in ("oom", "lost") and job.attempts < self.options.max_attempts and self._step_down(job, kind):
                continue
            self.records.failed(lane, job, message, 0.0)
            settled.append(job)
        return settled

    def _render(self, lane: Lane, job: Job) -> bool:
        """Render ``job`` with retries in the lane's worker; False when the worker must be restarted."""
        while True:
            lane.current = job
            with self.lock:
                self.reporter.shot_started(job)
            began = time.monotonic()
            try:
                self._prepare_conditioning(job)
                peak = self._attempt(lane, job)
            except (ShotFailed, WorkerLost, FfmpegError) as error:
                kind = getattr(error, "kind", "lost" if isinstance(error, WorkerLost) else "error")
                restart = getattr(error, "restart", False)
                message = str(error)
                seconds = time.monotonic() - began
            else:
                again = self._check_quality(job)
                if again is not None:  # failed QA under `rerender`: another attempt, with a new seed
                    job.request = again
                    continue
                self.records.finished(lane, job, self.records.partial(job), time.monotonic() - began, peak)
                lane.current = None
                return True
            if self.stopping.is_set():
                return True  # interrupted: recorded as such by the main thread
            self.records.partial(job).unlink(missing_ok=True)
            job.attempts += 1
            job.errors.append(message)
            self.records.write_log(job, f"attempt {job.attempts} failed ({kind}): {message}")
            if kind == "upstream" or job.attempts >= self.options.max_attempts:
                self.records.failed(lane, job, message, seconds)
                lane.current = None
                return True
            if kind in ("oom", "lost") or restart:
                if not self._step_down(job, kind):
                    self.records.failed(lane, job, message, seconds)
                    lane.current = None
                    return True
                lane.current = None
                return False
            with self.lock:
                self.reporter.warn(f"{job.id}: attempt {job.attempts} failed ({message}); retrying")

    def _step_down(self, job: Job, kind: str) -> bool:
        """Prepare ``job`` for a fresh worker; after out-of-memory, on the next rung of the memory ladder."""
        if kind != "oom":
            with self.lock:
                self.reporter.warn(f"{job.id}: {job.errors[-1]}; restarting the worker")
            return True
        rung = next_memory_rung(job.backend, job.layout)
        if rung is None:
            job.errors.append("out of memory on the lowest rung of the memory ladder")
            return False
        message = f"out of memory; retrying with a lighter memory layout: {rung.to_json()}"
        self.records.write_log(job, message)
        with self.lock:
            self.reporter.warn(f"{job.id}: {message}")
        job.layout = rung
        return True

    def _prepare_conditioning(self, job: Job) -> None:
        """Extract the last frame of the shot this one continues from, as its conditioning image."""
        upstream = job.continues
        if upstream is None:
            return
        self._wait_for(upstream)
        if upstream.id in self.result.failed or not upstream.output.is_file():
            raise ShotFailed("upstream", f"it continues from shot {upstream.id}, which did not render")
        make_folder(self.out_dir, FRAMES_FOLDER)
        with writing(last_frame_path(self.out_dir, upstream.id)) as partial:
            run_ffmpeg(["-sseof", "-1", *media_input(upstream.output, MediaKind.VIDEO), "-update", "1", "-q:v", "1",
                        str(partial)], what=f"taking the last frame of shot {upstream.id}",
                       log_path=self.records.log(job))

    def _wait_for(self, upstream: Job) -> None:
        """Another lane may still be rendering the shot this one continues from."""
        while not self.stopping.is_set() and any(lane.current is upstream for lane in self.lanes):
            time.sleep(0.1)

    def _attempt(self, lane: Lane, job: Job) -> dict | None:
        partial = self.records.partial(job)
        create_empty(partial)  # ours, a regular file: the worker's FFmpeg never writes through a planted link
        if self.options.force and job.attempts == 0:  # windows kept from an earlier run are not reused either
            shutil.rmtree(windows_folder(partial), ignore_errors=True)
        worker = lane.running_worker
        worker.send(op="render", request=request_to_json(job.request), out=str(partial), log=str(self.records.log(job)))
        sent = first_step = last_step = time.monotonic()
        while True:
            event = worker.next_event(self.options.stall_seconds)
            kind = event.get("event")
            if kind == "progress":
                last_step = time.monotonic()
                if event["done"] == 1:
                    first_step = last_step
                with self.lock:
                    self.reporter.step(event["done"], event["total"])
            elif kind == "done":
                lane.phases |= {"first_step_s": first_step - sent, "other_steps_s": last_step - first_step,
                                "decode_write_s": time.monotonic() - last_step}
                check_frames(job, partial)
                return event.get("peak_memory")
            elif kind == "failed":
                raise failure(event)

    def _check_quality(self, job: Job) -> RenderRequest | None:
        """The QA stage on the shot just rendered: the next attempt's request, or None when the shot is settled
        (its file then holds the attempt kept, and ``job.request`` that attempt's request)."""
        if not self.options.qa:
            return None
        attempts = self.qa.setdefault(job.id, ShotAttempts(
            job.shot.qa, ocr_installed(), text_asked_for=job.shot.text_in_prompt == "keep",
            footage=job.backend == FOOTAGE, animatic=job.backend == "animatic"))
        verdict = attempts.judge(job.request, self.records.partial(job), job.request.windows,
                                 lambda text: self.records.write_log(job, text))
        if verdict.again is not None:
            with self.lock:
                self.reporter.warn(f"{job.id}: failed QA; rendering it again with seed {verdict.again.seed}")
            return verdict.again
        if verdict.kept is not None:
            job.request = replace(job.request, seed=verdict.kept.seed, negative_prompt=verdict.kept.negative_prompt)
        if verdict.warning is not None:
            with self.lock:
                self.reporter.warn(f"{job.id}: {verdict.warning}")
        return None
