"""Errors the user can fix: the CLI prints them as one line and exits 2, without a traceback."""

from __future__ import annotations

import errno
from pathlib import Path


class UserError(Exception):
    """A problem with the user's input or machine, with the fix in the message."""


# What a failed write means, in words, and what to do about it.
WRITE_FAULTS = {
    errno.ENOSPC: ("no space left on the disk", "free some space or write elsewhere with --out"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or write elsewhere with --out"),
    errno.EFBIG: ("the file size limit was reached (ulimit -f)", "raise it (ulimit -f unlimited)"),
    errno.EROFS: ("the file system is read-only", "write elsewhere with --out"),
    errno.EACCES: ("permission denied", "make it writable or write elsewhere with --out"),
    errno.EPERM: ("not permitted (read-only or immutable)", "make it writable or write elsewhere with --out"),
    errno.ENOTDIR: ("part of the path is a file, not a folder", "write elsewhere with --out"),
}


class DiskFault(UserError):
    """Writing ``path`` failed for a reason of the machine (full disk, size limit, read-only): every shot would fail.

    The run stops at once; what was finished is kept and the next run resumes.
    """

    def __init__(self, path: Path | str, cause: str, fix: str = "fix it"):
        super().__init__(f"cannot write {path}: {cause}; {fix}, then run the same command again "
                         f"(what was finished is kept)")
        self.path = Path(path)
        self.cause = cause

    @classmethod
    def from_os_error(cls, error: OSError, path: Path | str | None = None) -> DiskFault:
        unknown = (error.strerror or str(error), "fix it")
        cause, fix = WRITE_FAULTS.get(error.errno, unknown) if error.errno is not None else unknown
        return cls(path or error.filename or "a file in the output folder", cause, fix)


class PlantedLink(UserError):
    """A link inside an output folder: the renderer never writes, or reads its own files, through one."""

    def __init__(self, link: Path, target: str):
        super().__init__(f"{link} is a link (to {target}) inside an output folder; the renderer writes there only "
                         f"through real files and folders: remove the link (rm {link}) or write elsewhere with --out")
        self.link = link
