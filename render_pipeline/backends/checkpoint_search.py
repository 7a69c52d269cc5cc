"""Weights a user already has, found where they put them: the official release, single files, GGUF.

Torch-free (the planner and `doctor` call it). For one backend it looks, in this order, at:

1. the line for the backend in ``<models dir>/weights.yaml`` (see MAPPING_FILE), a folder or a file;
2. the official release folder, ``<models dir>/<repository name>`` (``Wan2.2-T2V-A14B``,
   ``HunyuanVideo``), also under its owner, or under the diffusers repository's name when that
   holds the original files;
3. the models folder itself: loose files, or ComfyUI's ``diffusion_models/`` (``unet/``),
   ``text_encoders/`` (``clip/``) and ``vae/`` sub-folders.

The first place holding the transformer is used; a part missing there (the tokenizer the single
files lack, say) is looked for in the models folder and in any official release folder of the
same family in it (every Wan model shares its text encoder, tokenizer and VAE). The result names,
per component, the files and their format, or what is missing and exactly which file to add.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from render_pipeline.backends.checkpoint_files import Format, HeaderError, describe, unsupported_gguf_types
from render_pipeline.backends.checkpoint_wanted import HUNYUAN_RELEASE, Wanted, wanted_parts
from render_pipeline.backends.specs import SPECS, ModelSpec
from render_pipeline.errors import UserError

MAPPING_FILE = "weights.yaml"
MODELS_ENV = "RENDER_PIPELINE_MODELS"  # names the models folder when --models-dir does not
MODEL_CONFIGS = Path(__file__).parent / "model_configs"
_COMFYUI_FOLDERS = ("diffusion_models", "unet", "text_encoders", "clip", "vae")
_TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "vocab.json")  # vocab.json: CLIP's, without tokenizer.json


@dataclass(frozen=True)
class Part:
    """One pipeline component's files as found: a single file, a model's shards, or a tokenizer folder."""

    component: str  # the pipeline component it becomes ("transformer", "text_encoder", "tokenizer", ...)
    files: tuple[Path, ...]
    format: Format | None  # None for a tokenizer

    def describe(self) -> str:
        where = self.files[0] if len(self.files) == 1 else f"{self.files[0].parent}/ ({len(self.files)} shards)"
        return f"{self.component} {self.format.label if self.format else 'folder'} ({where})"


@dataclass(frozen=True)
class CheckpointSet:
    """Every component a backend needs, found in place; loaded by checkpoint_loading.py."""

    backend: str
    place: str  # where the transformer was found, for messages
    parts: tuple[Part, ...]
    configs: Path  # the project's copy of the diffusers configs (model_configs/<backend>)
    alternatives: tuple[Path, ...] = ()  # other transformer files found beside the one chosen

    def part(self, component: str) -> Part | None:
        return next((part for part in self.parts if part.component == component), None)

    @property
    def quantised(self) -> bool:
        """Whether the transformer weights stay below 16 bits once loaded (fp8, GGUF)."""
        return any(part.format.quantised for part in self.parts
                   if part.component.startswith("transformer") and part.format is not None)

    def files_of(self, components: tuple[str, ...]) -> list[Path]:
        """Every file of these components (a tokenizer folder's files included)."""
        files = []
        for part in self.parts:
            if part.component in components:
                for path in part.files:
                    files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
        return files

    def summary(self) -> str:
        text = f"in place ({self.place}): " + "; ".join(part.describe() for part in self.parts)
        if self.alternatives:
            text += (f". Also found: {', '.join(path.name for path in self.alternatives)}; name the one to use in "
                     f"{MAPPING_FILE}")
        return text


@dataclass(frozen=True)
class Search:
    found: CheckpointSet | None
    problem: str | None  # None when found, or when nothing at all was found in place
    anything: bool  # whether any of the backend's files were found in place


def _name(path: Path) -> str:
    return re.sub(r"[^a-z0-9]", "", path.name.lower())


def read_mapping(models_dir: Path, confine_to: Path | None = None) -> dict[str, Path]:
    """``<models dir>/weights.yaml``: one line per backend, ``wan2.2-t2v-a14b: /path/to/files``.

    The path is a folder (searched like a models folder) or a file (the transformer; an A14B
    expert's twin is found beside it). Relative paths are read from the models folder.
    ``confine_to``: the storyboard's folder, when the models folder is inside it. A storyboard is
    untrusted, so a weights.yaml it ships may not point the tool at files outside its folder.
    """
    path = Path(models_dir) / MAPPING_FILE
    if not path.is_file():
        return {}
    import yaml

    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({error}). Write one line per backend: "
                        f"wan2.2-t2v-a14b: /path/to/the/files") from None
    if not isinstance(mapping, dict) or not all(isinstance(value, str) for value in mapping.values()):
        raise UserError(f"{path}: write one line per backend, e.g. wan2.2-t2v-a14b: /path/to/the/files")
    unknown = sorted(set(mapping) - {name for name, spec in SPECS.items() if spec.needs_gpu})
    if unknown:
        raise UserError(f"{path}: unknown backend {', '.join(map(repr, unknown))}; the backends are "
                        f"{', '.join(name for name, spec in SPECS.items() if spec.needs_gpu)}")
    named = {name: (Path(models_dir) / os.path.expanduser(value)) for name, value in mapping.items()}
    for name, target in named.items():
        if confine_to is not None and not target.resolve().is_relative_to(Path(confine_to).resolve()):
            raise UserError(f"{path}: {name}: {target} is outside the storyboard's folder {confine_to}, and a "
                            f"storyboard may not point the tool at other files; to use weights elsewhere, name "
                            f"your models folder with --models-dir or ${MODELS_ENV} and put weights.yaml there")
    return named


def official_folders(spec: ModelSpec, models_dir: Path) -> list[Path]:
    """Where the official release may lie: under its repository's name (also under the owner), or under
    the diffusers repository's name when that folder holds the original files instead."""
    if not spec.original_repo:
        return []
    owner, name = spec.original_repo.split("/")
    diffusers_name = spec.repo.split("/")[1]
    candidates = [models_dir / name, models_dir / owner / name, models_dir / diffusers_name,
                  models_dir / owner / diffusers_name]
    return [folder for folder in dict.fromkeys(candidates)
            if folder.is_dir() and not (folder / "model_index.json").is_file()]


def search(backend: str, models_dir: Path, confine_to: Path | None = None) -> Search:
    spec = SPECS[backend]
    wanted = wanted_parts(spec)
    if not wanted:
        return Search(None, None, False)
    models_dir = Path(models_dir)
    mapped = read_mapping(models_dir, confine_to).get(backend)
    if mapped is not None and not mapped.exists():
        return Search(None, f"{backend}: {models_dir / MAPPING_FILE} points at {mapped}, which does not exist", True)
    places = [mapped] if mapped is not None else [*official_folders(spec, models_dir), models_dir]
    shared = _shared_folders(models_dir, spec.family)
    for place in places:
        folders = _search_folders(place)
        first = _find(wanted[0], place, folders)
        if first is None:
            continue
        parts: list[Part] = []
        missing: list[str] = []
        problems: list[str] = []
        for item in wanted:
            found = first if item is wanted[0] else _find(item, place, folders + shared, twin_of=parts)
            if found is None:
                missing.append(f"{item.what}: {_what_to_add(item, parts, models_dir)}")
                continue
            paths, problem = found
            if problem:
                problems.append(problem)
                continue
            try:
                format = None if item.component.startswith("tokenizer") else describe(list(paths))
            except (HeaderError, OSError) as error:
                problems.append(f"{paths[0]} is unreadable ({error}); download it again")
                continue
            parts.append(Part(item.component, tuple(paths), format))
        if problems or missing:
            found_parts = "; ".join(part.describe() for part in parts) or "nothing usable"
            return Search(None, f"{backend}: found in place in {place}: {found_parts}. Missing: "
                                + "; ".join(problems + missing), True)
        others = [folder / relative for folder in folders for relative in wanted[0].official
                  if (folder / relative).is_file()] + _candidates(wanted[0], folders)
        alternatives = tuple(dict.fromkeys(path for path in others if path not in parts[0].files))
        return Search(CheckpointSet(backend, str(place), tuple(parts), MODEL_CONFIGS / backend, alternatives), None, True)
    if mapped is not None:
        return Search(None, f"{backend}: {models_dir / MAPPING_FILE} points at {mapped}, where {wanted[0].what} is "
                            f"not found: {_what_to_add(wanted[0], [], models_dir)}", True)
    return Search(None, None, False)


def _what_to_add(item: Wanted, found: list[Part], models_dir: Path) -> str:
    first = found[0].files[0] if found and len(found[0].files) == 1 else None
    if item.component == "transformer_2" and first is not None:
        return f"add {_low_noise_name(first.name)} beside {first}"
    return item.add.format(models_dir=models_dir)


def _search_folders(place: Path) -> list[Path]:
    """A place's own folder, or the folder holding a named file and the root it lies in (the models folder
    above ComfyUI's sub-folder, or the release above Tencent's <release>/hunyuan-video-t2v-720p/transformers/),
    with ComfyUI's sub-folders there."""
    if place.is_file():
        parent = place.parent
        root = parent.parent if parent.name in _COMFYUI_FOLDERS else parent
        if parent.name == "transformers" and parent.parent.name == HUNYUAN_RELEASE:
            root = parent.parent.parent
        comfyui = [root / name for name in _COMFYUI_FOLDERS if (root / name).is_dir()]
        return list(dict.fromkeys([parent, root, *comfyui]))
    return [place, *[place / name for name in _COMFYUI_FOLDERS if (place / name).is_dir()]]


def _shared_folders(models_dir: Path, family: str) -> list[Path]:
    """Where a part may also be found: the models folder, and the official releases of the family's models
    (every Wan model shares its text encoder, tokenizer and VAE)."""
    folders = [models_dir, *[models_dir / name for name in _COMFYUI_FOLDERS if (models_dir / name).is_dir()]]
    for spec in SPECS.values():
        folders += official_folders(spec, models_dir) if spec.family == family else []
    return list(dict.fromkeys(folders))


def _find(item: Wanted, place: Path, folders: list[Path],
          twin_of: list[Part] | None = None) -> tuple[list[Path], str | None] | None:
    """The files for ``item`` (and a problem with them, if any), or None when there are none."""
    if place.is_file() and item.component == "transformer":
        return _single(place)
    for folder in folders:
        for relative in item.official:
            path = folder / relative
            if item.component.startswith("tokenizer"):
                if any((path / name).is_file() for name in _TOKENIZER_FILES):
                    return [path], None
            elif path.is_dir() and (relative != "." or (folder == place and (folder / "config.json").is_file())):
                return _shards(path)
            elif path.is_file():
                return _single(path)
    twin = _twin(item, twin_of)
    if twin is not None:
        return _single(twin)
    for folder in folders:
        candidates = _candidates(item, [folder])
        if candidates:
            return _single(candidates[0])
    return None


def _single(path: Path) -> tuple[list[Path], str | None]:
    """A file found for a part, with the file it needs beside it if any, and a problem with them."""
    if path.name.endswith("_fp8.pt"):  # Tencent's fp8 transformer keeps its weights' scales in a file of their own
        scales = path.with_name(f"{path.stem}_map.pt")
        if not scales.is_file():
            return [path], f"{path} needs its scales, {scales.name}, beside it (from the same release)"
        return [path, scales], None
    return [path], _gguf_problem(path)


def _shards(folder: Path) -> tuple[list[Path], str | None]:
    """A model folder's safetensors shards (diffusers' diffusion_pytorch_model*, or transformers' model*, as a
    text encoder's folder has them); a shard its index lists but the folder lacks is a problem."""
    stem = "model" if any(folder.glob("model*.safetensors*")) else "diffusion_pytorch_model"
    index = next(iter(sorted(folder.glob(f"{stem}*.safetensors.index.json"))), None)
    shards = sorted(folder.glob(f"{stem}*.safetensors"))
    if index is not None:
        try:
            listed = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, json.JSONDecodeError, KeyError) as error:
            return shards, f"{index} is unreadable ({error}); download it again"
        absent = [name for name in listed if not (folder / name).is_file()]
        if absent:
            return [folder / name for name in listed], (f"{folder} is incomplete: {', '.join(absent)} "
                                                        f"{'is' if len(absent) == 1 else 'are'} missing")
        return [folder / name for name in listed], None
    if not shards:
        return [folder], f"{folder} holds no {stem}*.safetensors shards (incomplete download?)"
    return shards, None


def _candidates(item: Wanted, folders: list[Path]) -> list[Path]:
    """Files in ``folders`` (and one level below ComfyUI's, where people sort them into sub-folders) whose
    names match, highest precision first. ComfyUI's loras/ folder is never searched."""
    found = []
    for folder in folders:
        deeper = folder.glob("*/*") if folder.name in _COMFYUI_FOLDERS else []
        for path in [*folder.glob("*"), *deeper]:
            if path.suffix in item.suffixes and path.is_file() and item.matches(_name(path)):
                found.append(path)
    return sorted(dict.fromkeys(found), key=_precision, reverse=True)


def _precision(path: Path) -> tuple[int, str]:
    try:
        return describe([path]).loaded_bytes, path.name
    except (HeaderError, OSError):
        return -1, path.name


def _twin(item: Wanted, found: list[Part] | None) -> Path | None:
    """An A14B expert's file named like the other expert's (high_noise <-> low_noise), beside it."""
    if item.component != "transformer_2" or not found or len(found[0].files) != 1:
        return None
    first = found[0].files[0]
    name = _low_noise_name(first.name)
    twin = first.with_name(name)
    return twin if name != first.name and twin.is_file() else None


def _low_noise_name(high_noise_name: str) -> str:
    return re.sub("high", "low", re.sub("High", "Low", re.sub("HIGH", "LOW", high_noise_name)))


def _gguf_problem(path: Path) -> str | None:
    if path.suffix != ".gguf":
        return None
    try:
        unsupported = unsupported_gguf_types(path)
    except (HeaderError, OSError) as error:
        return f"{path} is unreadable ({error}); download it again"
    if unsupported:
        return (f"{path} uses {', '.join(unsupported)}, which diffusers' GGUF loader cannot read; use a Q8_0, Q6_K, "
                f"Q5_K_M, Q4_K_M or Q3_K_M file")
    return None
