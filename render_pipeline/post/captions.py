"""Closed captions (SRT and WebVTT) from the narration, one cue per sentence, timed from the measured speech.

Each format gives meaning to some characters in cue text, and each is written so that the
player shows the sentence as written. WebVTT has escapes: `&amp;` `&lt;` `&gt;` (so `<b>`
or `<script>` in narration is text, not markup, and `-->` cannot end a cue). SubRip has
none, while players read `<b>`, `{\\an8}`, `&amp;` and `-->` in it; there an invisible WORD
JOINER follows each `<`, `{`, `\\`, `&` and sits inside `-->`, so none of them is read.
A blank line ends a cue in both formats, so a caption's lines never include an empty one.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

from render_pipeline.storyboard.text import check_text

WORD_JOINER = "\u2060"


@dataclass(frozen=True)
class Caption:
    text: str
    start: float  # seconds into the film
    end: float


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _lines(text: str) -> str:
    return "\n".join(line.strip() for line in check_text(text).split("\n") if line.strip())


def srt_text(text: str) -> str:
    """Cue text for SubRip: nothing in it read as markup, timing or an entity."""
    for mark in "&\\<{":
        text = text.replace(mark, mark + WORD_JOINER)
    return _lines(text).replace("-->", "--" + WORD_JOINER + ">")


def vtt_text(text: str) -> str:
    """Cue text for WebVTT, escaped as the format defines."""
    return escape(_lines(text), quote=False)


def write_srt(path: Path, captions: list[Caption]) -> None:
    blocks = [f"{number}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n{srt_text(c.text)}\n"
              for number, c in enumerate(captions, start=1)]
    path.write_text("\n".join(blocks), encoding="utf-8")


def write_vtt(path: Path, captions: list[Caption]) -> None:
    blocks = [f"{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n{vtt_text(c.text)}\n"
              for c in captions]
    path.write_text("WEBVTT\n\n" + "\n".join(blocks), encoding="utf-8")
