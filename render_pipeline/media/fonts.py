"""Find a font with wide script coverage for burned-in titles, or say clearly how to get one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from render_pipeline.errors import UserError

FONT_FOLDERS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts",
                Path.home() / ".local/share/fonts", Path("/Library/Fonts"), Path("/System/Library/Fonts"),
                Path("C:/Windows/Fonts"))
# Widest coverage first: Noto Sans CJK also covers Latin, Greek and Cyrillic; DejaVu Sans
# covers Latin, Greek, Cyrillic, Hebrew and Arabic. libass falls back to other installed
# fonts for characters the chosen one lacks.
PREFERRED = (("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"), ("NotoSans-Regular.ttf", "Noto Sans"),
             ("DejaVuSans.ttf", "DejaVu Sans"))


@dataclass(frozen=True)
class Font:
    path: Path
    family: str


def find_font() -> Font:
    """The first preferred font installed; UserError with the install command if there is none."""
    for file_name, family in PREFERRED:
        for folder in FONT_FOLDERS:
            if folder.is_dir():
                found = next(folder.rglob(file_name), None)
                if found:
                    return Font(found, family)
    raise UserError(
        "no font with wide coverage found for titles (looked for Noto Sans and DejaVu Sans in "
        f"{', '.join(str(f) for f in FONT_FOLDERS[:4])}): install one "
        "(apt install fonts-dejavu-core fonts-noto-cjk, or brew install font-dejavu)"
    )
