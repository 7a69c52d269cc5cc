"""Progress for people: a rich display on a terminal, plain log lines otherwise, or nothing but failures.

The ETA starts from the plan's estimates and is corrected by measured speed: once shots
have finished, the remaining estimate is scaled by (time they took) / (time they were
estimated to take).
"""

from __future__ import annotations

import sys
import time

from render_pipeline.runner.jobs import Job


class SpeedEstimate:
    def __init__(self, jobs: list[Job]):
        self.remaining = sum(job.estimated_seconds for job in jobs)
        self.estimated_done = 0.0
        self.measured_done = 0.0

    def finished(self, job: Job, seconds: float) -> None:
        self.remaining = max(0.0, self.remaining - job.estimated_seconds)
        self.estimated_done += job.estimated_seconds
        self.measured_done += seconds

    def eta_seconds(self) -> float:
        ratio = self.measured_done / self.estimated_done if self.estimated_done > 0 else 1.0
        return self.remaining * ratio


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class PlainReporter:
    """One line per event; with ``quiet``, only problems (on stderr)."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.speed: SpeedEstimate | None = None
        self.total = 0
        self.finished = 0

    def _line(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    def start(self, jobs: list[Job], cached: int) -> None:
        self.speed = SpeedEstimate(jobs)
        self.total = len(jobs) + cached
        self.finished = cached
        self._line(f"{len(jobs)} shot(s) to render, {cached} already done; "
                   f"estimated {format_duration(self.speed.eta_seconds())}")

    def shot_started(self, job: Job) -> None:
        attempt = f" (attempt {job.attempts + 1})" if job.attempts else ""
        self._line(f"[{self.finished + 1}/{self.total}] {job.id}: rendering with {job.backend}{attempt}")

    def step(self, done: int, total: int) -> None:
        """Plain logs skip per-step lines: hundreds of them per shot help no one reading a log."""

    def shot_finished(self, job: Job, seconds: float, error: str | None) -> None:
        self.finished += 1
        self.speed.finished(job, seconds)
        if error is None:
            self._line(f"[{self.finished}/{self.total}] {job.id}: done in {seconds:.1f} s; "
                       f"ETA {format_duration(self.speed.eta_seconds())}")
        else:
            print(f"[{self.finished}/{self.total}] {job.id}: FAILED: {error}", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        self._line(text)

    def warn(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def stop(self) -> None:
        """Nothing to tear down."""


class RichReporter(PlainReporter):
    """Two bars: shots overall (with the ETA) and the current shot's steps."""

    def __init__(self) -> None:
        super().__init__()
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[eta]}"))
        self.shots_task = None
        self.steps_task = None
        self.shot_began = time.monotonic()

    def _line(self, text: str) -> None:
        self.progress.console.print(text)

    def start(self, jobs: list[Job], cached: int) -> None:
        super().start(jobs, cached)
        self.progress.start()
        self.shots_task = self.progress.add_task("shots", total=self.total, completed=cached,
                                                 eta=f"ETA {format_duration(self.speed.eta_seconds())}")
        self.steps_task = self.progress.add_task("", total=1, eta="", visible=False)

    def shot_started(self, job: Job) -> None:
        retry = f" (attempt {job.attempts + 1})" if job.attempts else ""
        self.progress.update(self.steps_task, description=f"{job.id} [{job.backend}]{retry}",
                             completed=0, total=None, visible=True)

    def step(self, done: int, total: int) -> None:
        self.progress.update(self.steps_task, completed=done, total=max(total, 1))

    def shot_finished(self, job: Job, seconds: float, error: str | None) -> None:
        self.finished += 1
        self.speed.finished(job, seconds)
        self.progress.update(self.shots_task, completed=self.finished,
                             eta=f"ETA {format_duration(self.speed.eta_seconds())}")
        self.progress.update(self.steps_task, visible=False)
        if error is None:
            self._line(f"{job.id}: done in {seconds:.1f} s")
        else:
            self.progress.console.print(f"{job.id}: FAILED: {error}", style="red", markup=False, highlight=False)

    def warn(self, text: str) -> None:
        self.progress.console.print(text, style="yellow", markup=False)

    def stop(self) -> None:
        self.progress.stop()


def make_reporter(quiet: bool) -> PlainReporter:
    if quiet or not sys.stdout.isatty():
        return PlainReporter(quiet=quiet)
    return RichReporter()
