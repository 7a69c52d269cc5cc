"""review.html: a contact sheet of every shot that opens in a browser straight from disk.

Thumbnails are embedded as data URIs, so the page is one file that can be mailed or
copied anywhere. Everything the user wrote is HTML-escaped.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from render_pipeline.post.edit import Edit
from render_pipeline.storyboard.schema import Overlay

THUMBNAIL_WIDTH = 320  # pixels; taken during the film's encode (video.py)


@dataclass
class ShotNotes:
    """What the earlier stages said about one shot."""

    original_prompt: str | None = None
    enhanced_prompt: str | None = None
    negative_prompt: str | None = None
    extracted_text: list[str] = field(default_factory=list)
    overlays: tuple[Overlay, ...] = ()
    narration: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """Per-shot entries of the runner's manifest.json, keyed by shot id; empty if there is none."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    shots = data.get("shots") if isinstance(data, dict) else None
    if not isinstance(shots, dict):
        return {}
    return {str(key): value for key, value in shots.items() if isinstance(value, dict)}


def _render_seconds(entry: dict[str, Any]) -> str:
    timings = entry.get("timings")
    seconds = timings.get("seconds") if isinstance(timings, dict) else None
    return f"{seconds:.1f} s" if isinstance(seconds, (int, float)) else ""


def _row(label: str, value: str | None) -> str:
    if not value:
        return ""
    return f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>"


def write_review(path: Path, title: str, edit: Edit, thumbnails: dict[str, bytes], notes: dict[str, ShotNotes]) -> None:
    cards = []
    for edited in edit.shots:
        shot = edited.shot
        note = notes[shot.id]
        entry = note.manifest
        start, end = edit.seconds(edited.record_start), edit.seconds(edited.record_end)
        overlays = "; ".join(f"{o.style}: {o.text}" for o in note.overlays)
        image = base64.b64encode(thumbnails[shot.id]).decode("ascii")
        details = "".join([
            _row("time", f"{start:.2f}–{end:.2f} s ({shot.duration:g} s)"),
            _row("prompt", note.original_prompt or (f"footage: {shot.source.name}" if shot.source else None)),
            _row("enhanced", note.enhanced_prompt),
            _row("negative", note.negative_prompt),
            _row("text taken out", "; ".join(note.extracted_text)),
            _row("overlays", overlays),
            _row("narration", note.narration),
            _row("backend", str(entry.get("backend") or shot.backend)),
            _row("seed", str(entry.get("seed", shot.seed))),
            _row("render time", _render_seconds(entry)),
            _row("status", str(entry.get("status", "not in manifest"))),
            _row("error", str(entry["error"]) if entry.get("error") else None),
        ])
        cards.append(f'<article class="shot" id="shot-{escape(shot.id)}"><h2>{escape(shot.id)}</h2>'
                     f'<img alt="shot {escape(shot.id)}" src="data:image/jpeg;base64,{image}"><dl>{details}</dl></article>')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} — review</title>
<style>
body {{ font-family: sans-serif; margin: 1.5rem; background: #f4f4f4; color: #222; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 1rem; }}
.shot {{ background: #fff; padding: .75rem; border-radius: 6px; box-shadow: 0 1px 3px #0002; }}
.shot h2 {{ margin: 0 0 .5rem; font-size: 1.1rem; }}
.shot img {{ width: 100%; height: auto; background: #000; }}
dl {{ display: grid; grid-template-columns: max-content 1fr; gap: .2rem .6rem; font-size: .85rem; }}
dt {{ font-weight: bold; color: #555; }} dd {{ margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }}
</style></head>
<body><h1>{escape(title)}</h1>
<p>{len(edit.shots)} shots, {edit.seconds(edit.total_frames):.2f} s at {float(edit.fps):g} fps, {edit.width}x{edit.height}</p>
<main>
{chr(10).join(cards)}
</main></body></html>
"""
    path.write_text(page, encoding="utf-8")
