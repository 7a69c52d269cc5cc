"""Coqui XTTS v2 through ``coqui-tts`` (the maintained fork of the abandoned ``TTS`` package).

Optional: ``pip install 'render-pipeline[xtts]'`` (needs torch and torchaudio; coqui-tts does
not currently install beside torch 2.13, so CI does not test it). The code is MPL-2.0; the
XTTS v2 weights are under the Coqui Public Model License (non-commercial use only).
Weights come from a local folder, ``<models dir>/xtts-v2`` (config.json, model.pth, vocab.json,
speakers_xtts.pth from the coqui/XTTS-v2 repository), and ``voice.voice`` names a short
recording in the storyboard's folder whose voice is cloned. The language is English.
"""

from __future__ import annotations

from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from render_pipeline.audio.cache import file_digest
from render_pipeline.audio.tts.base import Speech, Spoken, voice_file
from render_pipeline.errors import UserError
from render_pipeline.storyboard.resolve import VOICE_RECORDING_SUFFIXES

WEIGHTS_FOLDER = "xtts-v2"
REFERENCE_SUFFIXES = VOICE_RECORDING_SUFFIXES
LANGUAGE = "en"


def xtts_installed() -> bool:
    return find_spec("TTS") is not None


def accepts_voice(voice: str | None) -> bool:
    return voice is not None and voice.lower().endswith(REFERENCE_SUFFIXES)


class XttsEngine:
    name = "xtts"

    def __init__(self, voice: str | None, base_dir: Path, models_dir: Path):
        if not xtts_installed():
            raise UserError("voice engine xtts needs coqui-tts: pip install 'render-pipeline[xtts]' "
                            "(torch and torchaudio required); or use engine: piper")
        if not accepts_voice(voice):
            raise UserError("voice.voice: xtts clones a voice from a recording; name a .wav/.flac/.mp3 file "
                            f"in the storyboard's folder (got {voice!r})")
        self.reference = voice_file(base_dir, voice, "xtts reference recording")
        self.weights = models_dir / WEIGHTS_FOLDER
        if not (self.weights / "config.json").is_file():
            raise UserError(f"xtts weights not found in {self.weights}: download the Hugging Face repository "
                            "coqui/XTTS-v2 (about 1.9 GB) into that folder")

    def describe(self) -> str:
        return f"xtts v2, voice cloned from {self.reference.name}"

    def identity(self) -> dict[str, Any]:
        return {"engine": self.name, "coqui-tts": metadata.version("coqui-tts"),
                "weights": file_digest(self.weights / "config.json"), "reference": file_digest(self.reference),
                "language": LANGUAGE}

    def speak(self, sentences: list[str], scratch: Path, spoken: Spoken = lambda count: None) -> list[Speech]:
        from TTS.api import TTS

        model = TTS(model_path=str(self.weights), config_path=str(self.weights / "config.json"))
        rate = model.synthesizer.output_sample_rate
        speech = []
        for sentence in sentences:
            samples = model.tts(text=sentence, speaker_wav=str(self.reference), language=LANGUAGE)
            speech.append(Speech(np.asarray(samples, dtype=np.float32), rate))
            spoken(len(speech))
        return speech
