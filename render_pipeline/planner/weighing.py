"""Weighing a backend's candidate layouts: memory on the largest shot, time on every shot, the schedule.

The chosen layout is the fastest that fits with the safety margin, preferring what this version's
backends can run and exact output over fp8 or a bf16 VAE (planner/plan.py make_plan uses it).
"""

from __future__ import annotations

import heapq
from pathlib import Path

from render_pipeline.backends.specs import ModelSpec
from render_pipeline.backends.windows import Windows, plan_windows
from render_pipeline.planner.architectures import ARCHITECTURES
from render_pipeline.planner.gpus import GIB, Gpu
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
from render_pipeline.planner.plan_types import BackendPlan, Candidate, Slot
from render_pipeline.planner.sampling import shot_sampling

DISK_GBPS = 1.5  # reading the weights once per process
# The OS, the page cache the loader needs and everything else running: not ours to use.
HOST_RESERVE_FRACTION = 0.1
HOST_RESERVE_MIN_GIB = 2.0


def usable_host_gib(host_ram_gib: float) -> float:
    return host_ram_gib - max(HOST_RESERVE_MIN_GIB, host_ram_gib * HOST_RESERVE_FRACTION)

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


def plan_backend(spec: ModelSpec, shots, machine: list[Gpu], host_ram_gib: float | None, delivery,
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
    if stored is None and (choice is None or choice.layout.memory.offload != "none" or not choice.layout.exact):
        plan.quantised_peaks = _quantised_peaks(arch, spec, largest, gpu)
    return plan


def _quantised_peaks(arch, spec: ModelSpec, shape: Shape, gpu: Gpu) -> dict[str, float]:
    """One GPU's peak with each common quantised file, on the leanest layout keeping the weights on the GPU."""
    peaks = {}
    for label, bytes_per_param in QUANTISED_BYTES_PER_PARAM.items():
        layouts = [layout for layout in candidate_layouts(arch, spec, 1, (label, bytes_per_param))
                   if layout.memory.offload in ("none", "inactive_expert")]
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
    groups = gpu_count // layout.parallel.gpus_per_shot
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
    unused = gpu_count - groups * layout.parallel.gpus_per_shot
    verdict = f"fits: {groups} shot group{'s' if groups > 1 else ''} of {layout.parallel.gpus_per_shot} GPU at once"
    if unused:
        verdict += f", {unused} GPU{'s' if unused > 1 else ''} idle (host RAM)" if host_ram_gib else ""
    return Candidate(layout, True, verdict, cost, groups, film)


def lora_originals_gib(layout: Layout, parameters: int) -> float:
    """Host memory for the original tensors of the weights a LoRA set changes, per shot group: every
    process keeps its own (FSDP: its shard; one expert per GPU: its expert's)."""
    copies = 1 if layout.parallel.fsdp or layout.parallel.experts_resident == "one_per_gpu" else layout.parallel.gpus_per_shot
    return parameters * (2 if layout.memory.weights_dtype == "bf16" else 1) * copies / GIB


def _gpu_reason(arch, spec, layout: Layout, cost: Cost, gpu: Gpu) -> str | None:
    stage, peak = max(cost.peak_gpu_gib.items(), key=lambda item: item[1])
    if needed_gib(peak) <= gpu.memory_gib:
        return None
    if stage == "denoise":
        detail = f"{cost.weights_gib:.1f} GiB weights + {cost.activations_gib:.1f} GiB activations"
    elif stage == "text_encode":
        detail = f"the {spec.text_encoder_gib:g} GiB text encoder"
    else:
        detail = f"{arch.vae.name} decode, tiled={layout.memory.vae_tiling}"
    return (f"{stage} needs {peak:.1f} GiB per GPU ({detail}), {needed_gib(peak):.1f} with the safety margin; "
            f"the card has {gpu.memory_gib:g}")


def _host_detail(spec: ModelSpec, layout: Layout, cost: Cost, lora_gib: float = 0.0) -> str:
    offloaded = cost.host_ram_gib - layout.parallel.gpus_per_shot * 3.0 - lora_gib
    loras = f", {lora_gib:.1f} GiB of the weights LoRAs change kept as they were" if lora_gib else ""
    if layout.memory.offload == "none":
        return "the process itself" + loras
    return f"{offloaded:.1f} GiB of {layout.memory.offload.replace('_', ' ')} weights pinned" + loras


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
