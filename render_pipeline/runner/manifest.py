"""manifest.json: what was rendered, how, and whether it finished; rewritten atomically after every change."""

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
            data = json.loads(path.read_text(encoding="utf-8"))
            shots = data["shots"] if isinstance(data.get("shots"), dict) else {}
        except (OSError, ValueError, AttributeError):
            # Missing or unreadable: every shot is checked and re-rendered as needed, so nothing is lost.
            shots = {}
        return cls(path, shots)

    def record(self, shot_id: str, **fields) -> None:
        """Update one shot's entry; entries other processes (other cluster nodes) wrote meanwhile are kept."""
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.shots = {**self.shots, **Manifest.load(self.path.parent).shots}
            self.shots.setdefault(shot_id, {}).update(fields)
            self.save()

    def save(self) -> None:
        payload = {"versions": versions(), "command": " ".join(sys.argv), "shots": self.shots}
        temporary = self.path.with_name(self.path.name + ".part")
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(payload, file, indent=2, ensure_ascii=False)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
