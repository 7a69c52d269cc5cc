"""Closed captions (SRT and WebVTT) from the narration, one cue per sentence, timed from the measured speech."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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


def _one_line_per_cue(text: str) -> str:
    # A blank line ends a cue in both formats, and "-->" would be read as timing.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines).replace("-->", "->")


def write_srt(path: Path, captions: list[Caption]) -> None:
    blocks = [f"{number}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n{_one_line_per_cue(c.text)}\n"
              for number, c in enumerate(captions, start=1)]
    path.write_text("\n".join(blocks), encoding="utf-8")


def write_vtt(path: Path, captions: list[Caption]) -> None:
    blocks = [f"{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n{_one_line_per_cue(c.text)}\n"
              for c in captions]
    path.write_text("WEBVTT\n\n" + "\n".join(blocks), encoding="utf-8")
