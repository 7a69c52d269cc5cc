"""Real footage for a shot with `source`: the trimmed span plus its handles, conformed to the delivery."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from render_pipeline.media.ffmpeg import MediaKind, media_input, probe, run_ffmpeg
from render_pipeline.media.retime import LOSSLESS, Interpolation, clip_rate, retime
from render_pipeline.storyboard import Shot

ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p"]


def conform_footage(shot: Shot, width: int, height: int, fps: float, frames: int, out_path: Path,
                    interpolation: Interpolation, models_dir: Path, log_path: Path | None = None,
                    on_frames: Callable[[int, int], None] | None = None) -> None:
    """Write ``frames`` frames of the shot's footage at ``width``x``height`` and ``fps``, no audio.

    Handles come from the source frames just before and after the trim, as an editor's
    timeline takes them; where the source has none (the trim starts at 0 or ends at the
    end of the file), the first or last frame is held instead.

    Footage shot at another rate is first cut and framed at its own rate, then converted by
    ``interpolation`` (media/retime.py), as a generated shot is in assembly; ``on_frames`` is told
    (frames converted, ``frames``) as that goes, the longest part.
    """
    assert shot.source is not None
    trim_start = shot.trim[0] if shot.trim is not None else 0.0
    wanted_start = trim_start - shot.handle_in
    start = max(0.0, wanted_start)
    hold_before = start - wanted_start
    info = probe(shot.source)
    wanted_end = wanted_start + frames / fps
    hold_after = max(0.0, wanted_end - info.duration) if info.duration is not None else 0.0
    target = clip_rate(fps)
    source = clip_rate(info.fps) if info.fps else target
    what = f"conforming the footage of shot {shot.id} ({shot.source.name})"
    if source == target:
        _cut(shot.source, start, target, width, height, hold_before, hold_after, frames, out_path, ENCODE, what,
             log_path)
        return
    # Enough frames at the footage's own rate to reach the last delivery frame's moment.
    native_frames = math.ceil((frames - 1) * source / target) + 1
    with tempfile.TemporaryDirectory(prefix=".footage-", dir=out_path.parent) as scratch:
        native = Path(scratch) / "native.mp4"
        _cut(shot.source, start, source, width, height, hold_before, hold_after, native_frames, native, LOSSLESS, what,
             log_path)
        retime(native, source, target, frames, interpolation, out_path, models_dir, log_path, encode=ENCODE,
               on_frames=on_frames)


def _cut(source: Path, start: float, rate: Fraction, width: int, height: int, hold_before: float, hold_after: float,
         frames: int, out_path: Path, encode: list[str], what: str, log_path: Path | None) -> None:
    """``frames`` frames from ``start`` seconds at ``rate`` (the fps filter's), framed and held as described above."""
    # Scale to fit inside the frame and pad (letterbox), so no part of the footage is lost.
    graph = (f"fps={rate},scale={width}:{height}:force_original_aspect_ratio=decrease,"
             f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,"
             f"tpad=start_duration={hold_before:.6f}:start_mode=clone:stop_duration={hold_after + 1:.6f}:stop_mode=clone,"
             f"format=yuv420p")
    run_ffmpeg(["-ss", f"{start:.6f}", *media_input(source, MediaKind.VIDEO), "-map", "0:v:0", "-vf", graph,
                "-frames:v", str(frames), "-r", str(rate), *encode, "-an", "-f", "mp4", str(out_path)],
               what=what, log_path=log_path)
