"""Cache keys: a rerun with nothing changed reuses the WAV files instead of synthesising again.

Each cached WAV has a sidecar ``.json`` holding its key and what was measured; the WAV
counts as cached only when both exist and the key matches.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from render_pipeline.output_folder.files import write_file

# Bump when the audio this code produces changes for the same inputs.
FORMAT_VERSION = 1


def cache_key(parts: dict[str, Any]) -> str:
    text = json.dumps({"format": FORMAT_VERSION, **parts}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=64)
def _digest(path: Path, size: int, mtime_ns: int) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (voices, reference recordings, music files); hashed once per process."""
    stat = path.stat()
    return _digest(path.resolve(), stat.st_size, stat.st_mtime_ns)


def cached_record(wav_path: Path, key: str) -> dict[str, Any] | None:
    """The sidecar record when ``wav_path`` holds audio made from ``key``, else None."""
    sidecar = wav_path.with_suffix(".json")
    if not wav_path.is_file() or not sidecar.is_file():
        return None
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("key") == key else None


def write_record(wav_path: Path, record: dict[str, Any]) -> None:
    """Write the sidecar after its WAV, so a crash between the two leaves a cache miss, not a wrong hit."""
    write_file(wav_path.with_suffix(".json"), json.dumps(record, indent=2, ensure_ascii=False))
