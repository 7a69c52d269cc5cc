"""One worker group: ``torchrun --standalone --nproc-per-node=k -m render_pipeline.parallel.worker JOB``.

Every rank loads the backend once, applies the layout, and then the group renders shot after
shot from the job, each one claimed first so that several groups can share a job. Rank 0
writes the video; the other ranks stop before the decode and write nothing. Every rank logs
to the shot's log, each line prefixed with its rank.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch
import torch.distributed as dist

from render_pipeline.parallel.launch import ShotJob, WorkerJob, claim


def log(path: Path, rank: int, message: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:  # one short append per line: ranks do not interleave
        stream.write(f"{time.strftime('%H:%M:%S')} [rank {rank}] {message}\n")


def run(job_path: Path) -> int:
    from render_pipeline.backends import open_session
    from render_pipeline.backends.base import RenderRequest
    from render_pipeline.parallel.apply import apply_layout, check_shot
    from render_pipeline.parallel.mesh import build_mesh
    from render_pipeline.parallel.vae import NotThisRanksOutput

    job = WorkerJob.read(job_path)
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank()
    if dist.get_world_size() != job.layout.world_size:
        raise SystemExit(f"the layout {job.layout.describe()} is for {job.layout.world_size} processes, "
                         f"but torchrun started {dist.get_world_size()}")
    mesh = build_mesh(job.layout, "cuda" if cuda else "cpu") if not job.layout.is_single else None
    scratch = Path(tempfile.mkdtemp(prefix=f"render-pipeline-rank{rank}-"))

    requests = [_request(RenderRequest, shot) for shot in job.shots]
    session = open_session(job.backend, job.candidate, Path(job.models_dir) if job.models_dir else None)
    session.encode(requests)
    pipeline = session.pipeline_for(requests[0])
    if job.layout.context_parallel > 1:
        for request in requests:  # refuse a bad shot before any GPU time is spent
            check_shot(pipeline, job.layout, request.frames, request.height, request.width)
    apply_layout(pipeline, job.layout, mesh)

    for shot, request in zip(job.shots, requests):
        log_path = Path(shot.log_path)
        mine = [claim(Path(shot.out_path)) if rank == 0 else None]
        dist.broadcast_object_list(mine, src=0)
        if not mine[0]:
            continue
        out_path = Path(shot.out_path) if rank == 0 else scratch / Path(shot.out_path).name
        log(log_path, rank, f"rendering {request.shot_id} as {job.layout.describe()} on {job.backend}")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            log(log_path, rank, f"step {done}/{total}")

        try:
            session.render(request, out_path, progress)
        except NotThisRanksOutput:
            pass
        except Exception:
            log(log_path, rank, "failed:\n" + traceback.format_exc())
            if rank == 0:  # let a restarted group claim the shot again
                Path(shot.out_path + ".claimed").unlink(missing_ok=True)
            raise
        peak = f", peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if cuda else ""
        log(log_path, rank, f"done in {time.perf_counter() - started:.1f} s{peak}")
        dist.barrier()

    session.close()
    dist.destroy_process_group()
    return 0


def _request(request_class, shot: ShotJob):
    fields = dict(shot.request)
    if fields.get("image"):
        fields["image"] = Path(fields["image"])
    return request_class(**fields)


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
