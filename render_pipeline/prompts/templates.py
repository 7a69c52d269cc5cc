"""Per-backend prompt templates: YAML files shipped in the package (render_pipeline/presets/).

generic.yaml is the template for backend "auto" and the base of every other one: a model's
file replaces only the values it names (and, for the camera words, only the entries it lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from render_pipeline.backends.specs import SPECS
from render_pipeline.errors import UserError
from render_pipeline.presets import PRESETS_DIR, preset_file

TEMPLATES_DIR = PRESETS_DIR
GENERIC = "generic"
_KEYS = {"prefix", "suffix", "negative", "text_encoder", "max_text_tokens", "camera"}
_CAMERA_KEYS = {"size", "angle", "movement", "lens"}


@dataclass(frozen=True)
class CameraVocabulary:
    size: dict[str, str]
    angle: dict[str, str]
    movement: dict[str, str]
    lens: tuple[tuple[float, str], ...]  # (longest focal length in mm, words), shortest first


@dataclass(frozen=True)
class PromptTemplate:
    backend: str
    prefix: str
    suffix: str
    negative: str
    text_encoder: str | None
    max_text_tokens: int | None
    camera: CameraVocabulary


def normalise_term(term: str) -> str:
    """'Close-Up' and 'close_up' are the same camera word."""
    return " ".join(term.lower().replace("-", " ").replace("_", " ").split())


@cache
def load_template(backend: str) -> PromptTemplate:
    """The template a backend's entry names (specs.py), or for "auto" generic.yaml."""
    name = GENERIC if backend == "auto" else SPECS[backend].template if backend in SPECS else backend
    data = _read(GENERIC)
    if name != GENERIC:
        if not preset_file(f"{name}.yaml").is_file():
            known = sorted(p.name.removesuffix(".yaml") for p in TEMPLATES_DIR.iterdir()
                           if p.name.endswith(".yaml") and p.name not in (f"{GENERIC}.yaml", "overlay_styles.yaml"))
            raise UserError(f"no prompt template for backend {backend!r} in {TEMPLATES_DIR} "
                            f"(templates: auto, {', '.join(known)})")
        override = _read(name)
        camera = {**data["camera"]}
        for part, entries in (override.pop("camera", None) or {}).items():
            camera[part] = entries if part == "lens" else {**camera.get(part, {}), **entries}
        data = {**data, **override, "camera": camera}
    return _template(backend, data)


def _read(name: str) -> dict[str, Any]:
    path = preset_file(f"{name}.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read prompt template {path}: {exc}") from None
    unknown = set(data) - _KEYS if isinstance(data, dict) else {"(not a mapping)"}
    unknown |= set(data.get("camera") or {}) - _CAMERA_KEYS if isinstance(data, dict) else set()
    if unknown:
        raise UserError(f"{path}: unknown keys {', '.join(sorted(map(str, unknown)))} "
                        f"(known: {', '.join(sorted(_KEYS))}; camera: {', '.join(sorted(_CAMERA_KEYS))})")
    return data


def _template(backend: str, data: dict[str, Any]) -> PromptTemplate:
    camera = data.get("camera") or {}
    try:
        vocabulary = CameraVocabulary(
            size={normalise_term(k): str(v) for k, v in (camera.get("size") or {}).items()},
            angle={normalise_term(k): str(v) for k, v in (camera.get("angle") or {}).items()},
            movement={normalise_term(k): str(v) for k, v in (camera.get("movement") or {}).items()},
            lens=tuple(sorted((float(mm), str(words)) for mm, words in camera.get("lens") or ())),
        )
        limit = data.get("max_text_tokens")
        return PromptTemplate(
            backend=backend,
            prefix=str(data.get("prefix") or ""),
            suffix=str(data.get("suffix") or ""),
            negative=str(data.get("negative") or ""),
            text_encoder=data.get("text_encoder"),
            max_text_tokens=int(limit) if limit is not None else None,
            camera=vocabulary,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"prompt template for {backend!r} in {TEMPLATES_DIR} is malformed: {exc}") from None
