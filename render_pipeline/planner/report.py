"""The plan for people: a verdict per backend, a terminal table, and a Markdown report."""

from __future__ import annotations

from pathlib import Path

from render_pipeline.backends.specs import SPECS
from render_pipeline.backends.speed import FLASH_ATTENTION_4_FIX, flash_attention_4_installed, gpu_runs_flash_attention_4
from render_pipeline.planner.layouts import Layout
from render_pipeline.planner.plan import BackendPlan, Candidate, Plan


def describe(layout: Layout) -> str:
    parts = [f"{layout.gpus_per_shot} GPU"]
    if layout.fsdp:
        parts.append("FSDP")
    if layout.ulysses > 1:
        parts.append(f"Ulysses {layout.ulysses}")
    if layout.ring > 1:
        parts.append(f"ring {layout.ring}")
    if layout.cfg_parallel:
        parts.append("CFG parallel")
    if layout.experts_resident:
        parts.append(f"experts: {layout.experts_resident.replace('_', ' ')}")
    if layout.offload != "none":
        parts.append(f"offload {layout.offload.replace('_', ' ')}")
    parts.append(layout.weights_dtype)
    parts.append(f"VAE {layout.vae_dtype}{' tiled' if layout.vae_tiling else ''}")
    return ", ".join(parts)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def machine_line(plan: Plan) -> str:
    if not plan.gpus:
        gpus = "no GPU"
    else:
        gpu = plan.gpus[0]
        gpus = f"{len(plan.gpus)}x {gpu.name} ({gpu.memory_gib:g} GiB, {gpu.link})"
    ram = "host RAM not checked (give --host-ram)" if plan.host_ram_gib is None else f"{plan.host_ram_gib:.0f} GiB host RAM"
    return f"{gpus}, {ram}{_attention(plan)}"


def _attention(plan: Plan) -> str:
    """What the times assume for attention, where the GPUs could take FlashAttention-4."""
    if not plan.gpus or not gpu_runs_flash_attention_4(plan.gpus[0].name):
        return ""
    if flash_attention_4_installed():
        return ", attention through FlashAttention-4"
    return (f", SDPA's default attention (FlashAttention-4 would make one-GPU steps 1.07-1.15x faster: "
            f"{FLASH_ATTENTION_4_FIX})")


def windows_line(plan: BackendPlan) -> str:
    """How many of the backend's shots are longer than its trained clip, and so rendered in windows."""
    if not plan.windows:
        return ""
    counts = sorted(set(plan.windows.values()))
    many = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return (f" {len(plan.windows)} of its {len(plan.shot_ids)} shots are longer than the {SPECS[plan.name].max_frames} "
            f"frames it was trained on: each is rendered as {many} windows, each continuing the last.")


def outside_gpus(plan: Plan) -> str:
    """Disk for the shots and the film, and host memory to assemble it (planner/delivery.py)."""
    cost = plan.delivery
    text = (f"Disk: about {cost.disk_bytes / 1e9:.1f} GB ({cost.shot_bytes / 1e9:.1f} GB of shots, "
            f"{cost.film_bytes / 1e9:.1f} GB for the film and its intermediate). Assembling the {len(plan.shots)} "
            f"shot(s) takes about {cost.assembly_memory_bytes / 1024**3:.1f} GiB of host memory")
    if plan.host_ram_gib is not None and cost.assembly_memory_bytes > plan.host_ram_gib * 1024**3:
        text += f", more than the {plan.host_ram_gib:.0f} GiB here: deliver a smaller size or assemble elsewhere"
    return text + "."


def verdict(plan: BackendPlan) -> str:
    """One paragraph: what fits, how, and what the obvious alternatives would cost."""
    shape = plan.largest
    size = f"{shape.width}x{shape.height}, {shape.frames} frames a pass, {shape.steps} steps"
    if not plan.candidates:
        return f"{plan.name} at {size}: needs a GPU.{windows_line(plan)}"
    choice = plan.choice
    if choice is None:
        leanest = min(plan.candidates, key=lambda c: c.cost.peak)
        return f"{plan.name} at {size} does not fit: even the leanest layout ({describe(leanest.layout)}) {leanest.reason}."
    text = (f"{plan.name} at {size} fits with {describe(choice.layout)}: peak "
            f"{choice.cost.peak:.1f} GiB per GPU, {choice.cost.host_ram_gib:.0f} GiB host RAM per group, "
            f"{duration(choice.cost.seconds_per_shot)} per shot, the storyboard's shots in {duration(choice.film_seconds)}.")
    plain = _first(plan, lambda c: c.layout.gpus_per_shot == 1 and c.layout.offload == "none"
                   and c.layout.weights_dtype == "bf16")
    if plain is not None and not plain.fits:
        text += f" Without offloading or fp8 it does not: {plain.reason}."
    fastest = min((c for c in plan.candidates if c.fits), key=lambda c: c.film_seconds)
    if fastest is not choice and fastest.film_seconds < 0.9 * choice.film_seconds:
        why = "not yet run by the backends" if not fastest.layout.implemented else "changes the pictures slightly"
        text += (f" Faster: {describe(fastest.layout)} ({duration(fastest.film_seconds)}), "
                 f"{why}.")
    text += windows_line(plan)
    if plan.quantised_peaks:
        text += (" With quantised files instead, one GPU would peak at: "
                 + ", ".join(f"{label} {peak:.1f} GiB" for label, peak in plan.quantised_peaks.items())
                 + " (estimated sizes; files found on disk are counted from their headers).")
    if plan.weights_problem:
        text += f" Weights: {plan.weights_problem}"
    elif plan.weights_found:
        text += f" Weights: {plan.weights_found}."
    return text


def _first(plan: BackendPlan, test) -> Candidate | None:
    return next((c for c in plan.candidates if test(c)), None)


def _rows(plan: BackendPlan, limit: int) -> list[Candidate]:
    """The chosen layout, then the other fitting ones by speed, then a few that do not fit."""
    fitting = sorted((c for c in plan.candidates if c.fits), key=lambda c: c.film_seconds)
    failing = sorted((c for c in plan.candidates if not c.fits), key=lambda c: c.cost.peak)
    chosen = [plan.choice] if plan.choice else []
    rest = [c for c in fitting if c is not plan.choice]
    return (chosen + rest)[: max(limit - 3, 1)] + failing[:3]


def print_plan(plan: Plan, console) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(f"[bold]Plan[/bold] for {escape(machine_line(plan))}")
    for backend in plan.backends:
        if not backend.candidates:
            continue
        table = Table(title=f"{backend.name} ({backend.largest.width}x{backend.largest.height}x"
                            f"{backend.largest.frames}, download {backend.download_gb:g} GB)")
        # GiB per GPU per stage; the reasons a layout does not fit are in the Markdown report and --json.
        for column in ("", "layout", "text", "denoise", "decode", "host", "per shot", "film"):
            table.add_column(column, overflow="fold")
        for candidate in _rows(backend, 8):
            peaks = candidate.cost.peak_gpu_gib
            table.add_row("*" if candidate is backend.choice else "", describe(candidate.layout),
                          f"{peaks['text_encode']:.1f}", f"{peaks['denoise']:.1f}", f"{peaks['decode']:.1f}",
                          f"{candidate.cost.host_ram_gib:.0f}", duration(candidate.cost.seconds_per_shot),
                          duration(candidate.film_seconds) if candidate.fits else "no fit",
                          style=None if candidate.fits else "dim")
        console.print(table)
        console.print(verdict(backend), soft_wrap=True)
    console.print(f"Backend: [bold]{plan.chosen_backend}[/bold]; whole film about {duration(plan.total_seconds)}"
                  f" with {plan.concurrent_groups} shot group(s) at once.")
    if plan.delivery is not None:
        console.print(outside_gpus(plan), soft_wrap=True)
    if plan.fallback_reason:
        console.print(f"[yellow]Animatic:[/yellow] {plan.fallback_reason}", soft_wrap=True)
    for warning in plan.warnings:
        console.print(f"[yellow]Warning:[/yellow] {escape(warning)}", soft_wrap=True)


def markdown(plan: Plan, title: str, picture: str | None) -> str:
    lines = [f"# Render plan: {title}", "", f"Machine: {machine_line(plan)}.", "",
             f"Backend: **{plan.chosen_backend}**; whole film about {duration(plan.total_seconds)} "
             f"with {plan.concurrent_groups} shot group(s) at once.", ""]
    if plan.delivery is not None:
        lines += [outside_gpus(plan), ""]
    if plan.fallback_reason:
        lines += [f"Animatic fallback: {plan.fallback_reason}", ""]
    lines += [f"Warning: {warning}" for warning in plan.warnings] + ([""] if plan.warnings else [])
    if picture:
        lines += [f"![memory per GPU per stage, and the schedule]({picture})", ""]
    for backend in plan.backends:
        lines += [f"## {backend.name}", "", verdict(backend), ""]
        if not backend.candidates:
            continue
        lines += ["| | layout | text encode GiB | denoise GiB | decode GiB | host RAM GiB | per shot | film | verdict |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for candidate in _rows(backend, 12):
            peaks = candidate.cost.peak_gpu_gib
            mark = "chosen" if candidate is backend.choice else ""
            lines.append(f"| {mark} | {describe(candidate.layout)} | {peaks['text_encode']:.1f} | "
                         f"{peaks['denoise']:.1f} | {peaks['decode']:.1f} | {candidate.cost.host_ram_gib:.0f} | "
                         f"{duration(candidate.cost.seconds_per_shot)} | {duration(candidate.film_seconds)} | "
                         f"{candidate.reason} |")
        lines.append("")
    lines += ["How these figures are made: docs/planner.md.", ""]
    return "\n".join(lines)


def write_report(plan: Plan, title: str, path: Path) -> tuple[Path, Path]:
    """The Markdown report and its SVG picture beside it, each written whole then renamed."""
    from render_pipeline.planner.picture import svg

    path = Path(path)
    picture = path.with_suffix(".svg")
    for target, text in ((picture, svg(plan)), (path, markdown(plan, title, picture.name))):
        partial = target.with_name(target.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
    return path, picture
