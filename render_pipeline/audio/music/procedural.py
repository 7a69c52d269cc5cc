"""The offline temp score: a pad, a bass line and an arpeggio over a four-chord progression.

Everything comes from the cue's prompt: the tempo from "70 bpm" (or from mood words when
no number is given), major or minor from mood words, the key from "in D minor" (or a key
picked from the cue's name, so each cue keeps its own key across runs). It needs no
weights, runs in well under real time, and gives the animatic a real temp track.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from render_pipeline.audio.wav import SAMPLE_RATE

MINOR_WORDS = {"sad", "dark", "tense", "somber", "sombre", "melancholic", "melancholy", "ominous", "mysterious",
               "minor", "grief", "lonely", "suspense", "suspenseful", "tragic", "haunting", "eerie", "brooding"}
SLOW_WORDS = {"slow", "calm", "gentle", "peaceful", "ambient", "soft", "serene", "quiet", "sad", "somber", "sombre"}
FAST_WORDS = {"fast", "upbeat", "energetic", "action", "driving", "excited", "chase", "epic", "triumphant", "lively"}
NOTE_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# (root in semitones above the key, chord quality): I-V-vi-IV and i-VI-III-VII, the two
# progressions most film and pop music lean on.
MAJOR_PROGRESSION = ((0, "major"), (7, "major"), (9, "minor"), (5, "major"))
MINOR_PROGRESSION = ((0, "minor"), (8, "major"), (3, "major"), (10, "major"))
CHORD_TONES = {"major": (0, 4, 7), "minor": (0, 3, 7)}
# Arpeggio steps through chord tones (index 3 is the root an octave up).
ARPEGGIO = (0, 1, 2, 3, 2, 1, 2, 1)


@dataclass(frozen=True)
class ScoreSettings:
    bpm: float
    minor: bool
    key: int  # semitone of the tonic, 0 = C
    busy: bool  # eighth-note arpeggio and a pulsing bass, for energetic cues

    def describe(self) -> str:
        return f"{self.bpm:g} bpm, {KEY_NAMES[self.key]} {'minor' if self.minor else 'major'}"


def score_settings(cue_name: str, prompt: str | None) -> ScoreSettings:
    text = (prompt or "").lower()
    words = set(re.findall(r"[a-z]+", text))
    minor = bool(words & MINOR_WORDS)
    busy = bool(words & FAST_WORDS)
    if match := re.search(r"(\d{2,3}(?:\.\d+)?)\s*bpm", text):
        bpm = min(200.0, max(40.0, float(match[1])))
    else:
        bpm = 120.0 if busy else 70.0 if words & SLOW_WORDS else 90.0
    if match := re.search(r"\b(?:in\s+)?([a-g])\s*(#|sharp|b|flat)?\s+(major|minor)\b", text):
        key = (NOTE_NAMES[match[1].upper()] + {"#": 1, "sharp": 1, "b": -1, "flat": -1}.get(match[2] or "", 0)) % 12
        minor = match[3] == "minor"
    else:
        key = hashlib.sha256(cue_name.encode()).digest()[0] % 12
    return ScoreSettings(bpm=bpm, minor=minor, key=key, busy=busy)


def render_score(settings: ScoreSettings, seconds: float) -> np.ndarray:
    """``seconds`` of stereo 48 kHz music, peak-normalised; the bed sets its level and fades."""
    length = int(round(seconds * SAMPLE_RATE))
    out = np.zeros((length + SAMPLE_RATE * 4, 2), dtype=np.float32)  # room for the last notes' tails
    beat = 60.0 / settings.bpm
    bar = 4 * beat
    progression = MINOR_PROGRESSION if settings.minor else MAJOR_PROGRESSION
    tonic = 48 + settings.key  # MIDI note of the tonic around C3
    for number in range(int(np.ceil(seconds / bar))):
        start = number * bar
        root, quality = progression[number % len(progression)]
        chord = [tonic + root + tone for tone in CHORD_TONES[quality]]
        for note in chord:
            _add(out, start, _pad(note + 12, bar + 0.6), pan=0.0)
        _add(out, start, _bass(tonic + root - 12, 2 * beat), pan=0.0)
        _add(out, start + 2 * beat, _bass(tonic + root - 12, 2 * beat), pan=0.0)
        steps = 8 if settings.busy else 4
        step = bar / steps
        tones = chord + [chord[0] + 12]
        for index in range(steps):
            note = tones[ARPEGGIO[(index * (8 // steps)) % len(ARPEGGIO)]] + 12
            _add(out, start + index * step, _pluck(note, 1.2), pan=0.35 if index % 2 else -0.2)
    music = out[:length]
    peak = float(np.abs(music).max()) if length else 0.0
    return music / peak * 0.9 if peak > 0 else music


def _frequency(midi_note: int) -> float:
    return 440.0 * 2 ** ((midi_note - 69) / 12)


@lru_cache(maxsize=128)  # a cue repeats the same few notes; render each once
def _pad(note: int, seconds: float) -> np.ndarray:
    """A soft string-like chord tone, slightly detuned between the ears for width."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = np.minimum(1.0, np.minimum(t / 0.4, (seconds - t) / 0.6)).clip(0.0) ** 2
    left = sum(np.sin(2 * np.pi * _frequency(note) * h * 0.999 * t) / h ** 1.5 for h in range(1, 5))
    right = sum(np.sin(2 * np.pi * _frequency(note) * h * 1.001 * t) / h ** 1.5 for h in range(1, 5))
    return 0.12 * envelope[:, None] * np.stack([left, right], axis=1)


@lru_cache(maxsize=128)  # a cue repeats the same few notes; render each once
def _bass(note: int, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t * 1.5) * np.minimum(1.0, (seconds - t) / 0.05).clip(0.0)
    tone = np.sin(2 * np.pi * _frequency(note) * t) + 0.3 * np.sin(4 * np.pi * _frequency(note) * t)
    return 0.35 * envelope * tone


@lru_cache(maxsize=128)  # a cue repeats the same few notes; render each once
def _pluck(note: int, seconds: float) -> np.ndarray:
    """A piano-like note: a quick attack and harmonics that die away faster than the fundamental."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    attack = np.minimum(t / 0.005, 1.0)
    tone = sum(np.sin(2 * np.pi * _frequency(note) * h * t) * np.exp(-t * (2.5 + 1.5 * h)) / h for h in range(1, 6))
    return 0.18 * attack * tone


def _add(out: np.ndarray, start: float, sound: np.ndarray, pan: float) -> None:
    first = int(round(start * SAMPLE_RATE))
    last = min(out.shape[0], first + sound.shape[0])
    if last <= first:
        return
    piece = sound[: last - first]
    if piece.ndim == 1:
        # Constant-power pan: -1 is hard left, +1 hard right.
        angle = (pan + 1) * np.pi / 4
        piece = piece[:, None] * np.array([np.cos(angle), np.sin(angle)]) * np.sqrt(2)
    out[first:last] += piece
