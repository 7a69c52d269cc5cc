"""One process of a worker group that renders each shot on k GPUs, started by torchrun.

The runner talks to a group exactly as to a one-GPU worker (runner/worker.py): rank 0 reads
the runner's messages and passes each one to the other ranks, every rank does the same work on
its share, and only rank 0 answers and writes the video. The other ranks stop before the decode
and keep what they would have written (saved latents) in a scratch folder of their own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
import torch.distributed as dist

from render_pipeline.output_folder.claim import SCRATCH_ENV
from render_pipeline.parallel.layout import ParallelLayout


class WorkerGroup:
    def __init__(self, layout: ParallelLayout):
        from render_pipeline.parallel.mesh import build_mesh

        self.layout = layout
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")
        self.rank = dist.get_rank()
        if dist.get_world_size() != layout.world_size:
            raise RuntimeError(f"the layout {layout.describe()} is for {layout.world_size} processes, "
                               f"but torchrun started {dist.get_world_size()}")
        self.mesh = build_mesh(layout, "cuda" if cuda else "cpu")
        # In the output folder's tmp/ (the runner removes it when the run ends), not the system's.
        self.scratch = Path(tempfile.mkdtemp(prefix=f"rank{self.rank}-", dir=os.environ.get(SCRATCH_ENV)))
        self.applied = False
        self.cfg_hooks: list = []  # the CFG-parallel hooks of the prepared pipeline's transformers

    @property
    def answers(self) -> bool:
        """Only rank 0 speaks to the runner."""
        return self.rank == 0

    def messages(self, lines: Iterable[str]) -> Iterator[str]:
        """The runner's messages on every rank: rank 0 reads ``lines``, the others receive its copy."""
        source = iter(lines) if self.rank == 0 else None
        while True:
            message = [next(source, None) if source is not None else None]
            dist.broadcast_object_list(message, src=0)
            if message[0] is None:  # the runner closed the pipe: no more shots
                return
            yield message[0]

    def prepare(self, session, requests: list) -> None:
        """Spread the session's pipeline over the group (once), after checking every shot splits evenly."""
        from render_pipeline.parallel.apply import apply_layout, check_shot

        if not requests:
            return
        session.compile_allowed = False  # see DiffusionSession.compile_allowed
        session.share_from_first_rank = self.share
        pipeline = session.pipeline_for(requests[0])
        if self.layout.context_parallel > 1:
            for request in requests:  # refuse a bad shot before any GPU time is spent (a kept group too)
                check_shot(pipeline, self.layout, request.frames_per_pass, request.height, request.width)
        if not self.applied:
            self.cfg_hooks = apply_layout(pipeline, self.layout, self.mesh)
            self.applied = True

    def share(self, make):
        """``make()`` computed on rank 0 and handed to every rank (a windowed shot's last frames, say)."""
        value = [make() if self.rank == 0 else None]
        dist.broadcast_object_list(value, src=0)
        return value[0]

    def before_shot(self, session, request) -> None:
        """A shot may render through another pipeline over the same modules (TI2V-5B's image-to-video
        twin): that one must tell the CFG hooks its negative prompt too, or they would keep the last
        shot's."""
        from render_pipeline.parallel.cfg import remember_negative_prompt

        if self.cfg_hooks:
            remember_negative_prompt(session.pipeline_for(request), self.cfg_hooks)

    def out_path(self, out: Path) -> Path:
        return out if self.rank == 0 else self.scratch / out.name

    def close(self) -> None:
        dist.destroy_process_group()
