"""Fixtures shared by every test file: keep them small."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from tests.optional_parts import missing

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "storyboards"

# Two generated shots, a dissolve between them, one overlay, narration and one music cue.
MINIMAL_STORYBOARD = """\
version: 1
title: Test Film
delivery: {size: 640x360, fps: 24}
music:
  - {cue: bed, from: "010", to: b}
shots:
  - id: "010"
    duration: 3
    prompt: "A harbor at dawn"
    overlays:
      - {text: "Hello", style: title, start: 0.5, end: 2.5}
    narration: "Good morning."
    transition: {type: dissolve, duration: 1}
  - id: b
    duration: 2
    prompt: "A ship at sea"
"""


@pytest.fixture
def write_storyboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write storyboard text as tmp_path/sb.yaml and work from tmp_path, so messages read `sb.yaml:LINE:COL`."""
    monkeypatch.chdir(tmp_path)

    def write(text: str | bytes, name: str = "sb.yaml") -> Path:
        path = Path(name)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def minimal_storyboard(write_storyboard) -> Path:
    return write_storyboard(MINIMAL_STORYBOARD)


# A GPU machine runs the suite as a CPU one does, since its references (diffusers' pipelines on the
# CPU, pixels from CPU runs, "no GPU" plans) were made on one: before anything starts CUDA, the
# selection names cards that do not exist. This process, the workers it starts and Ray's faked GPUs
# then all compute on the CPU, while the runner still hands each faked GPU a name of its own.
# `pytest -m cuda` instead runs the tests that need the real GPU, with the machine's own selection.
ABSENT_GPUS = ",".join(f"GPU-absent-{index}" for index in range(8))


def pytest_configure(config: pytest.Config) -> None:
    if config.option.markexpr.strip() != "cuda":
        os.environ["CUDA_VISIBLE_DEVICES"] = ABSENT_GPUS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip each test marked `needs` whose part is not installed, naming how to install it, and `cuda` without a GPU."""
    for item in items:
        if item.get_closest_marker("cuda") and not _has_cuda():
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU: on one, run `pytest -m cuda`"))
        for mark in item.iter_markers("needs"):
            reason = missing(mark.args)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _has_cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()
