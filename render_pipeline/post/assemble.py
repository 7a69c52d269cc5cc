"""Assemble the finished film and everything beside it from the rendered shots and the audio.

Reads `<out>/shots/<id>.mp4` (with handles) and the audio stage's narration and music
bed; writes final.mp4 (picture encoded once), final.srt, final.vtt, timeline.otio,
timeline.xml (FCP 7 XML), the mix's stems (stems/narration.wav, stems/music.wav: the timelines'
sound) and review.html (which plays final.mp4 beside it). Each file is written under a temporary name and
renamed, so a file that exists is complete, and never through a link (output_folder/files.py);
the output folder is held while it is written (output_folder/claim.py), and scratch files
live in its tmp/. A shot rendered at another frame rate than the delivery's is first converted
by `delivery.frame_interpolation` (media/retime.py), into `<out>/cache/retime`, where later
runs find it. When nothing the assembly reads has changed since the last run (its cache key,
post/assembly_cache.py), the files on disk are kept and nothing is encoded.

The soundtrack is mixed, normalised and encoded on a second thread while FFmpeg encodes
the picture (which also writes the review page's thumbnails); a last FFmpeg call joins
the two by stream copy.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from render_pipeline.audio.cache import file_digest
from render_pipeline.backends.weights import resolve_models_dir
from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import (
    FfmpegError,
    MediaInfo,
    MediaKind,
    check_features,
    ffmpeg_exe,
    media_input,
    probe,
    run_ffmpeg,
)
from render_pipeline.media.fonts import Font, find_font
from render_pipeline.media.retime import choose_interpolation, clip_rate, require_interpolation, retimed
from render_pipeline.media.rife_weights import rife_weights
from render_pipeline.output_folder.claim import hold_output_folder, scratch_dir
from render_pipeline.output_folder.files import make_folder, write_file, writing
from render_pipeline.planner.phases import Phase, PhaseEstimate, PhaseProgress, conversion_seconds
from render_pipeline.post.assembly_cache import assembly_key, cached_assembly, digests, record_assembly
from render_pipeline.post.audio_mix import PlacedNarration, integrated_loudness, mix_soundtrack
from render_pipeline.post.captions import Caption, write_srt, write_vtt
from render_pipeline.post.edit import Edit, EditedShot, make_edit
from render_pipeline.post.fcp_xml import fcp_xml
from render_pipeline.post.glyphs import check_glyphs
from render_pipeline.post.otio_export import build_timeline, write_otio
from render_pipeline.post.overlays_ass import place_overlays, write_ass
from render_pipeline.post.review import ShotNotes, read_manifest, write_review
from render_pipeline.post.styles import STYLES_FILE, load_overlay_styles
from render_pipeline.post.video import video_graph
from render_pipeline.prompts import ShotPrompt, enhance_storyboard, overlays_for_shot
from render_pipeline.storyboard import Shot, Storyboard
from render_pipeline.storyboard.schema import Overlay

# One encode of the picture, at a quality that leaves no visible loss for a master.
VIDEO_ENCODE = ["-c:v", "libx264", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p"]
AUDIO_ENCODE = ["-c:a", "aac", "-b:a", "192k", "-ar", "48000"]
STEMS_DIR = "stems"


class NarrationClipLike(Protocol):
    # Read-only, so a frozen dataclass (audio/narration.py NarrationClip) is one.
    @property
    def path(self) -> Path: ...
    @property
    def duration(self) -> float: ...
    @property
    def sentences(self) -> list[tuple[str, float, float]]: ...


class AudioLike(Protocol):
    """What assemble reads from the audio stage's AudioResult."""

    # Read-only, so AudioResult's dict of NarrationClip is one (a Mapping's values are covariant).
    @property
    def narration(self) -> Mapping[str, NarrationClipLike]: ...
    @property
    def music_bed(self) -> Path | None: ...


@dataclass(frozen=True)
class AssemblyResult:
    film: Path
    srt: Path
    vtt: Path
    otio: Path
    fcp_xml: Path
    review: Path
    frames: int
    duration: float  # seconds
    loudness_lufs: float
    true_peak_db: float
    seconds_taken: float
    missing_glyphs: tuple[str, ...] = ()  # overlays drawn with boxes, allowed by --allow-missing-glyphs
    stems: tuple[Path, ...] = ()  # stems/narration.wav, stems/music.wav: the mix's parts, which the timelines use
    reused: bool = False  # nothing it reads changed since the last assembly: its files were kept (assembly_cache.py)

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file the assembly wrote, the film first."""
        return self.film, self.srt, self.vtt, self.otio, self.fcp_xml, self.review, *self.stems


def assemble(storyboard: Storyboard, out_dir: Path | None = None, audio: AudioLike | None = None,
             allow_missing_glyphs: bool = False, models_dir: Path | None = None,
             absolute_paths: bool = False, progress: PhaseProgress | None = None) -> AssemblyResult:
    """Build the film from ``out_dir`` (None: outputs/<title-slug>/); ``audio`` is the audio stage's result (made here when None).

    UserError, before anything is made, when an overlay holds characters no installed font
    draws, unless ``allow_missing_glyphs``. The folder is held while it is written (output_folder/claim.py).
    ``models_dir``: where RIFE's weights are looked for (backends/weights.py resolve_models_dir).
    ``absolute_paths``: the timelines name media by absolute file URLs instead of relative to their folder.
    ``progress``: told of each narration clip and music cue (when ``audio`` is None and they are made
    here), each shot converted to the delivery rate and the frames encoded.
    """
    with hold_output_folder(out_dir, storyboard) as held:
        return _assemble(storyboard, held, audio, allow_missing_glyphs, models_dir, absolute_paths, progress)


def _assemble(storyboard: Storyboard, out_dir: Path, audio: AudioLike | None, allow_missing_glyphs: bool,
              models_dir: Path | None, absolute_paths: bool, progress: PhaseProgress | None) -> AssemblyResult:
    began = time.perf_counter()
    missing_glyphs = check_glyphs(storyboard, allow_missing_glyphs)
    edit = make_edit(storyboard)
    shot_files = _rendered_shots(storyboard, out_dir)
    models_dir = resolve_models_dir(models_dir)
    if audio is None:
        from render_pipeline.audio import render_audio

        audio = render_audio(storyboard, out_dir, models_dir=models_dir, progress=progress)

    overlays_by_shot = {shot.id: overlays_for_shot(storyboard, shot) for shot in storyboard.shots}
    placed_overlays = place_overlays(edit, overlays_by_shot)
    narration = [PlacedNarration(shot_id, clip.path, edit.seconds(_edited(edit, shot_id).record_start))
                 for shot_id, clip in audio.narration.items()]
    narration.sort(key=lambda clip: clip.start)
    manifest = read_manifest(out_dir / "manifest.json")
    prompts = {prompt.id: prompt for prompt in enhance_storyboard(storyboard)}
    notes = {shot.id: _notes(shot, prompts.get(shot.id), overlays_by_shot[shot.id], manifest.get(shot.id, {}))
             for shot in storyboard.shots}
    font = find_font() if placed_overlays else None

    key = _assembly_key(storyboard, out_dir, edit, shot_files, models_dir, audio, narration, placed_overlays, font,
                        notes, absolute_paths)
    kept = cached_assembly(out_dir, key)
    if kept is not None:
        return _result(out_dir, edit, kept, began, reused=True)
    shot_info = _probed(storyboard, shot_files)
    check_features()
    log_path = make_folder(out_dir, "logs") / "assemble.log"
    pictures = _at_delivery_rate(storyboard, edit, shot_files, shot_info, out_dir, models_dir, log_path, progress)
    if progress is not None:
        progress.enter(Phase.ASSEMBLY)

    # FFmpeg encodes the picture inside the scratch folder, so the filter graph names the
    # overlays and fonts plainly (no escaping), whatever the output folder's path holds.
    with tempfile.TemporaryDirectory(prefix="assemble-", dir=scratch_dir(out_dir)) as scratch_name:
        scratch = Path(scratch_name)
        ass_path = fonts_dir = None
        if font is not None:
            fonts_dir = scratch / "fonts"
            fonts_dir.mkdir()
            shutil.copy(font.path, fonts_dir / font.path.name)
            ass_path = scratch / "overlays.ass"
            write_ass(ass_path, edit, placed_overlays, load_overlay_styles(), font)
        duration = edit.seconds(edit.total_frames)
        picture, thumbnails_dir = scratch / "picture.mp4", scratch / "thumbnails"
        with ThreadPoolExecutor(max_workers=1) as sound_thread:
            sound = sound_thread.submit(_soundtrack, narration, audio.music_bed, duration,
                                        storyboard.delivery.loudness_lufs, scratch)
            _encode_picture(edit, pictures, ass_path, fonts_dir, scratch, log_path, progress)
            soundtrack, loudness, peak, mixed_stems = sound.result()
        film = out_dir / "final.mp4"
        _mux(picture, soundtrack, film, log_path)

        captions = [Caption(text, clip.start + start, clip.start + end)
                    for clip in narration for text, start, end in audio.narration[clip.shot_id].sentences]
        srt, vtt = out_dir / "final.srt", out_dir / "final.vtt"
        _write_then_rename(srt, lambda path: write_srt(path, captions))
        _write_then_rename(vtt, lambda path: write_vtt(path, captions))

        stems = _write_stems(mixed_stems, out_dir)
        shot_frames = {shot_id: round((info.duration or 0.0) * edit.fps) for shot_id, info in shot_info.items()}
        stem_paths = dict(zip(mixed_stems, stems))
        timeline = build_timeline(storyboard.title, edit, shot_files, shot_frames, stem_paths, out_dir, absolute_paths)
        xml = fcp_xml(storyboard.title, edit, shot_files, shot_frames, stem_paths, out_dir, absolute_paths)
        otio_path, fcp_path = out_dir / "timeline.otio", out_dir / "timeline.xml"
        _write_then_rename(otio_path, lambda path: write_otio(timeline, path))
        write_file(fcp_path, xml)

        thumbnails = {edited.shot.id: (thumbnails_dir / f"{index}.jpg").read_bytes()
                      for index, edited in enumerate(edit.shots)}
        review = out_dir / "review.html"
        _write_then_rename(review, lambda path: write_review(path, storyboard.title, edit, thumbnails, notes,
                                                             film.name))

    measured = {"loudness_lufs": loudness, "true_peak_db": peak, "missing_glyphs": list(missing_glyphs),
                "stems": [stem.name for stem in stems]}
    record_assembly(out_dir, key, (film, srt, vtt, otio_path, fcp_path, review, *stems), measured)
    return _result(out_dir, edit, measured, began, reused=False)


def _assembly_key(storyboard: Storyboard, out_dir: Path, edit: Edit, shot_files: dict[str, Path], models_dir: Path,
                  audio: AudioLike, narration: list[PlacedNarration], placed_overlays: list, font: Font | None,
                  notes: dict[str, ShotNotes], absolute_paths: bool) -> str:
    """The cache key over everything the assembly reads (post/assembly_cache.py). It is made before any
    shot is probed or converted: the rendered files, and what a conversion to the delivery rate
    would use (the method, RIFE's weights), stand for the converted files."""
    ffmpeg = Path(ffmpeg_exe())
    rife = rife_weights(models_dir)
    return assembly_key({
        "title": storyboard.title,
        "delivery": repr(storyboard.delivery),
        "edit": repr(edit),
        "shots": digests(shot_files),
        "interpolation": [choose_interpolation(storyboard.delivery.frame_interpolation, models_dir),
                          file_digest(rife) if rife.is_file() else None],
        "narration": [(clip.shot_id, clip.start, file_digest(clip.path), audio.narration[clip.shot_id].sentences,
                       audio.narration[clip.shot_id].duration) for clip in narration],
        "music_bed": file_digest(audio.music_bed) if audio.music_bed is not None else None,
        "overlays": repr(placed_overlays),
        "styles": hashlib.sha256(STYLES_FILE.read_bytes()).hexdigest(),
        "font": [str(font.path), font.family, file_digest(font.path)] if font is not None else None,
        "notes": repr(notes),
        "folder": str(out_dir.resolve()),
        "absolute_paths": absolute_paths,
        "ffmpeg": [str(ffmpeg), ffmpeg.stat().st_size, ffmpeg.stat().st_mtime_ns],
    })


def _result(out_dir: Path, edit: Edit, measured: dict, began: float, reused: bool) -> AssemblyResult:
    return AssemblyResult(film=out_dir / "final.mp4", srt=out_dir / "final.srt", vtt=out_dir / "final.vtt",
                          otio=out_dir / "timeline.otio", fcp_xml=out_dir / "timeline.xml",
                          review=out_dir / "review.html", frames=edit.total_frames,
                          duration=edit.seconds(edit.total_frames), loudness_lufs=measured["loudness_lufs"],
                          true_peak_db=measured["true_peak_db"], seconds_taken=time.perf_counter() - began,
                          missing_glyphs=tuple(measured["missing_glyphs"]), reused=reused,
                          stems=tuple(out_dir / STEMS_DIR / name for name in measured["stems"]))


def _notes(shot: Shot, prompt: ShotPrompt | None, overlays: tuple[Overlay, ...], entry: dict) -> ShotNotes:
    if prompt is None:  # footage: no prompt to show
        return ShotNotes(overlays=overlays, narration=shot.narration, manifest=entry)
    return ShotNotes(original_prompt=prompt.original, enhanced_prompt=prompt.enhanced, negative_prompt=prompt.negative,
                     extracted_text=prompt.extracted_text, overlays=overlays, narration=shot.narration, manifest=entry)


def _edited(edit: Edit, shot_id: str) -> EditedShot:
    return next(edited for edited in edit.shots if edited.shot.id == shot_id)


def _rendered_shots(storyboard: Storyboard, out_dir: Path) -> dict[str, Path]:
    """Each shot's rendered file; UserError naming the unreadable shots, else the shots not rendered yet."""
    files = {shot.id: out_dir / "shots" / f"{shot.id}.mp4" for shot in storyboard.shots}
    missing = [shot_id for shot_id, path in files.items() if not path.is_file()]
    if missing:
        _probed(storyboard, {shot_id: path for shot_id, path in files.items() if shot_id not in missing})
        raise UserError(f"{len(missing)} shot(s) not rendered yet in {out_dir / 'shots'}: {', '.join(missing)}; "
                        f"run `render-pipeline render-all {storyboard.path.name}` first")
    return files


def _probed(storyboard: Storyboard, shot_files: dict[str, Path]) -> dict[str, MediaInfo]:
    """What probing each shot once says; UserError naming unreadable shots."""
    infos = {}
    for shot_id, path in shot_files.items():
        try:
            info = probe(path)
        except FfmpegError as exc:
            raise UserError(f"shot {shot_id}: {path} is not readable video ({exc.tail.splitlines()[-1]}); "
                            f"render it again with `render-pipeline render-shot {storyboard.path.name} {shot_id}`") from None
        if not info.has_video:
            raise UserError(f"shot {shot_id}: {path} has no video stream; render it again")
        infos[shot_id] = info
    return infos


def _at_delivery_rate(storyboard: Storyboard, edit: Edit, shot_files: dict[str, Path], shot_info: dict[str, MediaInfo],
                      out_dir: Path, models_dir: Path, log_path: Path,
                      progress: PhaseProgress | None) -> dict[str, Path]:
    """Each shot's file at the delivery rate: its own, or its conversion (made now, or kept from an earlier run)."""
    rates = {shot_id: clip_rate(info.fps) for shot_id, info in shot_info.items() if info.fps}
    if all(rate == edit.fps for rate in rates.values()):
        return shot_files
    method = choose_interpolation(storyboard.delivery.frame_interpolation, models_dir)
    require_interpolation(method, models_dir)  # before any shot is converted
    pictures = dict(shot_files)
    converted = {shot_id: rate for shot_id, rate in rates.items() if rate != edit.fps}
    if progress is not None:
        infos = [(shot_id, shot_info[shot_id]) for shot_id in converted]
        progress.expect(PhaseEstimate.of(Phase.CONVERSION, [
            (shot_id, conversion_seconds(round((info.duration or 0.0) * edit.fps), *info.video_size(), method))
            for shot_id, info in infos]))
        progress.enter(Phase.CONVERSION)
    for shot_id, rate in converted.items():
        made = []
        pictures[shot_id] = retimed(shot_files[shot_id], rate, edit.fps, method, out_dir / "cache" / "retime",
                                    models_dir, log_path, on_made=lambda: made.append(True),
                                    on_frames=_part_of(progress, shot_id))
        if progress is not None:
            progress.item(Phase.CONVERSION, shot_id, made=bool(made))
    return pictures


def _part_of(progress: PhaseProgress | None, shot_id: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress.part(Phase.CONVERSION, shot_id, done, total)


def _soundtrack(narration: list[PlacedNarration], music_bed: Path | None, duration: float, loudness_lufs: float,
                scratch: Path) -> tuple[Path, float, float, dict[str, Path]]:
    """The film's AAC soundtrack, with its integrated loudness and true peak (final.mp4 carries this very
    stream), and the mix's stems."""
    mixed = mix_soundtrack(narration, music_bed, duration, loudness_lufs, scratch)
    encoded = scratch / "soundtrack.m4a"
    run_ffmpeg([*media_input(mixed.soundtrack, MediaKind.AUDIO), *AUDIO_ENCODE, str(encoded)],
               what="encoding the soundtrack")
    return encoded, *integrated_loudness(encoded), mixed.stems


def _write_stems(stems: dict[str, Path], out_dir: Path) -> tuple[Path, ...]:
    """The mix's stems copied to <out>/stems/<name>.wav."""
    written = []
    for name, source in stems.items():
        target = make_folder(out_dir, STEMS_DIR) / f"{name}.wav"
        _write_then_rename(target, partial(shutil.copyfile, source))
        written.append(target)
    return tuple(written)


def _encode_picture(edit: Edit, shot_files: dict[str, Path], ass_path: Path | None, fonts_dir: Path | None,
                    scratch: Path, log_path: Path, progress: PhaseProgress | None) -> None:
    """Encode the picture (no sound) to ``scratch``/picture.mp4 and each shot's thumbnail to thumbnails/<index>.jpg there."""
    (scratch / "thumbnails").mkdir()
    inputs = [argument for edited in edit.shots
              for argument in media_input(shot_files[edited.shot.id].absolute(), MediaKind.VIDEO)]
    graph = video_graph(edit, Path(ass_path.name) if ass_path else None, Path(fonts_dir.name) if fonts_dir else None)
    # passthrough: one image per selected frame (an image sequence is otherwise filled to a constant rate).
    # The picture goes last: the output a full disk or a size limit is named by (media/ffmpeg.py).
    args = [*inputs, "-filter_complex", graph,
            "-map", "[thumbs]", "-fps_mode", "passthrough", "-q:v", "4", "-start_number", "0", "thumbnails/%d.jpg",
            "-map", "[video]", *VIDEO_ENCODE, "picture.mp4"]

    encoded: Callable[[float], None] | None = None
    if progress is not None:
        def encoded(seconds: float) -> None:  # how far the picture has got, as FFmpeg reports it
            progress.frames(Phase.ASSEMBLY, min(round(seconds * edit.fps), edit.total_frames), edit.total_frames)

    try:
        run_ffmpeg(args, what="assembling the film", log_path=log_path, cwd=scratch, on_progress=encoded)
    except FfmpegError as exc:
        named = [shot_id for shot_id, path in shot_files.items() if re.search(re.escape(str(path)), exc.tail)]
        if named:
            raise FfmpegError(f"assembling the film, reading shot {', '.join(named)}", exc.returncode, exc.tail) from None
        raise
    if progress is not None:  # FFmpeg's last report is the last frame's start, not its end
        progress.frames(Phase.ASSEMBLY, edit.total_frames, edit.total_frames)


def _mux(picture: Path, soundtrack: Path, film: Path, log_path: Path) -> None:
    """Join picture and soundtrack by stream copy, index first (+faststart) so players can start at once."""
    with writing(film) as partial:
        run_ffmpeg([*media_input(picture, MediaKind.VIDEO), *media_input(soundtrack, MediaKind.AUDIO), "-map", "0:v:0",
                    "-map", "1:a:0", "-c", "copy",
                    "-movflags", "+faststart", str(partial)], what="joining the film's picture and sound",
                   log_path=log_path)


def _write_then_rename(target: Path, write: Callable[[Path], object]) -> None:
    with writing(target) as partial:
        write(partial)
