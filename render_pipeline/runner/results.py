"""What a run is asked to do (RunOptions) and what it did (RunResult), shared by the local runner,
the cluster executors and the film (render_pipeline/film/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from render_pipeline.planner.phases import Phase
from render_pipeline.runner.jobs import shot_path
from render_pipeline.runner.worker_process import WORKER_COMMAND


@dataclass(frozen=True)
class RunOptions:
    force: bool = False  # re-render every shot, even those already finished
    max_attempts: int = 3  # per shot
    stall_seconds: float = 900.0  # a worker silent this long while rendering is killed
    load_seconds: float = 1800.0  # loading weights and encoding prompts report no steps
    # How to start a worker: a Python program, interpreter first (tests wrap it to inject faults);
    # a group of k GPUs runs the same program under torchrun.
    worker_command: tuple[str, ...] = WORKER_COMMAND
    qa: bool = True  # check each shot as it is rendered (render_pipeline/qa/), as its `qa` policy says


@dataclass
class RunResult:
    out_dir: Path
    rendered: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    fallback_reason: str | None = None
    assembly: object | None = None  # post's AssemblyResult when render_all assembled the film
    # render_all: each phase's seconds (planner/phases.py), which add up to ``seconds``, the whole run's
    phase_seconds: dict[Phase, float] = field(default_factory=dict)

    @property
    def shot_files(self) -> list[Path]:
        """The shot files this run wrote, in the order they were finished."""
        return [shot_path(self.out_dir, shot_id) for shot_id in self.rendered]
