"""Measure the rates planner/phases.py estimates render-all's CPU phases with, on this machine.

Usage: python -m benchmarks.bench_phases [--out phases.json]

Renders small films through render_all itself, on an idle machine, and reads each phase's time
from the run's result (the same clock the progress lines use):

- seven animatic films (1280x720 and 1920x1080 at 25 fps; 2 to 40 shots, 12 s to 280 s; narration
  by piper on every shot; one procedural music cue; a dissolve every other shot):
  narration = piper's start + seconds per character; shots = the worker's start + per shot + per
  megapixel-frame; assembly = start + per shot + per megapixel-frame of the film. Half the shots
  move the camera (the example films' moves) and every fourth has a title, as in the examples:
  motion and text cost the encoder more than a still card;
- four footage films (storyboards/footage/dock.mp4, 640x360 at 24 fps, shots phase only): conformed
  at the same rate at two sizes (per shot + per megapixel-frame), and at 25 fps through minterpolate
  and repeat (what the conversion adds per megapixel-frame);
- the procedural score and a music file alone (seconds per second of cue), the bed from the music
  phases of the films; espeak-ng alone (seconds per character).

Prints every fitted rate beside planner/phases.py's, and each film's estimate (made with
planner/phases.py's rates) against its measured time, per phase.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import Results, out_option
from render_pipeline.film import render_all
from render_pipeline.planner import make_plan, phases
from render_pipeline.planner.phases import Phase
from render_pipeline.runner.progress import PlainReporter
from render_pipeline.storyboard import load_storyboard

REPO = Path(__file__).resolve().parents[1]
LINES = (
    "At first light, the fleet comes home after six months at sea.",
    "Families wait on the quay. Somewhere a band is tuning up.",
    "The harbour pilot climbs aboard and takes the ship in.",
    "Lines are thrown, caught and made fast. The engines fall quiet.",
)
# The camera moves of storyboards/exhibition-film.yaml, every other shot; the others are static.
MOVES = ("slow push in", "handheld", "slow pan right", "tracking forward", "slow orbit", "tilt up", "crane down",
         "tracking left")
# name, delivery size, shots, seconds a shot, sentences of narration a shot
ANIMATIC_FILMS = (("a", "1280x720", 8, 4.0, 1), ("b", "1920x1080", 8, 4.0, 1), ("c", "1280x720", 24, 2.0, 1),
                  ("d", "1920x1080", 4, 12.0, 3), ("i", "1920x1080", 16, 3.0, 1), ("j", "1280x720", 2, 6.0, 2),
                  ("k", "1920x1080", 40, 7.0, 1))
# name, delivery size, fps, frame_interpolation
FOOTAGE_FILMS = (("e", "1280x720", 24, "auto"), ("f", "1920x1080", 24, "auto"), ("g", "1280x720", 25, "minterpolate"),
                 ("h", "1280x720", 25, "repeat"))
FOOTAGE_SHOTS, FOOTAGE_SECONDS = 4, 5.0


def animatic_film(folder: Path, size: str, shots: int, seconds: float, sentences: int) -> Path:
    lines = []
    for number in range(shots):
        narration = " ".join(LINES[(number + k) % len(LINES)] for k in range(sentences))
        transition = ", transition: {type: dissolve, duration: 0.5}" if number % 2 == 0 and number < shots - 1 else ""
        title = ", overlays: [{text: 'Harbor Days', style: title, start: 0.5, end: 2.0}]" if number % 4 == 0 else ""
        move = MOVES[number // 2 % len(MOVES)] if number % 2 else "static"
        lines.append(f'  - {{id: s{number:02d}, duration: {seconds}, prompt: "harbor at dawn, shot {number}", '
                     f'camera: {{movement: {move}}}, narration: "{narration}", narration_overflow: allow'
                     f'{transition}{title}}}')
    board = folder / "film.yaml"
    board.write_text(f"version: 1\ntitle: Bench\ndelivery: {{size: {size}, fps: 25}}\ndefaults: {{backend: animatic}}\n"
                     f"voice: {{engine: piper}}\nmusic:\n  - {{cue: bed, prompt: slow strings, from: s00, "
                     f"to: s{shots - 1:02d}}}\nshots:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return board


def footage_film(folder: Path, size: str, fps: int, interpolation: str) -> Path:
    shutil.copy(REPO / "storyboards" / "footage" / "dock.mp4", folder / "dock.mp4")
    shots = "\n".join(f"  - {{id: f{n}, duration: {FOOTAGE_SECONDS}, source: dock.mp4, trim: [0.5, 5.5]}}"
                      for n in range(FOOTAGE_SHOTS))
    board = folder / "film.yaml"
    board.write_text(f"version: 1\ntitle: Bench\ndelivery: {{size: {size}, fps: {fps}, frame_interpolation: "
                     f"{interpolation}}}\nshots:\n{shots}\n", encoding="utf-8")
    return board


def run(board: Path, assemble: bool) -> tuple[dict, dict]:
    """render_all's measured seconds per phase, and the plan's estimate per phase."""
    storyboard = load_storyboard(board)
    plan = make_plan(storyboard, gpus="none", models_dir=board.parent / "models")
    result = render_all(storyboard, board.parent / "out", gpus="none", models_dir=board.parent / "models",
                        assemble=assemble, reporter=PlainReporter(quiet=True))
    if result.failed:
        raise SystemExit(f"{board}: {result.failed}")
    measured = {str(phase): seconds for phase, seconds in result.phase_seconds.items()}
    measured["run"] = result.seconds
    estimated = {str(phase): estimate.seconds for phase, estimate in plan.phases.items()
                 if assemble or phase is Phase.SHOTS}
    estimated["run"] = sum(estimated.values())
    return measured, {"estimated": estimated, "plan": plan, "storyboard": storyboard}


def fit(rows: list[list[float]], times: list[float]) -> list[float]:
    """Least squares: times ~ rows @ rates."""
    return [float(value) for value in np.linalg.lstsq(np.array(rows), np.array(times), rcond=None)[0]]


def megapixel_frames(shots) -> float:
    return sum(shot.frames * shot.width * shot.height for shot in shots) / 1e6


def timed(function, *args) -> float:
    began = time.perf_counter()
    function(*args)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    out_option(parser, "--json")
    args = parser.parse_args(argv)
    os.environ.pop("RENDER_PIPELINE_MODELS", None)
    report: dict = {"load_average_before": os.getloadavg()[0], "films": {}, "fits": {}}
    films = {}
    with tempfile.TemporaryDirectory(prefix="bench-phases-") as scratch:
        for name, size, shots, seconds, sentences in ANIMATIC_FILMS:
            folder = Path(scratch) / name
            folder.mkdir()
            measured, info = run(animatic_film(folder, size, shots, seconds, sentences), assemble=True)
            films[name] = (measured, info)
            print(f"film {name} ({shots} x {seconds:g} s at {size}): " + ", ".join(
                f"{phase} {value:.1f} s (est. {info['estimated'].get(phase, 0):.1f})" for phase, value in measured.items()),
                flush=True)
        for name, size, fps, interpolation in FOOTAGE_FILMS:
            folder = Path(scratch) / name
            folder.mkdir()
            measured, info = run(footage_film(folder, size, fps, interpolation), assemble=False)
            films[name] = (measured, info)
            print(f"footage {name} ({FOOTAGE_SHOTS} x {FOOTAGE_SECONDS:g} s at {size}, {fps} fps, {interpolation}): "
                  f"shots {measured['shots']:.1f} s (est. {info['estimated']['shots']:.1f})", flush=True)

        from render_pipeline.audio.music import procedural
        from render_pipeline.audio.tts.espeak import EspeakEngine, espeak_exe
        from render_pipeline.audio.wav import decode_audio, write_wav

        score = timed(procedural.render_score, procedural.score_settings("bed", "slow strings"), 120.0) / 120.0
        sample = Path(scratch) / "cue.wav"
        write_wav(sample, procedural.render_score(procedural.score_settings("bed", "slow strings"), 30.0))
        decode = timed(decode_audio, sample, 2, 120.0, True) / 120.0
        espeak = None
        if espeak_exe() is not None:
            sentences = [LINES[n % len(LINES)] for n in range(40)]
            folder = Path(scratch) / "espeak"
            folder.mkdir()
            espeak = timed(EspeakEngine(None).speak, sentences, folder) / sum(map(len, sentences))

    animatic = [films[name] for name, *_ in ANIMATIC_FILMS]
    narrated = [[1.0, sum(len(" ".join(shot.narration.split())) for shot in info["storyboard"].shots)]
                for _, info in animatic]
    narration = fit(narrated, [measured["narration"] for measured, _ in animatic])
    bed = float(np.mean([(measured["music"] - score * info["storyboard"].duration) / info["storyboard"].duration
                         for measured, info in animatic]))
    shot_rows = [[1.0, len(info["plan"].shots), megapixel_frames(info["plan"].shots)] for _, info in animatic]
    shots = fit(shot_rows, [measured["shots"] for measured, _ in animatic])
    delivery = [info["storyboard"].delivery for _, info in animatic]
    assembly_rows = [[1.0, len(info["plan"].shots), round(info["storyboard"].duration * d.fps) * d.width * d.height / 1e6]
                     for (_, info), d in zip(animatic, delivery)]
    assembly = fit(assembly_rows, [measured["assembly"] for measured, _ in animatic])
    same_rate = [films["e"], films["f"]]
    footage = fit([[FOOTAGE_SHOTS, megapixel_frames(info["plan"].shots)] for _, info in same_rate],
                  [measured["shots"] for measured, _ in same_rate])
    conversions = {}
    for name, method in (("g", "minterpolate"), ("h", "repeat")):
        measured, info = films[name]
        work = megapixel_frames(info["plan"].shots)
        conversions[method] = (measured["shots"] - FOOTAGE_SHOTS * footage[0] - work * footage[1]) / work

    fits = {
        "PIPER_START_S": narration[0], "PIPER_S_PER_CHARACTER": narration[1], "ESPEAK_S_PER_CHARACTER": espeak,
        "PROCEDURAL_S_PER_SECOND": score, "FILE_CUE_S_PER_SECOND": decode, "BED_S_PER_SECOND": bed,
        "ANIMATIC_START_S": shots[0], "ANIMATIC_S_PER_SHOT": shots[1], "ANIMATIC_S_PER_MEGAPIXEL_FRAME": shots[2],
        "FOOTAGE_S_PER_SHOT": footage[0], "FOOTAGE_S_PER_MEGAPIXEL_FRAME": footage[1],
        "CONVERSION minterpolate": conversions["minterpolate"], "CONVERSION repeat": conversions["repeat"],
        "ASSEMBLY_START_S": assembly[0], "ASSEMBLY_S_PER_SHOT": assembly[1],
        "ASSEMBLY_S_PER_MEGAPIXEL_FRAME": assembly[2],
    }
    print("\nfitted (planner/phases.py now):")
    for name, value in fits.items():
        constant = name.split()[-1] if name.startswith("CONVERSION") else name
        now = (phases.CONVERSION_S_PER_MEGAPIXEL_FRAME[constant] if name.startswith("CONVERSION")
               else getattr(phases, name))
        print(f"  {name} = {value if value is None else round(value, 5)}  ({now})")
    report["load_average_after"] = os.getloadavg()[0]
    report["fits"] = fits
    report["films"] = {name: {"measured": measured, "estimated": info["estimated"]}
                       for name, (measured, info) in films.items()}
    print(f"load average: {report['load_average_before']:.2f} before, {report['load_average_after']:.2f} after")
    Results(__file__, args.out, argv).save(report)


if __name__ == "__main__":
    main()
