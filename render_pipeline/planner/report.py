"""The plan for people: a short summary (a line per backend and the choice), every layout with --all,
and a Markdown report."""

from __future__ import annotations

from pathlib import Path

from render_pipeline.backends.specs import SPECS
from render_pipeline.backends.speed import (
    FLASH_ATTENTION_4_FIX,
    flash_attention_4_installed,
    gpu_runs_flash_attention_4,
)
from render_pipeline.planner.delivery import DeliveryCost
from render_pipeline.planner.phases import format_duration
from render_pipeline.planner.plan_types import BackendPlan, Candidate, Plan
from render_pipeline.planner.wording import describe, duration, in_unit, time_unit


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
    return (f" {len(plan.windows)} of its {len(plan.shot_ids)} shots are longer than the {SPECS[plan.name].max_frames} "
            f"frames it was trained on: each is rendered as {_window_counts(plan)} windows, each continuing the last.")


def _window_counts(plan: BackendPlan) -> str:
    counts = sorted(set(plan.windows.values()))
    return f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def outside_gpus(plan: Plan, cost: DeliveryCost) -> str:
    """``cost``, the plan's: disk for the shots and the film, and host memory to assemble it (planner/delivery.py)."""
    text = (f"Disk: about {cost.disk_bytes / 1e9:.1f} GB ({cost.shot_bytes / 1e9:.1f} GB of shots, "
            f"{cost.film_bytes / 1e9:.1f} GB for the film and its intermediate). Assembling the {len(plan.shots)} "
            f"shot(s) takes about {cost.assembly_memory_bytes / 1024**3:.1f} GiB of host memory")
    if plan.host_ram_gib is not None and cost.assembly_memory_bytes > plan.host_ram_gib * 1024**3:
        text += f", more than the {plan.host_ram_gib:.0f} GiB here: deliver a smaller size or assemble elsewhere"
    return text + "."


def verdict(plan: BackendPlan, full_weights: bool = True) -> str:
    """One paragraph: what fits, how, and what the obvious alternatives would cost. ``full_weights``: say
    exactly what is missing and how to download it (else only that the weights are missing)."""
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
    plain = _first(plan, lambda c: c.layout.parallel.gpus_per_shot == 1 and c.layout.memory.offload == "none"
                   and c.layout.memory.weights_dtype == "bf16")
    if plain is not None and not plain.fits:
        text += f" Without offloading or fp8 it does not: {plain.reason}."
    fastest = min((c for c in plan.candidates if c.fits), key=lambda c: c.fitting_film_seconds)
    if fastest is not choice and fastest.fitting_film_seconds < 0.9 * choice.fitting_film_seconds:
        why = "not yet run by the backends" if not fastest.layout.implemented else "changes the pictures slightly"
        text += (f" Faster: {describe(fastest.layout)} ({duration(fastest.film_seconds)}), "
                 f"{why}.")
    text += windows_line(plan)
    if plan.quantised_peaks:
        text += (" With quantised files instead, one GPU would peak at: "
                 + ", ".join(f"{label} {peak:.1f} GiB" for label, peak in plan.quantised_peaks.items())
                 + " (estimated sizes; files found on disk are counted from their headers).")
    if plan.weights_problem:
        text += f" Weights: {plan.weights_problem}" if full_weights else f" Weights: {weights_cell(plan)}."
    elif plan.weights_found:
        text += f" Weights: {plan.weights_found}."
    return text


def weights_cell(plan: BackendPlan) -> str:
    """The weights in a few words: their format where found, else what downloading them takes."""
    if plan.weights_problem is None:
        return plan.weights_label or "found"
    if plan.weights_label is None and plan.download_gb:
        return f"missing ({plan.download_gb:g} GB)"
    return "not usable (see doctor)"


def _first(plan: BackendPlan, test) -> Candidate | None:
    return next((c for c in plan.candidates if test(c)), None)


def _rows(plan: BackendPlan, limit: int) -> list[Candidate]:
    """The chosen layout, then the other fitting ones by speed, then a few that do not fit."""
    fitting = sorted((c for c in plan.candidates if c.fits), key=lambda c: c.fitting_film_seconds)
    failing = sorted((c for c in plan.candidates if not c.fits), key=lambda c: c.cost.peak)
    chosen = [plan.choice] if plan.choice else []
    rest = [c for c in fitting if c is not plan.choice]
    return (chosen + rest)[: max(limit - 3, 1)] + failing[:3]


def _table(header: list[str], rows: list[list[str]], marks: list[str]) -> list[str]:
    """Plain columns, two spaces apart, each row one line."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [f"{mark:1} " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for mark, row in zip([" ", *marks], [header, *rows])]


def summary_lines(plan: Plan) -> list[str]:
    """`plan`'s default output: a line per backend, why the choice, the download (once), the whole run."""
    lines = [f"Plan for {machine_line(plan)}"]
    if plan.models_dir is not None:
        lines.append(f"Models folder: {plan.models_dir} ({plan.models_origin})")
    backends = plan.backends
    used = {shot.backend for shot in plan.shots}
    if backends:
        per_shot = time_unit([b.choice.cost.seconds_per_shot for b in backends if b.choice])
        film = time_unit([b.choice.fitting_film_seconds for b in backends if b.choice])
        rows = []
        for backend in backends:
            choice = backend.choice
            if not backend.candidates:
                fits, layout, peak = "-", "needs a GPU", "-"
            elif choice is None:
                leanest = min(backend.candidates, key=lambda c: c.cost.peak)
                fits, layout, peak = "no", f"even the leanest: {leanest.reason.split(' (')[0]}", f"{leanest.cost.peak:.1f}"
            else:
                fits, layout, peak = "yes", describe(choice.layout), f"{choice.cost.peak:.1f}"
            rows.append([backend.name, fits, layout, peak,
                         in_unit(choice.cost.seconds_per_shot if choice else None, per_shot),
                         in_unit(choice.film_seconds if choice else None, film), weights_cell(backend)])
        header = ["backend", "fits", "layout", "peak (GiB/GPU)", f"per shot ({per_shot[0]})",
                  f"its shots ({film[0]})", "weights"]
        lines += _table(header, rows, ["*" if backend.name in used else " " for backend in backends])
        windowed = [f"{b.name} {len(b.windows)} of {len(b.shot_ids)} shots past {SPECS[b.name].max_frames} frames, "
                    f"in {_window_counts(b)} windows" for b in backends if b.windows]
        if windowed:
            lines.append("Windows (a shot longer than its model was trained on, each window continuing the last): "
                         + "; ".join(windowed) + ".")
    lines.append(choice_line(plan))
    lines += download_lines(plan)
    lines.append(run_line(plan))
    if plan.delivery is not None:
        lines.append(outside_gpus(plan, plan.delivery))
    lines += [f"Warning: {warning}" for warning in plan.warnings]
    if backends:
        lines.append("--all: every layout of every backend; --report FILE.md: the same in Markdown, with a picture.")
    return lines


def choice_line(plan: Plan) -> str:
    """Which backend renders the shots, and why."""
    if plan.choice_reason:
        return f"Choice: {plan.chosen_backend}. Why: {plan.choice_reason}."
    named = sorted({shot.backend for shot in plan.shots} - {"footage"})
    return f"Backend: {', '.join(named) or 'none (footage only)'}, as the storyboard names."


def download_lines(plan: Plan) -> list[str]:
    """What to download, once: for the backend auto wants, and for each backend the shots name that lacks weights."""
    problems = [plan.download_hint] if plan.download_hint else []
    used = {shot.backend for shot in plan.shots}
    problems += [backend.weights_problem for backend in plan.backends
                 if backend.name in used and backend.weights_problem and backend.name != plan.download]
    return [f"Download: {problem}" for problem in problems]


def run_line(plan: Plan) -> str:
    """The whole of `render-all`, phase by phase (planner/phases.py)."""
    parts = [f"{phase} {format_duration(estimate.seconds)}" for phase, estimate in plan.phases.items()
             if estimate.items]
    return (f"render-all: about {format_duration(plan.run_seconds)} ({', '.join(parts)}), with "
            f"{plan.concurrent_groups} shot group(s) at once")


def print_plan(plan: Plan, console, every_layout: bool = False) -> None:
    """The summary; with ``every_layout`` (--all), every backend's layouts as tables and verdicts before it."""
    if every_layout:
        _print_layouts(plan, console)
    for line in summary_lines(plan):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _print_layouts(plan: Plan, console) -> None:
    from rich import box
    from rich.table import Table

    for backend in plan.backends:
        if not backend.candidates:
            continue
        rows = _rows(backend, 8)
        per_shot = time_unit([c.cost.seconds_per_shot for c in rows])
        film = time_unit([c.fitting_film_seconds for c in rows if c.fits])
        table = Table(title=f"{backend.name} ({backend.largest.width}x{backend.largest.height}x"
                            f"{backend.largest.frames}, download {backend.download_gb:g} GB)", box=box.SIMPLE_HEAD,
                      padding=(0, 1))
        # Peaks per GPU per stage; the reasons a layout does not fit are in the verdict, the report and --json.
        table.add_column("layout (* chosen)", overflow="fold", ratio=1, min_width=18)
        for column in ("fits", "text\nGiB", "denoise\nGiB", "decode\nGiB", "host\nGiB",
                       f"shot\n{per_shot[0]}", f"shots\n{film[0]}"):
            table.add_column(column, justify="right")
        for candidate in rows:
            peaks = candidate.cost.peak_gpu_gib
            table.add_row(("* " if candidate is backend.choice else "") + describe(candidate.layout),
                          "yes" if candidate.fits else "no",
                          f"{peaks['text_encode']:.1f}", f"{peaks['denoise']:.1f}", f"{peaks['decode']:.1f}",
                          f"{candidate.cost.host_ram_gib:.0f}", in_unit(candidate.cost.seconds_per_shot, per_shot),
                          in_unit(candidate.film_seconds, film), style=None if candidate.fits else "dim")
        console.print(table)
        console.print(verdict(backend, full_weights=False), markup=False, highlight=False, soft_wrap=True)


def markdown(plan: Plan, title: str, picture: str | None) -> str:
    lines = [f"# Render plan: {title}", "", f"Machine: {machine_line(plan)}.", ""]
    if plan.models_dir is not None:
        lines += [f"Models folder: {plan.models_dir} ({plan.models_origin}).", ""]
    downloads = download_lines(plan)
    lines += [choice_line(plan), ""]
    for download in downloads:
        lines += [download, ""]
    lines += [run_line(plan) + ".", ""]
    if plan.delivery is not None:
        lines += [outside_gpus(plan, plan.delivery), ""]
    lines += [f"Warning: {warning}" for warning in plan.warnings] + ([""] if plan.warnings else [])
    if picture:
        lines += [f"![memory per GPU per stage, and the schedule]({picture})", ""]
    for backend in plan.backends:
        said = any(backend.weights_problem and backend.weights_problem in download for download in downloads)
        lines += [f"## {backend.name}", "", verdict(backend, full_weights=not said), ""]
        if not backend.candidates:
            continue
        rows = _rows(backend, 12)
        per_shot = time_unit([c.cost.seconds_per_shot for c in rows])
        film = time_unit([c.fitting_film_seconds for c in rows if c.fits])
        lines += [f"| | layout | fits | text encode (GiB) | denoise (GiB) | decode (GiB) | host RAM (GiB) | "
                  f"per shot ({per_shot[0]}) | its shots ({film[0]}) | verdict |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for candidate in rows:
            peaks = candidate.cost.peak_gpu_gib
            mark = "chosen" if candidate is backend.choice else ""
            lines.append(f"| {mark} | {describe(candidate.layout)} | {'yes' if candidate.fits else 'no'} | "
                         f"{peaks['text_encode']:.1f} | {peaks['denoise']:.1f} | {peaks['decode']:.1f} | "
                         f"{candidate.cost.host_ram_gib:.0f} | {in_unit(candidate.cost.seconds_per_shot, per_shot)} | "
                         f"{in_unit(candidate.film_seconds, film)} | {candidate.reason} |")
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
