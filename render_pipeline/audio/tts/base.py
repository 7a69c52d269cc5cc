"""What every narration engine offers: speak a list of sentences, and say what makes its output differ."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# Told how many of the sentences have been spoken so far, as the engine goes (for progress).
Spoken = Callable[[int], None]


@dataclass(frozen=True)
class Speech:
    """One spoken sentence: mono float32 samples at the engine's own rate."""

    samples: np.ndarray
    rate: int


class TtsEngine(Protocol):
    name: str

    def describe(self) -> str:
        """The engine and voice in a few words, for messages ("piper, voice en_US-joe-medium")."""
        ...

    def identity(self) -> dict[str, Any]:
        """Everything besides the text that changes the audio: voice file digest, version, settings."""
        ...

    def speak(self, sentences: list[str], scratch: Path, spoken: Spoken = lambda count: None) -> list[Speech]:
        """One Speech per sentence, in order; all sentences at once so an engine loads its voice once.
        ``spoken`` is called with the count of sentences spoken so far, at least once each is."""
        ...


def voice_file(base_dir: Path, text: str, what: str) -> Path:
    """A voice file named in the storyboard, which like every path there stays inside its folder."""
    from render_pipeline.errors import UserError
    from render_pipeline.storyboard.inputs import OutsideFolder, path_in_folder

    try:
        resolved = path_in_folder(base_dir, text)
    except OutsideFolder as outside:
        raise UserError(f"voice.voice: {what}: {outside}; copy the file next to the storyboard") from None
    if not resolved.is_file():
        raise UserError(f"voice.voice: {what} {text!r} not found (looked in {base_dir})")
    return resolved
