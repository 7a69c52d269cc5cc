"""The plan: which backend renders each shot, on how many GPUs, with which memory layout, and when.

For every backend the storyboard needs, each candidate layout is weighed on the largest shot
(memory) and on every shot (time); the chosen one is the fastest that fits with the safety
margin, preferring what this version's backends can run and exact output over fp8 or a bf16
VAE. Shots whose backend is "auto" get the best-looking backend that fits and whose weights
are on disk and whose film time stays within ``max_hours`` (else the fastest that fits), or
the animatic; ``choice_reason`` says why, and ``fallback_reason`` too when the animatic stands in.
Besides the shots, the plan estimates the CPU phases of `render-all` (planner/phases.py).
"""

from __future__ import annotations

import heapq
from dataclasses import asdict, dataclass, field
from pathlib import Path

from render_pipeline.backends.specs import SPECS, ModelSpec, spec_for
from render_pipeline.backends.windows import Windows, plan_windows
from render_pipeline.errors import UserError
from render_pipeline.planner.architectures import ARCHITECTURES
from render_pipeline.planner.delivery import DeliveryCost, delivery_cost
from render_pipeline.planner.gpus import GIB, Gpu, detect_gpus, detect_host_ram_gib, parse_gpus, parse_size_gib
from render_pipeline.planner.layouts import (
    QUANTISED_BYTES_PER_PARAM,
    VAE_MODES,
    Cost,
    Layout,
    Shape,
    candidate_layouts,
    evaluate,
    needed_gib,
    with_vae,
)
from render_pipeline.planner.phases import (
    Phase,
    PhaseEstimate,
    animatic_seconds,
    around_the_shots,
    conversion_estimate,
    footage_rate,
    footage_seconds,
)
from render_pipeline.planner.sampling import shot_sampling

# Best-looking first: the order "auto" tries the text-to-video backends in.
AUTO_ORDER = ("wan2.2-t2v-a14b", "hunyuanvideo", "wan2.2-ti2v-5b", "cogvideox-5b")
# The longest render `auto` chooses the best-looking backend for, for the shots it renders (--max-hours):
# a day, so notes given on one day's cut can be rendered for the next. Past it, auto takes the
# best-looking backend within it (on 1x24GB the 5-minute example: Wan 2.2 A14B 103 h, TI2V-5B 11 h).
DEFAULT_MAX_HOURS = 24.0
DISK_GBPS = 1.5  # reading the weights once per process
# The OS, the page cache the loader needs and everything else running: not ours to use.
HOST_RESERVE_FRACTION = 0.1
HOST_RESERVE_MIN_GIB = 2.0


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
            **asdict(self.layout),
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
    candidate: dict  # the chosen layout, plus the memory-strategy keys the backends read
    estimated_seconds: float
    settings: dict = field(default_factory=dict)  # guidance, shift, boundary: the spec's, for the quality
    windows: Windows | None = None  # None: one pass; else how the shot is cut into windows


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
            "shots": [asdict(shot) for shot in self.shots],
            "warnings": self.warnings,
            "delivery": self.delivery.to_json() if self.delivery is not None else None,
            "choice_reason": self.choice_reason,
            "download": self.download,
            "max_hours": self.max_hours,
            "models_dir": str(self.models_dir) if self.models_dir is not None else None,
            "phases": {str(phase): estimate.to_json() for phase, estimate in self.phases.items()},
            "run_seconds": round(self.run_seconds, 1),
        }


def usable_host_gib(host_ram_gib: float) -> float:
    return host_ram_gib - max(HOST_RESERVE_MIN_GIB, host_ram_gib * HOST_RESERVE_FRACTION)


def needs_gpu(storyboard, backend: str | None = None) -> bool:
    """Whether any generated shot may use a model: a storyboard of animatic shots never looks for a GPU."""
    return any((backend or shot.backend) != "animatic" for shot in storyboard.shots if shot.source is None)


def make_plan(storyboard, gpus: str | list[Gpu] = "auto", host_ram: str | float | None = None,
              backend: str | None = None, models_dir: Path | None = None,
              max_hours: float | None = None) -> Plan:
    """``gpus``: "auto" (this machine), a what-if spec like "2xA6000", or the GPUs themselves (a cluster's node).

    ``models_dir``: as given (--models-dir), None for the default (backends/weights.py resolve_models_dir).
    ``max_hours``: the longest render of its shots that auto takes a backend for when a faster one fits
    (None: DEFAULT_MAX_HOURS).
    """
    max_hours = DEFAULT_MAX_HOURS if max_hours is None else max_hours
    if backend is not None and backend != "auto" and backend not in SPECS:
        raise UserError(f"--backend {backend!r}: unknown; choose auto or one of {', '.join(SPECS)}")
    if not max_hours > 0:
        raise UserError(f"--max-hours must be more than 0 (got {max_hours:g})")
    from render_pipeline.backends.weights import models_dir_origin, resolve_models_dir, storyboard_confinement

    models = resolve_models_dir(models_dir)
    wanted = {shot.id: (backend or shot.backend) for shot in storyboard.shots if shot.source is None}

    machine: list[Gpu] = []
    if needs_gpu(storyboard, backend):
        if isinstance(gpus, list):
            machine = gpus
        else:
            machine = detect_gpus() if gpus == "auto" else parse_gpus(gpus)
    if isinstance(host_ram, str):
        host_ram = parse_size_gib(host_ram, "--host-ram")
    if host_ram is None and gpus == "auto":
        host_ram = detect_host_ram_gib()

    by_id = {shot.id: shot for shot in storyboard.shots}
    planned: dict[str, BackendPlan] = {}

    def plan_for(name: str, shot_ids: list[str]) -> BackendPlan:
        key = f"{name}:{','.join(shot_ids)}"
        if key not in planned:
            planned[key] = _plan_backend(SPECS[name], [by_id[i] for i in shot_ids], machine, host_ram,
                                         storyboard.delivery, models, storyboard_confinement(models, storyboard.base_dir))
        return planned[key]

    concrete: dict[str, str] = {}
    auto_ids = [shot_id for shot_id, name in wanted.items() if name == "auto"]
    auto = None
    if auto_ids:
        auto = _choose_auto(auto_ids, by_id, machine, plan_for, max_hours, models)
        for shot_id in auto_ids:
            concrete[shot_id] = spec_for(auto.backend, _image_conditioned(by_id[shot_id])).name
    for shot_id, name in wanted.items():
        if name != "auto":
            concrete[shot_id] = spec_for(name, _image_conditioned(by_id[shot_id])).name

    _check_loras(by_id, concrete)
    used: dict[str, list[str]] = {}
    for shot_id, name in concrete.items():
        if name != "animatic":
            used.setdefault(name, []).append(shot_id)
    used_plans = [plan_for(name, ids) for name, ids in used.items()]
    for plan in used_plans:
        if plan.choice is None:
            raise UserError(_nothing_fits(plan, machine))

    method = _interpolation(storyboard, models)
    shots, total = _planned_shots(storyboard, concrete, used_plans, method)
    considered = list({id(p): p for p in list(planned.values())}.values())
    chosen_backend = auto.backend if auto else next(iter(used), "animatic")
    groups = max((plan.fitting_choice.concurrent_groups for plan in used_plans), default=1)
    delivery = storyboard.delivery
    film_frames = round(storyboard.duration * delivery.fps)
    cost = delivery_cost([(shot.frames, shot.width, shot.height, shot.backend) for shot in shots], delivery.width,
                         delivery.height, film_frames, len(shots))
    estimates = {
        **around_the_shots(storyboard),
        Phase.SHOTS: PhaseEstimate.of(Phase.SHOTS, [(shot.shot_id, shot.estimated_seconds) for shot in shots], total),
        Phase.CONVERSION: conversion_estimate(shots, delivery.fps, method),
    }
    phases = {phase: estimates[phase] for phase in Phase}
    return Plan(machine, host_ram, shots, considered, chosen_backend,
                auto.reason if auto and auto.fallback else None, groups, total,
                _single_pass_warnings(storyboard, shots), cost, choice_reason=auto.reason if auto else "",
                download=auto.download if auto else None, max_hours=max_hours, models_dir=models,
                models_origin=models_dir_origin(models_dir), phases=phases)


def _interpolation(storyboard, models_dir: Path) -> str:
    """The frame-rate conversion `delivery.frame_interpolation` comes to here (media/retime.py)."""
    from render_pipeline.media.retime import choose_interpolation

    return str(choose_interpolation(storyboard.delivery.frame_interpolation, models_dir))


def _single_pass_warnings(storyboard, shots: list[PlannedShot]) -> list[str]:
    """Shots that `window: single` renders in one pass longer than their model was trained on."""
    warnings = []
    for shot, planned in zip(storyboard.shots, shots):
        spec = SPECS.get(planned.backend)
        if spec is not None and shot.window == "single" and planned.frames > spec.max_frames:
            warnings.append(f"shot {shot.id}: window: single renders {planned.frames} frames in one pass, past the "
                            f"{spec.max_frames} frames {spec.name} was trained on (expect loops, freezes or drift, and "
                            f"a cost that grows with the square of the frames)")
    return warnings


def _check_loras(by_id: dict, concrete: dict[str, str]) -> None:
    """Every shot's LoRAs must fit the model the plan renders it with (validate checked the shots that
    name their backend; this catches `auto`, and --backend)."""
    from render_pipeline.backends.lora_files import expert_problem, fit_problem

    problems = []
    for shot_id, name in concrete.items():
        if name == "animatic":
            continue
        for number, lora in enumerate(by_id[shot_id].loras):
            problem = fit_problem(lora.path, name) or expert_problem(lora.expert, name)
            if problem:
                problems.append(f"shot {shot_id}: loras[{number}]: {problem} (the plan renders this shot with {name})")
    if problems:
        raise UserError("\n".join(problems))


def _image_conditioned(shot) -> bool:
    return shot.image is not None or shot.continue_from is not None


@dataclass(frozen=True)
class AutoChoice:
    backend: str  # what the auto shots render with: a model, or "animatic"
    reason: str  # why, in words, with the times that decided it
    fallback: bool  # the animatic stands in for a model (no GPU, nothing fits, weights missing)
    download: str | None = None  # the backend (a BackendPlan's name) whose missing weights would change the choice


def _choose_auto(shot_ids, by_id, machine, plan_for, max_hours: float, models_dir: Path) -> AutoChoice:
    """The best-looking backend (AUTO_ORDER) that fits and renders the auto shots within ``max_hours``, or
    past the limit the fastest; if its weights are missing, the next in that order that has them, else
    the animatic. The reason gives the times that decided it."""
    if not machine:
        return AutoChoice("animatic", "no GPU found (nvidia-smi reports none): every auto shot is drawn as an "
                                      "animatic", True)
    fitting: list[tuple[str, float, list[BackendPlan]]] = []  # (backend, seconds for the auto shots, its plans)
    for name in AUTO_ORDER:
        variants: dict[str, list[str]] = {}
        for shot_id in shot_ids:
            variants.setdefault(spec_for(name, _image_conditioned(by_id[shot_id])).name, []).append(shot_id)
        plans = [plan_for(variant, ids) for variant, ids in variants.items()]
        if all(plan.choice is not None for plan in plans):
            fitting.append((name, sum(plan.choice.film_seconds for plan in plans), plans))
    if not fitting:
        return AutoChoice("animatic", "no text-to-video backend fits these GPUs: every auto shot is drawn as an "
                                      "animatic", True)
    limit = max_hours * 3600
    within = [entry for entry in fitting if entry[1] <= limit]
    order = within or sorted(fitting, key=lambda entry: entry[1])
    best, best_seconds, _ = fitting[0]
    wanted, wanted_seconds, wanted_plans = order[0]
    if wanted == best:
        why = (f"{best}, the best-looking backend that fits, renders the auto shots in {_hours(best_seconds)}"
               + (f", within --max-hours {max_hours:g}" if within else f", more than --max-hours {max_hours:g}"))
    elif within:
        why = (f"{best} would look best but takes {_hours(best_seconds)}, more than --max-hours {max_hours:g}, so "
               f"{wanted}: {_hours(wanted_seconds)}")
    else:
        why = (f"every backend that fits takes more than --max-hours {max_hours:g} ({best}: {_hours(best_seconds)}), "
               f"so the fastest, {wanted}: {_hours(wanted_seconds)}")
    missing = next((plan.name for plan in wanted_plans if plan.weights_problem), None)
    if missing is None:
        return AutoChoice(wanted, why, False)
    others = [entry for entry in fitting if entry not in order]  # past the limit: still better than an animatic
    ready = next((entry for entry in order + others if not any(plan.weights_problem for plan in entry[2])), None)
    why += f"; its weights are missing in {models_dir}"
    if ready is not None:
        return AutoChoice(ready[0], f"{why}, so {ready[0]}, whose weights are there: {_hours(ready[1])}", False,
                          download=missing)
    return AutoChoice("animatic", f"{why}: every auto shot is drawn as an animatic until they are downloaded",
                      True, download=missing)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _nothing_fits(plan: BackendPlan, machine: list[Gpu]) -> str:
    if not machine:
        return f"{plan.name} needs a GPU and none was found; use --gpus to plan for one, or backend: animatic"
    closest = min(plan.candidates, key=lambda c: c.cost.peak)
    return (f"{plan.name} does not fit {len(machine)}x {machine[0].name} ({machine[0].memory_gib:g} GiB): "
            f"even the leanest layout {closest.reason}. Choose a smaller backend, or backend: animatic")


def shot_windows(spec: ModelSpec, shot) -> tuple[int, Windows | None]:
    """The shot's frames at the model's rate, and the windows they are rendered in (None: one pass)."""
    frames = spec.frames_for(shot.render_duration)
    return frames, plan_windows(spec, frames, shot.window)


def shot_shape(spec: ModelSpec, shot, delivery) -> Shape:
    """One denoising pass of the shot (a window, for a long one) and how many passes it takes."""
    settings = spec.settings(shot.quality)
    width, height = settings["width"], settings["height"]
    if delivery.height > delivery.width:  # portrait: the native sizes are given landscape
        width, height = height, width
    sampling = shot_sampling(spec, shot)
    frames, windows = shot_windows(spec, shot)
    if windows is None:
        return Shape(width, height, frames, sampling.steps, guided=sampling.guided, shift=sampling.shift)
    return Shape(width, height, windows.frames, sampling.steps, windows=windows.count, guided=sampling.guided,
                 shift=sampling.shift)


def _plan_backend(spec: ModelSpec, shots, machine: list[Gpu], host_ram_gib: float | None, delivery,
                  models_dir: Path, confine_to: Path | None = None) -> BackendPlan:
    from render_pipeline.backends.lora_files import changed_parameters
    from render_pipeline.backends.weights import describe_weights, locate_weights, quantised_transformer, weights_label

    arch = ARCHITECTURES[spec.name]
    shapes = {shot.id: shot_shape(spec, shot, delivery) for shot in shots}
    lora_parameters = max((changed_parameters(spec.name, shot.loras) for shot in shots), default=0)
    largest = max(shapes.values(), key=lambda s: (arch.video_tokens(s.width, s.height, s.frames), s.steps, s.windows))
    weights, problem = locate_weights(spec.name, models_dir, confine_to)
    plan = BackendPlan(spec.name, [shot.id for shot in shots], largest, [], None, spec.download_gb, problem,
                       spec.download_gb / DISK_GBPS, weights_found=None if weights is None else describe_weights(weights),
                       weights_label=None if weights is None else weights_label(weights),
                       windows={shot_id: shape.windows for shot_id, shape in shapes.items() if shape.windows > 1})
    if not machine:
        return plan
    gpu = machine[0]
    stored = None if weights is None else quantised_transformer(weights)
    for layout in candidate_layouts(arch, spec, len(machine), stored):
        plan.candidates.append(_weigh(arch, spec, layout, largest, gpu, len(machine), host_ram_gib, shapes,
                                      plan.load_seconds, lora_parameters))
    fitting = [i for i, c in enumerate(plan.candidates) if c.fits]
    if fitting:
        plan.chosen = min(fitting, key=lambda i: _preference(plan.candidates[i]))
        plan.schedule = _schedule(arch, spec, plan.fitting_choice, shapes, gpu, plan.load_seconds)
    choice = plan.choice
    if stored is None and (choice is None or choice.layout.offload != "none" or not choice.layout.exact):
        plan.quantised_peaks = _quantised_peaks(arch, spec, largest, gpu)
    return plan


def _quantised_peaks(arch, spec: ModelSpec, shape: Shape, gpu: Gpu) -> dict[str, float]:
    """One GPU's peak with each common quantised file, on the leanest layout keeping the weights on the GPU."""
    peaks = {}
    for label, bytes_per_param in QUANTISED_BYTES_PER_PARAM.items():
        layouts = [layout for layout in candidate_layouts(arch, spec, 1, (label, bytes_per_param))
                   if layout.offload in ("none", "inactive_expert")]
        peaks[label] = min(evaluate(arch, spec, with_vae(layout, tiling, dtype), shape, gpu).peak
                           for layout in layouts for tiling, dtype in VAE_MODES[:2])
    return peaks


def _preference(candidate: Candidate) -> tuple:
    return (not candidate.layout.implemented, not candidate.layout.exact, candidate.film_seconds)


def _weigh(arch, spec, layout: Layout, largest: Shape, gpu: Gpu, gpu_count: int, host_ram_gib: float | None,
           shapes: dict[str, Shape], load_seconds: float, lora_parameters: int = 0) -> Candidate:
    """The layout with the first VAE mode that fits, its verdict, and the film time it gives.

    ``lora_parameters``: the most weight parameters one of the shots' LoRA sets changes; their
    original tensors are kept on the host while it is fused (backends/lora_fuse.py)."""
    for tiling, vae_dtype in VAE_MODES:
        layout = with_vae(layout, tiling, vae_dtype)
        cost = evaluate(arch, spec, layout, largest, gpu)
        if needed_gib(cost.peak) <= gpu.memory_gib:
            break
    lora_gib = lora_originals_gib(layout, lora_parameters)
    cost.host_ram_gib += lora_gib
    groups = gpu_count // layout.gpus_per_shot
    reason = _gpu_reason(arch, spec, layout, cost, gpu)
    if reason is None and host_ram_gib is not None:
        usable = usable_host_gib(host_ram_gib)
        groups = min(groups, int(usable // cost.host_ram_gib))
        if groups == 0:
            reason = (f"needs {cost.host_ram_gib:.1f} GiB of host RAM per shot group "
                      f"({_host_detail(spec, layout, cost, lora_gib)}), only {usable:.1f} of {host_ram_gib:g} GiB usable")
    if reason is not None:
        return Candidate(layout, False, reason, cost, 0, None)
    film = load_seconds + _makespan([_interval(arch, spec, layout, s, gpu) for s in shapes.values()], groups)
    unused = gpu_count - groups * layout.gpus_per_shot
    verdict = f"fits: {groups} shot group{'s' if groups > 1 else ''} of {layout.gpus_per_shot} GPU at once"
    if unused:
        verdict += f", {unused} GPU{'s' if unused > 1 else ''} idle (host RAM)" if host_ram_gib else ""
    return Candidate(layout, True, verdict, cost, groups, film)


def lora_originals_gib(layout: Layout, parameters: int) -> float:
    """Host memory for the original tensors of the weights a LoRA set changes, per shot group: every
    process keeps its own (FSDP: its shard; one expert per GPU: its expert's)."""
    copies = 1 if layout.fsdp or layout.experts_resident == "one_per_gpu" else layout.gpus_per_shot
    return parameters * (2 if layout.weights_dtype == "bf16" else 1) * copies / GIB


def _gpu_reason(arch, spec, layout: Layout, cost: Cost, gpu: Gpu) -> str | None:
    stage, peak = max(cost.peak_gpu_gib.items(), key=lambda item: item[1])
    if needed_gib(peak) <= gpu.memory_gib:
        return None
    if stage == "denoise":
        detail = f"{cost.weights_gib:.1f} GiB weights + {cost.activations_gib:.1f} GiB activations"
    elif stage == "text_encode":
        detail = f"the {spec.text_encoder_gib:g} GiB text encoder"
    else:
        detail = f"{arch.vae.name} decode, tiled={layout.vae_tiling}"
    return (f"{stage} needs {peak:.1f} GiB per GPU ({detail}), {needed_gib(peak):.1f} with the safety margin; "
            f"the card has {gpu.memory_gib:g}")


def _host_detail(spec: ModelSpec, layout: Layout, cost: Cost, lora_gib: float = 0.0) -> str:
    offloaded = cost.host_ram_gib - layout.gpus_per_shot * 3.0 - lora_gib
    loras = f", {lora_gib:.1f} GiB of the weights LoRAs change kept as they were" if lora_gib else ""
    if layout.offload == "none":
        return "the process itself" + loras
    return f"{offloaded:.1f} GiB of {layout.offload.replace('_', ' ')} weights pinned" + loras


def _interval(arch, spec, layout: Layout, shape: Shape, gpu: Gpu) -> float:
    return evaluate(arch, spec, layout, shape, gpu).seconds_between_shots


def _makespan(durations: list[float], groups: int) -> float:
    """Longest first onto the group that frees up first."""
    finish = [0.0] * groups
    for duration in sorted(durations, reverse=True):
        heapq.heapreplace(finish, finish[0] + duration)
    return max(finish)


def _schedule(arch, spec, candidate: Candidate, shapes: dict[str, Shape], gpu: Gpu, load: float) -> list[Slot]:
    queue = [(load, group) for group in range(candidate.concurrent_groups)]
    heapq.heapify(queue)
    slots = []
    order = sorted(shapes, key=lambda shot_id: -_interval(arch, spec, candidate.layout, shapes[shot_id], gpu))
    for shot_id in order:
        start, group = heapq.heappop(queue)
        end = start + _interval(arch, spec, candidate.layout, shapes[shot_id], gpu)
        slots.append(Slot(group, shot_id, start, end))
        heapq.heappush(queue, (end, group))
    return sorted(slots, key=lambda slot: (slot.group, slot.start))


def _planned_shots(storyboard, concrete: dict[str, str], used_plans: list[BackendPlan],
                   method: str) -> tuple[list[PlannedShot], float]:
    """Every shot as planned, and the seconds they take: CPU shots one after another, each backend's schedule."""
    plans = {plan.name: plan for plan in used_plans}
    durations = {slot.shot_id: slot.end - slot.start for plan in used_plans for slot in plan.schedule}
    delivery = storyboard.delivery
    shots: list[PlannedShot] = []
    cpu_seconds = 0.0
    for shot in storyboard.shots:
        name = "footage" if shot.source is not None else concrete[shot.id]
        if name in ("footage", "animatic"):
            frames = round(shot.render_duration * delivery.fps)
            if name == "animatic":
                first = not any(planned.backend == "animatic" for planned in shots)
                seconds = animatic_seconds(frames, delivery.width, delivery.height, first)
            else:
                seconds = footage_seconds(frames, delivery.width, delivery.height, footage_rate(shot.source),
                                          delivery.fps, method)
            cpu_seconds += seconds
            shots.append(PlannedShot(shot.id, name, delivery.width, delivery.height, delivery.fps, frames, 0, 0,
                                     {}, seconds))
            continue
        spec = SPECS[name]
        plan = plans[name]
        shape = shot_shape(spec, shot, delivery)
        frames, windows = shot_windows(spec, shot)
        layout = plan.fitting_choice.layout
        candidate = {**asdict(layout), **layout.memory_strategy()}
        sampling = shot_sampling(spec, shot)
        settings = {k: v for k, v in spec.settings(shot.quality).items() if k not in ("width", "height", "steps")}
        settings |= {"guidance": sampling.guidance, "guidance_2": sampling.guidance_2, "shift": sampling.shift}
        shots.append(PlannedShot(shot.id, name, shape.width, shape.height, spec.native_fps, frames, shape.steps,
                                 layout.gpus_per_shot, candidate, durations[shot.id], settings, windows))
    total = cpu_seconds + sum(max(slot.end for slot in plan.schedule) for plan in used_plans)
    return shots, total
