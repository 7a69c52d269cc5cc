"""The assembly's cache: a rerun with nothing changed keeps the film and its files instead of encoding again.

The key covers everything the assembly reads: each shot's bytes (at the delivery rate), the
narration and music files, the cut (shots, transitions, durations), the placed overlays, the
style presets and the font, the delivery settings, the review page's notes, where the folder
lies (the timelines may name absolute paths), the FFmpeg in use and this tool's version. The
record, in <out>/cache/assembly.json, also holds each written file's size and modification
time: a file deleted or changed since counts as a miss.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from render_pipeline import __version__
from render_pipeline.audio.cache import cache_key, file_digest
from render_pipeline.output_folder.files import make_folder, write_file

# Bump when the files the assembly writes change for the same inputs.
ASSEMBLY_FORMAT = 1
RECORD_NAME = "assembly.json"


def assembly_key(parts: dict[str, Any]) -> str:
    """The key of an assembly from ``parts`` (plain values and reprs of the frozen inputs)."""
    return cache_key({"assembly_format": ASSEMBLY_FORMAT, "tool": __version__, **parts})


def digests(paths: dict[str, Path]) -> dict[str, str]:
    return {name: file_digest(path) for name, path in paths.items()}


def _stamps(out_dir: Path, files: tuple[Path, ...]) -> dict[str, list[int]]:
    """Each file (named from ``out_dir``) with its size and modification time."""
    return {path.relative_to(out_dir).as_posix(): [path.stat().st_size, path.stat().st_mtime_ns] for path in files}


def cached_assembly(out_dir: Path, key: str) -> dict[str, Any] | None:
    """The record of the assembly made from ``key`` when every file it wrote is still as written, else None."""
    try:
        record = json.loads((out_dir / "cache" / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or record.get("key") != key:
        return None
    try:
        stamps = _stamps(out_dir, tuple(out_dir / name for name in record.get("files", {})))
    except OSError:
        return None
    return record if stamps == record["files"] else None


def record_assembly(out_dir: Path, key: str, files: tuple[Path, ...], measured: dict[str, Any]) -> None:
    """Written last, after every file, so a crash part way leaves a miss, not a wrong hit."""
    record = {"key": key, "files": _stamps(out_dir, files), **measured}
    write_file(make_folder(out_dir, "cache") / RECORD_NAME, json.dumps(record, indent=2, ensure_ascii=False))
