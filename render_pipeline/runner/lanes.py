"""A run's lanes: one group of GPUs each (torchrun for k > 1), its worker, the shot it is busy with.

Every lane runs in a thread of its own and keeps taking the next shot of the batch until none is left.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from render_pipeline.output_folder.claim import SCRATCH_ENV, scratch_dir
from render_pipeline.parallel.launch import gpu_groups, torchrun_command, worker_env
from render_pipeline.planner.gpus import gpu_selection
from render_pipeline.runner.jobs import Job
from render_pipeline.runner.worker_process import WorkerProcess


def device_ids(count: int) -> list[str]:
    """The first ``count`` GPUs as CUDA_VISIBLE_DEVICES names them for a child (a user's own selection is kept)."""
    selection = gpu_selection()
    return (selection if selection is not None else [str(i) for i in range(count)])[:count]


@dataclass
class Lane:
    """One group of GPUs (None: no GPU of its own) and the worker and shot it is busy with."""

    index: int
    devices: list[str] | None
    worker: WorkerProcess | None = None
    current: Job | None = None
    # Where the current shot's time went, for the manifest: the worker's start and prompt encoding
    # (on the first shot of a worker), then the first step (which loads the denoising pipeline on
    # a worker's first shot), the other steps, and the decode and write after the last step.
    phases: dict[str, float] = field(default_factory=dict)

    def describe(self) -> dict:
        return {"group": self.index, "gpus": self.devices}

    @property
    def running_worker(self) -> WorkerProcess:
        """The worker rendering the lane's shots, which only _run_worker starts and closes."""
        if self.worker is None:
            raise RuntimeError(f"lane {self.index} renders a shot without a worker")
        return self.worker


def lanes_for(devices: list[str], job: Job) -> list[Lane]:
    """The plan's GPU groups for this backend's layout; one lane with no GPU of its own for CPU work."""
    if job.gpus_per_shot == 0 or not devices:
        return [Lane(0, None)]
    groups = gpu_groups(devices, job.gpus_per_shot)[:max(job.groups, 1)]
    return [Lane(index, group) for index, group in enumerate(groups)]


def run_lanes(lanes: list[Lane], batch: list[Job], stopping: threading.Event,
              run_worker: Callable[[Lane, list[Job]], list[Job]]) -> list[Job]:
    """Every lane takes the next shot of ``batch`` until none is left; return the jobs settled."""
    queue = list(batch)
    settled: list[Job] = []
    errors: list[BaseException] = []

    def work(lane: Lane) -> None:
        try:
            while not stopping.is_set() and queue:
                settled.extend(run_worker(lane, queue))
        except BaseException as error:  # raised again in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(lane,), daemon=True) for lane in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive() and not errors:  # a full disk in one lane stops them all at once
            thread.join(timeout=0.2)  # short waits: Ctrl-C and SIGTERM reach this thread at once
    if errors:
        raise errors[0]
    return settled


def start_worker(lane: Lane, head: Job, out_dir: Path, models_dir: Path,
                 worker_command: tuple[str, ...]) -> WorkerProcess:
    name = head.backend if lane.devices is None else f"{head.backend}.group{lane.index}"
    worker_log = out_dir / "logs" / f"{name}.worker.log"
    command, env = list(worker_command), dict(os.environ)
    if lane.devices is not None:
        env = worker_env(lane.devices)
        if len(lane.devices) > 1:
            command = torchrun_command(len(lane.devices), command[1:])
    env[SCRATCH_ENV] = str(scratch_dir(out_dir).absolute())
    return WorkerProcess(head.backend, models_dir, head.layout, worker_log, command, env)
