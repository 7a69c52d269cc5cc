"""Where a backend's weights live on disk, and whether the folder there can be loaded.

Torch-free: the planner calls check_model_folder() to decide whether a backend can run, and
every backend calls it again before loading, so a bad folder fails in a second with a message
saying exactly what to download, instead of deep inside diffusers.

Layout: ``<models dir>/<repository name>``, which is what
``hf download <repo> --local-dir <models dir>/<repository name>`` produces (hub_cli.py names the
command as installed here), e.g.
``models/Wan2.2-T2V-A14B-Diffusers``. ``<models dir>/<owner>/<repository name>`` is accepted too.
Weights in other formats load in place from where the user put them: the official release,
single files, GGUF (checkpoint_search.py finds them; a line in ``<models dir>/weights.yaml``
points at files elsewhere, and wins over a diffusers folder).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from render_pipeline.backends.checkpoint_search import MAPPING_FILE, MODELS_ENV, CheckpointSet, read_mapping, search
from render_pipeline.backends.checkpoint_wanted import wanted_parts
from render_pipeline.backends.hub_cli import download_command
from render_pipeline.backends.specs import SPECS, ModelSpec
from render_pipeline.errors import UserError

# Files that only the original (non-diffusers) releases have at their top level.
_ORIGINAL_RELEASE_MARKERS = ("high_noise_model", "low_noise_model", "Wan2.1_VAE.pth", "Wan2.2_VAE.pth",
                             "models_t5_umt5-xxl-enc-bf16.pth", "hunyuan-video-t2v-720p", "transformer_config.json")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def storyboard_confinement(models_dir: Path, storyboard_dir: Path) -> Path | None:
    """The storyboard's folder when the models folder lies inside it (its weights.yaml is the storyboard's)."""
    return storyboard_dir if Path(models_dir).resolve().is_relative_to(Path(storyboard_dir).resolve()) else None


# The default models folder: models/ in the folder the command runs in, as outputs/ is. Not the
# storyboard's folder: one download serves every storyboard, `doctor` finds it with or without a
# storyboard, and a storyboard folder someone sent is not searched for weights unless asked.
DEFAULT_MODELS_DIR = Path("models")


def resolve_models_dir(option: Path | None) -> Path:
    """--models-dir, else $RENDER_PIPELINE_MODELS, else ./models (DEFAULT_MODELS_DIR); made absolute for messages."""
    if option is not None:
        return Path(option).absolute()
    if os.environ.get(MODELS_ENV):
        return Path(os.environ[MODELS_ENV]).absolute()
    return DEFAULT_MODELS_DIR.absolute()


def models_dir_origin(option: Path | None) -> str:
    """Where resolve_models_dir() took the folder from, in words, for every message that names it."""
    if option is not None:
        return "--models-dir"
    if os.environ.get(MODELS_ENV):
        return f"${MODELS_ENV}"
    return f"the default: ./{DEFAULT_MODELS_DIR} where the command runs; --models-dir or ${MODELS_ENV} to change"


def find_model_folder(backend: str, models_dir: Path) -> Path:
    """The folder holding ``backend``'s weights: the first accepted layout that exists, else the usual one."""
    spec = SPECS[backend]
    owner, name = spec.repo.split("/")
    candidates = [Path(models_dir) / name, Path(models_dir) / owner / name]
    for folder in candidates:
        if folder.is_dir():
            return folder
    return candidates[0]


def locate_weights(backend: str, models_dir: Path,
                   confine_to: Path | None = None) -> tuple[Path | CheckpointSet | None, str | None]:
    """(the loadable weights, None), or (None, what to download or add).

    The weights are a diffusers-layout folder, or the files found in place. A line in weights.yaml
    comes first, then a complete diffusers folder, then the official release and single files.
    ``confine_to``: see checkpoint_search.read_mapping (the planner passes it; every render plans first).
    """
    models_dir = Path(models_dir)
    spec = SPECS[backend]
    mapped = read_mapping(models_dir, confine_to).get(backend)
    if mapped is not None:  # the user named the files: only those count
        # A diffusers-layout folder elsewhere; CogVideoX is read from nothing else (no files in place).
        if (mapped / "model_index.json").is_file() or not wanted_parts(spec):
            problem = _folder_problem(spec, mapped)
            return (mapped, None) if problem is None else (None, f"{backend}: {problem}")
        named = search(backend, models_dir, confine_to)
        return named.found, named.problem
    folder = find_model_folder(backend, models_dir)
    problem = _folder_problem(spec, folder)
    if problem is None:
        return folder, None
    in_place = search(backend, models_dir, confine_to)
    if in_place.anything:
        return in_place.found, in_place.problem
    return None, (
        f"{backend}: {problem}. Download the diffusers-format weights {spec.repo} "
        f"(about {spec.download_gb:g} GB) with: {download_command(spec.repo, folder)}"
        + (f"; or use the official release or single files you have (put them in {models_dir}, or point "
           f"{models_dir / MAPPING_FILE} at them: {backend}: /path/to/the/files)" if spec.original_repo else "")
    )


def check_model_folder(backend: str, models_dir: Path) -> str | None:
    """None when the weights can be loaded, else a message naming what to download or add."""
    if not SPECS[backend].needs_gpu:
        return None
    return locate_weights(backend, models_dir)[1]


def require_model_folder(backend: str, models_dir: Path) -> Path | CheckpointSet:
    """The loadable weights for ``backend`` (a diffusers folder, or files in place), or a UserError saying
    what to download or add."""
    weights, problem = locate_weights(backend, models_dir)
    if problem is not None:
        raise UserError(problem)
    assert weights is not None  # locate_weights gives the weights or the problem
    return weights


def quantised_transformer(weights: Path | CheckpointSet) -> tuple[str, float] | None:
    """The format of quantised transformer files (fp8, GGUF) and their bytes per parameter once loaded,
    counted from their headers; None for bf16-or-wider weights, which the backends load as bf16."""
    if not isinstance(weights, CheckpointSet) or not weights.quantised:
        return None
    formats = [part.format for part in weights.parts if part.component.startswith("transformer") and part.format]
    loaded = sum(format.loaded_bytes for format in formats)
    return formats[0].label, loaded / sum(format.parameters for format in formats)


def weights_label(weights: Path | CheckpointSet) -> str:
    """The format of the weights found, in a few words (the plan's short table)."""
    if isinstance(weights, CheckpointSet):
        transformer = weights.part("transformer")
        return f"in place, {transformer.format.label}" if transformer and transformer.format else "in place"
    return "diffusers folder"


def describe_weights(weights: Path | CheckpointSet) -> str:
    """What `doctor` and `plan` say about the weights found: where, and in which format."""
    if isinstance(weights, CheckpointSet):
        return weights.summary()
    return f"diffusers layout in {weights}"


def _folder_problem(spec: ModelSpec, folder: Path) -> str | None:
    if not folder.is_dir():
        return f"no model folder at {folder}"
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        if any((folder / marker).exists() for marker in _ORIGINAL_RELEASE_MARKERS):
            return f"{folder} holds the original release, not the diffusers layout (no model_index.json)"
        return f"{folder} has no model_index.json (not a diffusers-format folder)"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        return f"{index_path} is unreadable ({error})"
    found_class = index.get("_class_name")
    if found_class != spec.pipeline:
        return f"{folder} is a {found_class} folder, {spec.name} needs a {spec.pipeline} one"
    for component in spec.components:
        if not (folder / component).is_dir():
            return f"{folder / component} is missing (incomplete download?)"
        if not component.startswith(("scheduler", "tokenizer")) and not _has_weights(folder / component):
            return f"{folder / component} has no config.json or weight files (incomplete download?)"
    return None


def _has_weights(component_folder: Path) -> bool:
    if not (component_folder / "config.json").is_file():
        return False
    return any(path.suffix in _WEIGHT_SUFFIXES for path in component_folder.iterdir())
