"""One run at a time in an output folder, the folder tied to the storyboard that made it, and its scratch space.

A run (render-all, render-shot, render-shot --watch, assemble) holds an exclusive flock on
``run.lock`` inside the folder for as long as it writes there. The kernel drops the lock when
the process ends, however it ends (kill -9 included), so a lock is never left stale; the file
names the holder (pid, host, start, command) for the message a second run gets. Cluster
tasks render into the folder under the lock their driver holds (executors/shot_claim.py keeps
them apart shot by shot).

``film.json`` remembers which storyboard made the folder. The default folder is named after
the title's slug, and two titles can make the same slug: a storyboard other than the one
recorded is refused there unless the folder was chosen with --out.

Scratch files (the animatic's text files, the assembly's intermediate picture, speech
before it is joined) live in the folder's ``tmp/``, emptied when a run takes the folder (a
killed run's leftovers) and removed when it lets go.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from render_pipeline.errors import PlantedLink, UserError
from render_pipeline.output_folder.files import fault, make_folder, read_text, refuse_links, write_file

LOCK_NAME = "run.lock"
FILM_NAME = "film.json"
SCRATCH_NAME = "tmp"
# Where a worker process puts its scratch files: the runner sets it to the output folder's tmp/.
SCRATCH_ENV = "RENDER_PIPELINE_SCRATCH"

# Folders this process holds now, by (device, inode), with how many nested holds each has:
# render-all assembles inside its own hold, and --watch renders the shot inside its own.
_held: dict[tuple[int, int], int] = {}


def default_out_dir(storyboard) -> Path:
    return Path("outputs") / storyboard.slug


def scratch_dir(out_dir: Path) -> Path:
    return out_dir / SCRATCH_NAME


@contextmanager
def hold_output_folder(out_dir: Path | None, storyboard) -> Iterator[Path]:
    """Hold the output folder for this run and yield it; ``out_dir`` None is the storyboard's default folder.

    Raises UserError when another run holds it, when it holds another storyboard's film (the
    default folder only), or when a link was planted in it.
    """
    chosen = out_dir is not None
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(storyboard)
    make_folder(out_dir)
    info = os.stat(out_dir)
    key = (info.st_dev, info.st_ino)
    if key in _held:
        _held[key] += 1
        try:
            yield out_dir
        finally:
            _held[key] -= 1
        return
    lock = _lock(out_dir)
    try:
        refuse_links(out_dir)
        _tie(out_dir, storyboard, chosen)
        shutil.rmtree(scratch_dir(out_dir), ignore_errors=True)  # a killed run's; no link inside, as just checked
        make_folder(out_dir, SCRATCH_NAME)
        _held[key] = 1
        try:
            yield out_dir
        finally:
            del _held[key]
            shutil.rmtree(scratch_dir(out_dir), ignore_errors=True)
    finally:
        os.close(lock)  # and with it the flock


def _lock(out_dir: Path) -> int:
    path = out_dir / LOCK_NAME
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise fault(error, path) from None
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(descriptor)
        raise PlantedLink(path, "a file that has another name too (a hard link)")
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(descriptor)
        os.close(descriptor)
        raise UserError(f"another run is writing to {out_dir}: {holder}; wait for it to end or stop it, "
                        f"or write this one elsewhere with --out") from None
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "since": datetime.now(UTC).isoformat(timespec="seconds"), "command": " ".join(sys.argv)}
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(me).encode(), 0)
    except OSError as error:
        os.close(descriptor)
        raise fault(error, path) from None
    return descriptor


def _holder(descriptor: int) -> str:
    try:
        holder = json.loads(os.pread(descriptor, 65536, 0))
        return f"pid {holder['pid']} on {holder['host']} since {holder['since']} ({holder['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that is just starting"


def _tie(out_dir: Path, storyboard, chosen: bool) -> None:
    """Record which storyboard the folder holds; refuse another one in a default folder."""
    path = out_dir / FILM_NAME
    mine = {"storyboard": str(storyboard.path), "title": storyboard.title}
    try:
        recorded = json.loads(read_text(path))
    except (FileNotFoundError, ValueError):
        recorded = None
    if not chosen and isinstance(recorded, dict) and recorded.get("storyboard") != mine["storyboard"]:
        raise UserError(f"{out_dir} holds the film of {recorded.get('storyboard')} (title {recorded.get('title')!r}), "
                        f"and {storyboard.path} (title {storyboard.title!r}) makes the same folder name: give this "
                        f"one a folder of its own with --out (for example --out {out_dir}-2), or, if it is the same "
                        f"film moved, pass --out {out_dir}")
    if recorded != mine:
        write_file(path, json.dumps(mine, indent=2, ensure_ascii=False) + "\n")
