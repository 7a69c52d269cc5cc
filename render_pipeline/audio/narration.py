"""Narration: one 48 kHz WAV per narrated shot, with the time each sentence is spoken.

Sentences are spoken separately and joined with a fixed pause, so their start and end
times are exact (captions use them). Each shot's WAV is cached by its spoken text and the
engine's identity (voice file digest, version, settings): a rerun with nothing changed
synthesises nothing. Measured lengths are checked against the shots after synthesis.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render_pipeline.audio.cache import cache_key, cached_record, write_record
from render_pipeline.audio.lexicon import load_lexicon
from render_pipeline.audio.tts.base import Speech
from render_pipeline.audio.tts.choose import open_engine
from render_pipeline.audio.wav import SAMPLE_RATE, resample, trim_silence, write_wav
from render_pipeline.errors import UserError
from render_pipeline.storyboard import Shot, Storyboard

SENTENCE_PAUSE = 0.3  # seconds of silence between sentences
# The end of a sentence: . ! ? or … (possibly repeated), then any closing quotes or brackets.
_SENTENCE = re.compile(r".+?(?:[.!?…]+[\"'”’)\]]*(?=\s|$)|$)", re.S)


@dataclass(frozen=True)
class NarrationClip:
    path: Path
    duration: float  # seconds
    sentences: list[tuple[str, float, float]]  # (written text, start, end) in seconds into the clip


@dataclass
class Narration:
    clips: dict[str, NarrationClip]
    synthesized: list[str]  # ids of the shots spoken this run (the rest came from the cache)
    engine_line: str | None  # which engine spoke, or None when no shot has narration


def split_sentences(text: str) -> list[str]:
    """Sentences in order, whitespace tidied; fragments without a letter or digit are dropped."""
    pieces = (" ".join(match.group().split()) for match in _SENTENCE.finditer(text))
    return [piece for piece in pieces if re.search(r"\w", piece)]


def narrate(storyboard: Storyboard, narration_dir: Path, engine_name: str | None, models_dir: Path,
            scratch: Path | None = None, on_clip: Callable[[str, bool], None] = lambda shot_id, made: None) -> Narration:
    """Speak every shot's narration (or reuse the cache); raise UserError if any runs past its shot.

    ``scratch``: where the engine's files are made (the output folder's tmp/; None: the system's).
    ``on_clip``: told of each shot's clip once it is spoken (made) or found in the cache (not made).
    """
    narrated = [shot for shot in storyboard.shots if shot.narration]
    _remove_stale(narration_dir, {shot.id for shot in narrated})
    if not narrated:
        return Narration(clips={}, synthesized=[], engine_line=None)
    engine, engine_line = open_engine(engine_name or storyboard.voice.engine, storyboard.voice.voice,
                                      storyboard.base_dir, models_dir, storyboard.voice.language)
    identity = engine.identity()
    lexicon = load_lexicon(storyboard.base_dir)

    clips: dict[str, NarrationClip] = {}
    pending: list[tuple[Shot, list[str], list[str], str]] = []
    for shot in narrated:
        written = split_sentences(shot.narration or "")
        if not written:
            raise UserError(f"shot {shot.id!r}: narration {shot.narration!r} has no words to speak; remove it or add text")
        spoken = [lexicon.apply(sentence) for sentence in written]
        key = cache_key({"engine": identity, "spoken": spoken, "pause": SENTENCE_PAUSE, "rate": SAMPLE_RATE})
        path = narration_dir / f"{shot.id}.wav"
        record = cached_record(path, key)
        if record is not None:
            clips[shot.id] = NarrationClip(path, record["duration"], [tuple(s) for s in record["sentences"]])
            on_clip(shot.id, False)
        else:
            pending.append((shot, written, spoken, key))

    if pending:
        with tempfile.TemporaryDirectory(prefix="tts-", dir=scratch) as speaking:
            speech = engine.speak([sentence for _, _, spoken, _ in pending for sentence in spoken], Path(speaking),
                                  _clips_spoken([(shot.id, len(spoken)) for shot, _, spoken, _ in pending], on_clip))
        for shot, written, spoken, key in pending:
            mine, speech = speech[: len(spoken)], speech[len(spoken):]
            clips[shot.id] = _write_clip(narration_dir / f"{shot.id}.wav", written, mine, key)

    _check_lengths(narrated, clips, engine.describe())
    return Narration(clips={shot.id: clips[shot.id] for shot in narrated},
                     synthesized=[shot.id for shot, *_ in pending], engine_line=engine_line)


def _clips_spoken(clips: list[tuple[str, int]], on_clip: Callable[[str, bool], None]) -> Callable[[int], None]:
    """Turn "sentences spoken so far" into each clip (shot id, its sentence count) finished, once and in order."""
    told = 0

    def spoken(count: int) -> None:
        nonlocal told
        while told < len(clips) and sum(sentences for _, sentences in clips[:told + 1]) <= count:
            on_clip(clips[told][0], True)
            told += 1

    return spoken


def _write_clip(path: Path, written: list[str], speech: list[Speech], key: str) -> NarrationClip:
    rate = speech[0].rate
    pause = np.zeros(int(round(SENTENCE_PAUSE * rate)), dtype=np.float32)
    parts: list[np.ndarray] = []
    sentences = []
    position = 0
    for text, spoken in zip(written, speech):
        if spoken.rate != rate:
            raise RuntimeError(f"engine changed sample rate mid-film ({rate} -> {spoken.rate})")
        if parts:
            parts.append(pause)
            position += pause.size
        samples = trim_silence(spoken.samples, rate)
        sentences.append((text, position / rate, (position + samples.size) / rate))
        parts.append(samples)
        position += samples.size
    audio = resample(np.concatenate(parts), rate)
    write_wav(path, audio)
    duration = audio.size / SAMPLE_RATE
    write_record(path, {"key": key, "duration": duration, "sentences": sentences})
    return NarrationClip(path, duration, sentences)


def _check_lengths(narrated: list[Shot], clips: dict[str, NarrationClip], engine: str) -> None:
    too_long = [
        f"shot {shot.id!r}: narration measures {clips[shot.id].duration:.2f} s but {shot.duration:g} s are allowed"
        for shot in narrated
        if shot.narration_overflow != "allow" and clips[shot.id].duration > shot.duration + 0.5 / SAMPLE_RATE
    ]
    if too_long:
        raise UserError(f"narration longer than its shot ({engine}): " + "; ".join(too_long)
                        + ". Shorten the text, lengthen the shot, or set narration_overflow: allow on the shot")


def _remove_stale(narration_dir: Path, narrated_ids: set[str]) -> None:
    """Drop clips of shots that no longer have narration, so nothing downstream picks them up."""
    if not narration_dir.is_dir():
        return
    for sidecar in narration_dir.glob("*.json"):
        if sidecar.stem not in narrated_ids:
            sidecar.with_suffix(".wav").unlink(missing_ok=True)
            sidecar.unlink()
