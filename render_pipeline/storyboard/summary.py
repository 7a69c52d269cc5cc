"""Human and JSON views of a resolved storyboard, for `validate`."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from render_pipeline.storyboard.resolved import Storyboard


def format_seconds(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def summary_line(storyboard: Storyboard) -> str:
    shots = storyboard.shots
    narrated = sum(1 for s in shots if s.narration)
    overlays = sum(len(s.overlays) for s in shots)
    footage = sum(1 for s in shots if s.source is not None)
    return (
        f"{storyboard.path.name}: ok - \"{storyboard.title}\", {len(shots)} shots "
        f"({footage} footage), {format_seconds(storyboard.duration)} long, "
        f"{narrated} narrated, {overlays} overlays, {len(storyboard.music)} music cues, "
        f"{storyboard.delivery.size} at {storyboard.delivery.fps:g} fps"
    )


def plain_data(value: Any) -> Any:
    """``value`` as JSON data: models with their fields named as a storyboard writes them, paths as text."""
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True)
    if isinstance(value, Path):
        return str(value)
    if is_dataclass(value):
        return {f.name: plain_data(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    return value


def resolved_json(storyboard: Storyboard) -> dict:
    data = plain_data(storyboard)
    data["warnings"] = [str(w) for w in storyboard.warnings]
    data["duration"] = storyboard.duration
    for shot, out in zip(storyboard.shots, data["shots"]):
        out["handle_in"], out["handle_out"] = shot.handle_in, shot.handle_out
    return data
