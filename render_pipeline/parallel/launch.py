"""Launching shots on GPU groups with torchrun; torch-free, for the runner.

A machine's GPUs are split into groups of k (the plan's GPUs per shot). Each group runs one
worker (``torchrun --standalone --nproc-per-node=k -m render_pipeline.parallel.worker JOB``)
that loads its models once and keeps taking the next unclaimed shot of the job until none is
left, so every group stays busy and no shot is rendered twice.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from render_pipeline.errors import UserError
from render_pipeline.parallel.layout import ParallelLayout

# NVLink SHARP (multicast) hangs or fails on some lent multi-GPU machines; both switches keep
# NCCL and PyTorch's symmetric memory off it. A value the user already set wins.
NCCL_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1"}


def gpu_groups(gpus: list[int], per_group: int) -> list[list[int]]:
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


def worker_command(job_path: Path, nproc: int) -> list[str]:
    return torchrun_command(nproc, ["-m", "render_pipeline.parallel.worker", str(job_path)])


def worker_env(gpus: list[int], base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for name, value in NCCL_ENV.items():
        env.setdefault(name, value)
    env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
    return env


@dataclass(frozen=True)
class ShotJob:
    """One shot for a worker: the backend's request (RenderRequest fields), where to write, where to log."""

    request: dict
    out_path: str
    log_path: str


@dataclass(frozen=True)
class WorkerJob:
    """What every worker group of one backend receives; they share the shots and claim them one by one."""

    backend: str
    layout: ParallelLayout
    models_dir: str | None
    candidate: dict = field(default_factory=dict)  # the plan's memory strategy keys, for open_session
    shots: list[ShotJob] = field(default_factory=list)

    def write(self, path: Path) -> None:
        data = {
            "backend": self.backend,
            "layout": self.layout.to_dict(),
            "models_dir": self.models_dir,
            "candidate": self.candidate,
            "shots": [vars(shot) for shot in self.shots],
        }
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(data, indent=2), encoding="utf-8")
        partial.replace(path)

    @classmethod
    def read(cls, path: Path) -> WorkerJob:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            backend=data["backend"],
            layout=ParallelLayout.from_dict(data["layout"]),
            models_dir=data["models_dir"],
            candidate=data["candidate"],
            shots=[ShotJob(**shot) for shot in data["shots"]],
        )


def claim(out_path: Path) -> bool:
    """Atomically claim a shot for this worker group; False if another group has it already."""
    marker = out_path.with_name(out_path.name + ".claimed")
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
