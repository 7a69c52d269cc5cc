"""The XTTS environment: a venv of its own holding coqui-tts with the torch and torchaudio it runs on.

Why its own: coqui-tts needs torchaudio, and torchaudio's wheels are built against one torch
release each (2.11 for the newest), older than the torch render-pipeline's diffusion backends
use; the PyPI torchaudio wheel is also built for CUDA and does not load beside a CPU-only
torch. So XTTS runs as a separate process (xtts_worker.py) with this venv's python, the way
piper runs, and render-pipeline's own environment keeps its torch.

``render-pipeline setup-xtts`` makes it (about 5.5 GB: PyPI's torch 2.11 wheel brings CUDA 13,
and runs on the CPU where there is no GPU). It lives in ``$RENDER_PIPELINE_XTTS_ENV``, else in
``<models dir>/xtts_env``. Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

from render_pipeline.errors import UserError

ENV_VARIABLE = "RENDER_PIPELINE_XTTS_ENV"
ENV_FOLDER = "xtts_env"
# The set measured to install and speak together (2026-12-05): coqui-tts 0.28.0 breaks on
# transformers 5.25 (its GPT's cache argument was renamed), TTS imports need torchcodec and six.
REQUIREMENTS = ("torch==2.11.0", "torchaudio==2.11.0", "coqui-tts[codec]==0.28.0", "torchcodec==0.17.0",
                "transformers==5.22.2", "six")
WORKER = Path(__file__).with_name("xtts_worker.py")
SETUP_COMMAND = "render-pipeline setup-xtts"


def env_folder(models_dir: Path) -> Path:
    return Path(os.environ.get(ENV_VARIABLE) or models_dir / ENV_FOLDER)


def env_python(models_dir: Path) -> Path:
    return env_folder(models_dir) / "bin" / "python"


def env_problem(models_dir: Path) -> str | None:
    """Why XTTS cannot start from this environment (with the fix), or None when it looks installed."""
    folder = env_folder(models_dir)
    if not env_python(models_dir).is_file():
        return f"no XTTS environment in {folder}: run `{SETUP_COMMAND}` (a venv of about 5.5 GB)"
    if installed_version(folder, "coqui_tts") is None:
        return f"the XTTS environment in {folder} has no coqui-tts: run `{SETUP_COMMAND}` again"
    return None


def installed_version(folder: Path, distribution: str) -> str | None:
    """A package's version in the environment, read from its dist-info folder (no interpreter started)."""
    found = sorted(folder.glob(f"lib/python*/site-packages/{distribution}-*.dist-info"))
    return found[-1].name.removesuffix(".dist-info").split("-", 1)[1] if found else None


@cache
def check_env(python: Path) -> dict:
    """What the environment's own interpreter reports: coqui-tts and torch versions, whether CUDA works.

    Raises UserError when its imports fail (a broken or half-made environment).
    """
    result = subprocess.run([str(python), str(WORKER), "--check"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-4:])
        raise UserError(f"the XTTS environment ({python}) does not start:\n{tail}\n"
                        f"Make it again: rm -r {python.parent.parent} && {SETUP_COMMAND}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def create_env(folder: Path) -> None:
    """Make (or complete) the venv in ``folder`` and install the measured set into it."""
    if not (folder / "bin" / "python").is_file():
        print(f"xtts: creating a venv in {folder}", flush=True)
        made = subprocess.run([sys.executable, "-m", "venv", str(folder)])
        if made.returncode != 0:
            raise UserError(f"could not create a venv in {folder} (python -m venv failed; apt install python3-venv)")
    print(f"xtts: installing {' '.join(REQUIREMENTS)}", flush=True)
    installed = subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "install", "-q", *REQUIREMENTS])
    if installed.returncode != 0:
        raise UserError(f"pip could not install XTTS into {folder} (see its message above)")
    check_env.cache_clear()
    versions = check_env(folder / "bin" / "python")
    print(f"xtts: ready in {folder}: coqui-tts {versions['coqui-tts']}, torch {versions['torch']}, "
          f"{'CUDA' if versions['cuda'] else 'CPU (no usable GPU found)'}", flush=True)
