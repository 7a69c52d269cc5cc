"""The Ray executor: one Ray task per shot job, holding the GPUs the plan gives a shot."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import ray

from render_pipeline.errors import UserError
from render_pipeline.runner.executors.cluster import ClusterExecutor
from render_pipeline.runner.executors.node_gpus import NodeGpus, ray_node_gpus
from render_pipeline.runner.executors.node_task import failed_outcome, merge_results, render_on_this_node
from render_pipeline.runner.jobs import Job
from render_pipeline.runner.results import RunOptions, RunResult

TASK_RETRIES = 3  # a task whose worker or node died is started again, elsewhere if need be
REACH_SECONDS = 5.0
RAY_PORT = 6379  # the head node's GCS port when an address names none


class RayExecutor(ClusterExecutor):
    name = "ray"

    def __init__(self, address: str | None):
        self.address = address

    def _connect(self) -> None:
        if ray.is_initialized():  # a program (or a test) that started Ray itself
            return
        if self.address not in (None, "auto"):
            self._check_reachable(self.address)
        try:
            ray.init(address=self.address or "auto", log_to_driver=False)
        except (ConnectionError, RuntimeError) as error:
            raise UserError(f"cannot reach the Ray cluster at {self.address or 'auto'}: {error}; start it with "
                            f"`ray start --head` or pass --address HOST:PORT") from None

    @staticmethod
    def _check_reachable(address: str) -> None:
        """Fail at once on an address nothing answers at: ray.init would retry it for minutes."""
        host, _, port = address.removeprefix("ray://").rpartition(":")
        if not host or not port.isdigit():
            host, port = address.removeprefix("ray://"), str(RAY_PORT)
        try:
            socket.create_connection((host, int(port)), timeout=REACH_SECONDS).close()
        except OSError as error:
            raise UserError(f"cannot reach the Ray cluster at {address}: nothing answers at {host}:{port} "
                            f"({error.strerror or error}); check the address (`ray status` on the head node "
                            f"prints it) or start the cluster with `ray start --head`") from None

    def nodes(self) -> list[NodeGpus]:
        self._connect()
        return ray_node_gpus(ray.nodes())

    def run_waves(self, waves: list[list[Job]], out_dir: Path, models_dir: Path, options: RunOptions) -> RunResult:
        self._connect()
        began = time.monotonic()
        task = ray.remote(render_on_this_node)
        outcomes = []
        for wave in waves:
            refs = [task.options(num_gpus=job.gpus_per_shot, num_cpus=1, max_retries=TASK_RETRIES,
                                 name=f"shot {job.id}").remote(job, out_dir, models_dir, options, self.name)
                    for job in wave]
            for job, ref in zip(wave, refs):
                try:
                    outcomes.append(ray.get(ref))
                except ray.exceptions.RayError as error:
                    message = f"the Ray task failed {TASK_RETRIES + 1} times: {error}"
                    outcomes.append(failed_outcome(out_dir, job, message))
        result = merge_results(out_dir, outcomes)
        result.seconds = time.monotonic() - began
        return result
