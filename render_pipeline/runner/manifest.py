"""manifest.json: what was rendered, how, and whether it finished; rewritten atomically after every change.

Written only through output_folder.files (never through a link planted in the folder); a
full disk leaves the previous manifest whole and no temporary file behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from render_pipeline import __version__
from render_pipeline.output_folder.files import fault, open_for_append, read_text, write_file

MANIFEST_NAME = "manifest.json"
LIBRARIES = ("torch", "diffusers", "transformers", "accelerate", "numpy")


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Package and library versions, read from installed metadata (importing torch would take seconds)."""
    found = {"render_pipeline": __version__, "python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


class Manifest:
    """Per-shot records keyed by shot id; a killed run leaves the last complete version on disk."""

    def __init__(self, path: Path, shots: dict[str, dict]):
        self.path = path
        self.shots = shots

    @classmethod
    def load(cls, out_dir: Path) -> Manifest:
        path = out_dir / MANIFEST_NAME
        try:
            data = json.loads(read_text(path))
            shots = data["shots"] if isinstance(data.get("shots"), dict) else {}
        except (OSError, ValueError, AttributeError):
            # Missing or unreadable: every shot is checked and re-rendered as needed, so nothing is lost.
            shots = {}
        return cls(path, shots)

    def record(self, shot_id: str, **fields) -> None:
        """Update one shot's entry; entries other processes (other cluster nodes) wrote meanwhile are kept."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        lock = open_for_append(lock_path)  # opened without truncating and never through a link
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.shots = {**self.shots, **Manifest.load(self.path.parent).shots}
            self.shots.setdefault(shot_id, {}).update(fields)
            self.save()
        except OSError as error:
            raise fault(error, lock_path) from None
        finally:
            os.close(lock)

    def save(self) -> None:
        payload = {"versions": versions(), "command": " ".join(sys.argv), "shots": self.shots}
        write_file(self.path, json.dumps(payload, indent=2, ensure_ascii=False))
