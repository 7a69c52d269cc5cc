"""Find a font with wide script coverage for burned-in titles, or say clearly how to get one;
and find the characters no installed font can draw.

libass draws a title with the font found here and, for characters it lacks, any font
fontconfig knows (how Noto Sans CJK draws Chinese). A character none of them has becomes an
empty box, so the characters of every overlay are checked against that chain, as fontconfig
lists it, before anything renders. Only outline fonts count: libass cannot draw colour
bitmap fonts such as Noto Color Emoji.
"""

from __future__ import annotations

import bisect
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from render_pipeline.errors import UserError

FONT_FOLDERS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts",
                Path.home() / ".local/share/fonts", Path("/Library/Fonts"), Path("/System/Library/Fonts"),
                Path("C:/Windows/Fonts"))
# Latin-first fonts lead: libass sizes text by a font's ascent plus descent, and CJK fonts'
# tall metrics would draw Latin titles a third smaller. DejaVu Sans covers Latin, Greek,
# Cyrillic, Hebrew and Arabic; for characters the chosen font lacks, libass falls back
# through fontconfig to any installed font, which is how Noto Sans CJK draws Chinese,
# Japanese and Korean (doctor warns when it is missing).
PREFERRED = (("NotoSans-Regular.ttf", "Noto Sans"), ("DejaVuSans.ttf", "DejaVu Sans"),
             ("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"))
CJK_FONT_FILE = "NotoSansCJK-Regular.ttc"
# Text on a frame (titles, the animatic's slate) stays inside the title-safe area: EBU R 95,
# this fraction of the width and of the height in from each edge.
TITLE_SAFE = 0.05


@dataclass(frozen=True)
class Font:
    path: Path
    family: str


def find_installed(file_name: str) -> Path | None:
    for folder in FONT_FOLDERS:
        if folder.is_dir():
            found = next(folder.rglob(file_name), None)
            if found:
                return found
    return None


def find_font() -> Font:
    """The first preferred font installed; UserError with the install command if there is none."""
    for file_name, family in PREFERRED:
        found = find_installed(file_name)
        if found:
            return Font(found, family)
    raise UserError(
        "no font with wide coverage found for titles (looked for Noto Sans and DejaVu Sans in "
        f"{', '.join(str(f) for f in FONT_FOLDERS[:4])}): install one "
        "(apt install fonts-dejavu-core fonts-noto-cjk, or brew install font-dejavu)"
    )


# Characters that take no glyph: spaces and line breaks (libass spaces them itself), and
# invisible format characters (bidi marks, joiners, variation selectors, tags).
_NO_GLYPH_CATEGORIES = ("Zs", "Zl", "Zp", "Cc", "Cf")
_DEFAULT_IGNORABLE = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x3164, 0x3164),
                      (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF))
# Where to get a font for a character, by block: (first, last, Debian/Ubuntu package).
_FONT_PACKAGES = (
    (0x1100, 0x11FF, "fonts-noto-cjk"), (0x2E80, 0x2FDF, "fonts-noto-cjk"), (0x3000, 0x9FFF, "fonts-noto-cjk"),
    (0xA960, 0xA97F, "fonts-noto-cjk"), (0xAC00, 0xD7FF, "fonts-noto-cjk"), (0xF900, 0xFAFF, "fonts-noto-cjk"),
    (0xFE30, 0xFE4F, "fonts-noto-cjk"), (0xFF00, 0xFFEF, "fonts-noto-cjk"), (0x20000, 0x3FFFF, "fonts-noto-cjk"),
    (0x2190, 0x2BFF, "fonts-symbola"), (0x1F000, 0x1FAFF, "fonts-symbola"),
)
FONT_PACKAGE_FALLBACK = "fonts-noto-core"


def needs_glyph(char: str) -> bool:
    code = ord(char)
    if unicodedata.category(char) in _NO_GLYPH_CATEGORIES:
        return False
    return not any(first <= code <= last for first, last in _DEFAULT_IGNORABLE)


def font_package(char: str) -> str | None:
    """The package whose fonts draw ``char``; None when no font can (private use, unassigned)."""
    if unicodedata.category(char) in ("Co", "Cn"):
        return None
    code = ord(char)
    return next((package for first, last, package in _FONT_PACKAGES if first <= code <= last), FONT_PACKAGE_FALLBACK)


def missing_glyphs(text: str) -> str:
    """The characters of ``text`` (each once, in order) that no font in the chain draws.

    Printable ASCII needs no look-up: every preferred font has it, and find_font refuses to
    go on without one. UserError when fontconfig's fc-list, which knows the chain, is missing.
    """
    wanted = dict.fromkeys(char for char in text if not " " <= char <= "~" and needs_glyph(char))
    if not wanted:
        return ""
    starts, ends = _drawable_ranges()
    return "".join(char for char in wanted
                   if (index := bisect.bisect_right(starts, ord(char)) - 1) < 0 or ord(char) > ends[index])


@lru_cache(maxsize=1)
def _drawable_ranges() -> tuple[list[int], list[int]]:
    """Every code point some installed outline font has, as merged sorted ranges (starts, ends)."""
    exe = shutil.which("fc-list")
    if exe is None:
        raise UserError("cannot tell which characters the installed fonts draw: fontconfig's fc-list is missing "
                        "(apt install fontconfig, brew install fontconfig), or pass --allow-missing-glyphs")
    listing = subprocess.run([exe, "--format", "%{outline}\t%{color}\t%{charset}\n"], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, errors="replace").stdout
    ranges: list[tuple[int, int]] = []
    for line in listing.splitlines():
        outline, color, charset = (line.split("\t") + ["", ""])[:3]
        if outline != "True" or color == "True":
            continue
        for part in charset.split():
            low, _, high = part.partition("-")
            ranges.append((int(low, 16), int(high or low, 16)))
    starts: list[int] = []
    ends: list[int] = []
    for first, last in sorted(ranges):
        if ends and first <= ends[-1] + 1:
            ends[-1] = max(ends[-1], last)
        else:
            starts.append(first)
            ends.append(last)
    return starts, ends
