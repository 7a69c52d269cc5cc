"""A user's CUDA_VISIBLE_DEVICES is the set of GPUs both the planner counts and the runner hands out."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from render_pipeline.planner.gpus import detect_gpus
from render_pipeline.runner.lanes import device_ids

# What `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits` prints.
MACHINE = """\
0, GPU-1a2b3c4d-0000-0000-0000-000000000000, NVIDIA H100 80GB HBM3, 81559
1, GPU-5e6f7a8b-0000-0000-0000-000000000000, NVIDIA RTX A6000, 49140
2, GPU-9c0d1e2f-0000-0000-0000-000000000000, NVIDIA L4, 23034
"""


@pytest.fixture
def three_card_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """nvidia-smi on PATH lists the three cards above, whatever CUDA_VISIBLE_DEVICES says (as the real one does)."""
    smi = tmp_path / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\ncat <<'END'\n{MACHINE}END\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delitem(sys.modules, "torch", raising=False)  # asked through nvidia-smi, not a torch this test loaded


@pytest.mark.parametrize("selection, memory", [
    (None, [79.65, 47.99, 22.49]),
    ("2,0", [22.49, 79.65]),
    ("GPU-5e6f", [47.99]),  # the start of a UUID, as CUDA takes it
    ("1, 7, 2", [47.99]),  # CUDA stops at the first entry that names no card
    ("1,,2", [47.99]),  # or that is empty
    ("", []),
])
def test_the_planner_counts_only_the_selected_cards(three_card_machine, monkeypatch, selection, memory):
    if selection is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", selection)
    assert [gpu.memory_gib for gpu in detect_gpus()] == memory


@pytest.mark.parametrize("selection, devices", [
    (None, ["0", "1"]),
    ("3,1,2", ["3", "1"]),
    ("1,,2", ["1"]),  # as CUDA reads it: the empty entry ends the selection
    ("", []),  # no GPUs: the workers are not handed any
])
def test_the_runner_hands_out_only_the_selected_cards(monkeypatch, selection, devices):
    if selection is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", selection)
    assert device_ids(2) == devices


def test_a_selection_that_names_no_card_is_what_the_plan_and_doctor_blame(three_card_machine, monkeypatch):
    from render_pipeline.doctor import check_gpus

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    check = check_gpus()
    assert check.status == "warn" and "CUDA_VISIBLE_DEVICES=''" in check.detail and "unset" in check.fix
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert check_gpus().status == "ok"
    monkeypatch.setenv("PATH", "/nonexistent")  # no driver: no nvidia-smi
    check = check_gpus()
    assert check.detail.startswith("no GPU found") and "install the NVIDIA driver" in check.fix
