"""What the `render-pipeline` commands share: the option help, the exit statuses, and how they report.

A user's mistake becomes `FILE:LINE:COLUMN: field: message` lines and exit status 2 here
(`user_errors`); a render's summary and its exit status (`render_summary`) too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

EXIT_USER_ERROR = 2
# Help in plain words: every value an option takes is named (FOLDER, NAME, ...), never by its
# Python type, and arguments are described in their command's help text.
MODELS_DIR_HELP = ("Where model weights live: diffusers folders, official releases, ComfyUI's models folder; "
                   "a weights.yaml there points at files elsewhere. Default: $RENDER_PIPELINE_MODELS, else ./models "
                   "where the command runs.")
MAX_HOURS_HELP = ("auto shots: the longest render of them worth the best-looking backend; past it the best-looking "
                  "one within it is used (default 24: one day, so a cut with notes is rendered again by the next).")
OUT_HELP = ("Output folder (default: outputs/<title-slug>/, unless another storyboard's film is there). "
            "One run at a time writes a folder.")
GLYPHS_HELP = ("Draw overlay characters that no installed font has as empty boxes, instead of stopping "
               "before the first shot.")
FAST_HELP = ("Opt-in fast mode that CHANGES THE PICTURE (repeat, or separate with commas): fp8 (fp8 compute, "
             "Ada/Hopper GPUs), first-block-cache or taylorseer (step caches). Off by default.")

EXIT_INTERRUPTED = 130


def stderr(line: str) -> None:
    print(line, file=sys.stderr)


@contextmanager
def user_errors() -> Iterator[None]:
    """Report a user's mistake as plain lines on stderr and exit 2, never a traceback."""
    from render_pipeline.errors import DiskFault, UserError
    from render_pipeline.output_folder.files import DISK_ERRNOS
    from render_pipeline.storyboard import StoryboardError

    try:
        yield
    except (StoryboardError, UserError) as exc:
        report_problem(exc)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except OSError as exc:  # a disk that filled up or turned read-only under a writer of its own
        if exc.errno not in DISK_ERRNOS:
            raise
        report_problem(DiskFault.from_os_error(exc))
        raise typer.Exit(EXIT_USER_ERROR) from None


def report_problem(exc: Exception) -> None:
    """A storyboard's problems as FILE:LINE:COLUMN lines, anything else as one error line."""
    from render_pipeline.storyboard import StoryboardError

    if isinstance(exc, StoryboardError):
        for problem in exc.problems:
            stderr(str(problem))
        count = len(exc.problems)
        stderr(f"{count} problem{'s' if count != 1 else ''} found; nothing was rendered.")
    else:
        stderr(f"error: {exc}")


def print_summary(result) -> None:
    phases = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in result.phase_seconds.items())
    print(f"{len(result.rendered)} rendered, {len(result.cached)} already done, {len(result.failed)} failed "
          f"in {result.seconds:.1f} s{f' ({phases})' if phases else ''} -> {result.out_dir}", flush=True)
    for shot_id, error in result.failed.items():
        stderr(f"failed: {shot_id}: {error}")
    if result.assembly is not None and result.assembly.reused:
        print(f"assembly: nothing it reads changed; kept {result.assembly.film} and the files beside it "
              f"({result.assembly.seconds_taken:.2f} s)")
    for path in result.shot_files + list(result.assembly.files if result.assembly is not None else ()):
        print(f"wrote {path}")


def render_summary(result) -> None:
    """Print what the run did; exit with the number of failed shots (capped at 125) or 130 if stopped."""
    print_summary(result)
    if result.failed:
        raise typer.Exit(min(len(result.failed), 125))


@contextmanager
def render_errors() -> Iterator[None]:
    from render_pipeline.media.ffmpeg import FfmpegError
    from render_pipeline.runner import RunInterrupted

    with user_errors():
        try:
            yield
        except RunInterrupted as exc:
            stderr(f"interrupted: {exc}")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except FfmpegError as exc:
            stderr(f"error: {exc}")
            raise typer.Exit(1) from None


def fast_modes(values: list[str]) -> tuple[str, ...]:
    from render_pipeline.backends.speed import check_fast_modes

    return check_fast_modes([name.strip() for value in values for name in value.split(",") if name.strip()])
