"""Launching workers on GPU groups; torch-free, for the runner.

A machine's GPUs are split into groups of k (the plan's GPUs per shot). The runner starts one
worker per group, the runner's own worker program, under ``torchrun --standalone
--nproc-per-node=k`` when k > 1 (see parallel/group.py), and hands each group the next
unfinished shot whenever it is free, so every group stays busy and no shot is rendered twice.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from render_pipeline.errors import UserError

# NVLink SHARP (multicast) hangs or fails on some lent multi-GPU machines; these switches keep
# NCCL, NVSHMEM and PyTorch's symmetric memory off it. A value the user already set wins.
NCCL_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}


def gpu_groups(gpus: list, per_group: int) -> list[list]:
    """Split ``gpus`` into groups of ``per_group``; GPUs left over (fewer than a group) stay idle."""
    if per_group < 1:
        raise UserError(f"GPUs per shot must be >= 1, got {per_group}")
    if per_group > len(gpus):
        raise UserError(
            f"the plan needs {per_group} GPUs per shot but only {len(gpus)} are visible "
            f"({', '.join(map(str, gpus)) or 'none'}); re-plan with --gpus {len(gpus)}"
        )
    count = len(gpus) // per_group
    return [gpus[i * per_group:(i + 1) * per_group] for i in range(count)]


def torchrun_command(nproc: int, program: list[str]) -> list[str]:
    """``program`` is ``["-m", "module", args...]`` or ``["script.py", args...]``."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", *program]


def worker_env(gpus: Sequence[int | str], base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a group's worker: its GPUs only, and NCCL kept off NVLink multicast."""
    env = dict(os.environ if base is None else base)
    for name, value in NCCL_ENV.items():
        env.setdefault(name, value)
    env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
    return env
