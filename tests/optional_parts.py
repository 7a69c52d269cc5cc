"""The parts a test may need beyond the README's install (`.[tts,dev]`), and how to get each.

A test that needs one is marked `@pytest.mark.needs("diffusion")`; conftest.py skips it when the
part is missing, with the install in the reason. A file that imports the part at its top sets
`pytestmark = module_needs(...)` before that import. `.ci/run` installs every part and runs
`pytest -m needs`, so each of these tests runs in CI.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec

import pytest

from render_pipeline.media.fonts import CJK_FONT_FILE, find_installed


@dataclass(frozen=True)
class Part:
    installed: Callable[[], bool]
    install: str


def modules(*names: str) -> Callable[[], bool]:
    return lambda: all(find_spec(name) is not None for name in names)


def extra(name: str) -> str:
    return f'the {name} extra (pip install -c .ci/constraints.txt -e ".[{name}]")'


PARTS = {
    "diffusion": Part(modules("torch", "diffusers", "transformers"), extra("diffusion")),
    "music": Part(modules("torch", "transformers"), extra("music")),
    "cluster": Part(modules("ray", "submitit"), extra("cluster")),
    "qa": Part(modules("rapidocr_onnxruntime"), extra("qa")),
    "ffmpeg": Part(lambda: shutil.which("ffmpeg") is not None, "a system FFmpeg (apt install ffmpeg)"),
    "espeak-ng": Part(lambda: shutil.which("espeak-ng") is not None, "espeak-ng (apt install espeak-ng)"),
    "chromium": Part(lambda: shutil.which("chromium") is not None, "chromium (apt install chromium)"),
    # The XTTS environment (render_pipeline/audio/tts/xtts_env.py), named by RENDER_PIPELINE_XTTS_ENV.
    "xtts": Part(lambda: os.path.isfile(os.path.join(os.environ.get("RENDER_PIPELINE_XTTS_ENV") or "/nonexistent",
                                                     "bin", "python")),
                 "the XTTS environment (render-pipeline setup-xtts --env DIR; export RENDER_PIPELINE_XTTS_ENV=DIR)"),
    "fonts-noto-cjk": Part(lambda: find_installed(CJK_FONT_FILE) is not None,
                           "Noto Sans CJK (apt install fonts-noto-cjk)"),
}


@cache
def missing(parts: tuple[str, ...]) -> str | None:
    """Why a test needing ``parts`` cannot run here, or None when all are installed."""
    absent = [PARTS[part].install for part in parts if not PARTS[part].installed()]
    return "needs " + " and ".join(absent) if absent else None


def module_needs(*parts: str) -> pytest.MarkDecorator:
    """The mark for a file that imports ``parts`` at its top: skips the whole file at once when one is missing."""
    __tracebackhide__ = True  # the skip is reported at the file's line, not here
    reason = missing(parts)
    if reason:
        pytest.skip(reason, allow_module_level=True)
    return pytest.mark.needs(*parts)
