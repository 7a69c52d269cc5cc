"""The audio stage: narration clips and the music bed that the assembly step mixes.

Writes, under ``<out>/audio/``: ``narration/<shot id>.wav`` (48 kHz mono, one per
narrated shot), ``music/<NN>-<cue>.wav`` (each cue's own audio) and ``music_bed.wav``
(48 kHz stereo, the whole film's length). Everything is cached; a rerun with nothing
changed synthesises nothing. Files are written whole and never through a link
(output_folder/files.py); speech in the making lives in the output folder's tmp/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from render_pipeline.audio.music.bed import render_bed
from render_pipeline.audio.narration import NarrationClip, narrate
from render_pipeline.backends.weights import resolve_models_dir
from render_pipeline.output_folder.claim import SCRATCH_NAME
from render_pipeline.output_folder.files import make_folder
from render_pipeline.planner.phases import Phase, PhaseProgress
from render_pipeline.storyboard import Cue, Storyboard


@dataclass
class AudioResult:
    narration: dict[str, NarrationClip]  # by shot id, in storyboard order
    music_bed: Path | None  # None when the storyboard has no music
    cues: list[tuple[Cue, float, float]]  # each cue with its span in seconds into the film
    messages: list[str] = field(default_factory=list)  # which engine and which music sources were used
    synthesized: list[str] = field(default_factory=list)  # "narration s01", "music opening": made this run


def render_audio(storyboard: Storyboard, out_dir: Path, engine: str | None = None,
                 models_dir: Path | None = None, progress: PhaseProgress | None = None) -> AudioResult:
    """Narrate every shot and build the music bed, reusing whatever is cached.

    ``engine`` overrides the storyboard's ``voice.engine``. ``models_dir`` holds optional
    weights (``xtts_v2/``, ``musicgen/``); None: backends.weights.resolve_models_dir's default, the
    same folder the shots' weights come from. Raises UserError when narration runs past its shot.
    ``progress``: told of each narration clip and music cue as it is made or found in the cache.
    """
    audio_dir = Path(out_dir) / "audio"
    narrated = any(shot.narration for shot in storyboard.shots)
    # Only the folders this film writes in: a run leaves no empty folder behind.
    for folder, needed in (("narration", narrated), ("music", bool(storyboard.music))):
        if needed:
            make_folder(Path(out_dir), "audio", folder)
    models = resolve_models_dir(models_dir)
    if progress is not None and narrated:
        progress.enter(Phase.NARRATION)
    narration = narrate(storyboard, audio_dir / "narration", engine, models, make_folder(Path(out_dir), SCRATCH_NAME),
                        on_clip=_told(progress, Phase.NARRATION))
    if progress is not None and storyboard.music:
        progress.enter(Phase.MUSIC)
    bed = render_bed(storyboard, audio_dir, models, on_item=_told(progress, Phase.MUSIC))
    messages = ([narration.engine_line] if narration.engine_line else []) + bed.messages
    synthesized = [f"narration {shot_id}" for shot_id in narration.synthesized] + [f"music {cue}" for cue in bed.made]
    return AudioResult(narration=narration.clips, music_bed=bed.path,
                       cues=[(cue, cue.start, cue.end) for cue in storyboard.music],
                       messages=messages, synthesized=synthesized)


def _told(progress: PhaseProgress | None, phase: Phase) -> Callable[[str, bool], None]:
    if progress is None:
        return lambda name, made: None
    return lambda name, made: progress.item(phase, name, made)
