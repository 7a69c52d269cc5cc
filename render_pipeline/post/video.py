"""The picture as one FFmpeg filter graph: conform every shot, join with cuts and xfades, burn overlays.

Each shot is retimed to the delivery fps, extended by repeating its last frame if it is
short (an animatic or footage without enough handle), trimmed to exactly the frames the
edit uses, then scaled to fit and padded (never stretched). Runs of cuts are joined by
one concat; each transition is an xfade whose offset is the exact frame where it starts.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from render_pipeline.post.edit import XFADE_NAMES, Edit, EditedShot


def _conform(index: int, edited: EditedShot, edit: Edit) -> str:
    first = edited.source_start
    last = first + edited.used_frames
    width, height = edit.width, edit.height
    return (
        f"[{index}:v:0]setpts=PTS-STARTPTS,fps={edit.fps},tpad=stop_mode=clone:stop={edited.used_frames},"
        f"trim=start_frame={first}:end_frame={last},setpts=PTS-STARTPTS,"
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p[c{index}]"
    )


def video_graph(edit: Edit, ass_path: Path | None, fonts_dir: Path | None) -> str:
    """The filter graph over inputs 0..n-1 (the shots, in order); its output is labelled [video]."""
    parts = [_conform(index, edited, edit) for index, edited in enumerate(edit.shots)]
    run: list[str] = ["c0"]  # labels joined by cuts, waiting for one concat
    run_frames = edit.shots[0].used_frames
    joined = 0
    for index, edited in enumerate(edit.shots[1:], start=1):
        previous = edit.shots[index - 1]
        if previous.transition_out_frames == 0:
            run.append(f"c{index}")
            run_frames += edited.used_frames
            continue
        joined += 1
        head = _concat(run, f"j{joined}", parts, edit.fps)
        transition = XFADE_NAMES.get(previous.shot.transition_out.type, previous.shot.transition_out.type)
        frames = previous.transition_out_frames
        offset = run_frames - frames
        joined += 1
        parts.append(f"[{head}][c{index}]xfade=transition={transition}:duration={edit.seconds(frames)!r}:"
                     f"offset={edit.seconds(offset)!r}[j{joined}]")
        run, run_frames = [f"j{joined}"], offset + edited.used_frames
    picture = _concat(run, "picture", parts, edit.fps)
    if ass_path is None:
        parts.append(f"[{picture}]null[video]")
    else:
        parts.append(f"[{picture}]ass=filename={_safe(ass_path)}:fontsdir={_safe(fonts_dir)}[video]")
    return ";\n".join(parts)


def _concat(labels: list[str], out: str, parts: list[str], fps: Fraction) -> str:
    if len(labels) == 1:
        return labels[0]
    # concat outputs microsecond timestamps; xfade needs both inputs in the frame time base.
    parts.append("".join(f"[{label}]" for label in labels) + f"concat=n={len(labels)}:v=1:a=0,settb={1 / fps}[{out}]")
    return out


def _safe(path: Path | None) -> str:
    # Paths in a filter graph need escaping; ours are scratch paths we name ourselves, so we
    # only check they contain nothing that would need it.
    text = str(path)
    if not text or any(not (c.isalnum() or c in "/._-") for c in text):
        raise ValueError(f"scratch path {text!r} has characters a filter graph would misread")
    return text
