"""How long the CPU work of `render-all` takes: narration, music, animatic and footage shots, conversion, assembly.

Each phase is a list of items (a clip, a cue, a shot, a converted shot, the film) with the seconds
each should take. The rates below were measured on this project's CPU class, a 2-core AMD EPYC
VM (docs/benchmarks.md, "Phases of render-all", command `python -m benchmarks.bench_phases`): a
machine with more or faster cores is faster, and a loaded one slower. The runner's progress
starts from these and corrects each phase by the speed it measures (runner/progress.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Protocol

MEGA = 1e6

# Narration, piper (en_US-joe-medium): loading the voice once, then per character of text.
PIPER_START_S = 0.49
PIPER_S_PER_CHARACTER = 0.0032
# espeak-ng, a process per sentence: per character of text, its start included.
ESPEAK_S_PER_CHARACTER = 0.00020
# Music: the procedural score per second of cue, a user's file decoded per second, and the bed
# levelled and summed per second of film. MusicGen was not measured: its cues count as procedural.
PROCEDURAL_S_PER_SECOND = 0.0016
FILE_CUE_S_PER_SECOND = 0.0013
BED_S_PER_SECOND = 0.0050
# Animatic shots: the worker's start (once), each shot's fixed costs (FFmpeg's start, the frame
# count and digest), then per million pixels of each frame at the delivery size. Both shot rates
# include the QA stage that checks each shot as it is made (render_pipeline/qa/, always on from
# the command line): decoding the shot again about doubles an animatic shot's time.
ANIMATIC_START_S = 0.85
ANIMATIC_S_PER_SHOT = 0.37
ANIMATIC_S_PER_MEGAPIXEL_FRAME = 0.0025
# Footage conformed to the delivery size (x264 veryfast), per shot and per million pixels of each frame;
# its QA reads lettering too, where RapidOCR is installed (the qa extra, installed when measured).
FOOTAGE_S_PER_SHOT = 0.90
FOOTAGE_S_PER_MEGAPIXEL_FRAME = 0.0081
# Frame-rate conversion per million pixels of each frame made (media/retime.py): minterpolate and
# repeat measured by bench_phases.py; RIFE from its network's 1.0 s per made 1280x720 frame on this
# CPU, nearly idle ("Frame-rate conversion" in docs/benchmarks.md; its GPU speed is not measured, so
# on a GPU machine this overestimates).
CONVERSION_S_PER_MEGAPIXEL_FRAME = {"minterpolate": 0.30, "repeat": 0.0093, "rife": 1.09}
# Assembly: FFmpeg's start and the files beside the film, each shot opened, then per million
# pixels of each frame of the film (the one x264 medium encode, overlays and transitions; the
# soundtrack, made beside it on the same cores, is in this rate too). Measured on films whose
# shots move the camera and carry titles as the examples do (x264 is faster on still cards).
ASSEMBLY_START_S = 1.41
ASSEMBLY_S_PER_SHOT = 0.40
ASSEMBLY_S_PER_MEGAPIXEL_FRAME = 0.0078


def format_duration(seconds: float) -> str:
    """H:MM:SS, as progress lines and the plan give a run's times."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class Phase(StrEnum):
    """The phases of `render-all`, in the order they run."""

    NARRATION = "narration"
    MUSIC = "music"
    SHOTS = "shots"
    CONVERSION = "conversion"
    ASSEMBLY = "assembly"


@dataclass(frozen=True)
class PhaseEstimate:
    """A phase's items with the seconds each should take, and the seconds of the whole phase.

    ``seconds`` can differ from the items' sum: shot groups render side by side, and loading
    the weights belongs to no one shot.
    """

    phase: Phase
    items: tuple[tuple[str, float], ...]
    seconds: float

    @classmethod
    def of(cls, phase: Phase, items: list[tuple[str, float]], seconds: float | None = None) -> PhaseEstimate:
        return cls(phase, tuple(items), sum(s for _, s in items) if seconds is None else seconds)

    def to_json(self) -> dict:
        return {"seconds": round(self.seconds, 1), "items": {name: round(s, 2) for name, s in self.items}}


def narration_engine(storyboard) -> str:
    """The engine narration is timed for: the storyboard's, and for auto piper where it is installed."""
    import importlib.util

    engine = storyboard.voice.engine
    if engine != "auto":
        return engine
    return "piper" if importlib.util.find_spec("piper") is not None else "espeak"


def around_the_shots(storyboard) -> dict[Phase, PhaseEstimate]:
    """Narration and music (before the shots) and the assembly (after them), as `assemble` runs them alone.

    Conversion is not among them: which shots it converts is known once they are rendered.
    """
    delivery = storyboard.delivery
    return {Phase.NARRATION: narration_estimate(storyboard, narration_engine(storyboard)),
            Phase.MUSIC: music_estimate(storyboard),
            Phase.ASSEMBLY: assembly_estimate(round(storyboard.duration * delivery.fps), delivery.width,
                                              delivery.height, len(storyboard.shots))}


def narration_estimate(storyboard, engine: str) -> PhaseEstimate:
    """Each narrated shot's clip; ``engine``: the one that will speak (piper or espeak; xtts is timed as
    piper, not measured: it runs on the GPU where there is one)."""
    items: list[tuple[str, float]] = []
    for shot in storyboard.shots:
        if not shot.narration:
            continue
        characters = len(" ".join(shot.narration.split()))
        if engine == "espeak":
            seconds = characters * ESPEAK_S_PER_CHARACTER
        else:
            seconds = (PIPER_START_S if not items else 0.0) + characters * PIPER_S_PER_CHARACTER
        items.append((shot.id, seconds))
    return PhaseEstimate.of(Phase.NARRATION, items)


def music_estimate(storyboard) -> PhaseEstimate:
    """Each cue, with its share of mixing the bed (by length)."""
    spans = [(cue, cue.end - cue.start) for cue in storyboard.music]
    cue_seconds = sum(length for _, length in spans)
    items = []
    for cue, length in spans:
        rate = FILE_CUE_S_PER_SECOND if cue.file is not None else PROCEDURAL_S_PER_SECOND
        items.append((cue.cue, length * rate + storyboard.duration * BED_S_PER_SECOND * length / cue_seconds))
    return PhaseEstimate.of(Phase.MUSIC, items)


def animatic_seconds(frames: int, width: int, height: int, first: bool) -> float:
    """One animatic shot at the delivery size; the ``first`` also starts the worker."""
    return ((ANIMATIC_START_S if first else 0.0) + ANIMATIC_S_PER_SHOT
            + frames * width * height / MEGA * ANIMATIC_S_PER_MEGAPIXEL_FRAME)


def footage_seconds(frames: int, width: int, height: int, source_fps: float | None, fps: float,
                    method: str) -> float:
    """One footage shot conformed to the delivery, converted by ``method`` when shot at another rate."""
    megapixel_frames = frames * width * height / MEGA
    seconds = FOOTAGE_S_PER_SHOT + megapixel_frames * FOOTAGE_S_PER_MEGAPIXEL_FRAME
    if source_fps is not None and _rate(source_fps) != _rate(fps):
        seconds += megapixel_frames * CONVERSION_S_PER_MEGAPIXEL_FRAME[method]
    return seconds


def conversion_estimate(shots, fps: float, method: str) -> PhaseEstimate:
    """Generated shots made at another rate than the delivery's, converted before assembly (post/assemble.py)."""
    from render_pipeline.media.retime import retimed_count

    items = []
    for shot in shots:
        if shot.backend in ("animatic", "footage") or _rate(shot.fps) == _rate(fps):
            continue
        made = retimed_count(shot.frames, _rate(shot.fps), _rate(fps))
        items.append((shot.shot_id, conversion_seconds(made, shot.width, shot.height, method)))
    return PhaseEstimate.of(Phase.CONVERSION, items)


def conversion_seconds(made_frames: int, width: int, height: int, method: str) -> float:
    """Converting a clip to another rate by ``method``, ``made_frames`` frames made."""
    return made_frames * width * height / MEGA * CONVERSION_S_PER_MEGAPIXEL_FRAME[method]


def assembly_estimate(film_frames: int, width: int, height: int, shots: int) -> PhaseEstimate:
    seconds = (ASSEMBLY_START_S + shots * ASSEMBLY_S_PER_SHOT
               + film_frames * width * height / MEGA * ASSEMBLY_S_PER_MEGAPIXEL_FRAME)
    return PhaseEstimate.of(Phase.ASSEMBLY, [("film", seconds)])


def _rate(fps: float) -> Fraction:
    from render_pipeline.media.retime import clip_rate

    return clip_rate(fps)


def footage_rate(path: Path) -> float | None:
    """The footage's frame rate as FFmpeg reads it; None when it cannot be read (validate and the render say why)."""
    from render_pipeline.errors import UserError
    from render_pipeline.media.ffmpeg import FfmpegError, probe

    try:
        return probe(path).fps
    except (FfmpegError, UserError):
        return None


class PhaseProgress(Protocol):
    """What the audio stage and assembly report as they go (runner/progress.py's reporters do this)."""

    def expect(self, estimate: PhaseEstimate) -> None:
        """A phase not yet begun has these items (the assembly's conversions, once the shots are probed)."""

    def enter(self, phase: Phase) -> object:
        """``phase`` begins now (the one before it has ended)."""

    def item(self, phase: Phase, name: str, made: bool = True) -> None:
        """An item finished (``made``), or was found made already (the cache)."""

    def part(self, phase: Phase, name: str, done: int, total: int) -> None:
        """``done`` of ``total`` frames of an item still under way (a long conversion)."""

    def frames(self, phase: Phase, done: int, total: int) -> None:
        """``done`` of ``total`` frames of a phase that counts frames."""
