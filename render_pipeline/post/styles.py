"""Overlay style presets (title, lower_third, caption and named presets) from presets/overlay_styles.yaml."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources.abc import Traversable
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from render_pipeline.errors import UserError
from render_pipeline.presets import preset_file
from render_pipeline.storyboard.schema import OVERLAY_POSITIONS

STYLES_FILE = preset_file("overlay_styles.yaml")


class OverlayStyle(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size: Annotated[float, Field(gt=0, le=0.5)]  # text height / frame height
    position: Literal[OVERLAY_POSITIONS]  # type: ignore[valid-type]
    margin: Annotated[float, Field(ge=0, le=0.4)]  # safe margin / frame height
    background: Literal["box", "shadow"]
    bold: bool = False
    color: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{6}$")] = "FFFFFF"
    fade_in: Annotated[float, Field(ge=0)] = 0.0
    fade_out: Annotated[float, Field(ge=0)] = 0.0


@lru_cache(maxsize=4)
def load_overlay_styles(path: Traversable = STYLES_FILE) -> dict[str, OverlayStyle]:
    """Every named style; raise UserError naming the file and the bad entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read overlay styles from {path}: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of style names to settings")
    styles = {}
    for name, settings in data.items():
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", str(name)):
            raise UserError(f"{path}: style name {name!r} must be 1-40 letters, digits, '_' or '-'")
        try:
            styles[str(name)] = OverlayStyle.model_validate(settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise UserError(f"{path}: style {name!r}: {where}: {first['msg']}") from None
    return styles
