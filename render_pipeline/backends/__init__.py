"""Backends render shots; open_session() opens the session class a backend's registry entry names
(specs.py) and loads it once for many shots.

Imports are lazy: the animatic needs no torch, and `plan`/`validate` never import a model.
"""

from __future__ import annotations

from pathlib import Path

from render_pipeline.backends.base import BackendSession
from render_pipeline.backends.specs import SPECS
from render_pipeline.shot_layout import ShotLayout


def open_session(backend_name: str, layout: ShotLayout | None = None,
                 models_dir: Path | None = None) -> BackendSession:
    """A session for ``backend_name`` (a key of SPECS) with the plan's memory strategy applied.

    ``layout``: the shot's layout (shot_layout.py); None is the plain one. ``models_dir`` is where
    the weights are (see weights.resolve_models_dir); the animatic needs neither.
    """
    spec = SPECS[backend_name]
    if not spec.needs_gpu:  # no model: drawn from the prompt alone
        return spec.session_class()()
    from render_pipeline.backends.weights import require_model_folder

    if models_dir is None:
        raise ValueError(f"{backend_name} loads weights: pass models_dir (weights.resolve_models_dir gives it)")
    # A diffusers folder or the files found in place; fails in a second, before any loading.
    weights = require_model_folder(backend_name, Path(models_dir))

    strategy = (ShotLayout() if layout is None else layout).memory
    return spec.session_class()(backend_name, weights, strategy)
