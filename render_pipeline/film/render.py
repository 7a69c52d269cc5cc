"""render_all / render_shot: the whole film, or one shot of it, from the storyboard.

render_all plans the film, renders its sound first (narration and music, render_pipeline/audio/:
seconds of work that can fail, found before hours of GPU time), then hands the plan's shot jobs
to an executor (runner/executors/: the local runner by default, or a cluster's), and assembles the film
from the shots and the sound (render_pipeline/post/). render_shot renders one shot through the
same runner. Both check the overlays' characters against the fonts first (post/glyphs.py) and
hold the output folder for the whole run (output_folder/claim.py): one run at a time, and a
default folder only for the storyboard that made it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from render_pipeline.errors import UserError
from render_pipeline.output_folder.claim import hold_output_folder
from render_pipeline.planner.gpus import Gpu
from render_pipeline.planner.phases import Phase
from render_pipeline.planner.plan import make_plan, needs_gpu
from render_pipeline.runner.executors import Executor
from render_pipeline.runner.executors.local import LocalExecutor
from render_pipeline.runner.jobs import build_jobs
from render_pipeline.runner.preflight import (
    check_fast_modes_fit,
    check_film_fits,
    check_frame_interpolation,
    check_loras_fit_fast_modes,
)
from render_pipeline.runner.progress import PlainReporter, make_reporter
from render_pipeline.runner.results import RunOptions, RunResult
from render_pipeline.runner.run import run_jobs
from render_pipeline.runner.worker_process import IdleWorkers
from render_pipeline.storyboard import Storyboard


def render_all(storyboard: Storyboard, out_dir: Path | None = None, **options) -> RunResult:
    """Render every shot of the plan that is not already finished, then assemble the film (options: _render_all).

    ``out_dir`` None is outputs/<title-slug>/. The folder is held for the whole run (output_folder/claim.py).
    """
    with hold_output_folder(out_dir, storyboard) as held:
        return _render_all(storyboard, held, **options)


def _render_all(storyboard: Storyboard, out_dir: Path, *, gpus: str = "auto",
                backend: str | None = None, models_dir: Path | None = None, assemble: bool = True,
                quiet: bool = False, options: RunOptions = RunOptions(),
                reporter: PlainReporter | None = None, executor: Executor | None = None, fast: tuple[str, ...] = (),
                allow_missing_glyphs: bool = False, max_hours: float | None = None) -> RunResult:
    """Render every shot of the plan that is not already finished, then assemble the film.

    ``executor``: the executors.Executor the shots run on (a cluster's); None is the local one, here.
    ``fast``: opt-in fast modes (backends/speed.py FAST_MODES) that change the picture.
    ``gpus``: what the plan is made for: "auto" is what the executor says (this machine's GPUs, or a
    cluster's largest node as its engine reports it); a spec such as "8xH100" overrides either.
    ``allow_missing_glyphs``: draw overlay characters no font has as boxes instead of stopping first.
    ``max_hours``: see planner.plan.make_plan.

    The reporter is told of every phase (planner/phases.py): the plan's estimate first, then each
    narration clip, music cue, shot, conversion and the assembly's frames; the result holds each
    phase's time and the whole run's.
    """
    reporter = reporter or make_reporter(quiet)
    _check_glyphs(storyboard, allow_missing_glyphs, reporter, shot_ids=None)
    executor = executor or LocalExecutor()
    plan_gpus: str | list[Gpu] = gpus
    if gpus == "auto" and needs_gpu(storyboard, backend):
        plan_gpus, planned_for = executor.plan_gpus()
        if planned_for:
            reporter.note(planned_for)
    plan = make_plan(storyboard, gpus=plan_gpus, backend=backend, models_dir=models_dir, max_hours=max_hours)
    models_dir = plan.models_folder
    check_fast_modes_fit(fast, plan)
    check_loras_fit_fast_modes(fast, plan, storyboard)
    check_film_fits(storyboard, plan, out_dir, assemble, reporter.warn)
    check_frame_interpolation(storyboard, plan, models_dir)
    reporter.begin({phase: estimate for phase, estimate in plan.phases.items() if assemble or phase is Phase.SHOTS})
    audio = None
    if assemble:
        from render_pipeline.audio import render_audio

        # Sound first: seconds of work that can fail (no TTS engine, a missing voice file, speech
        # measured longer than its shot), found before hours of GPU time rather than after them.
        audio = render_audio(storyboard, out_dir, models_dir=models_dir, progress=reporter)  # --models-dir holds xtts_v2/ too
    reporter.enter(Phase.SHOTS)
    out_dir, models_dir = executor.folders(out_dir, models_dir)
    result = executor.run(build_jobs(storyboard, plan, out_dir, models_dir, fast=fast), out_dir, models_dir, options,
                          plan, reporter)
    if assemble:
        if result.failed:
            reporter.warn(f"not assembling: {len(result.failed)} shot(s) failed (see {out_dir / 'logs'})")
        else:
            from render_pipeline.post import assemble as assemble_film

            # Probing the shots before any conversion belongs to the post phases, not to the shots.
            reporter.enter(Phase.CONVERSION if plan.phases[Phase.CONVERSION].items else Phase.ASSEMBLY)
            result.assembly = assemble_film(storyboard, out_dir, audio=audio, allow_missing_glyphs=allow_missing_glyphs,
                                            models_dir=models_dir, progress=reporter)
    times = reporter.finish()
    result.seconds, result.phase_seconds = times.seconds, times.phases
    return result


def render_shot(storyboard: Storyboard, shot_id: str, out_dir: Path | None = None, **options) -> RunResult:
    """Render one shot (options: _render_shot), holding the output folder (output_folder/claim.py)."""
    try:
        storyboard.shot(shot_id)
    except KeyError as error:
        raise UserError(error.args[0]) from None
    with hold_output_folder(out_dir, storyboard) as held:
        return _render_shot(storyboard, shot_id, held, **options)


def _render_shot(storyboard: Storyboard, shot_id: str, out_dir: Path, *, backend: str | None = None,
                 quality: str | None = None, seed: int | None = None, steps: int | None = None,
                 gpus: str = "auto", models_dir: Path | None = None, quiet: bool = False,
                 options: RunOptions = RunOptions(), reporter: PlainReporter | None = None,
                 fast: tuple[str, ...] = (), idle_workers: IdleWorkers | None = None,
                 allow_missing_glyphs: bool = False, max_hours: float | None = None) -> RunResult:
    """Render one shot (skipped if already finished with these settings); other shots are untouched.

    ``idle_workers``: keep the worker loaded for the next render of the shot (film/watch.py).
    ``max_hours``: see planner.plan.make_plan (the plan is the whole film's, as render-all's is).
    """
    reporter = reporter or make_reporter(quiet)
    _check_glyphs(storyboard, allow_missing_glyphs, reporter, shot_ids={shot_id})
    if quality is not None:
        storyboard = replace(storyboard, shots=[replace(s, quality=quality) for s in storyboard.shots])
    plan = make_plan(storyboard, gpus=gpus, backend=backend, models_dir=models_dir, max_hours=max_hours)
    models_dir = plan.models_folder
    check_fast_modes_fit(fast, plan)
    check_loras_fit_fast_modes(fast, plan, storyboard)
    check_frame_interpolation(storyboard, plan, models_dir)
    jobs = build_jobs(storyboard, plan, out_dir, models_dir, seed=seed, steps=steps, fast=fast)
    job = next(j for j in jobs if j.id == shot_id)
    if job.continues is not None and not job.continues.output.is_file():
        raise UserError(f"shot {shot_id} continues from {job.continues.id}, which is not rendered yet: "
                        f"render {job.continues.id} first (or use render-all)")
    return run_jobs([job], out_dir, models_dir, options, reporter, plan.fallback_reason,
                    gpus=len(plan.gpus), idle_workers=idle_workers, download_hint=plan.download_hint)


def _check_glyphs(storyboard: Storyboard, allow: bool, reporter: PlainReporter, shot_ids: set[str] | None) -> None:
    """Overlay characters no font draws stop the run before its first shot, or are warned of when allowed."""
    from render_pipeline.post.glyphs import check_glyphs

    for line in check_glyphs(storyboard, allow, shot_ids):
        reporter.warn(f"drawn as boxes: {line}")
