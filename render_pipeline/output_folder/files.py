"""Writing inside an output folder without following links and without leaving half-written files.

An output folder can come from elsewhere (a cloned repository that ships ``outputs/``, an
unpacked archive), so a link in it may point anywhere on the machine. Nothing here writes,
or reads back the renderer's own files, through one: folders are made and checked one
component at a time; a file is created under a temporary name beside its target with
O_CREAT | O_EXCL | O_NOFOLLOW (whatever had that name is removed first: unlinking a link
removes the link, never what it points to) and renamed over the target, which replaces a
link rather than writing through it; logs are appended only to a regular file that has no
other name (O_NOFOLLOW, and one hard link). A failed write removes its temporary file and
raises DiskFault naming the path and the cause.

The guard is against links already in the folder when a run starts or writes. A process
that can write into the folder while a run goes on can change the shots themselves, and is
out of scope (docs/security.md).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from render_pipeline.errors import DiskFault, PlantedLink, UserError

NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
# Errors that say the disk, not the data, is at fault: raised as DiskFault wherever they happen.
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


def fault(error: OSError, path: Path) -> UserError:
    """The UserError for an OSError met creating, opening or renaming ``path``."""
    if error.errno == errno.ELOOP:
        return PlantedLink(path, _target(path))
    return DiskFault.from_os_error(error, path)


def _target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "somewhere else"


def refuse_links(folder: Path) -> None:
    """Raise PlantedLink if ``folder``, or anything inside it at any depth, is a symbolic link."""
    if folder.is_symlink():
        raise PlantedLink(folder, _target(folder))
    for root, folders, files in os.walk(folder):  # never descends through a link
        for name in sorted(folders + files):
            path = Path(root) / name
            if path.is_symlink():
                raise PlantedLink(path, _target(path))


def make_folder(out_dir: Path, *parts: str) -> Path:
    """``out_dir``/``parts``..., made where missing; each of them must be a real folder, not a link.

    The folders above ``out_dir`` are the user's to arrange (a home on another disk is often a
    link) and are made as needed, unchecked.
    """
    folder = out_dir
    _make_one(folder, parents=True)
    for part in parts:
        folder = folder / part
        _make_one(folder)
    return folder


def _make_one(folder: Path, parents: bool = False) -> None:
    try:
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            folder.mkdir(parents=parents, exist_ok=True)
            info = os.lstat(folder)
    except OSError as error:
        raise fault(error, folder) from None
    if stat.S_ISLNK(info.st_mode):
        raise PlantedLink(folder, _target(folder))
    if not stat.S_ISDIR(info.st_mode):
        raise UserError(f"{folder} is a file where the renderer keeps a folder: move it away or write elsewhere "
                        f"with --out")


def create_empty(path: Path) -> None:
    """An empty regular file at ``path``, made by us: for a writer that only takes a path (FFmpeg)."""
    os.close(_create(path))


def _create(path: Path) -> int:
    try:
        try:
            path.unlink()  # a leftover of a killed run, or a planted link: the link goes, not its target
        except FileNotFoundError:
            pass
        return os.open(path, NEW_FILE, 0o644)
    except OSError as error:
        raise fault(error, path) from None


def partial_path(target: Path, tag: str = "") -> Path:
    """The temporary name ``target`` is written under: hidden, beside it, with its suffix (FFmpeg reads it)."""
    return target.with_name(f".{target.stem}{tag}.partial{target.suffix}")


@contextmanager
def writing(target: Path, tag: str = "") -> Iterator[Path]:
    """A fresh temporary file beside ``target``, renamed over it if the block succeeds and removed if not.

    For writers that take a path (FFmpeg, wave, torch.save, OpenTimelineIO). ``tag`` keeps
    processes that may write the same target at once (the ranks of a group) apart.
    """
    partial = partial_path(target, tag)
    create_empty(partial)
    try:
        yield partial
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        if error.errno in DISK_ERRNOS or error.filename in (str(partial), str(target), None):
            raise fault(error, target) from None
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_file(target: Path, data: str | bytes) -> None:
    """Write ``data`` (str as UTF-8) to ``target`` whole, or leave the old ``target`` as it was."""
    partial = partial_path(target)
    descriptor = _create(partial)
    try:
        try:
            _write_all(descriptor, data.encode("utf-8") if isinstance(data, str) else data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise fault(error, target) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def open_for_append(path: Path) -> int:
    """A descriptor appending to ``path``, a regular file with no other name; PlantedLink or DiskFault if not."""
    try:
        descriptor = os.open(path, APPEND, 0o644)
    except OSError as error:
        raise fault(error, path) from None
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(descriptor)
        raise PlantedLink(path, "a file that has another name too (a hard link)" if info.st_nlink > 1
                          else "something that is not a regular file")
    return descriptor


def append_text(path: Path, text: str) -> None:
    """Append ``text`` to the log ``path`` (see open_for_append)."""
    descriptor = open_for_append(path)
    try:
        _write_all(descriptor, text.encode("utf-8", errors="replace"))
    except OSError as error:
        raise fault(error, path) from None
    finally:
        os.close(descriptor)


def read_text(path: Path) -> str:
    """The renderer's own file ``path`` (the manifest), never read through a link."""
    with os.fdopen(_open_to_read(path), "r", encoding="utf-8") as file:
        return file.read()


def digest(path: Path) -> str:
    """SHA-256 of the file at ``path``, never read through a link."""
    with os.fdopen(_open_to_read(path), "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _open_to_read(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise PlantedLink(path, _target(path)) from None
        raise
