"""RIFE's weights: where they go, how to get them, and whether RIFE can run here.

Torch-free, unlike media/rife.py: the runner's checks, assembly and doctor ask before anything loads.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

RIFE_FIX = ("download Practical-RIFE v4.25 (or v4.26) from https://github.com/hzwer/Practical-RIFE#trained-model, "
            "unzip it and copy train_log/flownet.pkl to <models dir>/rife/flownet.pkl")


def rife_weights(models_dir: Path) -> Path:
    return Path(models_dir) / "rife" / "flownet.pkl"


def rife_problem(models_dir: Path) -> str | None:
    """None when RIFE can run here, else what is missing and how to add it."""
    if importlib.util.find_spec("torch") is None:
        return "RIFE needs torch: pip install -e '.[diffusion]'"
    weights = rife_weights(models_dir)
    if not weights.is_file():
        return f"no RIFE weights at {weights}: {RIFE_FIX.replace('<models dir>', str(models_dir))}"
    return None
