"""Burned-in overlays as one ASS subtitle file for the whole film.

User text reaches FFmpeg only inside this file, never on a command line. ASS gives
meaning to three things in text: `{...}` override blocks, and `\\N`, `\\n`, `\\h` after a
backslash. Braces are written as libass's `\\{` `\\}` escapes and every backslash is
followed by an invisible WORD JOINER, so user text renders exactly as written; libass
shapes right-to-left and complex scripts itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from render_pipeline.post.edit import Edit
from render_pipeline.media.fonts import Font
from render_pipeline.post.styles import OverlayStyle
from render_pipeline.storyboard.schema import Overlay

# ASS alignment uses the numeric keypad layout.
ALIGNMENT = {"lower_left": 1, "bottom": 2, "lower_right": 3, "left": 4, "center": 5, "right": 6,
             "upper_left": 7, "top": 8, "upper_right": 9}
WORD_JOINER = "\u2060"


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
    text = text.replace("\\", "\\" + WORD_JOINER).replace("{", "\\{").replace("}", "\\}")
    return text.replace("\r\n", "\n").replace("\n", "\\N")


def ass_time(seconds: float) -> str:
    centis = round(seconds * 100)
    hours, centis = divmod(centis, 360000)
    minutes, centis = divmod(centis, 6000)
    secs, centis = divmod(centis, 100)
    return f"{hours}:{minutes:02d}:{secs:02d}.{centis:02d}"


def _colour(rrggbb: str, alpha: int = 0) -> str:
    return f"&H{alpha:02X}{rrggbb[4:6]}{rrggbb[2:4]}{rrggbb[0:2]}".upper()


def _style_line(name: str, style: OverlayStyle, font: Font, height: int) -> str:
    size = round(style.size * height)
    margin = round(style.margin * height)
    if style.background == "box":
        border_style, outline, shadow = 3, max(2, round(size * 0.25)), 0
        outline_colour = back_colour = _colour("000000", alpha=0x50)
    else:
        border_style, outline, shadow = 1, max(1, round(size * 0.06)), max(1, round(size * 0.04))
        outline_colour, back_colour = _colour("000000"), _colour("000000", alpha=0x80)
    fields = [name, font.family, size, _colour(style.color), _colour(style.color), outline_colour, back_colour,
              -1 if style.bold else 0, 0, 0, 0, 100, 100, 0, 0, border_style, outline, shadow,
              ALIGNMENT[style.position], margin, margin, margin, 1]
    return "Style: " + ",".join(str(field) for field in fields)


def write_ass(path: Path, edit: Edit, placed: list[PlacedOverlay], styles: dict[str, OverlayStyle], font: Font) -> None:
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
        *(_style_line(name, style, font, edit.height) for name, style in styles.items()),
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    for item in placed:
        style = styles[item.overlay.style]
        tags = f"\\fad({round(style.fade_in * 1000)},{round(style.fade_out * 1000)})"
        if item.overlay.position:
            tags += f"\\an{ALIGNMENT[item.overlay.position]}"
        lines.append(f"Dialogue: 0,{ass_time(item.start)},{ass_time(item.end)},{item.overlay.style},,0,0,0,,"
                     f"{{{tags}}}{escape_ass_text(item.overlay.text)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
