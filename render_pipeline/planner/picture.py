"""The plan as a picture, drawn as plain SVG: memory per GPU per stage against the card, and the schedule
against a time axis."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from render_pipeline.planner.plan_types import Plan
from render_pipeline.planner.wording import describe, duration, time_unit

WIDTH = 820
LABEL = 150  # left column for names
BAR_HEIGHT = 18
STAGE_COLOURS = {"text_encode": "#7aa6c2", "denoise": "#d9843b", "decode": "#6aa56a"}
SHOT_COLOURS = ("#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc", "#fdd0a2")


def _text(x: float, y: float, content: str, size: int = 12, anchor: str = "start", weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" font-family="DejaVu Sans, sans-serif">{escape(content)}</text>')


def svg(plan: Plan) -> str:
    parts: list[str] = []
    y = 24.0
    chosen = [b for b in plan.backends if b.choice is not None]
    if not chosen:
        parts.append(_text(10, y, "Nothing to draw: no backend runs on a GPU in this plan."))
        y += 20
    capacity = plan.gpus[0].memory_gib if plan.gpus else 1.0
    scale = (WIDTH - LABEL - 30) / max([capacity] + [b.fitting_choice.cost.peak for b in chosen])
    for backend in chosen:
        choice = backend.fitting_choice
        parts.append(_text(10, y, f"{backend.name}: {describe(choice.layout)}", 13, weight="bold"))
        y += 10
        for stage, peak in choice.cost.peak_gpu_gib.items():
            y += BAR_HEIGHT + 6
            parts.append(_text(10, y - 5, stage.replace("_", " ")))
            parts.append(f'<rect x="{LABEL}" y="{y - BAR_HEIGHT:.1f}" width="{peak * scale:.1f}" '
                         f'height="{BAR_HEIGHT}" fill="{STAGE_COLOURS[stage]}"/>')
            parts.append(_text(LABEL + peak * scale + 4, y - 5, f"{peak:.1f} GiB", 11))
        top = y - 3 * (BAR_HEIGHT + 6) - 4
        x = LABEL + capacity * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{y + 4:.1f}" stroke="#c0392b" '
                     f'stroke-width="2" stroke-dasharray="5,3"/>')
        parts.append(_text(x, top - 2, f"card: {capacity:g} GiB", 11, "end"))
        y += 34
        y = _schedule(parts, backend, y)
    height = y + 10
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
            f'viewBox="0 0 {WIDTH} {height:.0f}">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(parts) + "\n</svg>\n")


def _schedule(parts: list[str], backend, y: float) -> float:
    end = max(slot.end for slot in backend.schedule)
    scale = (WIDTH - LABEL - 30) / end
    parts.append(_text(10, y, f"Schedule (loading, then shots), {duration(end)} in all", 12, weight="bold"))
    groups = sorted({slot.group for slot in backend.schedule})
    for group in groups:
        y += BAR_HEIGHT + 6
        parts.append(_text(10, y - 5, f"group {group + 1}"))
        first = min(slot.start for slot in backend.schedule if slot.group == group)
        parts.append(f'<rect x="{LABEL}" y="{y - BAR_HEIGHT:.1f}" width="{first * scale:.1f}" '
                     f'height="{BAR_HEIGHT}" fill="#dddddd"/>')
        for index, slot in enumerate(s for s in backend.schedule if s.group == group):
            x = LABEL + slot.start * scale
            width = (slot.end - slot.start) * scale
            parts.append(f'<rect x="{x:.1f}" y="{y - BAR_HEIGHT:.1f}" width="{width:.1f}" height="{BAR_HEIGHT}" '
                         f'fill="{SHOT_COLOURS[index % len(SHOT_COLOURS)]}" stroke="white"/>')
            if width > 28:
                parts.append(_text(x + width / 2, y - 5, slot.shot_id, 10, "middle"))
    return _time_axis(parts, y + 6, end, scale) + 24


def _time_axis(parts: list[str], y: float, end: float, scale: float) -> float:
    """A line under the schedule from its start to ``end`` seconds, ticked at a round step; returns the y below it."""
    unit, seconds = time_unit([end])
    step = _round_step(end / seconds / 6) * seconds
    parts.append(f'<line x1="{LABEL}" y1="{y:.1f}" x2="{LABEL + end * scale:.1f}" y2="{y:.1f}" stroke="#555555"/>')
    for index in range(int(end // step) + 1):
        x = LABEL + index * step * scale
        parts.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 5:.1f}" stroke="#555555"/>')
        parts.append(_text(x, y + 17, f"{index * step / seconds:g} {unit}", 10, "middle"))
    parts.append(_text(10, y + 17, "time from the start", 11))
    return y + 17


def _round_step(rough: float) -> float:
    """The 1, 2 or 5 times a power of ten nearest above ``rough``."""
    power = 10 ** math.floor(math.log10(rough)) if rough > 0 else 1.0
    return next(factor * power for factor in (1, 2, 5, 10) if factor * power >= rough)
