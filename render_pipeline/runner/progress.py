"""Progress for people: a rich display on a terminal, plain log lines otherwise, or nothing but failures.

A run goes through the phases of planner/phases.py in order (narration, music, shots, conversion,
assembly). The first ETA is the plan's estimate of them all. After that, each phase's remaining
estimate is scaled by its measured speed: the time the phase has taken so far over the estimate
of the work it has finished, taking over from the plan's estimate over the phase's first tenth (a
phase's first seconds include starting up, and say little). A phase runs from the end of the one
before it to the start of the next, so the phases' times add up to the run's.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from render_pipeline.planner.phases import Phase, PhaseEstimate, format_duration
from render_pipeline.runner.jobs import Job

if TYPE_CHECKING:
    from rich.progress import TaskID

Clock = Callable[[], float]
# Frames of the assembly or of a conversion: a line every tenth of the work, and at least this often.
FRAME_LINE_SECONDS = 10.0
# The share of a phase done by which its measured speed has wholly replaced the plan's estimate.
TRUST_AFTER = 0.1
DONE = {Phase.NARRATION: "spoken", Phase.MUSIC: "made", Phase.CONVERSION: "converted"}


@dataclass
class PhaseClock:
    """One phase: its estimate spread over its items, what is done, and when it began and ended."""

    estimate: PhaseEstimate
    weights: dict[str, float]  # item -> its share of the estimate (seconds), for items still to do
    total: float  # seconds the phase's items to do should take
    done: float = 0.0  # of that, the estimate of the items finished
    items_done: int = 0
    items_total: int = 0
    began: float | None = None
    ended: float | None = None
    measured: float = 0.0  # seconds from the phase's start to its last finished item
    in_flight: dict[str, float] = field(default_factory=dict)  # item under way -> the share of it done

    @classmethod
    def of(cls, estimate: PhaseEstimate) -> PhaseClock:
        summed = sum(seconds for _, seconds in estimate.items)
        scale = estimate.seconds / summed if summed > 0 else 0.0
        weights = {name: seconds * scale for name, seconds in estimate.items}
        return cls(estimate, weights, sum(weights.values()), items_total=len(weights))

    def skip(self, name: str) -> None:
        """An item found done already (cached): nothing to wait for."""
        self.total -= self.weights.pop(name, 0.0)
        self.items_total -= 1

    def finish(self, name: str, now: float) -> None:
        self.in_flight.pop(name, None)
        self.done += self.weights.pop(name, 0.0)
        self.items_done += 1
        self.measured = self._elapsed(now)

    def part(self, name: str, share: float, now: float) -> None:
        """``share`` (0-1) of an item under way is done."""
        self.in_flight[name] = share
        self.measured = self._elapsed(now)

    def fraction(self, done: float, now: float) -> None:
        """A share (0-1) of a phase measured continuously (the assembly's frames)."""
        self.done = self.total * done
        self.measured = self._elapsed(now)

    def _elapsed(self, now: float) -> float:
        # Items are counted only on a clock that the reporter's enter() has started.
        if self.began is None:
            raise RuntimeError(f"the {self.estimate.phase} phase has not begun")
        return now - self.began

    def remaining(self) -> float:
        if self.ended is not None:
            return 0.0
        done = self.done + sum(self.weights.get(name, 0.0) * share for name, share in self.in_flight.items())
        left = max(0.0, self.total - done)
        if done <= 0 or self.total <= 0:
            return left
        trust = min(1.0, done / self.total / TRUST_AFTER)
        return left * (1.0 + trust * (self.measured / done - 1.0))


@dataclass
class PhaseTimes:
    """What the run's summary says: each phase's seconds and the whole run's."""

    phases: dict[Phase, float] = field(default_factory=dict)
    seconds: float = 0.0

    def describe(self) -> str:
        return ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in self.phases.items())


class PlainReporter:
    """One line per event; with ``quiet``, only problems (on stderr). ``clock``: seconds, monotonic."""

    def __init__(self, quiet: bool = False, clock: Clock = time.monotonic):
        self.quiet = quiet
        self.clock = clock
        self.phases: dict[Phase, PhaseClock] = {}
        self.current: Phase | None = None
        self.run_began: float | None = None
        self.last_frames_line: dict[tuple[Phase, str], tuple[float, float]] = {}  # (time, share) of the last one
        self.cached_shots = 0  # shots found finished when the shots phase began

    def _line(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    # The whole run ---------------------------------------------------------------------------

    def begin(self, estimates: dict[Phase, PhaseEstimate]) -> None:
        """The run starts: the plan's estimate of every phase is the first ETA."""
        self.run_began = self.clock()
        self.phases = {phase: PhaseClock.of(estimate) for phase, estimate in estimates.items()}
        parts = [f"{phase} {format_duration(clock.total)}" for phase, clock in self.phases.items() if clock.items_total]
        self._line(f"estimated: {', '.join(parts)}; ETA {format_duration(self.eta_seconds())}")

    def eta_seconds(self) -> float:
        return sum(clock.remaining() for clock in self.phases.values())

    def expect(self, estimate: PhaseEstimate) -> None:
        """A phase not yet begun has these items, known better now than when the run began."""
        self.phases[estimate.phase] = PhaseClock.of(estimate)

    def enter(self, phase: Phase) -> PhaseClock:
        """``phase`` is under way: every phase before it has ended."""
        now = self.clock()
        if self.run_began is None:  # a run without begin() (render-shot): its one phase
            self.run_began = now
        if phase not in self.phases:
            self.phases[phase] = PhaseClock.of(PhaseEstimate.of(phase, []))
        if self.current != phase:
            order = list(Phase)
            for earlier, clock in self.phases.items():
                if order.index(earlier) < order.index(phase) and clock.began is not None and clock.ended is None:
                    clock.ended = now
            self.current = phase
        clock = self.phases[phase]
        if clock.began is None:
            previous = [c.ended for p, c in self.phases.items() if c.ended is not None and p != phase]
            clock.began = max(previous, default=self.run_began)
        return clock

    def finish(self) -> PhaseTimes:
        """The run is over: each phase's time and the whole run's."""
        now = self.clock()
        times = PhaseTimes()
        for phase, clock in self.phases.items():
            if clock.began is None:
                continue
            if clock.ended is None:
                clock.ended = now
            times.phases[phase] = clock.ended - clock.began
        times.seconds = now - (self.run_began if self.run_began is not None else now)
        return times

    # Items of the CPU phases (narration clips, music cues, conversions) ----------------------

    def item(self, phase: Phase, name: str, made: bool = True) -> None:
        """An item of ``phase`` finished (``made``), or was found in the cache (not made)."""
        clock = self.enter(phase)
        if not made:
            clock.skip(name)
            return
        clock.finish(name, self.clock())
        self._line(f"{phase} [{clock.items_done}/{clock.items_total}] {name}: {DONE.get(phase, 'done')}; "
                   f"ETA {format_duration(self.eta_seconds())}")

    def frames(self, phase: Phase, done: int, total: int) -> None:
        """``done`` of ``total`` frames of a continuous phase (the assembly's encode)."""
        clock = self.enter(phase)
        share = min(done / total, 1.0) if total else 1.0
        clock.fraction(share, self.clock())
        if self._due(phase, "", share):
            self._line(f"{phase}: {done}/{total} frames encoded ({int(share * 100)}%); "
                       f"ETA {format_duration(self.eta_seconds())}")

    def part(self, phase: Phase, name: str, done: int, total: int) -> None:
        """``done`` of ``total`` frames of item ``name`` of ``phase``, still under way (a long conversion)."""
        clock = self.enter(phase)
        share = min(done / total, 1.0) if total else 1.0
        clock.part(name, share, self.clock())
        if self._due(phase, name, share):
            place = (f"[{self.cached_shots + clock.items_done + 1}/{self.cached_shots + clock.items_total}]"
                     if phase is Phase.SHOTS else f"{phase} [{clock.items_done + 1}/{clock.items_total}]")
            self._line(f"{place} {name}: {done}/{total} frames converted ({int(share * 100)}%); "
                       f"ETA {format_duration(self.eta_seconds())}")

    def _due(self, phase: Phase, name: str, share: float) -> bool:
        """Whether a frames line is due: the first, every tenth, the last, and at least every FRAME_LINE_SECONDS."""
        now = self.clock()
        last = self.last_frames_line.get((phase, name))
        if last is not None and share < 1.0 and share - last[1] < 0.1 and now - last[0] < FRAME_LINE_SECONDS:
            return False
        self.last_frames_line[(phase, name)] = (now, share)
        return True

    # Shots ------------------------------------------------------------------------------------

    def start(self, jobs: list[Job], cached: int) -> None:
        """The shots phase: ``jobs`` to render; the plan's other shots are finished already."""
        clock = self.enter(Phase.SHOTS)
        todo = {job.id for job in jobs}
        if not clock.estimate.items:  # no plan estimate given (render-shot): the jobs' own
            self.phases[Phase.SHOTS] = clock = PhaseClock.of(
                PhaseEstimate.of(Phase.SHOTS, [(job.id, job.estimated_seconds) for job in jobs]))
            self.enter(Phase.SHOTS)
        for name in [name for name in clock.weights if name not in todo]:
            clock.skip(name)
        self.cached_shots = cached
        self._line(f"{len(jobs)} shot(s) to render, {cached} already done; "
                   f"ETA {format_duration(self.eta_seconds())}")

    def _shots(self) -> tuple[PhaseClock, int, int]:
        clock = self.phases[Phase.SHOTS]
        return clock, self.cached_shots + clock.items_done, self.cached_shots + clock.items_total

    def shot_started(self, job: Job) -> None:
        _, done, total = self._shots()
        attempt = f" (attempt {job.attempts + 1})" if job.attempts else ""
        self._line(f"[{done + 1}/{total}] {job.id}: rendering with {job.backend}{attempt}")

    def step(self, done: int, total: int) -> None:
        """Plain logs skip per-step lines: hundreds of them per shot help no one reading a log."""

    def shot_finished(self, job: Job, seconds: float, error: str | None) -> None:
        clock = self.enter(Phase.SHOTS)
        clock.finish(job.id, self.clock())
        _, done, total = self._shots()
        if error is None:
            self._line(f"[{done}/{total}] {job.id}: done in {seconds:.1f} s; ETA {format_duration(self.eta_seconds())}")
        else:
            self.warn(f"[{done}/{total}] {job.id}: FAILED: {error}")

    def note(self, text: str) -> None:
        self._line(text)

    def warn(self, text: str) -> None:
        """A problem: shown even with ``quiet``, on stderr."""
        print(text, file=sys.stderr, flush=True)

    def stop(self) -> None:
        """Nothing to tear down."""


class RichReporter(PlainReporter):
    """Lines as the plain reporter prints them, above two bars: the shots (with the ETA) and the current shot's steps."""

    def __init__(self) -> None:
        super().__init__()
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[eta]}"))
        self.shots_task: TaskID | None = None
        self.steps_task: TaskID | None = None

    def _tasks(self) -> tuple[TaskID, TaskID]:
        """The shots' and the steps' bars, which start() adds."""
        if self.shots_task is None or self.steps_task is None:
            raise RuntimeError("the progress bars are used before start()")
        return self.shots_task, self.steps_task

    def _line(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def start(self, jobs: list[Job], cached: int) -> None:
        super().start(jobs, cached)
        self.progress.start()
        _, done, total = self._shots()
        self.shots_task = self.progress.add_task("shots", total=total, completed=done,
                                                 eta=f"ETA {format_duration(self.eta_seconds())}")
        self.steps_task = self.progress.add_task("", total=1, eta="", visible=False)

    def shot_started(self, job: Job) -> None:
        retry = f" (attempt {job.attempts + 1})" if job.attempts else ""
        _, steps_task = self._tasks()
        self.progress.update(steps_task, description=f"{job.id} [{job.backend}]{retry}",
                             completed=0, total=None, visible=True)

    def step(self, done: int, total: int) -> None:
        _, steps_task = self._tasks()
        self.progress.update(steps_task, completed=done, total=max(total, 1))

    def shot_finished(self, job: Job, seconds: float, error: str | None) -> None:
        super().shot_finished(job, seconds, error)
        _, done, _ = self._shots()
        shots_task, steps_task = self._tasks()
        self.progress.update(shots_task, completed=done, eta=f"ETA {format_duration(self.eta_seconds())}")
        self.progress.update(steps_task, visible=False)

    def warn(self, text: str) -> None:
        self.progress.console.print(text, style="red" if "FAILED" in text else "yellow", markup=False, highlight=False)

    def stop(self) -> None:
        self.progress.stop()


def make_reporter(quiet: bool) -> PlainReporter:
    if quiet or not sys.stdout.isatty():
        return PlainReporter(quiet=quiet)
    return RichReporter()
