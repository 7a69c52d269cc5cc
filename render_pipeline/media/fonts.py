"""Find a font with wide script coverage for burned-in titles, or say clearly how to get one."""

from __future__ import annotations

from dataclasses import dataclass
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
