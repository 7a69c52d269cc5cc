"""The `render-pipeline` command: a thin layer over the library functions.

Each command parses its options, calls one function, and formats the result. Mistakes in
the user's input are turned into `FILE:LINE:COLUMN: field: message` lines and exit status 2
in one place (`_user_errors`); nothing here imports torch or diffusers at start-up.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Turn a YAML storyboard into a finished film: validate, plan, render, assemble.",
)

EXIT_USER_ERROR = 2


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        from render_pipeline import __version__

        print(f"render-pipeline {__version__}")
        raise typer.Exit()


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Report a user's mistake as plain lines on stderr and exit 2, never a traceback."""
    from render_pipeline.errors import UserError
    from render_pipeline.storyboard import StoryboardError

    try:
        yield
    except StoryboardError as exc:
        for problem in exc.problems:
            _stderr(str(problem))
        count = len(exc.problems)
        _stderr(f"{count} problem{'s' if count != 1 else ''} found; nothing was rendered.")
        raise typer.Exit(EXIT_USER_ERROR) from None
    except UserError as exc:
        _stderr(f"error: {exc}")
        raise typer.Exit(EXIT_USER_ERROR) from None


@app.command()
def validate(
    storyboards: List[Path] = typer.Argument(..., help="One or more storyboard YAML files."),
    as_json: bool = typer.Option(False, "--json", help="Print the resolved storyboard(s) as JSON."),
) -> None:
    """Check storyboards against the format; list every problem as FILE:LINE:COLUMN."""
    from render_pipeline.storyboard import load_storyboard
    from render_pipeline.storyboard.summary import resolved_json, summary_line

    failed = 0
    resolved = []
    for path in storyboards:
        try:
            with _user_errors():
                storyboard = load_storyboard(path)
        except typer.Exit:
            failed += 1
            continue
        for warning in storyboard.warnings:
            _stderr(f"{warning} (warning)")
        resolved.append(storyboard)
        if not as_json:
            print(summary_line(storyboard))
    if as_json:
        payload = [resolved_json(s) for s in resolved]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2, ensure_ascii=False))
    if failed:
        raise typer.Exit(EXIT_USER_ERROR)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
