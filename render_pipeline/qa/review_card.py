"""What the review page shows of a shot's QA: each attempt's scores, and the text found boxed on its frame."""

from __future__ import annotations

from pathlib import Path

from render_pipeline.media.ffmpeg import FfmpegError, MediaKind, ffmpeg_output, media_input

THUMBNAIL_WIDTH = 320  # as the page's other thumbnails


def attempt_lines(qa: dict) -> list[str]:
    """One line per attempt in the manifest's ``qa`` of a shot: its seed, verdict and flagged scores."""
    lines = []
    attempts = qa.get("attempts") or []
    for attempt in attempts:
        flagged = [score for score in attempt.get("scores") or [] if score.get("flagged")]
        found = "; ".join(_score(score) for score in flagged)
        verdict = {True: "passed", False: "failed", None: "not checked"}[attempt.get("passed")]
        kept = " (kept)" if attempt.get("attempt") == qa.get("kept") and len(attempts) > 1 else ""
        said = (f" (reported: {found})" if attempt.get("passed") else f": {found}") if found else ""
        lines.append(f"attempt {attempt.get('attempt')}{kept}, seed {attempt.get('seed')}: {verdict}{said}")
    if qa.get("lettering_checked") is False:
        lines.append("lettering not checked (the qa extra is not installed, or the animatic)")
    return lines


def _score(score: dict) -> str:
    text = f" {score['text']!r}" if score.get("text") else ""
    return f"{score['check']}{text} {score['value']:.3g} > {score['threshold']:g}"


def boxed_frame(shot_file: Path, qa: dict) -> bytes | None:
    """A JPEG of the kept attempt's frame with the text it showed, the box drawn; None when it showed none."""
    kept = next((a for a in qa.get("attempts") or [] if a.get("attempt") == qa.get("kept")), None)
    boxed = next((s for s in (kept or {}).get("scores") or [] if s.get("flagged") and s.get("box")), None)
    if boxed is None or not shot_file.is_file():
        return None
    box = boxed["box"]
    x0, y0, x1, y1 = (int(box[key]) for key in ("x0", "y0", "x1", "y1"))
    frame = int(boxed["frame"])
    graph = (f"select='eq(n,{frame})',drawbox=x={x0}:y={y0}:w={max(1, x1 - x0)}:h={max(1, y1 - y0)}:color=red:t=4,"
             f"scale={THUMBNAIL_WIDTH}:-2")
    try:
        return ffmpeg_output([*media_input(shot_file, MediaKind.VIDEO), "-vf", graph, "-frames:v", "1",
                              "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "4", "-"],
                             what=f"drawing the QA box on {shot_file}") or None
    except FfmpegError:
        return None  # the page is still written, without this picture
