"""Characters of the film's overlays that no installed font draws, found before anything renders.

Such a character is burned into the film as an empty box. Each overlay (the storyboard's own,
and captions made from text taken out of a prompt) is checked against the font chain
(media/fonts.py); the run stops naming the shot, the overlay, the characters and the
package to install, unless the user accepts the boxes (--allow-missing-glyphs).
"""

from __future__ import annotations

from render_pipeline.errors import UserError
from render_pipeline.media.fonts import font_package, missing_glyphs
from render_pipeline.prompts import overlays_for_shot
from render_pipeline.storyboard import Storyboard

ALLOW_OPTION = "--allow-missing-glyphs"


def glyph_problems(storyboard: Storyboard, shot_ids: set[str] | None = None) -> list[str]:
    """One line per overlay with characters no font draws (of the shots ``shot_ids``, or all)."""
    lines = []
    for shot in storyboard.shots:
        if shot_ids is not None and shot.id not in shot_ids:
            continue
        for number, overlay in enumerate(overlays_for_shot(storyboard, shot), start=1):
            missing = missing_glyphs(overlay.text)
            if not missing:
                continue
            which = f"overlay {number}" if number <= len(shot.overlays) else "the caption taken from its prompt"
            excerpt = overlay.text if len(overlay.text) <= 40 else overlay.text[:40] + "…"
            lines.append(f"shot {shot.id}, {which} ({excerpt!r}): {_fixes(missing)}")
    return lines


def check_glyphs(storyboard: Storyboard, allow: bool, shot_ids: set[str] | None = None) -> list[str]:
    """UserError listing the overlays with characters no font draws, unless ``allow``; then the list, as warnings."""
    problems = glyph_problems(storyboard, shot_ids)
    if problems and not allow:
        raise UserError("overlays hold characters no installed font draws; the film would show empty boxes:\n  "
                        + "\n  ".join(problems)
                        + f"\nInstall the fonts named, or pass {ALLOW_OPTION} to render the boxes")
    return problems


def _fixes(missing: str) -> str:
    """'🦀 (U+1F980): install fonts-symbola (apt install fonts-symbola)', grouped by package."""
    by_package: dict[str | None, list[str]] = {}
    for char in missing:
        by_package.setdefault(font_package(char), []).append(f"{char} (U+{ord(char):04X})")
    parts = []
    for package, chars in by_package.items():
        if package is None:
            parts.append(f"{', '.join(chars)}: no font has these (private use or unassigned); remove them")
        else:
            parts.append(f"{', '.join(chars)}: install {package} (Debian/Ubuntu: apt install {package})")
    return "; ".join(parts)
