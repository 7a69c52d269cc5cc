"""The plan's records: each backend's candidate layouts and schedule, each shot as planned, the whole Plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from render_pipeline.backends.windows import Windows
from render_pipeline.planner.delivery import DeliveryCost
from render_pipeline.planner.gpus import Gpu
from render_pipeline.planner.layouts import Cost, Layout, Shape
from render_pipeline.planner.phases import Phase, PhaseEstimate
from render_pipeline.shot_layout import ShotLayout

# The longest render `auto` chooses the best-looking backend for, for the shots it renders (--max-hours):
# a day, so notes given on one day's cut can be rendered for the next. Past it, auto takes the
# best-looking backend within it (on 1x24GB the 5-minute example: Wan 2.2 A14B 103 h, TI2V-5B 11 h).
DEFAULT_MAX_HOURS = 24.0


@dataclass
class Candidate:
    layout: Layout
    fits: bool
    reason: str
    cost: Cost
    concurrent_groups: int  # shot groups the machine runs at once with this layout
    film_seconds: float | None  # loading plus the schedule of this backend's shots; None if it does not fit

    def to_json(self) -> dict:
        return {
            **asdict(self.layout.parallel),
            **asdict(self.layout.memory),
            "fits": self.fits,
            "reason": self.reason,
            "peak_gpu_gib": {stage: round(value, 2) for stage, value in self.cost.peak_gpu_gib.items()},
            "host_ram_gib": round(self.cost.host_ram_gib, 2),
            "seconds_per_shot": round(self.cost.seconds_per_shot, 1),
            "implemented": self.layout.implemented,
            "exact": self.layout.exact,
            "concurrent_groups": self.concurrent_groups,
            "film_seconds": None if self.film_seconds is None else round(self.film_seconds, 1),
        }

    @property
    def fitting_film_seconds(self) -> float:
        """The film seconds of a candidate that fits: _weigh gives them to every one that does."""
        if self.film_seconds is None:
            raise ValueError(f"a layout that does not fit ({self.reason}) has no film seconds")
        return self.film_seconds


@dataclass
class Slot:
    group: int
    shot_id: str
    start: float
    end: float


@dataclass
class BackendPlan:
    name: str
    shot_ids: list[str]
    largest: Shape
    candidates: list[Candidate]
    chosen: int | None
    download_gb: float
    weights_problem: str | None  # None when the weights are on disk and loadable
    load_seconds: float
    schedule: list[Slot] = field(default_factory=list)
    weights_found: str | None = None  # where the weights are and in which format, when loadable
    weights_label: str | None = None  # their format in a few words ("diffusers folder", "in place, GGUF Q4_K_M")
    # Peak GiB per GPU with quantised files instead (GGUF Q4_K_M, fp8 scaled), on one GPU: shown
    # when the model needs offloading or does not fit as it is on disk.
    quantised_peaks: dict[str, float] = field(default_factory=dict)
    windows: dict[str, int] = field(default_factory=dict)  # shot id -> windows, for shots of more than one

    @property
    def choice(self) -> Candidate | None:
        return None if self.chosen is None else self.candidates[self.chosen]

    @property
    def fitting_choice(self) -> Candidate:
        """The choice of a backend that plan() has checked fits (it stops with the reason otherwise)."""
        if self.choice is None:
            raise ValueError(f"{self.name}: no layout fits, so none was chosen")
        return self.choice

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "candidates": [candidate.to_json() for candidate in self.candidates],
            "chosen": self.chosen,
            "download_gb": self.download_gb,
            "shots": self.shot_ids,
            "size": f"{self.largest.width}x{self.largest.height}x{self.largest.frames}",
            "steps": self.largest.steps,
            "weights_problem": self.weights_problem,
            "weights_found": self.weights_found,
            "weights_label": self.weights_label,
            "quantised_peaks": {label: round(peak, 2) for label, peak in self.quantised_peaks.items()},
            "schedule": [asdict(slot) for slot in self.schedule],
            "windows": self.windows,
        }


@dataclass
class PlannedShot:
    shot_id: str
    backend: str  # a concrete name ("animatic", "footage", or a model), never "auto"
    width: int
    height: int
    fps: float
    frames: int  # the whole shot's, handles included
    steps: int
    gpus_per_shot: int
    layout: ShotLayout  # the chosen layout; the plain one (no GPU) for the animatic and footage
    estimated_seconds: float
    settings: dict = field(default_factory=dict)  # guidance, shift, boundary: the spec's, for the quality
    windows: Windows | None = None  # None: one pass; else how the shot is cut into windows

    def to_json(self) -> dict:
        """The shot in `plan --json`, its layout's JSON under "candidate", the key that output's readers know."""
        values = {name: value for name, value in asdict(self).items() if name != "layout"}
        return values | {"candidate": self.layout.to_json()}


@dataclass
class Plan:
    gpus: list[Gpu]
    host_ram_gib: float | None  # None: not given for a what-if, so not checked
    shots: list[PlannedShot]
    backends: list[BackendPlan]
    chosen_backend: str
    fallback_reason: str | None
    concurrent_groups: int
    total_seconds: float  # the shots' (the SHOTS phase)
    warnings: list[str] = field(default_factory=list)
    delivery: DeliveryCost | None = None  # disk and host memory besides the GPUs (planner/delivery.py)
    choice_reason: str = ""  # why auto shots render with chosen_backend (empty: no auto shot)
    download: str | None = None  # the backend whose weights to fetch next, when missing weights decided the choice
    max_hours: float = DEFAULT_MAX_HOURS
    models_dir: Path | None = None
    models_origin: str = ""  # where models_dir came from, in words (backends/weights.py models_dir_origin)
    phases: dict[Phase, PhaseEstimate] = field(default_factory=dict)  # every phase of render-all, in order

    @property
    def download_hint(self) -> str | None:
        """What to download (or add) for the backend auto wants, with the command; None when nothing is missing."""
        return None if self.download is None else self.backend(self.download).weights_problem

    @property
    def models_folder(self) -> Path:
        """The models folder make_plan resolved; only a plan made by hand has none."""
        if self.models_dir is None:
            raise ValueError("this plan was made without a models folder")
        return self.models_dir

    @property
    def run_seconds(self) -> float:
        """The whole of `render-all`: every phase."""
        return sum(estimate.seconds for estimate in self.phases.values())

    def backend(self, name: str) -> BackendPlan:
        return next(plan for plan in self.backends if plan.name == name)

    def to_json(self) -> dict:
        return {
            "gpus": [asdict(gpu) for gpu in self.gpus],
            "host_ram_gib": self.host_ram_gib,
            "backends": [plan.to_json() for plan in self.backends],
            "chosen_backend": self.chosen_backend,
            "total_seconds": round(self.total_seconds, 1),
            "fallback_reason": self.fallback_reason,
            "concurrent_groups": self.concurrent_groups,
            "shots": [shot.to_json() for shot in self.shots],
            "warnings": self.warnings,
            "delivery": self.delivery.to_json() if self.delivery is not None else None,
            "choice_reason": self.choice_reason,
            "download": self.download,
            "max_hours": self.max_hours,
            "models_dir": str(self.models_dir) if self.models_dir is not None else None,
            "phases": {str(phase): estimate.to_json() for phase, estimate in self.phases.items()},
            "run_seconds": round(self.run_seconds, 1),
        }
