"""The files a storyboard names: inside its folder (one path rule), voice files and the lexicon, media opened as FFmpeg will."""

from __future__ import annotations

from pathlib import Path

from render_pipeline.media.ffmpeg import MediaInfo, MediaKind, UnusableMedia, check_media

# voice.voice names a file in the storyboard's folder when it ends like one: a piper voice
# model, or a recording whose voice xtts clones. Anything else is an engine's voice name.
VOICE_MODEL_SUFFIX = ".onnx"
VOICE_RECORDING_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
# Pronunciations for narration, read from the storyboard's folder when present (audio/lexicon.py).
LEXICON_FILE = "lexicon.txt"


class OutsideFolder(ValueError):
    """A path in the storyboard that leads out of its folder."""


def path_in_folder(folder: Path, text: str) -> Path:
    """The file ``text`` (as written in the storyboard) names inside ``folder``, every link followed;
    OutsideFolder when it is absolute, climbs out with '..', or leads out through a link."""
    candidate = Path(text)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise OutsideFolder(f"paths must stay inside the storyboard's folder: no absolute paths or '..' (got {text!r})")
    resolved = (folder / candidate).resolve()
    if not resolved.is_relative_to(folder.resolve()):
        raise OutsideFolder(f"{text!r} leads outside the storyboard's folder (through a link)")
    return resolved


def open_media(path: Path, kind: MediaKind) -> MediaInfo | str:
    """The file's MediaInfo, or why it cannot be used as ``kind``."""
    try:
        return check_media(path, kind)
    except UnusableMedia as unusable:
        return str(unusable)
