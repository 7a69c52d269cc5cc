"""Coqui XTTS v2: a narrator's voice cloned from a short recording, in 17 languages.

coqui-tts runs in an environment of its own (xtts_env.py; ``render-pipeline setup-xtts``)
as one worker process per run (xtts_worker.py), which loads the model once and keeps each
recording's speaker latents. This module imports no torch: it checks the inputs, decodes the
reference recording through FFmpeg, and talks to the worker.

The code is MPL-2.0; the XTTS v2 weights are under the Coqui Public Model License
(non-commercial use only). Weights come from ``<models dir>/xtts_v2`` (config.json,
model.pth, vocab.json from the Hugging Face repository coqui/XTTS-v2).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from render_pipeline.audio.cache import file_digest
from render_pipeline.audio.tts.base import Speech, Spoken, voice_file
from render_pipeline.audio.tts.xtts_env import WORKER, env_folder, env_problem, env_python, installed_version
from render_pipeline.audio.wav import read_wav, rms_db, write_wav
from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import FfmpegError, MediaKind, ffmpeg_output, media_input
from render_pipeline.storyboard.inputs import VOICE_RECORDING_SUFFIXES

WEIGHTS_FOLDER = "xtts_v2"
WEIGHT_FILES = ("config.json", "model.pth", "vocab.json")
DEFAULT_LANGUAGE = "en"
REFERENCE_RATE = 22_050  # what the worker computes the speaker latents from
MIN_REFERENCE_SECONDS = 3.0  # below this the cloned voice is mostly guesswork; 6-30 s is best
SILENT_DB = -50.0  # a reference quieter than this (RMS, dBFS) holds no voice to clone
LICENCE_NOTICE = ("xtts: the XTTS v2 weights are under the Coqui Public Model License: non-commercial use only "
                  "(https://coqui.ai/cpml). Narration made with them may not be used commercially.")
LICENCE_SEEN = "licence-noticed"  # in the environment's folder: the notice is printed once


def accepts_voice(voice: str | None) -> TypeGuard[str]:
    return voice is not None and voice.lower().endswith(VOICE_RECORDING_SUFFIXES)


def weights_problem(models_dir: Path) -> str | None:
    """What is missing from the weights folder (with the fix), or None."""
    weights = models_dir / WEIGHTS_FOLDER
    missing = [name for name in WEIGHT_FILES if not (weights / name).is_file()]
    if missing:
        return (f"XTTS v2 weights missing from {weights} ({', '.join(missing)}): download config.json, model.pth "
                "and vocab.json of the Hugging Face repository coqui/XTTS-v2 (about 1.9 GB) into that folder")
    return None


def weights_languages(models_dir: Path) -> list[str]:
    config = json.loads((models_dir / WEIGHTS_FOLDER / "config.json").read_text(encoding="utf-8"))
    return list(config.get("languages") or [])


class XttsEngine:
    name = "xtts"

    def __init__(self, voice: str | None, base_dir: Path, models_dir: Path, language: str | None = None):
        # The storyboard's own mistakes first, then what the machine lacks.
        if not accepts_voice(voice):
            raise UserError("voice.voice: xtts clones a voice from a recording; name a "
                            f"{'/'.join(VOICE_RECORDING_SUFFIXES)} file in the storyboard's folder (got {voice!r})")
        self.reference = voice_file(base_dir, voice, "xtts reference recording")
        self.reference_samples = _reference_samples(self.reference)
        problem = weights_problem(models_dir)
        if problem:
            raise UserError(problem)
        self.weights = models_dir / WEIGHTS_FOLDER
        self.language = language or DEFAULT_LANGUAGE
        languages = weights_languages(models_dir)
        if self.language not in languages:
            raise UserError(f"voice.language: XTTS v2 does not speak {self.language!r}; "
                            f"choose one of {', '.join(languages)}")
        problem = env_problem(models_dir)
        if problem:
            raise UserError(f"voice engine xtts: {problem}; or use engine: piper")
        self.env = env_folder(models_dir)
        self.python = env_python(models_dir)

    def describe(self) -> str:
        return f"xtts v2, voice cloned from {self.reference.name}, language {self.language}"

    def identity(self) -> dict[str, Any]:
        return {"engine": self.name, "coqui-tts": installed_version(self.env, "coqui_tts"),
                "torch": installed_version(self.env, "torch"),
                "weights": {name: file_digest(self.weights / name) for name in WEIGHT_FILES},
                "reference": file_digest(self.reference), "language": self.language}

    def speak(self, sentences: list[str], scratch: Path, spoken: Spoken = lambda count: None) -> list[Speech]:
        self._licence_notice()
        reference = scratch / "xtts-reference.wav"
        write_wav(reference, self.reference_samples, REFERENCE_RATE)
        identity = self.identity()
        latents_key = hashlib.sha256(json.dumps([identity["coqui-tts"], identity["weights"], identity["reference"]],
                                                sort_keys=True).encode()).hexdigest()
        log = scratch / "xtts-worker.log"
        with open(log, "w", encoding="utf-8") as errors:
            worker = subprocess.Popen([str(self.python), str(WORKER), "--weights", str(self.weights),
                                       "--latents", str(self.env / "speaker-latents")],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                      text=True, encoding="utf-8")
            assert worker.stdin is not None  # stdin=PIPE
            try:
                try:
                    self._answer(worker, log, "loading the model")
                except UserError as error:
                    raise UserError(f"{error}\nDownload config.json, model.pth and vocab.json of the Hugging Face "
                                    f"repository coqui/XTTS-v2 into {self.weights} again") from None
                speech = []
                for number, sentence in enumerate(sentences):
                    out = scratch / f"xtts-{number}.wav"
                    worker.stdin.write(json.dumps({"text": sentence, "language": self.language,
                                                   "reference": str(reference), "latents_key": latents_key,
                                                   "out": str(out)}) + "\n")
                    worker.stdin.flush()
                    self._answer(worker, log, f"speaking {sentence!r}")
                    speech.append(Speech(*read_wav(out)))
                    spoken(len(speech))
            finally:
                worker.stdin.close()
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()
        return speech

    def _answer(self, worker: subprocess.Popen, log: Path, doing: str) -> dict:
        assert worker.stdout is not None  # started with stdout=PIPE
        line = worker.stdout.readline()
        if not line:  # the worker died; its last words are in the log
            worker.wait()
            tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-6:])
            raise UserError(f"xtts stopped while {doing} (weights {self.weights}):\n{tail}")
        answer = json.loads(line)
        if "error" in answer:
            raise UserError(f"xtts failed {doing} (weights {self.weights}): {answer['error']}")
        return answer

    def _licence_notice(self) -> None:
        seen = self.env / LICENCE_SEEN
        if not seen.exists():
            print(LICENCE_NOTICE, file=sys.stderr, flush=True)
            seen.touch()


def _reference_samples(path: Path) -> np.ndarray:
    """The recording as 22.05 kHz mono samples; UserError when it is not audio, too short or silent."""
    try:
        raw = ffmpeg_output([*media_input(path, MediaKind.AUDIO), "-map", "0:a:0", "-ac", "1",
                             "-ar", str(REFERENCE_RATE), "-f", "f32le", "-"], what=f"decoding {path.name}")
    except FfmpegError:
        raise UserError(f"voice.voice: {path} is not audio FFmpeg can read; record or export it as WAV or FLAC") from None
    samples = np.frombuffer(raw, dtype="<f4").copy()
    seconds = samples.size / REFERENCE_RATE
    if seconds < MIN_REFERENCE_SECONDS:
        raise UserError(f"voice.voice: {path} is {seconds:.1f} s long; XTTS needs at least "
                        f"{MIN_REFERENCE_SECONDS:g} s of the narrator speaking (6-30 s is best)")
    if rms_db(samples) < SILENT_DB:
        raise UserError(f"voice.voice: {path} is silent (RMS {rms_db(samples):.0f} dBFS); "
                        "use a recording of the narrator speaking")
    return samples
