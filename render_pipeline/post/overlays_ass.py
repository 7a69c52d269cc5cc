"""Burned-in overlays as one ASS subtitle file for the whole film.

User text reaches FFmpeg only inside this file, never on a command line. ASS gives
meaning to three things in text: `{...}` override blocks, and `\\N`, `\\n`, `\\h` after a
backslash. Braces are written as libass's `\\{` `\\}` escapes and every backslash is
followed by an invisible WORD JOINER, so user text renders exactly as written; libass
shapes right-to-left and complex scripts itself. A line of the file is one event and libass
stops reading at a NUL, so text with control characters (refused by `validate`) is refused here too.

Every overlay stays inside the title-safe area (EBU R 95: 5 % in from each edge, or the
style's own margin if wider). libass wraps lines only at spaces, so a word too long for a
line (or text without spaces, as Chinese and Japanese are written) is broken there, and text
that would need more lines than the area holds is drawn smaller. Both are first judged by
an estimate of glyph widths; then libass itself draws every overlay once, and one that still
reaches past the area (a run of glyphs wider than the estimate: emoji, Roman numerals and some
Cyrillic capitals advance up to 1.4 times it in DejaVu Sans) is drawn smaller until it does not.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from render_pipeline.media.ffmpeg import run_ffmpeg
from render_pipeline.media.fonts import TITLE_SAFE, Font
from render_pipeline.post.edit import Edit
from render_pipeline.post.styles import OverlayStyle
from render_pipeline.storyboard.schema import Overlay
from render_pipeline.storyboard.text import check_text

# ASS alignment uses the numeric keypad layout.
ALIGNMENT = {"lower_left": 1, "bottom": 2, "lower_right": 3, "left": 4, "center": 5, "right": 6,
             "upper_left": 7, "top": 8, "upper_right": 9}
WORD_JOINER = "\u2060"
# libass sizes a font so its ascent plus descent is the font size. Against that size, the widest
# Latin glyphs of DejaVu Sans Bold (W, M) and Noto Sans CJK's ideographs advance less than 1.0,
# which estimates a character; a line is about one size below the last.
ADVANCE_ESTIMATE = 1.0
LINE_PITCH = 1.15
SHRINK_STEP = 0.9
# Overlays are measured on a canvas at most this wide (libass scales from the script's size).
MEASURE_WIDTH = 1280
MEASURE_ROUNDS = 6


@dataclass(frozen=True)
class PlacedOverlay:
    """An overlay at its place in the film, in seconds from the film's start."""

    overlay: Overlay
    shot_id: str
    start: float
    end: float


def place_overlays(edit: Edit, overlays_by_shot: dict[str, tuple[Overlay, ...]]) -> list[PlacedOverlay]:
    placed = []
    for edited in edit.shots:
        shot_start = edit.seconds(edited.record_start)
        shot_end = edit.seconds(edited.record_end)
        for overlay in overlays_by_shot.get(edited.shot.id, ()):
            start = shot_start + (overlay.start or 0.0)
            end = min(shot_end, shot_start + (overlay.end if overlay.end is not None else edited.shot.duration))
            placed.append(PlacedOverlay(overlay, edited.shot.id, start, end))
    return placed


def escape_ass_text(text: str) -> str:
    text = check_text(text).replace("\\", "\\" + WORD_JOINER).replace("{", "\\{").replace("}", "\\}")
    return text.replace("\n", "\\N")


@dataclass(frozen=True)
class Frame:
    """Where an overlay may draw: its margins from the frame's edges, in pixels."""

    horizontal: int
    vertical: int
    safe_width: int
    safe_height: int


def safe_frame(style: OverlayStyle, width: int, height: int) -> Frame:
    """The style's margins, never inside the title-safe area; its box or outline and shadow stay inside too."""
    border = _border(style, round(style.size * height))
    horizontal = max(round(style.margin * height), math.ceil(TITLE_SAFE * width)) + sum(border)
    vertical = max(round(style.margin * height), math.ceil(TITLE_SAFE * height)) + sum(border)
    return Frame(horizontal, vertical, max(1, width - 2 * horizontal), max(1, height - 2 * vertical))


def fit_text(text: str, size: int, frame: Frame, advance: float = ADVANCE_ESTIMATE) -> tuple[str, int]:
    """``text`` with line breaks where words are too long for a line, and the font size at which it fits
    ``frame``, each character taken to be ``advance`` times the size wide."""
    while True:
        per_line = max(1, int(frame.safe_width / (advance * size)))
        lines = [_break_long_words(line, per_line) for line in text.split("\n")]
        count = sum(_lines_needed(line, per_line) for line in lines)
        if count * LINE_PITCH * size <= frame.safe_height or size == 1:
            return "\n".join("\n".join(line) for line in lines), size
        size = max(1, int(size * SHRINK_STEP))


def _advances(char: str) -> bool:
    """Whether a character takes room on the line (combining marks and invisible format characters do not)."""
    return unicodedata.category(char) not in ("Mn", "Me", "Cf")


def _break_long_words(line: str, per_line: int) -> list[str]:
    """The line cut into pieces (joined later by line breaks) so that no word is longer than ``per_line``."""
    pieces, current, word = [], "", 0  # word: characters of room taken by the current word so far
    for char in line:
        if char in " \t":
            word = 0
        elif _advances(char):
            if word == per_line and not current.endswith("\u200d"):  # not inside an emoji's joined sequence
                pieces.append(current)
                current, word = "", 0
            word += 1
        current += char
    return pieces + [current]


def _lines_needed(pieces: list[str], per_line: int) -> int:
    """Lines the pieces take when words are packed greedily, each character one place wide."""
    count = 0
    for piece in pieces:
        count += 1
        used = 0
        for word in piece.replace("\t", " ").split(" "):
            room = sum(1 for char in word if _advances(char))
            if used and used + 1 + room > per_line:
                count += 1
                used = room
            else:
                used += (1 if used else 0) + room
    return count


def ass_time(seconds: float) -> str:
    centis = round(seconds * 100)
    hours, centis = divmod(centis, 360000)
    minutes, centis = divmod(centis, 6000)
    secs, centis = divmod(centis, 100)
    return f"{hours}:{minutes:02d}:{secs:02d}.{centis:02d}"


def _colour(rrggbb: str, alpha: int = 0) -> str:
    return f"&H{alpha:02X}{rrggbb[4:6]}{rrggbb[2:4]}{rrggbb[0:2]}".upper()


def _border(style: OverlayStyle, size: int) -> tuple[int, int]:
    """(outline, shadow) in pixels: a box reaches ``outline`` past the text, an outline and its shadow their sum."""
    if style.background == "box":
        return max(2, round(size * 0.25)), 0
    return max(1, round(size * 0.06)), max(1, round(size * 0.04))


def _style_line(name: str, style: OverlayStyle, font: Font, width: int, height: int) -> str:
    size = round(style.size * height)
    frame = safe_frame(style, width, height)
    outline, shadow = _border(style, size)
    if style.background == "box":
        border_style = 3
        outline_colour = back_colour = _colour("000000", alpha=0x50)
    else:
        border_style = 1
        outline_colour, back_colour = _colour("000000"), _colour("000000", alpha=0x80)
    fields = [name, font.family, size, _colour(style.color), _colour(style.color), outline_colour, back_colour,
              -1 if style.bold else 0, 0, 0, 0, 100, 100, 0, 0, border_style, outline, shadow,
              ALIGNMENT[style.position], frame.horizontal, frame.horizontal, frame.vertical, 1]
    return "Style: " + ",".join(str(field) for field in fields)


def write_ass(path: Path, edit: Edit, placed: list[PlacedOverlay], styles: dict[str, OverlayStyle], font: Font) -> None:
    """The film's overlays as an ASS file at ``path``, each fitted to the title-safe area (measured by libass)."""
    sizes = [round(styles[item.overlay.style].size * edit.height) for item in placed]
    frames = [safe_frame(styles[item.overlay.style], edit.width, edit.height) for item in placed]
    advances = [ADVANCE_ESTIMATE] * len(placed)
    fitted = [fit_text(item.overlay.text, size, frame) for item, size, frame in zip(placed, sizes, frames)]
    for _ in range(MEASURE_ROUNDS):
        scales = _overflow(path, edit, placed, fitted, styles, font)
        if all(scale >= 1 for scale in scales):
            break
        # Its glyphs are wider than estimated, by about the overflow: estimate again with them so wide.
        advances = [advance / scale for advance, scale in zip(advances, scales)]
        fitted = [fit_text(item.overlay.text, size, frame, advance) if scale < 1 else old
                  for item, size, frame, advance, scale, old in zip(placed, sizes, frames, advances, scales, fitted)]
    events = [_event(item, styles[item.overlay.style], text, size if size != default else None, item.start, item.end,
                     fade=True) for item, (text, size), default in zip(placed, fitted, sizes)]
    path.write_text(_script(edit, styles, font, events), encoding="utf-8")


def _script(edit: Edit, styles: dict[str, OverlayStyle], font: Font, events: list[str]) -> str:
    lines = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {edit.width}",
        f"PlayResY: {edit.height}",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
        "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
        "Alignment, MarginL, MarginR, MarginV, Encoding",
        *(_style_line(name, style, font, edit.width, edit.height) for name, style in styles.items()),
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
        *events,
    ]
    return "\n".join(lines) + "\n"


def _event(item: PlacedOverlay, style: OverlayStyle, text: str, size: int | None, start: float, end: float,
           fade: bool) -> str:
    tags = f"\\fad({round(style.fade_in * 1000)},{round(style.fade_out * 1000)})" if fade else ""
    if item.overlay.position:
        tags += f"\\an{ALIGNMENT[item.overlay.position]}"
    if size is not None:
        tags += f"\\fs{size}"
    block = f"{{{tags}}}" if tags else ""
    return f"Dialogue: 0,{ass_time(start)},{ass_time(end)},{item.overlay.style},,0,0,0,,{block}{escape_ass_text(text)}"


def _overflow(path: Path, edit: Edit, placed: list[PlacedOverlay], fitted: list[tuple[str, int]],
              styles: dict[str, OverlayStyle], font: Font) -> list[float]:
    """For each overlay, drawn alone by libass on a grey canvas: 1 when it stays in the title-safe area,
    else the factor its size must shrink by."""
    import numpy as np

    if not placed:
        return []
    scale = min(1.0, MEASURE_WIDTH / edit.width)
    width, height = max(16, round(edit.width * scale)), max(16, round(edit.height * scale))
    events = [_event(item, styles[item.overlay.style], text, size, number, number + 1, fade=False)
              for number, (item, (text, size)) in enumerate(zip(placed, fitted))]
    # Relative names in a folder of our own beside the script: nothing in the filter graph needs escaping.
    with tempfile.TemporaryDirectory(prefix=".measure-", dir=path.parent) as work_name:
        work = Path(work_name)
        (work / "fonts").mkdir()
        shutil.copy(font.path, work / "fonts" / font.path.name)
        (work / "measure.ass").write_text(_script(edit, styles, font, events), encoding="utf-8")
        run_ffmpeg(["-f", "lavfi", "-i", f"color=0x808080:s={width}x{height}:r=1:d={len(events)}",
                    "-vf", "ass=measure.ass:fontsdir=fonts,format=gray", "-f", "rawvideo", "frames.gray"],
                   what="measuring the overlays", cwd=work)
        frames = np.fromfile(work / "frames.gray", dtype=np.uint8).reshape(-1, height, width)
    left, top = math.ceil(TITLE_SAFE * edit.width) * scale, math.ceil(TITLE_SAFE * edit.height) * scale
    scales = []
    for frame in frames[:len(events)]:
        drawn = np.abs(frame.astype(np.int16) - 0x80) > 8
        rows, columns = np.nonzero(drawn.any(axis=1))[0], np.nonzero(drawn.any(axis=0))[0]
        if not rows.size:
            scales.append(1.0)
            continue
        inside = (columns[0] >= left - 1 and columns[-1] <= width - left and rows[0] >= top - 1
                  and rows[-1] <= height - top)
        fit = min((width - 2 * left) / (columns[-1] - columns[0] + 1), (height - 2 * top) / (rows[-1] - rows[0] + 1))
        scales.append(1.0 if inside else min(0.95, fit * 0.95))
    return scales + [1.0] * (len(events) - len(scales))
