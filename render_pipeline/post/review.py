"""review.html: the film in a player, and a card for every shot, in one file that opens straight from disk.

The player plays the film beside the page through a relative link (final.mp4), so the output
folder can be moved or copied whole. Each shot's thumbnail is a frame from the middle of the
shot in the finished film (titles and captions burned in), embedded as a data URI; clicking
it seeks the player to the shot's first frame. The page loads nothing else: no script, style
or font from anywhere. Everything the user wrote is HTML-escaped, and the one script is a
constant (SCRIPT) that reads only the numbers the page was written with.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from render_pipeline.post.edit import Edit
from render_pipeline.storyboard.schema import Overlay

THUMBNAIL_WIDTH = 320  # pixels; taken during the film's encode (video.py)

# Clicking a thumbnail seeks the player to its shot; while the film plays, the shot on screen is marked.
SCRIPT = """
const film = document.getElementById("film");
const cards = [...document.querySelectorAll("article.shot")];
for (const button of document.querySelectorAll("button.seek")) {
  button.addEventListener("click", () => { film.currentTime = Number(button.dataset.start); });
}
film.addEventListener("timeupdate", () => {
  for (const card of cards) {
    const now = film.currentTime;
    card.classList.toggle("current", now >= Number(card.dataset.start) && now < Number(card.dataset.end));
  }
});
"""

STYLE = """
body { font-family: sans-serif; margin: 1.5rem; background: #f4f4f4; color: #222; }
.player { position: sticky; top: 0; z-index: 1; background: #f4f4f4; padding-bottom: .75rem; }
video { display: block; width: 100%; max-width: 960px; max-height: 60vh; background: #000; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 1rem; }
.shot { background: #fff; padding: .75rem; border-radius: 6px; box-shadow: 0 1px 3px #0002; }
.shot.current { outline: 3px solid #2a6fdb; }
.shot h2 { margin: 0 0 .5rem; font-size: 1.1rem; }
button.seek { display: block; width: 100%; padding: 0; border: 0; background: #000; cursor: pointer; }
button.seek img { display: block; width: 100%; height: auto; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .6rem; font-size: .85rem; }
dt { font-weight: bold; color: #555; } dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
"""


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


def _peak_memory(entry: dict[str, Any]) -> str:
    """The worker's peak memory for the shot as the runner recorded it: host, and GPU where one was used."""
    peaks = entry.get("peak_memory")
    if not isinstance(peaks, dict):
        return ""
    parts = [f"{label} {peaks[key] / 1024**3:.2f} GiB" for key, label in (("host_bytes", "host"), ("gpu_bytes", "GPU"))
             if isinstance(peaks.get(key), (int, float))]
    return ", ".join(parts)


def _row(label: str, value: str | None) -> str:
    if not value:
        return ""
    return f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>"


def write_review(path: Path, title: str, edit: Edit, thumbnails: dict[str, bytes], notes: dict[str, ShotNotes],
                 film: str) -> None:
    """Write the page to ``path``; ``film`` is the film's path relative to the page (final.mp4 beside it)."""
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
            _row("peak memory", _peak_memory(entry)),
            _row("status", str(entry.get("status", "not in manifest"))),
            _row("error", str(entry["error"]) if entry.get("error") else None),
        ])
        shot_id = escape(shot.id)
        cards.append(f'<article class="shot" id="shot-{shot_id}" data-start="{start:.6f}" data-end="{end:.6f}">'
                     f'<h2>{shot_id}</h2>'
                     f'<button class="seek" type="button" data-start="{start:.6f}" title="play from shot {shot_id}">'
                     f'<img alt="shot {shot_id}" src="data:image/jpeg;base64,{image}"></button><dl>{details}</dl></article>')
    link = escape(quote(film))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} — review</title>
<style>{STYLE}</style></head>
<body><h1>{escape(title)}</h1>
<p>{len(edit.shots)} shots, {edit.seconds(edit.total_frames):.2f} s at {float(edit.fps):g} fps, {edit.width}x{edit.height}.
Click a shot's picture to play the film from it (<a href="{link}">{escape(film)}</a>, beside this page).</p>
<div class="player"><video id="film" src="{link}" controls preload="auto"></video></div>
<main>
{chr(10).join(cards)}
</main>
<script>{SCRIPT}</script></body></html>
"""
    path.write_text(page, encoding="utf-8")
