"""The `render-pipeline` command: a thin layer over the library functions.

Each command parses its options, calls one function, and formats the result. Mistakes in
the user's input are turned into `FILE:LINE:COLUMN: field: message` lines and exit status 2
in one place (cli_support.py `user_errors`); nothing here imports torch or diffusers at start-up.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from render_pipeline.cli_support import (
    EXIT_USER_ERROR,
    FAST_HELP,
    GLYPHS_HELP,
    MAX_HOURS_HELP,
    MODELS_DIR_HELP,
    OUT_HELP,
    fast_modes,
    print_summary,
    render_errors,
    render_summary,
    report_problem,
    stderr,
    user_errors,
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: importing rich for it would double `--help`'s start-up time
    help="Turn a YAML storyboard into a finished film: validate, plan, render, assemble.",
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        from render_pipeline import __version__

        print(f"render-pipeline {__version__}")
        raise typer.Exit()


@app.command()
def validate(
    storyboards: list[Path] = typer.Argument(..., metavar="STORYBOARD", hidden=True),
    as_json: bool = typer.Option(False, "--json", help="Print the resolved storyboard(s) as JSON."),
) -> None:
    """Check storyboards against the format; list every problem as FILE:LINE:COLUMN.

    STORYBOARD: one or more storyboard YAML files.
    """
    from render_pipeline.storyboard import load_storyboard
    from render_pipeline.storyboard.summary import resolved_json, summary_line

    failed = 0
    resolved = []
    for path in storyboards:
        try:
            with user_errors():
                storyboard = load_storyboard(path)
        except typer.Exit:
            failed += 1
            continue
        for warning in storyboard.warnings:
            stderr(f"{warning} (warning)")
        resolved.append(storyboard)
        if not as_json:
            print(summary_line(storyboard))
    if as_json:
        payload = [resolved_json(s) for s in resolved]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2, ensure_ascii=False))
    if failed:
        raise typer.Exit(EXIT_USER_ERROR)



@app.command()
def assemble(
    storyboard_path: Path = typer.Argument(..., metavar="STORYBOARD", hidden=True),
    out: Path | None = typer.Option(None, "--out", metavar="FOLDER", help=OUT_HELP),
    allow_missing_glyphs: bool = typer.Option(False, "--allow-missing-glyphs", help=GLYPHS_HELP),
    models_dir: Path | None = typer.Option(None, "--models-dir", metavar="FOLDER",
                                              help=MODELS_DIR_HELP + " RIFE's are in rife/."),
    absolute_paths: bool = typer.Option(False, "--absolute-paths",
                                        help="Timelines name media by absolute file URLs (default: relative to the folder)."),
) -> None:
    """Build final.mp4, captions, an editable timeline and review.html from the rendered shots.

    STORYBOARD: the storyboard's YAML file. Prints the path of each file it writes.
    """
    from render_pipeline.media.ffmpeg import FfmpegError
    from render_pipeline.planner.phases import around_the_shots
    from render_pipeline.post import assemble as assemble_film
    from render_pipeline.runner.progress import make_reporter
    from render_pipeline.storyboard import load_storyboard

    with user_errors():
        storyboard = load_storyboard(storyboard_path)
        reporter = make_reporter(quiet=False)
        reporter.begin(around_the_shots(storyboard))
        try:
            result = assemble_film(storyboard, out, allow_missing_glyphs=allow_missing_glyphs, models_dir=models_dir,
                                   absolute_paths=absolute_paths, progress=reporter)
        except FfmpegError as exc:
            stderr(f"error: {exc}")
            raise typer.Exit(1) from None
    for line in result.missing_glyphs:
        stderr(f"warning: drawn as boxes: {line}")
    if result.reused:
        print("nothing the assembly reads changed since the last run: kept the files below")
    print(f"{result.film}: {result.frames} frames ({result.duration:.2f} s), "
          f"{result.loudness_lufs:.1f} LUFS, true peak {result.true_peak_db:.1f} dBTP, in {result.seconds_taken:.1f} s")
    for path in result.files[1:]:
        print(f"  {path}")


@app.command()
def qa(
    storyboard_path: Path = typer.Argument(..., metavar="STORYBOARD", hidden=True),
    out: Path | None = typer.Option(None, "--out", metavar="FOLDER", help=OUT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print every shot's scores as JSON."),
) -> None:
    """Check the rendered shots for lettering, frozen or looping motion, flicker and seams.

    STORYBOARD: the storyboard's YAML file. Exit 1 when a shot fails.
    """
    from render_pipeline.output_folder.claim import default_out_dir
    from render_pipeline.qa.film import check_film
    from render_pipeline.qa.lettering import INSTALL, ocr_installed
    from render_pipeline.storyboard import load_storyboard

    with user_errors():
        storyboard = load_storyboard(storyboard_path)
        lettering = ocr_installed()
        if not lettering:
            stderr(f"warning: lettering not checked: {INSTALL}")
        checks = check_film(storyboard, out or default_out_dir(storyboard), lettering)
    if as_json:
        print(json.dumps({c.shot_id: c.qa.to_json() if c.qa else None for c in checks}, indent=2))
    for check in checks:
        if check.qa is None:
            stderr(f"{check.shot_id}: not rendered")
        elif not as_json:
            flagged = "; ".join(score.describe() + (f" box {score.box.x0},{score.box.y0}-{score.box.x1},{score.box.y1}"
                                                    if score.box else "") for score in check.qa.flagged)
            verdict = "passed" + (f", reported: {flagged}" if flagged else "") if check.qa.passed else f"FAILED: {flagged}"
            print(f"{check.shot_id}: {verdict} ({check.qa.seconds:.2f} s)")
    if any(check.qa is not None and not check.qa.passed for check in checks):
        raise typer.Exit(1)


@app.command()
def prompts(
    storyboard: Path = typer.Argument(..., metavar="STORYBOARD", hidden=True),
    backend: str | None = typer.Option(None, "--backend", metavar="NAME", help="Shape prompts for this backend (default: each shot's own; auto: generic)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list: id, original, enhanced, negative, extracted_text, warnings."),
    models_dir: Path | None = typer.Option(None, "--models-dir", metavar="FOLDER", help="Where model folders are (for exact token counts)."),
    rewriter: Path | None = typer.Option(None, "--rewriter", metavar="FOLDER", help="A local transformers model folder that rewrites prompts (off by default)."),
) -> None:
    """Show the prompt each shot's backend will see, with on-screen text taken out.

    STORYBOARD: the storyboard's YAML file.
    """
    from render_pipeline.prompts import enhance_storyboard
    from render_pipeline.prompts.rewriter import local_rewriter
    from render_pipeline.prompts.table import prompts_table
    from render_pipeline.storyboard import load_storyboard

    with user_errors():
        loaded = load_storyboard(storyboard)
        rewrite = local_rewriter(rewriter) if rewriter is not None else None
        results = enhance_storyboard(loaded, backend, models_dir, rewrite)
    if as_json:
        print(json.dumps([result.to_json() for result in results], indent=2, ensure_ascii=False))
    else:
        from rich.console import Console

        Console().print(prompts_table(results))


@app.command()
def plan(
    storyboard: Path = typer.Argument(..., metavar="STORYBOARD", hidden=True),
    gpus: str = typer.Option("auto", "--gpus", metavar="GPUS", help="auto (this machine), or a what-if: 2xA6000, 4xH100, 1x24GB, none."),
    host_ram: str | None = typer.Option(None, "--host-ram", metavar="SIZE", help="Host RAM, e.g. 64GB (auto: this machine's)."),
    backend: str | None = typer.Option(None, "--backend", metavar="NAME", help="Plan every generated shot with this backend."),
    models_dir: Path | None = typer.Option(None, "--models-dir", metavar="FOLDER", help=MODELS_DIR_HELP),
    max_hours: float | None = typer.Option(None, "--max-hours", metavar="HOURS", help=MAX_HOURS_HELP),
    every_layout: bool = typer.Option(False, "--all", help="Show every layout of every backend, with its memory "
                                                            "per stage, host RAM and times."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as one JSON object."),
    report: Path | None = typer.Option(None, "--report", metavar="FILE", help="Also write a Markdown report (and an SVG beside it)."),
) -> None:
    """What fits on the GPUs, how, and how long: before anything is downloaded.

    STORYBOARD: the storyboard's YAML file.
    """
    from render_pipeline.planner import make_plan
    from render_pipeline.planner.report import print_plan, write_report
    from render_pipeline.storyboard import load_storyboard

    with user_errors():
        loaded = load_storyboard(storyboard)
        result = make_plan(loaded, gpus=gpus, host_ram=host_ram, backend=backend, models_dir=models_dir,
                           max_hours=max_hours)
    if report is not None:
        write_report(result, loaded.title, report)
    if as_json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return
    from rich.console import Console

    print_plan(result, Console(), every_layout=every_layout)
    if report is not None:
        print(f"report: {report} (picture: {report.with_suffix('.svg')})")




@app.command("render-shot")
def render_shot(
    storyboard: Path = typer.Argument(..., metavar="STORYBOARD", hidden=True),
    shot_id: str = typer.Argument(..., metavar="SHOT_ID", hidden=True),
    backend: str | None = typer.Option(None, "--backend", metavar="NAME", help="Render with this backend instead of the shot's."),
    quality: str | None = typer.Option(None, "--quality", metavar="draft|final", help="The quality to render at, instead of the shot's."),
    seed: int | None = typer.Option(None, "--seed", metavar="NUMBER", help="Seed instead of the shot's."),
    steps: int | None = typer.Option(None, "--steps", metavar="NUMBER", help="Denoising steps instead of the plan's."),
    out: Path | None = typer.Option(None, "--out", metavar="FOLDER", help=OUT_HELP),
    models_dir: Path | None = typer.Option(None, "--models-dir", metavar="FOLDER", help=MODELS_DIR_HELP),
    max_hours: float | None = typer.Option(None, "--max-hours", metavar="HOURS", help=MAX_HOURS_HELP),
    force: bool = typer.Option(False, "--force", help="Render the shot again, even if it is finished with these settings."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only problems and the summary."),
    fast: list[str] = typer.Option([], "--fast", metavar="MODE", help=FAST_HELP),
    watch: bool = typer.Option(False, "--watch", help="Keep the model loaded and render the shot again each "
                                                      "time the storyboard is saved (Ctrl-C stops)."),
    allow_missing_glyphs: bool = typer.Option(False, "--allow-missing-glyphs", help=GLYPHS_HELP),
) -> None:
    """Render one shot into OUT/shots/<id>.mp4 (skipped if already rendered with the same settings).

    STORYBOARD: the storyboard's YAML file; SHOT_ID: the id of the shot to render. Prints the
    path of each file it writes.
    """
    from render_pipeline.errors import UserError
    from render_pipeline.film import render_shot as run_shot
    from render_pipeline.runner import RunOptions
    from render_pipeline.storyboard import load_storyboard

    with render_errors():
        if quality not in (None, "draft", "final"):
            raise UserError(f"--quality must be draft or final (got {quality!r})")
        run_options = RunOptions(force=force)
        modes = fast_modes(fast)
        if watch:
            from render_pipeline.film.watch import watch_shot

            print(f"watching {storyboard}: every save renders shot {shot_id} again (Ctrl-C stops)", flush=True)
            watch_shot(storyboard, shot_id, on_result=print_summary, on_error=report_problem, out_dir=out,
                       backend=backend, quality=quality, seed=seed, steps=steps, models_dir=models_dir, quiet=quiet,
                       options=run_options, fast=modes, allow_missing_glyphs=allow_missing_glyphs,
                       max_hours=max_hours)
            return
        result = run_shot(load_storyboard(storyboard), shot_id, out_dir=out, backend=backend, quality=quality,
                          seed=seed, steps=steps, models_dir=models_dir, quiet=quiet, options=run_options,
                          fast=modes, allow_missing_glyphs=allow_missing_glyphs, max_hours=max_hours)
    render_summary(result)


@app.command("render-all")
def render_all(
    storyboard: Path = typer.Argument(..., metavar="STORYBOARD", hidden=True),
    out: Path | None = typer.Option(None, "--out", metavar="FOLDER", help=OUT_HELP),
    force: bool = typer.Option(False, "--force", help="Render every shot again, even finished ones."),
    no_assemble: bool = typer.Option(False, "--no-assemble", help="Stop after the shots; do not build the film."),
    backend: str | None = typer.Option(None, "--backend", metavar="NAME", help="Render every generated shot with this backend."),
    models_dir: Path | None = typer.Option(None, "--models-dir", metavar="FOLDER", help=MODELS_DIR_HELP),
    max_hours: float | None = typer.Option(None, "--max-hours", metavar="HOURS", help=MAX_HOURS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only problems and the summary."),
    executor: str = typer.Option("local", "--executor", metavar="local|ray|slurm", help="Where shots run."),
    address: str | None = typer.Option(None, "--address", metavar="ADDRESS", help="Ray cluster address (default: auto)."),
    partition: str | None = typer.Option(None, "--partition", metavar="NAME", help="Slurm partition (for --executor slurm)."),
    gpus: str = typer.Option("auto", "--gpus", metavar="GPUS", help="GPUs to plan for: auto (this machine; with "
                             "--executor, the cluster's largest node), or e.g. 8xH100, 4x80GB."),
    fast: list[str] = typer.Option([], "--fast", metavar="MODE", help=FAST_HELP),
    allow_missing_glyphs: bool = typer.Option(False, "--allow-missing-glyphs", help=GLYPHS_HELP),
) -> None:
    """Render every shot not already finished (resuming any earlier run), then assemble the film.

    STORYBOARD: the storyboard's YAML file. Prints the path of each file it writes.
    """
    from render_pipeline.film import render_all as run_all
    from render_pipeline.runner import RunOptions
    from render_pipeline.runner.executors import make_executor
    from render_pipeline.storyboard import load_storyboard

    with render_errors():
        loaded = load_storyboard(storyboard)
        result = run_all(loaded, out, gpus=gpus, backend=backend, models_dir=models_dir, assemble=not no_assemble,
                         quiet=quiet, options=RunOptions(force=force),
                         executor=make_executor(executor, address, partition), fast=fast_modes(fast),
                         allow_missing_glyphs=allow_missing_glyphs, max_hours=max_hours)
    render_summary(result)


@app.command()
def doctor(
    storyboard: Path | None = typer.Argument(None, metavar="STORYBOARD", hidden=True),
    models_dir: Path | None = typer.Option(None, "--models-dir", metavar="FOLDER", help=MODELS_DIR_HELP),
    out: Path | None = typer.Option(None, "--out", metavar="FOLDER", help="Where renders will be written (default: outputs/)."),
) -> None:
    """Check every tool and model a render can need (FFmpeg, fonts, TTS, GPUs, weights, disk), with the fix.

    STORYBOARD (optional): its voice files are checked too, and a weights.yaml inside its folder may
    not lead out of it. Prints the models folder it checks and where that choice came from.
    """
    from render_pipeline.backends.weights import models_dir_origin, resolve_models_dir
    from render_pipeline.doctor import run_checks

    with user_errors():
        storyboard_dir = storyboard.resolve().parent if storyboard is not None else None
        models = resolve_models_dir(models_dir)
        print(f"models folder: {models} ({models_dir_origin(models_dir)})")
        checks = run_checks(out or Path("outputs"), storyboard_dir, models)
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
    for check in checks:
        print(f"{marks[check.status]}  {check.name}: {check.detail}")
        if check.fix and check.status != "ok":
            print(f"      fix: {check.fix}")
    failed = sum(check.status == "fail" for check in checks)
    if failed:
        stderr(f"{failed} check{'s' if failed != 1 else ''} failed: a render would fail; see the fixes above.")
        raise typer.Exit(1)


@app.command("setup-xtts")
def setup_xtts(
    models_dir: Path | None = typer.Option(None, "--models-dir", metavar="FOLDER", help=MODELS_DIR_HELP),
    env: Path | None = typer.Option(None, "--env", metavar="FOLDER",
                                       help="Where to make the XTTS environment (default: $RENDER_PIPELINE_XTTS_ENV, "
                                            "else <models dir>/xtts_env)."),
) -> None:
    """Make the environment XTTS v2 narration runs in: a venv with coqui-tts, torch 2.11 and torchaudio (about 5.5 GB)."""
    from render_pipeline.audio.tts.xtts_env import create_env, env_folder
    from render_pipeline.backends.weights import resolve_models_dir

    with user_errors():
        create_env(env or env_folder(resolve_models_dir(models_dir)))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
