"""The Slurm executor, through submitit: per dependency wave, a job array with one element per shot job."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import submitit

from render_pipeline.errors import UserError
from render_pipeline.planner.gpus import detect_gpus
from render_pipeline.runner.executors.cluster import ClusterExecutor
from render_pipeline.runner.executors.node_gpus import NodeGpus, sinfo_node_gpus
from render_pipeline.runner.executors.node_task import failed_outcome, merge_results, render_on_this_node
from render_pipeline.runner.jobs import Job
from render_pipeline.runner.results import RunOptions, RunResult

TIMEOUT_MINUTES = 24 * 60
SINFO_SECONDS = 60


class ShotTask(submitit.helpers.Checkpointable):
    """Checkpointable: when Slurm preempts the element (or it hits its time limit), submitit requeues it."""

    def __call__(self, job: Job, out_dir: Path, models_dir: Path, options: RunOptions) -> dict:
        return render_on_this_node(job, out_dir, models_dir, options, "slurm")


class SlurmExecutor(ClusterExecutor):
    name = "slurm"

    def __init__(self, partition: str, cluster: str = "slurm"):
        self.partition = partition
        self.cluster = cluster  # "local" or "debug" run the same arrays on this machine (tests)

    def nodes(self) -> list[NodeGpus]:
        if self.cluster != "slurm":  # submitit's local and debug clusters run every element on this machine
            here = detect_gpus()
            return [NodeGpus(len(here), here[0].name if here else None)]
        sinfo = shutil.which("sinfo")
        if sinfo is None:
            raise UserError("--executor slurm: sinfo is not on PATH, so the partition's nodes cannot be checked; "
                            "run render-all where Slurm's client tools are (a login node), or install or load "
                            "them (`apt install slurm-client`, `module load slurm`)")
        try:
            listed = subprocess.run([sinfo, "-h", "-p", self.partition, "-o", "%G"], capture_output=True, text=True,
                                    timeout=SINFO_SECONDS)
        except subprocess.TimeoutExpired:
            raise UserError(f"sinfo gave no answer in {SINFO_SECONDS} s: is the Slurm controller up? (try `sinfo`)") \
                from None
        if listed.returncode != 0:
            raise UserError(f"sinfo could not list partition {self.partition!r}: {listed.stderr.strip()}")
        nodes = sinfo_node_gpus(listed.stdout)
        if not nodes:
            raise UserError(f"Slurm has no partition {self.partition!r}: choose one that `sinfo -s` lists")
        return nodes

    def run_waves(self, waves: list[list[Job]], out_dir: Path, models_dir: Path, options: RunOptions) -> RunResult:
        began = time.monotonic()
        outcomes = []
        for wave in waves:
            for gpus in sorted({job.gpus_per_shot for job in wave}):
                jobs = [job for job in wave if job.gpus_per_shot == gpus]
                executor = submitit.AutoExecutor(folder=out_dir / "logs" / "slurm", cluster=self.cluster)
                executor.update_parameters(gpus_per_node=gpus, tasks_per_node=1, nodes=1,
                                           timeout_min=TIMEOUT_MINUTES, slurm_partition=self.partition,
                                           slurm_array_parallelism=len(jobs))
                elements = executor.map_array(ShotTask(), jobs, [out_dir] * len(jobs), [models_dir] * len(jobs),
                                              [options] * len(jobs))
                for job, element in zip(jobs, elements):
                    try:
                        outcomes.append(element.result())
                    except Exception as error:  # submitit's FailedJobError, UncompletedJobError
                        message = f"the Slurm job {element.job_id} failed: {error}"
                        outcomes.append(failed_outcome(out_dir, job, message))
        result = merge_results(out_dir, outcomes)
        result.seconds = time.monotonic() - began
        return result
