"""The music bed: every cue made (or taken from the cache), levelled and placed on the film.

A cue sounds over its shots' span. Where one cue ends as the next begins they crossfade,
centred on the boundary like a transition on a cut (each runs half the crossfade past its
side); elsewhere a cue fades in at its start and out at its end, inside its span. Each cue
is levelled so its RMS is ``volume_db`` dBFS (about its loudness in LUFS), with peaks held
below -1 dBFS; the mix ducks it under narration later.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render_pipeline.audio.cache import cache_key, cached_record, file_digest, write_record
from render_pipeline.audio.music import musicgen, procedural
from render_pipeline.audio.wav import SAMPLE_RATE, decode_audio, read_wav, rms_db, write_wav
from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import FfmpegError
from render_pipeline.storyboard import Cue, Storyboard, slugify

CROSSFADE = 2.0  # seconds, at most half of either cue
FADE_IN = 1.0  # seconds, at most a quarter of the cue
FADE_OUT = 2.0
PEAK_LIMIT = 10 ** (-1 / 20)


@dataclass(frozen=True)
class PlacedCue:
    cue: Cue
    head: float  # seconds of crossfade before the span's start (0 when the cue fades in)
    tail: float  # seconds of crossfade after the span's end

    @property
    def length(self) -> float:
        return self.head + (self.cue.end - self.cue.start) + self.tail


@dataclass
class MusicBed:
    path: Path | None
    made: list[str]  # cues generated this run (the rest came from the cache)
    messages: list[str]  # which source each cue used


def render_bed(storyboard: Storyboard, audio_dir: Path, models_dir: Path,
               on_item: Callable[[str, bool], None] = lambda name, made: None) -> MusicBed:
    """Make (or take from the cache) every cue, then the bed; ``on_item`` is told of each cue as it is made,
    or found made already."""
    bed_path = audio_dir / "music_bed.wav"
    if not storyboard.music:
        bed_path.unlink(missing_ok=True)
        bed_path.with_suffix(".json").unlink(missing_ok=True)
        return MusicBed(path=None, made=[], messages=[])
    model_folder = musicgen.musicgen_folder(models_dir)
    made, messages, pieces = [], [], []
    for number, placed in enumerate(place_cues(storyboard.music), start=1):
        cue = placed.cue
        source, key = _source(cue, placed.length, model_folder)
        path = audio_dir / "music" / f"{number:02d}-{slugify(cue.cue)}.wav"
        fresh = cached_record(path, key) is None
        if fresh:
            write_wav(path, _make(cue, placed.length, model_folder))
            write_record(path, {"key": key, "cue": cue.cue, "source": source})
            made.append(cue.cue)
        on_item(cue.cue, fresh)
        messages.append(f"music cue {cue.cue!r} ({cue.start:g}-{cue.end:g} s): {source}")
        pieces.append((placed, path, key))

    bed_key = cache_key({"film": storyboard.duration, "cues": [(key, p.cue.start, p.cue.end, p.head, p.tail,
                                                                p.cue.volume_db) for p, _, key in pieces]})
    if cached_record(bed_path, bed_key) is None:
        bed = np.zeros((int(round(storyboard.duration * SAMPLE_RATE)), 2), dtype=np.float32)
        for placed, path, _ in pieces:
            samples, _ = read_wav(path)
            _mix_in(bed, placed, _shape(samples, placed))
        write_wav(bed_path, bed)
        write_record(bed_path, {"key": bed_key})
    return MusicBed(path=bed_path, made=made, messages=messages)


def place_cues(cues: list[Cue]) -> list[PlacedCue]:
    """Each cue with the crossfade it shares with a neighbour that starts as it ends."""
    placed = []
    for cue in cues:
        before = next((other for other in cues if other is not cue and math.isclose(other.end, cue.start)), None)
        after = next((other for other in cues if other is not cue and math.isclose(other.start, cue.end)), None)
        placed.append(PlacedCue(cue, head=_crossfade(before, cue) / 2, tail=_crossfade(cue, after) / 2))
    return placed


def _crossfade(first: Cue | None, second: Cue | None) -> float:
    if first is None or second is None:
        return 0.0
    return min(CROSSFADE, (first.end - first.start) / 2, (second.end - second.start) / 2)


def _source(cue: Cue, seconds: float, model_folder: Path | None) -> tuple[str, str]:
    """Where the cue's audio comes from, in words, and the cache key of that audio."""
    if cue.file is not None:
        return f"file {cue.file.name}", cache_key({"file": file_digest(cue.file), "seconds": seconds})
    if model_folder is not None:
        return (f"MusicGen from {model_folder}",
                cache_key({"musicgen": file_digest(model_folder / "config.json"), "prompt": cue.prompt or "",
                           "seconds": seconds, "seed": _seed(cue)}))
    settings = procedural.score_settings(cue.cue, cue.prompt)
    return f"procedural score, {settings.describe()}", cache_key({"procedural": repr(settings), "seconds": seconds})


def _make(cue: Cue, seconds: float, model_folder: Path | None) -> np.ndarray:
    if cue.file is not None:
        try:
            return decode_audio(cue.file, channels=2, seconds=seconds, loop=True)
        except FfmpegError as exc:
            raise UserError(f"music cue {cue.cue!r}: cannot read {cue.file.name} as audio; "
                            f"convert it to WAV or MP3 ({exc.tail.splitlines()[-1] if exc.tail else 'no details'})") from None
    if model_folder is not None:
        return musicgen.render_musicgen(model_folder, cue.prompt or cue.cue, seconds, _seed(cue))
    return procedural.render_score(procedural.score_settings(cue.cue, cue.prompt), seconds)


def _seed(cue: Cue) -> int:
    return sum(ord(char) * 31 ** i for i, char in enumerate(cue.cue)) % 2**31


def _shape(samples: np.ndarray, placed: PlacedCue) -> np.ndarray:
    """The cue levelled, cut to its length, with its fades or crossfade ramps."""
    length = int(round(placed.length * SAMPLE_RATE))
    samples = samples[:length]
    if samples.shape[0] < length:  # a user file shorter than one loop pass ends early; pad with silence
        samples = np.pad(samples, ((0, length - samples.shape[0]), (0, 0)))
    level = rms_db(samples)
    if math.isfinite(level):
        samples = samples * 10 ** ((placed.cue.volume_db - level) / 20)
        peak = float(np.abs(samples).max())
        if peak > PEAK_LIMIT:
            samples = samples * (PEAK_LIMIT / peak)
    span = placed.cue.end - placed.cue.start
    fade_in = 2 * placed.head if placed.head else min(FADE_IN, span / 4)
    fade_out = 2 * placed.tail if placed.tail else min(FADE_OUT, span / 4)
    gain = np.ones(length, dtype=np.float32)
    ramp_in = int(round(fade_in * SAMPLE_RATE))
    ramp_out = int(round(fade_out * SAMPLE_RATE))
    # Sine and cosine ramps keep the summed power constant through a crossfade.
    if ramp_in:
        gain[:ramp_in] *= np.sin(np.linspace(0, np.pi / 2, ramp_in, dtype=np.float32))
    if ramp_out:
        gain[length - ramp_out:] *= np.cos(np.linspace(0, np.pi / 2, ramp_out, dtype=np.float32))
    return samples * gain[:, None]


def _mix_in(bed: np.ndarray, placed: PlacedCue, samples: np.ndarray) -> None:
    first = int(round((placed.cue.start - placed.head) * SAMPLE_RATE))
    last = min(bed.shape[0], first + samples.shape[0])
    bed[first:last] += samples[: last - first]
