"""A shot's claim: which one of the cluster's tasks may render a shot and put its output in place.

An engine can run the same shot task twice at once: Ray retries a task whose node it lost
touch with while the old one still runs; Slurm requeues an element. So a task first claims
its shot: it creates claims/<shot>.json in the shared output folder by hard-linking a file
of its own to that name, which fails if the name exists. That is atomic on a local disk and
on NFS (flock over NFS is not to be trusted), and the claim appears with its content whole.
The file names the holder (node, pid, since); the holder refreshes its modification time
every HEARTBEAT_SECONDS and deletes it when done. Any other task for the shot waits.

A claim is stale, and is taken over, when its holder was on this node and its process is
gone, or when nobody refreshed it for STALE_SECONDS (its node died, or lost the shared
folder). That compares the file's time with this node's clock: node clocks must agree
within minutes, which NTP gives every cluster.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 600.0  # 20 missed heartbeats: well beyond NFS attribute caching and clock drift
POLL_SECONDS = 1.0


class ShotClaim:
    """``with ShotClaim(out_dir, shot_id, waiting):`` holds the shot; ``waiting(holder)`` is told once if it must wait."""

    def __init__(self, out_dir: Path, shot_id: str, waiting: Callable[[dict], None]):
        self.path = out_dir / "claims" / f"{shot_id}.json"
        self.waiting = waiting
        self.node = socket.gethostname()
        self.token = uuid.uuid4().hex
        self.took_over_from: str | None = None  # the node of a stale claim this one replaced
        self.waited = False  # another task held the shot first
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> ShotClaim:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while not self._create():
            try:
                stamp = self.path.stat()
            except FileNotFoundError:
                continue  # released meanwhile: try again at once
            holder = self._read()
            if self._stale(holder, stamp):
                self._take_over(holder, stamp)
                continue
            if not self.waited:
                self.waiting(holder)
                self.waited = True
            time.sleep(POLL_SECONDS)
        self._heartbeat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._heartbeat.join()
        if self.is_ours():
            self.path.unlink(missing_ok=True)
        for marker in self.path.parent.glob(f"{self.path.name}.taken-*"):
            marker.unlink(missing_ok=True)

    def is_ours(self) -> bool:
        """Still held by this task (not taken over as stale by another)."""
        return self._read().get("token") == self.token

    def _create(self) -> bool:
        """Link a complete record of our own to the claim's name: no task ever reads a half-written claim."""
        own = self.path.with_name(f".{self.path.name}.{self.token}")
        own.write_text(json.dumps({"node": self.node, "pid": os.getpid(), "token": self.token,
                                   "since": datetime.now(UTC).isoformat(timespec="seconds")}),
                       encoding="utf-8")
        try:
            os.link(own, self.path)
            return True
        except FileExistsError:
            # Over NFS a link whose reply was lost is retried and reports EEXIST: then it is ours.
            return own.stat().st_nlink == 2
        finally:
            own.unlink()

    def _read(self) -> dict:
        """The holder's record; {} once it was released."""
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def _stale(self, holder: dict, stamp: os.stat_result) -> bool:
        if holder.get("node") == self.node and isinstance(holder.get("pid"), int) and not _running(holder["pid"]):
            return True
        return time.time() - stamp.st_mtime > STALE_SECONDS

    def _take_over(self, holder: dict, stamp: os.stat_result) -> None:
        """Delete the stale claim, unless another task is doing just that (one marker per stale claim decides)."""
        marker = self.path.with_name(f"{self.path.name}.taken-{stamp.st_ino}-{stamp.st_mtime_ns}")
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            time.sleep(POLL_SECONDS)
            return
        try:
            now = self.path.stat()
        except FileNotFoundError:
            return
        if (now.st_ino, now.st_mtime_ns) == (stamp.st_ino, stamp.st_mtime_ns):  # still that claim, not refreshed
            self.path.unlink(missing_ok=True)
            self.took_over_from = holder.get("node") or "an unknown node"

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            if not self.is_ours():
                return
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
