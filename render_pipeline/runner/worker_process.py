"""The runner's handle on one worker process, with the watchdog that kills a worker gone silent.

A worker dies with the runner: it is told the runner's pid (RUNNER_PID_ENV) and kills itself
and its FFmpeg the moment that process ends (worker.py, die_with_runner), so a runner killed
with kill -9 leaves nothing writing in the output folder.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from render_pipeline.output_folder.files import open_for_append
from render_pipeline.shot_layout import ShotLayout

WORKER_COMMAND = (sys.executable, "-m", "render_pipeline.runner.worker")
TERM_GRACE_SECONDS = 15.0  # torchrun stops its ranks within this, then a kill follows
RUNNER_PID_ENV = "RENDER_PIPELINE_RUNNER_PID"


class WorkerLost(Exception):
    """The worker died or stopped reporting; ``reason`` says which, for the log and manifest."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class WorkerProcess:
    def __init__(self, backend: str, models_dir: Path, layout: ShotLayout, worker_log: Path,
                 command: tuple[str, ...] | list[str] = WORKER_COMMAND, env: dict[str, str] | None = None):
        self.backend = backend
        self.log = worker_log
        # Its own session: Ctrl-C in the terminal reaches the runner only, which stops the
        # worker itself and records what was interrupted. What a launcher such as torchrun
        # prints before the worker takes over its output goes to the worker's log too.
        log = open_for_append(worker_log)
        try:
            self.process = subprocess.Popen(
                [*command, backend, str(models_dir), json.dumps(layout.to_json()), str(worker_log)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, encoding="utf-8",
                start_new_session=True, env={**(os.environ if env is None else env), RUNNER_PID_ENV: str(os.getpid())},
            )
        finally:
            os.close(log)
        # Popen with stdin and stdout PIPE always opens both.
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[str] = self.process.stdin
        self.stdout: IO[str] = self.process.stdout
        self.events: queue.Queue[dict | None] = queue.Queue()
        threading.Thread(target=self._read_events, daemon=True).start()

    def _read_events(self) -> None:
        for line in self.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                continue  # not a protocol line; the worker keeps its chatter in the logs
        self.events.put(None)

    def send(self, **message) -> None:
        try:
            self.stdin.write(json.dumps(message) + "\n")
            self.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerLost(self._death()) from None

    def next_event(self, timeout: float) -> dict:
        """The worker's next message; WorkerLost if it exits or says nothing for ``timeout`` seconds."""
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise WorkerLost(f"no progress for {timeout:g} s; the worker was killed") from None
        if event is None:
            raise WorkerLost(self._death())
        return event

    def _death(self) -> str:
        code = self.process.wait()
        if code < 0:
            return f"the worker was killed by signal {signal.Signals(-code).name}"
        return f"the worker exited unexpectedly (status {code})"

    def close(self) -> None:
        """Let the worker free its models and exit; kill it if it does not."""
        try:
            self.stdin.close()
            self.process.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()

    def kill(self) -> None:
        """SIGTERM first: torchrun passes it on to its ranks, which run in sessions of their own."""
        for how, grace in ((signal.SIGTERM, TERM_GRACE_SECONDS), (signal.SIGKILL, None)):
            if self.process.poll() is not None:
                return
            try:
                os.killpg(self.process.pid, how)  # with any FFmpeg it started
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue


class IdleWorkers:
    """Workers kept loaded between runs (`render-shot --watch`), by what they were started for.

    A run takes the worker started for the same backend, memory layout and GPUs, skipping the
    start and the model load; any other kept worker is closed before a new one starts, so that
    its models never share the GPUs with the new one's.
    """

    def __init__(self):
        self._workers: dict[str, WorkerProcess] = {}

    def take(self, key: str) -> WorkerProcess | None:
        worker = self._workers.pop(key, None)
        if worker is not None and worker.process.poll() is None:
            return worker
        self.close()
        return None

    def keep(self, key: str, worker: WorkerProcess) -> None:
        self._workers[key] = worker

    def close(self) -> None:
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()
