"""The audio stage: narration (piper, espeak-ng or XTTS) and music (a file, MusicGen or a procedural score)."""

from render_pipeline.audio.narration import NarrationClip
from render_pipeline.audio.render import AudioResult, render_audio

__all__ = ["AudioResult", "NarrationClip", "render_audio"]
