"""The plan's figures in words, as the summary, the Markdown report (report.py) and the SVG (picture.py) all
write them: a layout as a list of its choices, a time in the unit that suits it."""

from __future__ import annotations

from render_pipeline.planner.layouts import Layout


def describe(layout: Layout) -> str:
    parts = [f"{layout.parallel.gpus_per_shot} GPU"]
    if layout.parallel.fsdp:
        parts.append("FSDP")
    if layout.parallel.ulysses > 1:
        parts.append(f"Ulysses {layout.parallel.ulysses}")
    if layout.parallel.ring > 1:
        parts.append(f"ring {layout.parallel.ring}")
    if layout.parallel.cfg_parallel:
        parts.append("CFG parallel")
    if layout.parallel.experts_resident:
        parts.append(f"experts: {layout.parallel.experts_resident.replace('_', ' ')}")
    if layout.memory.offload != "none":
        parts.append(f"offload {layout.memory.offload.replace('_', ' ')}")
    parts.append(layout.memory.weights_dtype)
    parts.append(f"VAE {layout.memory.vae_dtype}{' tiled' if layout.memory.vae_tiling else ''}")
    return ", ".join(parts)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def time_unit(seconds: list[float]) -> tuple[str, float]:
    """One unit for a column of times, by its largest: s, min or h, with its length in seconds."""
    largest = max(seconds, default=0.0)
    if largest < 120:
        return "s", 1.0
    if largest < 10 * 3600:
        return "min", 60.0
    return "h", 3600.0


def in_unit(seconds: float | None, unit: tuple[str, float]) -> str:
    if seconds is None:
        return "-"
    value = seconds / unit[1]
    return f"{value:.1f}" if unit[0] == "h" or value < 10 else f"{value:.0f}"
