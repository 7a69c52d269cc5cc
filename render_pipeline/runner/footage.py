"""Real footage for a shot with `source`: the trimmed span plus its handles, conformed to the delivery."""

from __future__ import annotations

from pathlib import Path

from render_pipeline.media.ffmpeg import MediaKind, media_input, probe, run_ffmpeg
from render_pipeline.storyboard import Shot


def conform_footage(shot: Shot, width: int, height: int, fps: float, frames: int, out_path: Path,
                    log_path: Path | None = None) -> None:
    """Write ``frames`` frames of the shot's footage at ``width``x``height`` and ``fps``, no audio.

    Handles come from the source frames just before and after the trim, as an editor's
    timeline takes them; where the source has none (the trim starts at 0 or ends at the
    end of the file), the first or last frame is held instead.
    """
    assert shot.source is not None
    trim_start = shot.trim[0] if shot.trim is not None else 0.0
    wanted_start = trim_start - shot.handle_in
    start = max(0.0, wanted_start)
    hold_before = start - wanted_start
    available = probe(shot.source).duration
    wanted_end = wanted_start + frames / fps
    hold_after = max(0.0, wanted_end - available) if available is not None else 0.0
    # Scale to fit inside the frame and pad (letterbox), so no part of the footage is lost.
    graph = (f"fps={fps},scale={width}:{height}:force_original_aspect_ratio=decrease,"
             f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,"
             f"tpad=start_duration={hold_before:.6f}:start_mode=clone:stop_duration={hold_after + 1:.6f}:stop_mode=clone,"
             f"format=yuv420p")
    run_ffmpeg(["-ss", f"{start:.6f}", *media_input(shot.source, MediaKind.VIDEO), "-map", "0:v:0", "-vf", graph,
                "-frames:v", str(frames), "-r", f"{fps}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "16",
                "-an", "-f", "mp4", str(out_path)],
               what=f"conforming the footage of shot {shot.id} ({shot.source.name})", log_path=log_path)
