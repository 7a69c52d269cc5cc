"""The worker process: opens one backend session and renders the shots the runner sends it.

Run as ``python -m render_pipeline.runner.worker BACKEND MODELS_DIR LAYOUT_JSON LOG``: the shot layout
(shot_layout.py) is read back strictly, and the session opened with its memory strategy.
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
import select
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO

from render_pipeline.backends import open_session
from render_pipeline.backends.base import BackendSession
from render_pipeline.errors import DiskFault, PlantedLink
from render_pipeline.output_folder.claim import SCRATCH_ENV
from render_pipeline.output_folder.files import DISK_ERRNOS, open_for_append
from render_pipeline.runner.jobs import request_from_json
from render_pipeline.runner.worker_process import RUNNER_PID_ENV
from render_pipeline.shot_layout import ShotLayout


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
        descriptor = open_for_append(path)
        os.dup2(descriptor, 1)
        os.dup2(descriptor, 2)
        os.close(descriptor)

    def fail(self, error: BaseException, writing_in: Path | None = None) -> None:
        """Report ``error``; a full disk or a size limit met writing in ``writing_in`` names that folder."""
        traceback.print_exc()
        if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
            error = DiskFault.from_os_error(error, error.filename or writing_in)
        if isinstance(error, (DiskFault, PlantedLink)):  # the runner stops the run with this one line
            self.send(event="failed", kind="disk", message=str(error), restart=self.group is not None)
            return
        kind = "oom" if is_out_of_memory(error) else "error"
        self.send(event="failed", kind=kind, message=f"{type(error).__name__}: {error}",
                  restart=self.group is not None)

    def serve(self, backend: str, models_dir: Path, layout: ShotLayout) -> int:
        self.log_to(self.worker_log)
        try:
            session = open_session(backend, layout, models_dir)
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
        try:
            self.log_to(Path(message["log"]))
        except (DiskFault, PlantedLink) as error:
            self.fail(error)
            return False
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
            self.fail(error, Path(os.environ.get(SCRATCH_ENV) or out.parent))
            return False
        finally:
            self.log_to(self.worker_log)
        self.send(event="done", peak_memory=peak_memory())
        return True


def die_with_runner() -> None:
    """End this process, and FFmpeg with it, the moment the runner that started it ends (RUNNER_PID_ENV).

    A runner killed with kill -9 cannot stop its workers; without this they would finish the
    shot in hand, writing into the output folder, with nobody to record it. A pidfd becomes
    readable when the process ends (Linux 5.3+); elsewhere the runner is polled.
    """
    runner = int(os.environ.get(RUNNER_PID_ENV) or 0)
    if not runner:
        return

    def watch() -> None:
        try:
            handle = os.pidfd_open(runner)
            select.select([handle], [], [])
        except ProcessLookupError:
            pass  # already gone
        except (AttributeError, OSError):  # no pidfd here
            while _alive(runner):
                time.sleep(0.5)
        if os.getpgrp() == os.getpid():  # the leader of a group of its own, as the runner starts it: FFmpeg too
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)  # a rank under torchrun: its FFmpeg dies with it (media/ffmpeg.py)

    threading.Thread(target=watch, daemon=True, name="die-with-runner").start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def main(argv: list[str] | None = None) -> int:
    die_with_runner()
    backend, models_dir, layout_json, worker_log = (argv if argv is not None else sys.argv[1:])
    layout = ShotLayout.from_json(json.loads(layout_json))
    # Keep the real stdout for the protocol; anything else printed lands in the log (see log_to).
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    group = None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # one rank of a torchrun group
        from render_pipeline.parallel.group import WorkerGroup
        from render_pipeline.parallel.layout import ParallelLayout

        group = WorkerGroup(ParallelLayout.of_shot(layout))
    code = Worker(protocol, Path(worker_log), group).serve(backend, Path(models_dir), layout)
    if group is not None and code == 0:  # after a failure torchrun ends the ranks; a goodbye could hang
        group.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
