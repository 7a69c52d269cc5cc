"""The overlay styles a storyboard may name: the built-in ones and the project's presets."""

from __future__ import annotations

from functools import lru_cache

import yaml

from render_pipeline.presets import preset_file

BUILTIN_OVERLAY_STYLES = ("title", "lower_third", "caption")
# The project's style presets (shared with post, which draws them); a storyboard may name any of them.
OVERLAY_STYLES_FILE = preset_file("overlay_styles.yaml")


@lru_cache(maxsize=1)
def overlay_style_presets() -> tuple[str, ...]:
    try:
        presets = yaml.safe_load(OVERLAY_STYLES_FILE.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return BUILTIN_OVERLAY_STYLES  # post reports a broken presets file when it draws
    names = tuple(str(name) for name in presets) if isinstance(presets, dict) else ()
    return BUILTIN_OVERLAY_STYLES + tuple(name for name in names if name not in BUILTIN_OVERLAY_STYLES)
