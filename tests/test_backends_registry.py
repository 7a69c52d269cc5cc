"""The backends' registry (backends/specs.py): every entry complete and consistent, and the storyboard's
names, auto's order and open_session all taken from it, so that a new model is one entry and its module."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path

import pytest

from render_pipeline.backends import open_session
from render_pipeline.backends.base import BackendSession
from render_pipeline.backends.specs import AUTO_ORDER, SPECS, STORYBOARD_BACKENDS
from render_pipeline.planner.architectures import ARCHITECTURES
from render_pipeline.presets import preset_file
from render_pipeline.prompts.templates import load_template
from render_pipeline.storyboard.schema import BACKENDS, ShotFields

MODELS = [name for name, spec in SPECS.items() if spec.needs_gpu]
DRAWN = [name for name, spec in SPECS.items() if not spec.needs_gpu]
SESSION_METHODS = [name for name, value in vars(BackendSession).items() if callable(value) and not name.startswith("_")]


@pytest.mark.parametrize("name", SPECS)
def test_every_entry_names_a_session_class_its_module_defines(name):
    """Checked from the source, so without torch: the import itself is the next test's."""
    module, _, class_name = SPECS[name].session.partition(":")
    assert module.startswith("render_pipeline.backends.") and class_name.isidentifier()
    found = find_spec(module)
    assert found is not None and found.origin is not None, f"{name}: no module {module}"
    assert re.search(rf"^class {class_name}\b", Path(found.origin).read_text(encoding="utf-8"), re.MULTILINE)


@pytest.mark.needs("diffusion")
@pytest.mark.parametrize("name", MODELS)
def test_every_model_renders_through_a_diffusion_session(name):
    from render_pipeline.backends.diffusion import DiffusionSession

    session_class = SPECS[name].session_class()
    assert isinstance(session_class, type) and issubclass(session_class, DiffusionSession)
    assert all(callable(getattr(session_class, method, None)) for method in SESSION_METHODS)


@pytest.mark.parametrize("name", SPECS)
def test_every_entry_has_a_prompt_template_that_loads(name):
    spec = SPECS[name]
    assert preset_file(f"{spec.template}.yaml").is_file()
    template = load_template(name)
    assert template.backend == name
    if spec.needs_gpu:  # the prompt is cut off where the text encoder stops reading, and warned about there
        assert template.max_text_tokens == spec.text_tokens > 0


@pytest.mark.parametrize("name", SPECS)
def test_a_model_has_a_network_to_weigh_and_weights_to_find(name):
    spec = SPECS[name]
    assert spec.name == name
    assert (spec.architecture is not None) == spec.needs_gpu == bool(spec.repo and spec.pipeline and spec.components)
    assert ARCHITECTURES.get(name) is spec.architecture
    if spec.needs_gpu:
        assert spec.architecture.transformer.params() > 0 and spec.architecture.video_tokens(*spec.sizes[0], 9) > 0


@pytest.mark.parametrize("name", [name for name, spec in SPECS.items() if spec.image_to_video])
def test_an_image_to_video_variant_is_its_twins_family_and_prompt(name):
    spec = SPECS[name]
    variant = SPECS[spec.image_to_video]
    assert variant.image_to_video == variant.name  # an image shot rendered by the variant stays there
    assert (variant.family, variant.template) == (spec.family, spec.template)
    if variant is not spec:  # the planner picks it in its twin's place: never named, never auto's own choice
        assert variant.name not in STORYBOARD_BACKENDS and variant.auto_rank is None


@pytest.mark.parametrize("name", DRAWN)
def test_a_backend_without_a_model_opens_without_weights_or_torch(name):
    spec = SPECS[name]
    assert spec.architecture is None and spec.auto_rank is None and spec.image_to_video is None
    assert spec.download_gb == 0 and spec.text_tokens == 0
    session_class = spec.session_class()
    assert all(callable(getattr(session_class, method, None)) for method in SESSION_METHODS)
    code = ("import sys; from render_pipeline.backends import open_session; "
            f"session = open_session({name!r}); assert session.name == {name!r}, session.name; "
            "assert not {'torch', 'numpy', 'diffusers'} & set(sys.modules), 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(Path.cwd())})


def test_the_storyboard_names_the_registry_less_its_image_to_video_variants():
    variants = {spec.image_to_video for spec in SPECS.values()} - {None, *STORYBOARD_BACKENDS}
    assert BACKENDS == ("auto", *STORYBOARD_BACKENDS)
    assert list(STORYBOARD_BACKENDS) == [name for name in SPECS if name not in variants]
    assert variants == {"wan2.2-i2v-a14b", "cogvideox-5b-i2v"}
    for name in BACKENDS:
        assert ShotFields.model_validate({"backend": name}).backend == name


def test_auto_tries_the_ranked_models_best_looking_first():
    ranks = sorted(spec.auto_rank for spec in SPECS.values() if spec.auto_rank is not None)
    assert ranks == list(range(1, len(ranks) + 1))
    assert AUTO_ORDER == ("wan2.2-t2v-a14b", "hunyuanvideo", "wan2.2-ti2v-5b", "cogvideox-5b")
    assert all(SPECS[name].needs_gpu and name in STORYBOARD_BACKENDS for name in AUTO_ORDER)


class SketchSession:
    name = "sketch"


def test_open_session_opens_whatever_class_an_entry_names(monkeypatch):
    monkeypatch.setitem(SPECS, "sketch", replace(SPECS["animatic"], name="sketch", session=f"{__name__}:SketchSession"))
    assert isinstance(open_session("sketch"), SketchSession)
