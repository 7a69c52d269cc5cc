"""espeak-ng: the zero-weights fallback. Robotic, but always there (apt install espeak-ng)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from render_pipeline.audio.tts.base import Speech, Spoken
from render_pipeline.audio.wav import read_wav
from render_pipeline.errors import UserError

DEFAULT_VOICE = "en-us"
# Words per minute: espeak's own 175 sounds hurried for narration.
SPEED_WPM = 155


def espeak_exe() -> str | None:
    return shutil.which("espeak-ng")


class EspeakEngine:
    name = "espeak"

    def __init__(self, voice: str | None):
        exe = espeak_exe()
        if exe is None:
            raise UserError("voice engine espeak needs espeak-ng: apt install espeak-ng (brew install espeak-ng)")
        self.exe = exe
        self.voice = voice or DEFAULT_VOICE
        # Reading text from a file, espeak-ng falls back to its default voice without a word,
        # so check the name (before any "+variant") against its list up front.
        if self.voice.split("+")[0].lower() not in _voice_names(exe):
            raise UserError(f"voice.voice: espeak-ng has no voice {self.voice!r} (list them with `espeak-ng --voices`)")

    def describe(self) -> str:
        return f"espeak-ng, voice {self.voice}"

    def identity(self) -> dict[str, Any]:
        version = subprocess.run([self.exe, "--version"], capture_output=True, text=True).stdout.strip()
        return {"engine": self.name, "espeak": version, "voice": self.voice, "speed": SPEED_WPM}

    def speak(self, sentences: list[str], scratch: Path, spoken: Spoken = lambda count: None) -> list[Speech]:
        speech = []
        for number, sentence in enumerate(sentences):
            # Text goes in through a file, so nothing in it is read as an option.
            text = scratch / f"espeak-{number}.txt"
            wav = scratch / f"espeak-{number}.wav"
            text.write_text(sentence, encoding="utf-8")
            result = subprocess.run([self.exe, "-v", self.voice, "-s", str(SPEED_WPM), "-w", str(wav), "-f", str(text)],
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
            if result.returncode != 0 or not wav.is_file():
                raise UserError(f"espeak-ng failed with voice {self.voice!r}: {result.stderr.strip()[-300:]}")
            speech.append(Speech(*read_wav(wav)))
            spoken(len(speech))
        return speech


def _voice_names(exe: str) -> set[str]:
    """Language codes, voice names and voice files from `espeak-ng --voices`, lower-cased."""
    listing = subprocess.run([exe, "--voices"], stdin=subprocess.DEVNULL, capture_output=True, text=True).stdout
    names: set[str] = set()
    for line in listing.splitlines()[1:]:
        columns = line.split()
        if len(columns) >= 5:
            names.update(column.lower() for column in (columns[1], columns[3], columns[4]))
    return names
