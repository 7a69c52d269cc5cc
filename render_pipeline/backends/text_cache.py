"""Text encoder outputs kept on disk, one file per text, so that a later run need not load the encoder.

Rendering one shot again (another seed, more steps) or resuming a film would otherwise load the
text encoder (10.6 GiB for Wan's UMT5-XXL) and encode the same words again: 24 s of a TI2V-5B
run on an H200 read from disk (docs/benchmarks.md, whole shots). A file is used only when everything that decides its values is the same:
the text, the encoder's files (path, size and modification time), the length it pads to, the
device kind and the torch and diffusers releases. The negative prompt, shared by every shot, is
stored once.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from render_pipeline.output_folder.files import writing

FORMAT_VERSION = 1


def encoder_identity(weights, components: tuple[str, ...]) -> list:
    """The files of the text encoder and tokenizer, by path, size and modification time: the sub-folders
    of a diffusers-layout folder, or the files found in place (a checkpoint_search.CheckpointSet)."""
    if isinstance(weights, Path):
        paths = [path for component in components for path in sorted((weights / component).rglob("*"))
                 if path.is_file()]
    else:
        paths = weights.files_of(components)
    files = []
    for path in paths:
        stat = path.stat()
        files.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return files


class TextEmbeddingCache:
    def __init__(self, folder: Path, identity: dict):
        self.folder = folder
        self.identity = {"format": FORMAT_VERSION, **identity}

    def _path(self, text: str) -> Path:
        key = json.dumps({**self.identity, "text": text}, sort_keys=True, ensure_ascii=False, default=str)
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.pt"

    def get(self, text: str) -> dict[str, torch.Tensor] | None:
        path = self._path(text)
        if not path.is_file():
            return None
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a damaged file (a full disk, a killed writer on another node): encode again
            return None
        if not isinstance(saved, dict) or saved.get("text") != text:
            return None
        return saved["tensors"]

    def put(self, text: str, tensors: dict[str, torch.Tensor]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with writing(self._path(text), tag=f".{os.getpid()}") as partial:  # ranks of a group may write at once
            torch.save({"text": text, "tensors": tensors}, partial)
