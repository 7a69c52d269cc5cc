"""The worker process: opens one backend session and renders the shots the runner sends it.

Run as ``python -m render_pipeline.runner.worker BACKEND MODELS_DIR CANDIDATE_JSON LOG``.
A separate process contains what a render can do wrong (a crash in native code, a hang,
memory that is never given back) and lets the runner kill it; the model stays loaded
across shots because the same worker renders them all.

Protocol: JSON lines. The runner writes ``{"op": "encode", "requests": [...], "text_cache": DIR}`` and
``{"op": "render", "request": {...}, "out": PATH, "log": PATH}`` on stdin; the worker
answers on its stdout with ``ready``, ``encoded``, ``progress`` (done, total), ``done``
(peak memory) or ``failed`` (kind "oom" or "error", message). Everything else the worker
or its libraries print goes to the log files, never into the protocol.

Started by torchrun (the plan puts k > 1 GPUs on each shot), every rank runs this same
program as one member of a parallel.group.WorkerGroup: rank 0 speaks the protocol, all
ranks render. A group that failed mid-shot may have ranks stuck in a collective, so it
reports the failure and exits; the runner starts a fresh group.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
from pathlib import Path
from typing import IO

from render_pipeline.backends import open_session
from render_pipeline.backends.base import BackendSession
from render_pipeline.runner.jobs import request_from_json


def is_out_of_memory(error: BaseException) -> bool:
    """torch raises OutOfMemoryError for the GPU; MemoryError is the host running out."""
    return (isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"
            or "out of memory" in str(error).lower())


def peak_memory() -> dict:
    peaks = {"host_bytes": max(resource.getrusage(who).ru_maxrss for who in
                               (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) * 1024}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        peaks["gpu_bytes"] = torch.cuda.max_memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    return peaks


class Worker:
    def __init__(self, protocol: IO[str], worker_log: Path, group=None):
        self.protocol = protocol
        self.worker_log = worker_log
        self.group = group  # a parallel.group.WorkerGroup when this process is one rank of several

    def send(self, **message) -> None:
        if self.group is not None and not self.group.answers:
            return
        self.protocol.write(json.dumps(message) + "\n")
        self.protocol.flush()

    def log_to(self, path: Path) -> None:
        """Point this process's stdout and stderr (and so its libraries' output) at ``path``."""
        sys.stdout.flush()
        sys.stderr.flush()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(descriptor, 1)
        os.dup2(descriptor, 2)
        os.close(descriptor)

    def fail(self, error: BaseException) -> None:
        traceback.print_exc()
        kind = "oom" if is_out_of_memory(error) else "error"
        self.send(event="failed", kind=kind, message=f"{type(error).__name__}: {error}",
                  restart=self.group is not None)

    def serve(self, backend: str, models_dir: Path, candidate: dict) -> int:
        self.log_to(self.worker_log)
        try:
            session = open_session(backend, candidate, models_dir)
        except Exception as error:  # reported to the runner, which decides what to retry
            self.fail(error)
            return 1
        self.send(event="ready")
        lines = sys.stdin if self.group is None else self.group.messages(sys.stdin)
        try:
            for line in lines:
                message = json.loads(line)
                handle = self.encode if message["op"] == "encode" else self.render
                if not handle(session, message) and self.group is not None:
                    return 1
        finally:
            session.close()
        return 0

    def encode(self, session: BackendSession, message: dict) -> bool:
        try:
            requests = [request_from_json(r) for r in message["requests"]]
            session.encode(requests, text_cache=Path(message["text_cache"]) if message.get("text_cache") else None)
            if self.group is not None:
                self.group.prepare(session, requests)
        except Exception as error:
            self.fail(error)
            return False
        self.send(event="encoded")
        return True

    def render(self, session: BackendSession, message: dict) -> bool:
        self.log_to(Path(message["log"]))
        try:
            request = request_from_json(message["request"])
            out = Path(message["out"])
            if self.group is not None:
                self.group.before_shot(session, request)
                out = self.group.out_path(out)
                print(f"[rank {self.group.rank}] rendering {request.shot_id} as {self.group.layout.describe()}",
                      flush=True)
            session.render(request, out, lambda done, total: self.send(event="progress", done=done, total=total))
        except Exception as error:
            if type(error).__name__ != "NotThisRanksOutput":  # ranks other than 0 stop before the decode
                self.fail(error)
                return False
        finally:
            self.log_to(self.worker_log)
        self.send(event="done", peak_memory=peak_memory())
        return True


def main(argv: list[str] | None = None) -> int:
    backend, models_dir, candidate, worker_log = (argv if argv is not None else sys.argv[1:])
    candidate = json.loads(candidate)
    # Keep the real stdout for the protocol; anything else printed lands in the log (see log_to).
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    group = None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # one rank of a torchrun group
        from render_pipeline.parallel.group import WorkerGroup
        from render_pipeline.parallel.layout import ParallelLayout

        group = WorkerGroup(ParallelLayout.from_candidate(candidate))
    code = Worker(protocol, Path(worker_log), group).serve(backend, Path(models_dir), candidate)
    if group is not None and code == 0:  # after a failure torchrun ends the ranks; a goodbye could hang
        group.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
