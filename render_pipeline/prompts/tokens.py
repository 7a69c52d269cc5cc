"""How many tokens a backend's text encoder sees for a prompt: exact with its tokenizer, else estimated."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

# Files that make a folder loadable by transformers' AutoTokenizer.
_TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "tokenizer.model", "vocab.json")


def tokenizer_folder(backend: str, models_dir: Path) -> Path | None:
    """The backend's downloaded tokenizer (the diffusers layout's tokenizer/, or the one found beside
    weights in place, e.g. google/umt5-xxl/), if it is there."""
    from render_pipeline.backends.checkpoint_search import CheckpointSet
    from render_pipeline.backends.specs import SPECS
    from render_pipeline.backends.weights import find_model_folder, locate_weights

    if backend not in SPECS or not SPECS[backend].needs_gpu:
        return None
    weights, _ = locate_weights(backend, models_dir)
    if isinstance(weights, CheckpointSet):
        part = weights.part("tokenizer")
        folder = part.files[0] if part is not None else None
    else:
        folder = (weights or find_model_folder(backend, models_dir)) / "tokenizer"
    if folder is not None and any((folder / name).is_file() for name in _TOKENIZER_FILES):
        return folder
    return None


def count_tokens(text: str, folder: Path | None) -> tuple[int, bool]:
    """(tokens, exact): with a tokenizer folder, its count (special tokens included); else an estimate."""
    if folder is not None:
        return len(_tokenizer(str(folder))(text)["input_ids"]), True
    return estimate_tokens(text), False


def estimate_tokens(text: str) -> int:
    """A slightly generous guess for SentencePiece and BPE tokenizers on English prompts.

    Measured tokenizers give 1.2-1.4 tokens per English word; digits and punctuation are often
    a token each, and CJK characters one or more each. Over-estimating only warns a little early.
    """
    words = re.findall(r"[A-Za-z]+", text)
    digits = re.findall(r"\d", text)
    marks = re.findall(r"[^\w\s]", text)
    other = re.findall(r"[^\x00-\x7f\W]", text)  # letters outside ASCII: CJK, accented words
    return math.ceil(1.4 * len(words)) + len(digits) + len(marks) + len(other) + 1  # + end-of-text token


@lru_cache(maxsize=4)
def _tokenizer(folder: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True)
