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

from dataclasses import dataclass
from pathlib import Path

from render_pipeline.backends.specs import AUTO_ORDER, SPECS, spec_for
from render_pipeline.errors import UserError
from render_pipeline.planner.delivery import delivery_cost
from render_pipeline.planner.gpus import (
    Gpu,
    detect_gpus,
    detect_host_ram_gib,
    no_gpus,
    parse_gpus,
    parse_size_gib,
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
from render_pipeline.planner.plan_types import DEFAULT_MAX_HOURS, BackendPlan, Plan, PlannedShot
from render_pipeline.planner.sampling import shot_sampling
from render_pipeline.planner.weighing import plan_backend, shot_shape, shot_windows
from render_pipeline.shot_layout import ShotLayout


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
            planned[key] = plan_backend(SPECS[name], [by_id[i] for i in shot_ids], machine, host_ram,
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
        reason, _ = no_gpus()
        return AutoChoice("animatic", f"{reason}: every auto shot is drawn as an animatic", True)
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
                                     ShotLayout(), seconds))
            continue
        spec = SPECS[name]
        plan = plans[name]
        shape = shot_shape(spec, shot, delivery)
        frames, windows = shot_windows(spec, shot)
        layout = plan.fitting_choice.layout
        sampling = shot_sampling(spec, shot)
        settings = {k: v for k, v in spec.settings(shot.quality).items() if k not in ("width", "height", "steps")}
        settings |= {"guidance": sampling.guidance, "guidance_2": sampling.guidance_2, "shift": sampling.shift}
        shots.append(PlannedShot(shot.id, name, shape.width, shape.height, spec.native_fps, frames, shape.steps,
                                 layout.parallel.gpus_per_shot, layout.shot_layout, durations[shot.id], settings,
                                 windows))
    total = cpu_seconds + sum(max(slot.end for slot in plan.schedule) for plan in used_plans)
    return shots, total
